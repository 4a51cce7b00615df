/*
 * spool-path.h - the one path builder of the spool, shared by the files
 * of the spool module (spool.c, spool-aside.c) and nothing else.
 */
#ifndef SPOOL_PATH_H
#define SPOOL_PATH_H

#include <stddef.h>

/* spool_path - DIR/SUB/NAME SUFFIX (SUB NULL: DIR/NAME) into OUT; -1 with
 * errno ENAMETOOLONG when it does not fit. */
int spool_path(char *out, size_t outsz, const char *dir, const char *sub,
               const char *name, const char *suffix);

#endif
