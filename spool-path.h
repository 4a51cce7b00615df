/*
 * spool-path.h - the one path builder of the spool, and what else the
 * files of the spool module (spool.c, spool-aside.c, spool-drop.c,
 * spool-stage.c) share; nothing outside them includes it.
 */
#ifndef SPOOL_PATH_H
#define SPOOL_PATH_H

#include <stddef.h>

#include "envelope.h"

/* spool_path - DIR/SUB/NAME SUFFIX (SUB NULL: DIR/NAME) into OUT; -1 with
 * errno ENAMETOOLONG when it does not fit. */
int spool_path(char *out, size_t outsz, const char *dir, const char *sub,
               const char *name, const char *suffix);

/* spool_open_id - open SUB/ID under DIR with FLAGS (O_NOFOLLOW and
 * O_CLOEXEC added); -1 with errno, EINVAL for an ID that is not one. */
int spool_open_id(const char *dir, const char *sub, const char *id, int flags);

/* spool_list_ids - the queue ids in DIR/SUB, sorted, into *IDS (N of
 * them); at most MAX (0: no limit) of them, in directory order, when
 * there are more. -1 with errno. */
int spool_list_ids(const char *dir, const char *sub, int max, char ***ids, int *n);

/* spool_drop_make - DIR/maildrop when it is missing (spool_drop_setup,
 * not repairing), as root or DIR's owner; a failure is logged (as root,
 * once the log is open): the queue works without a maildrop. */
void spool_drop_make(const char *dir);

/* spool_env_stage - ENV written into tmp/ID.env (its path into TMP) and
 * fsynced; RES_OK, or RES_TEMP with errno and nothing left behind. */
int spool_env_stage(const char *dir, const struct envelope *env, char *tmp, size_t tmpsz);

#endif
