/*
 * users.h - the users file: mailboxes, aliases and their expansion.
 */
#ifndef USERS_H
#define USERS_H

#include <stddef.h>

#include "bounds.h"
#include "config.h"

/* One line of the users file: a mailbox (ntargets == 0) or an alias. */
struct user {
	char name[USER_NAME_MAX + 1];   /* as written in the file */
	char **targets;                 /* alias targets as written */
	int ntargets;
	int line;                       /* line in the users file */
};

/* users_load - read cf->users_file into CF (called by config_load).
 * 0, or -1 with "FILE:LINE: what" in ERR. */
int users_load(struct config *cf, char *err, size_t errsz);

/* users_find - the users-file entry for NAME (any case), or NULL. */
const struct user *users_find(const struct config *cf, const char *name);

/*
 * Expansion of one recipient: the mailboxes and foreign addresses it
 * reaches. Mailbox names point into the users table (never client text).
 */
struct expansion {
	const char *mailboxes[RCPT_EXPAND_MAX];
	int nmailboxes;
	char *foreign[RCPT_EXPAND_MAX];     /* malloc'ed full addresses */
	int nforeign;
};

/*
 * users_expand - expand local part LOCAL (no +tag, any case) of a
 * local domain. Returns 1 when it names a user or alias, 0 when unknown.
 * Results are added to EX without duplicates. -1 if EX overflows.
 */
int users_expand(const struct config *cf, const char *local,
                        struct expansion *ex);

/* expansion_free - release the foreign addresses of EX. */
void expansion_free(struct expansion *ex);

/* users_free - release the users table of CF. */
void users_free(struct config *cf);

#endif
