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
	int broken;                     /* an entry of the aliases file that
	                                   cannot be used: refused (550 5.1.1)
	                                   while the rest of the file works */
	int loop;                       /* (while loading) in a loop */
};

/*
 * users_load - read the users file (or, under users system, the aliases
 * file; a missing default /etc/aliases is an empty one, one named by an
 * "aliases" line (ALIASES_GIVEN) must exist) into CF. Called by
 * config_load. 0, or -1 with "FILE:LINE: what" in ERR. An entry of the
 * aliases file that cannot be used (bad syntax, a name given again, a
 * loop) is a warning to config_report and refuses that alias alone; only
 * an aliases file that cannot be read is an error.
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
 * database spells it goes to OUT. 1 or 0; -1 when the password database
 * cannot be read now.
 */
int users_mailbox(const struct config *cf, const char *name, char *out, size_t outsz);

/*
 * users_getpw - the password entry of NAME into *PW: 1; 0 when there is
 * no such account; -1 (errno) when the database cannot be read now
 * (getpwnam's NULL with an errno that is not one of "not found"'s).
 */
struct passwd;
int users_getpw(const char *name, struct passwd **pw);

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
	UX_OVERFLOW = -1,       /* more than RCPT_EXPAND_MAX, or more than
	                           EXPAND_STEPS_MAX steps: 452 4.5.3 */
	UX_UNSUPPORTED = -2,    /* an alias with targets we refuse: 550 5.7.1 */
	UX_BROKEN = -3,         /* an alias the aliases file got wrong:
	                           550 5.1.1 */
	UX_TEMP = -4,           /* the password database cannot be read now:
	                           451 4.3.0 */
	UX_DEFER = -5           /* a ~/.forward cannot be read now: the
	                           address waits in the queue (a session) or
	                           is retried (relay-agent) */
};

/*
 * users_expand - expand local part LOCAL (no +tag, any case) of a local
 * domain into EX, without duplicates (users-expand.c). Under users
 * system: an alias, else an account, whose ~/.forward (read as the user,
 * owned by the user, not group- or world-writable, addresses only)
 * replaces its mailbox; at most EXPAND_STEPS_MAX steps.
 */
int users_expand(const struct config *cf, const char *local, struct expansion *ex);

/* expansion_free - release the strings of EX and empty it. */
void expansion_free(struct expansion *ex);

/* users_free - release the users table of CF. */
void users_free(struct config *cf);

#endif
