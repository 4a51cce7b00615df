/*
 * users.h - local names: the users file (mailboxes and aliases), or the
 * host's accounts with an aliases(5) file and ~/.forward (users system);
 * and the expansion of a local address into what it reaches.
 */
#ifndef USERS_H
#define USERS_H

#include <stddef.h>

#include "bounds.h"
#include "config.h"

/*
 * One line of the users file: a mailbox (ntargets == 0) or an alias.
 * Under users system the table holds the aliases file's entries only.
 */
struct user {
	char name[USER_NAME_MAX + 1];   /* as written in the file */
	char **targets;                 /* alias targets as written */
	int ntargets;
	int line;                       /* line in its file */
	int unsupported;                /* a |command, /file or :include:
	                                   target: the alias is refused */
};

/*
 * users_load - read the users file (or, under users system, the aliases
 * file; a missing default /etc/aliases is an empty one, one named by an
 * "aliases" line (ALIASES_GIVEN) must exist) into CF. Called by
 * config_load. 0, or -1 with "FILE:LINE: what" in ERR; the aliases file
 * reports each of its errors to config_report.
 */
int users_load(struct config *cf, int aliases_given, char *err, size_t errsz);

/* users_find - the table entry for NAME (any case), or NULL. */
const struct user *users_find(const struct config *cf, const char *name);

/* users_valid_name - a name our rules allow for a mailbox: letters,
 * digits, ".", "_", "-", at most USER_NAME_MAX, not ".x", not "x.lock". */
int users_valid_name(const char *s);

/*
 * users_mailbox - whether NAME is a mailbox: a users-file mailbox, or
 * under users system an account. Its name as the table or the password
 * database spells it goes to OUT. 1 or 0.
 */
int users_mailbox(const struct config *cf, const char *name, char *out, size_t outsz);

/*
 * Expansion of one recipient: the mailboxes and foreign addresses it
 * reaches. Every string is a malloc'ed copy made from the users table or
 * the password database, never client text.
 */
struct expansion {
	int nmailboxes;                 /* the counts first: a short expansion */
	int nforeign;                   /* touches one page of this, not four */
	char *mailboxes[RCPT_EXPAND_MAX];
	char *foreign[RCPT_EXPAND_MAX];
};

/* What users_expand found. */
enum users_result {
	UX_FOUND = 1,           /* added to the expansion (possibly nothing:
	                           an alias to /dev/null discards) */
	UX_UNKNOWN = 0,         /* no such local name: 550 5.1.1 */
	UX_OVERFLOW = -1,       /* more than RCPT_EXPAND_MAX: 452 4.5.3 */
	UX_UNSUPPORTED = -2     /* an alias with targets we refuse: 550 5.7.1 */
};

/*
 * users_expand - expand local part LOCAL (no +tag, any case) of a local
 * domain into EX, without duplicates. Under users system: an alias, else
 * an account, whose ~/.forward (owned by the user, not group- or
 * world-writable, addresses only) replaces its mailbox.
 */
int users_expand(const struct config *cf, const char *local, struct expansion *ex);

/* expansion_free - release the strings of EX and empty it. */
void expansion_free(struct expansion *ex);

/* users_free - release the users table of CF. */
void users_free(struct config *cf);

#endif
