/*
 * users-expand.c - a local name expanded into the mailboxes and foreign
 * addresses it reaches (see users.h); the tables it reads are users.c's.
 *
 * A users file is expanded through its table (loops and sizes checked at
 * load). Under users system a name is an alias of the aliases file, else
 * an account of the password database, whose ~/.forward (read as its
 * user: forward.c) replaces its mailbox. That expansion happens at RCPT
 * time on files users write, so it is bounded: a name expanded to the end
 * once is not expanded again (a set of names per expansion), and past
 * EXPAND_STEPS_MAX targets and names looked at it stops (452). A password
 * database that cannot be read is a temporary failure, never "no such
 * user"; a ~/.forward that cannot be read now makes the address wait.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "config.h"
#include "forward.h"
#include "users.h"
#include "users-int.h"
#include "util.h"

/* users_getpw - the password entry of NAME (see users.h). */
int
users_getpw(const char *name, struct passwd **pw)
{
	errno = 0;
	if ((*pw = getpwnam(name)) != NULL)
		return 1;
	/* getpwnam(3): 0, ENOENT, ESRCH, EBADF or EPERM all say "no such
	 * name"; anything else (EIO, EMFILE, ENOMEM, EAGAIN, a directory
	 * service out of reach) says nothing about it. */
	if (errno == 0 || errno == ENOENT || errno == ESRCH || errno == EBADF || errno == EPERM)
		return 0;
	return -1;
}

/* account - the password entry of NAME (lower-cased first) if its name
 * passes our rules, into *PW (users system): 1, 0 none, -1 temporary. */
static int
account(const char *name, struct passwd **pw)
{
	char lower[USER_NAME_MAX + 1];
	int rc;

	if (strlcpy_ck(lower, name, sizeof lower) < 0)
		return 0;
	str_lower(lower);
	if (!users_valid_name(lower))
		return 0;
	if ((rc = users_getpw(lower, pw)) <= 0)
		return rc;
	return users_valid_name((*pw)->pw_name);
}

/* users_mailbox - whether NAME is a mailbox; its spelling into OUT. */
int
users_mailbox(const struct config *cf, const char *name, char *out, size_t outsz)
{
	if (cf->users_system) {
		struct passwd *pw;
		int rc = account(name, &pw);
		return rc <= 0 ? rc : strlcpy_ck(out, pw->pw_name, outsz) == 0;
	}
	const struct user *u = users_find(cf, name);
	return u && u->ntargets == 0 && strlcpy_ck(out, u->name, outsz) == 0;
}

/* ----------------------------------------------------------- expansion */

/* The names one expansion has finished with (users system): a name met
 * again adds nothing new, so it is not expanded again. Open addressing,
 * lower-cased comparison; at most EXPAND_STEPS_MAX names. */
struct nameset {
	char **slot;
	size_t cap, n;
};

/* set_hash - FNV-1a of the lower-cased NAME. */
static size_t
set_hash(const char *name)
{
	size_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (unsigned char)tolower((unsigned char)*name)) * 16777619u;
	return h;
}

/* set_find - the slot of NAME in SET, or the empty one it would take. */
static char **
set_find(const struct nameset *set, const char *name)
{
	size_t i = set_hash(name) & (set->cap - 1);

	while (set->slot[i] && strcasecmp(set->slot[i], name) != 0)
		i = (i + 1) & (set->cap - 1);
	return &set->slot[i];
}

/* set_has - whether NAME is in SET. */
static int
set_has(const struct nameset *set, const char *name)
{
	return set->cap && *set_find(set, name);
}

/* set_add - add NAME to SET (at least twice as many slots as names); -1
 * when out of memory. */
static int
set_add(struct nameset *set, const char *name)
{
	if (set->n * 2 >= set->cap) {
		struct nameset big = { .cap = set->cap ? set->cap * 2 : 64 };
		if (!(big.slot = calloc(big.cap, sizeof *big.slot)))
			return -1;
		for (size_t i = 0; i < set->cap; i++)
			if (set->slot[i])
				*set_find(&big, set->slot[i]) = set->slot[i];
		free(set->slot);
		big.n = set->n;
		*set = big;
	}
	char **at = set_find(set, name);
	if (*at)
		return 0;
	if (!(*at = strdup(name)))
		return -1;
	set->n++;
	return 0;
}

/* set_free - release SET. */
static void
set_free(struct nameset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slot[i]);
	free(set->slot);
	memset(set, 0, sizeof *set);
}

/* The state of one expansion. */
struct xstate {
	const struct config *cf;
	struct expansion *ex;
	const char *stack[ALIAS_DEPTH_MAX + 2];     /* names being expanded */
	int found;              /* something was added or discarded */
	struct nameset done;    /* names expanded to the end (users system) */
	long steps;             /* targets and names looked at, at most
	                           EXPAND_STEPS_MAX */
	char forward_why[FORWARD_REASON_MAX + FILE_PATH_MAX];  /* a ~/.forward
	                           that could not be read now */
};

/* add_mailbox - add a copy of NAME unless present. */
static int
add_mailbox(struct xstate *x, const char *name)
{
	struct expansion *ex = x->ex;

	x->found = 1;
	for (int i = 0; i < ex->nmailboxes; i++)
		if (strcmp(ex->mailboxes[i], name) == 0)
			return UX_FOUND;
	if (ex->nmailboxes >= RCPT_EXPAND_MAX ||
	    !(ex->mailboxes[ex->nmailboxes] = strdup(name)))
		return UX_OVERFLOW;
	ex->nmailboxes++;
	return UX_FOUND;
}

/* add_foreign - add a copy of ADDR unless present (any case). */
static int
add_foreign(struct xstate *x, const char *addr)
{
	struct expansion *ex = x->ex;

	x->found = 1;
	for (int i = 0; i < ex->nforeign; i++)
		if (strcasecmp(ex->foreign[i], addr) == 0)
			return UX_FOUND;
	if (ex->nforeign >= RCPT_EXPAND_MAX || !(ex->foreign[ex->nforeign] = strdup(addr)))
		return UX_OVERFLOW;
	ex->nforeign++;
	return UX_FOUND;
}

/* expand_user - users file: add what U reaches (loops refused at load). */
static int
expand_user(struct xstate *x, const struct user *u, int depth)
{
	if (u->ntargets == 0)
		return add_mailbox(x, u->name);
	if (depth > ALIAS_DEPTH_MAX)
		return UX_OVERFLOW;
	for (int i = 0; i < u->ntargets; i++) {
		char local[USER_NAME_MAX + 2];
		int rc;
		if (users_target_local(x->cf, u->targets[i], local, sizeof local)) {
			const struct user *t = users_find(x->cf, local);
			rc = t ? expand_user(x, t, depth + 1) : UX_OVERFLOW;
		} else
			rc = add_foreign(x, u->targets[i]);
		if (rc != UX_FOUND)
			return rc;
	}
	return UX_FOUND;
}

/* step - count one more target or name looked at; past EXPAND_STEPS_MAX
 * the expansion stops (452): accounts naming each other thousands of
 * times must not cost millions of lookups per RCPT. */
static int
step(struct xstate *x)
{
	if (++x->steps <= EXPAND_STEPS_MAX)
		return 0;
	if (x->steps == EXPAND_STEPS_MAX + 1)
		config_report(LOG_WARNING, "expansion of \"%s\" stopped after %d steps (aliases "
		    "and .forward files naming too many addresses)", x->stack[0], EXPAND_STEPS_MAX);
	return -1;
}

/* account_mailbox - users system: the mailbox of account NAME itself (a
 * self-reference, \name, a loop); a name that is no account is skipped
 * with a log line. */
static int
account_mailbox(struct xstate *x, const char *name)
{
	struct passwd *pw;
	int rc = account(name, &pw);

	if (rc < 0)
		return UX_TEMP;
	if (rc == 0) {
		config_report(LOG_WARNING, "alias target \"%s\" is no account: skipped", name);
		return UX_FOUND;
	}
	return add_mailbox(x, pw->pw_name);
}

static int expand_name(struct xstate *x, const char *name, int depth);

/* expand_target - users system: one target T of OWNER's alias or .forward. */
static int
expand_target(struct xstate *x, const char *t, const char *owner, int depth)
{
	char local[USER_NAME_MAX + 2];
	int rc;

	if (step(x) < 0)
		return UX_OVERFLOW;
	if (users_is_discard(t)) {
		x->found = 1;
		return UX_FOUND;
	}
	if (!users_target_local(x->cf, t, local, sizeof local))
		return add_foreign(x, t);
	if (local[0] == '\\')
		return account_mailbox(x, local + 1);
	if (strcasecmp(local, owner) == 0)
		return account_mailbox(x, owner);
	rc = expand_name(x, local, depth);
	if (rc == UX_UNKNOWN) {
		config_report(LOG_WARNING, "\"%s\" names \"%s\", which is no alias nor account: skipped",
		    owner, local);
		return UX_FOUND;
	}
	return rc;
}

/*
 * expand_forward - the addresses of PW's ~/.forward (commas or lines;
 * "#" comment lines), read as PW (forward.c). Anything but an address, a
 * name or \name is logged and ignored. Returns UX_FOUND when it forwards
 * somewhere, UX_UNKNOWN when there is none (the mailbox then), UX_DEFER
 * when it cannot be read now, or an error.
 */
static int
expand_forward(struct xstate *x, const struct passwd *pw, int depth)
{
	char *buf = malloc(FORWARD_FILE_MAX + 1), *line, *save = NULL, owner[USER_NAME_MAX + 1];
	char why[FORWARD_REASON_MAX];
	int rc = UX_UNKNOWN, used = 0;

	if (!buf)
		return UX_OVERFLOW;
	strlcpy_ck(owner, pw->pw_name, sizeof owner);
	switch (forward_fetch(x->cf, pw, buf, FORWARD_FILE_MAX + 1, why, sizeof why)) {
	case FWD_READ:
		break;
	case FWD_TEMP:
		snprintf(x->forward_why, sizeof x->forward_why, "%s/.forward: %s", pw->pw_dir, why);
		free(buf);
		return UX_DEFER;
	case FWD_IGNORED:
		config_report(LOG_WARNING, "%s/.forward: %s: ignored", pw->pw_dir, why);
		/* fall through */
	default:
		free(buf);
		return UX_UNKNOWN;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *t, *rest = line;
		if (config_trim(line)[0] == '#')
			continue;
		while ((t = users_split_targets(&rest)) != NULL) {
			size_t n = strlen(t);
			char local[USER_NAME_MAX + 2];
			if (t[0] == '\0')
				continue;
			if (t[0] == '<' && n > 2 && t[n - 1] == '>') {
				t[n - 1] = '\0';
				t++;
			}
			int ok = t[0] == '\\' ? users_valid_name(t + 1) :
			    strchr(t, '@') ? users_valid_foreign(t) : users_valid_name(t);
			if (ok && users_target_local(x->cf, t, local, sizeof local) && local[0] != '\\' &&
			    !users_valid_name(local))
				ok = 0;
			if (!ok || users_unsupported_kind(t)) {
				config_report(LOG_WARNING, "%s/.forward: \"%.64s\" ignored: only addresses "
				    "are supported", pw->pw_dir, t);
				continue;
			}
			used = 1;
			if ((rc = expand_target(x, t, owner, depth)) != UX_FOUND) {
				free(buf);
				return rc;
			}
		}
	}
	free(buf);
	return used ? UX_FOUND : UX_UNKNOWN;
}

/* expand_name - users system: NAME is an alias, else an account (its
 * .forward, else its mailbox); a name met again while it is expanded is
 * its own mailbox, and one already expanded to the end adds nothing. */
static int
expand_name(struct xstate *x, const char *name, int depth)
{
	const struct user *u;
	struct passwd *pw;
	char own[USER_NAME_MAX + 1];
	int rc;

	if (depth > ALIAS_DEPTH_MAX)
		return account_mailbox(x, name);
	for (int i = 0; i < depth; i++)
		if (strcasecmp(x->stack[i], name) == 0)
			return account_mailbox(x, name);
	if (set_has(&x->done, name))
		return UX_FOUND;
	if (step(x) < 0)
		return UX_OVERFLOW;
	x->stack[depth] = name;
	if ((u = users_find(x->cf, name)) != NULL) {
		if (u->unsupported)
			return UX_UNSUPPORTED;
		if (u->broken)
			return UX_BROKEN;
		for (int i = 0; i < u->ntargets; i++)
			if ((rc = expand_target(x, u->targets[i], u->name, depth + 1)) != UX_FOUND)
				return rc;
		return set_add(&x->done, name) < 0 ? UX_OVERFLOW : UX_FOUND;
	}
	if ((rc = account(name, &pw)) <= 0) {
		if (rc < 0)
			return UX_TEMP;
		/* RFC 5321 wants postmaster: root's unless the aliases say. */
		if (strcasecmp(name, "postmaster") == 0 && depth == 0)
			return expand_name(x, "root", depth + 1);
		return UX_UNKNOWN;
	}
	strlcpy_ck(own, pw->pw_name, sizeof own);
	x->stack[depth] = own;
	rc = expand_forward(x, pw, depth + 1);
	if (rc == UX_UNKNOWN)
		rc = add_mailbox(x, own);
	if (rc == UX_FOUND && set_add(&x->done, name) < 0)
		rc = UX_OVERFLOW;
	return rc;
}

/* users_expand - expand LOCAL (any case; "+tag" ignored). */
int
users_expand(const struct config *cf, const char *local, struct expansion *ex)
{
	struct xstate x = { .cf = cf, .ex = ex };
	char name[LOCALPART_MAX + 1];
	const struct user *u;
	char *plus;
	int rc;

	if (strlcpy_ck(name, local, sizeof name) < 0)
		return UX_UNKNOWN;
	if ((plus = strchr(name, '+')) != NULL)
		*plus = '\0';
	if (cf->users_system) {
		str_lower(name);
		if (!users_valid_name(name))
			return UX_UNKNOWN;
		rc = expand_name(&x, name, 0);
		set_free(&x.done);
		if (rc == UX_DEFER)
			config_report(LOG_WARNING, "%s: cannot be read now: \"%s\" waits", x.forward_why,
			    name);
		return rc == UX_FOUND && !x.found ? UX_UNKNOWN : rc;
	}
	if (!(u = users_find(cf, name)))
		return UX_UNKNOWN;
	return expand_user(&x, u, 0);
}

