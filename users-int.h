/*
 * users-int.h - what users.c (the tables) and users-expand.c (the
 * expansion) share: the reading of one alias or .forward target.
 */
#ifndef USERS_INT_H
#define USERS_INT_H

#include <stddef.h>

#include "config.h"

/* users_valid_foreign - a plain local@domain (or local@[address
 * literal]) with a printable ASCII local part. */
int users_valid_foreign(const char *s);

/* users_target_local - whether alias target T names a local name; LOCAL
 * gets the name part (a leading backslash kept). */
int users_target_local(const struct config *cf, const char *t, char *local, size_t localsz);

/* users_is_discard - the /dev/null target (users system). */
int users_is_discard(const char *t);

/* users_unsupported_kind - what kind of aliases(5) target T is that we
 * refuse ("|command", ":include:", "/file"); NULL for an address, a name
 * or /dev/null. */
const char *users_unsupported_kind(const char *t);

/* users_split_targets - the next comma-separated target of *P (commas
 * inside double quotes do not count), trimmed; NULL at the end. */
char *users_split_targets(char **p);

#endif
