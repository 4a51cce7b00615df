/*
 * spool-path.h - the one path builder of the spool, and what else the
 * files of the spool module (spool.c, spool-aside.c, spool-stage.c)
 * share; nothing outside them includes it.
 */
#ifndef SPOOL_PATH_H
#define SPOOL_PATH_H

#include <stddef.h>

#include "envelope.h"

/* spool_path - DIR/SUB/NAME SUFFIX (SUB NULL: DIR/NAME) into OUT; -1 with
 * errno ENAMETOOLONG when it does not fit. */
int spool_path(char *out, size_t outsz, const char *dir, const char *sub,
               const char *name, const char *suffix);

/* spool_env_stage - ENV written into tmp/ID.env (its path into TMP) and
 * fsynced; RES_OK, or RES_TEMP with errno and nothing left behind. */
int spool_env_stage(const char *dir, const struct envelope *env, char *tmp, size_t tmpsz);

#endif
