/*
 * users.c - local names and their expansion into the mailboxes and
 * foreign addresses they reach.
 *
 * Two sources of names. A users file ("users FILE"): each line a mailbox
 * or an alias; read once by config_load(), aliases checked for loops,
 * depth and size at load time. The host's accounts ("users system", as
 * Debian's MTAs do): an aliases(5) file, then the password database
 * (getpwnam) and each account's ~/.forward, read at expansion time.
 *
 * Every name handed out is a copy of a table or password-database entry,
 * checked by users_valid_name(): no file name is ever built from what a
 * client typed. Under users system a |command, /file or :include: target
 * is logged at load and refuses its alias (550 5.7.1) while the rest of
 * the file works; /dev/null discards; an alias or .forward that names its
 * own name (or \name) delivers to that account's mailbox (Postfix's rule),
 * and so does a name met again while it is being expanded.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "users.h"
#include "util.h"

/* users_valid_name - letters, digits, ".", "_", "-"; not ".x", not "x.lock". */
int
users_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > USER_NAME_MAX || s[0] == '.')
		return 0;
	if (n >= 5 && strcasecmp(s + n - 5, ".lock") == 0)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return 0;
	return 1;
}

/* valid_foreign - a plain local@domain with a printable ASCII local part. */
static int
valid_foreign(const char *s)
{
	const char *at = strrchr(s, '@');

	if (!at || at == s || strlen(s) > ADDR_MAX || (size_t)(at - s) > LOCALPART_MAX)
		return 0;
	for (const char *p = s; p < at; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("<>()[]\\,;:\"", *p))
			return 0;
	return config_valid_domain(at + 1);
}

static int
user_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct user *)a)->name, ((const struct user *)b)->name);
}

/* target_local - whether alias target T names a local name; LOCAL gets
 * the name part (a leading backslash kept). */
static int
target_local(const struct config *cf, const char *t, char *local, size_t localsz)
{
	const char *at = strrchr(t, '@');

	if (!at) {
		strlcpy_ck(local, t, localsz);
		return 1;
	}
	if (!config_is_local_domain(cf, at + 1))
		return 0;
	size_t n = (size_t)(at - t);
	if (n >= localsz)
		n = localsz - 1;
	memcpy(local, t, n);
	local[n] = '\0';
	return 1;
}

/* is_discard - the /dev/null target (users system). */
static int
is_discard(const char *t)
{
	return strcmp(t, "/dev/null") == 0;
}

/* ------------------------------------------------------------- loading */

/* check_alias - walk an alias, refusing loops and depth over the limit;
 * *MAILBOXES counts the mailboxes reached. Under users system a name that
 * is no alias is an account (checked at expansion time). */
static int
check_alias(const struct config *cf, const struct user *u, int depth,
            const struct user **stack, int *mailboxes, char *why, size_t whysz)
{
	if (u->ntargets == 0) {
		(*mailboxes)++;
		return 0;
	}
	for (int i = 0; i < depth; i++)
		if (stack[i] == u) {
			snprintf(why, whysz, "alias loop through \"%s\"", u->name);
			return -1;
		}
	if (depth >= ALIAS_DEPTH_MAX) {
		snprintf(why, whysz, "aliases nest more than %d deep at \"%s\"",
		    ALIAS_DEPTH_MAX, u->name);
		return -1;
	}
	stack[depth] = u;
	for (int i = 0; i < u->ntargets; i++) {
		char local[USER_NAME_MAX + 2];
		if (is_discard(u->targets[i]) ||
		    !target_local(cf, u->targets[i], local, sizeof local))
			continue;
		if (cf->users_system && (local[0] == '\\' || strcasecmp(local, u->name) == 0)) {
			(*mailboxes)++;         /* its own mailbox */
			continue;
		}
		const struct user *t = users_find(cf, local);
		if (!t && cf->users_system) {
			(*mailboxes)++;         /* an account */
			continue;
		}
		if (!t) {
			snprintf(why, whysz, "alias \"%s\": unknown local name \"%s\"",
			    u->name, u->targets[i]);
			return -1;
		}
		if (check_alias(cf, t, depth + 1, stack, mailboxes, why, whysz) < 0)
			return -1;
	}
	return 0;
}

/* unsupported_kind - what kind of aliases(5) target T is that we refuse;
 * NULL for an address, a name or /dev/null. */
static const char *
unsupported_kind(const char *t)
{
	if (t[0] == '"')
		t++;
	if (t[0] == '|')
		return "|command";
	if (strncasecmp(t, ":include:", 9) == 0)
		return ":include:";
	if (t[0] == '/' && !is_discard(t))
		return "/file";
	return NULL;
}

/* split_targets - the next comma-separated target of *P (commas inside
 * double quotes do not count), trimmed; NULL at the end. */
static char *
split_targets(char **p)
{
	char *s = *p, *t;
	int quoted = 0;

	if (!s)
		return NULL;
	for (t = s; *t && (quoted || *t != ','); t++)
		if (*t == '"')
			quoted = !quoted;
	*p = *t ? t + 1 : NULL;
	*t = '\0';
	return config_trim(s);
}

/* parse_targets - split "a, b@x, c" into U's targets. Under users system
 * \name, /dev/null and refused kinds (marking U unsupported) are taken. */
static int
parse_targets(const struct config *cf, struct user *u, char *list, char *why, size_t whysz)
{
	char *t, *rest = list;

	while ((t = split_targets(&rest)) != NULL) {
		char local[USER_NAME_MAX + 2];
		size_t n = strlen(t);
		if (t[0] == '\0')
			continue;
		if (u->ntargets >= ALIAS_TARGETS_MAX) {
			snprintf(why, whysz, "more than %d targets", ALIAS_TARGETS_MAX);
			return -1;
		}
		if (cf->users_system && unsupported_kind(t)) {
			u->unsupported = 1;
			config_report(LOG_WARNING, "%s:%d: alias \"%s\": %s targets are not supported; "
			    "its address is refused with 550 5.7.1", cf->aliases_file, u->line, u->name,
			    unsupported_kind(t));
			continue;
		}
		if (cf->users_system && t[0] == '<' && n > 2 && t[n - 1] == '>') {
			t[n - 1] = '\0';
			t++;
		}
		int ok = cf->users_system && (is_discard(t) ||
		    (t[0] == '\\' && users_valid_name(t + 1)));
		if (!ok && !(strchr(t, '@') ? valid_foreign(t) : users_valid_name(t))) {
			snprintf(why, whysz, "bad alias target \"%s\"", t);
			return -1;
		}
		if (!ok && target_local(cf, t, local, sizeof local) && !users_valid_name(local)) {
			snprintf(why, whysz, "bad alias target \"%s\"", t);
			return -1;
		}
		char **nt = realloc(u->targets, (size_t)(u->ntargets + 1) * sizeof *nt);
		if (!nt) {
			snprintf(why, whysz, "out of memory");
			return -1;
		}
		u->targets = nt;
		if (!(t = strdup(t))) {
			snprintf(why, whysz, "out of memory");
			return -1;
		}
		u->targets[u->ntargets++] = t;
	}
	if (u->ntargets == 0 && !u->unsupported) {
		snprintf(why, whysz, "alias \"%s\" has no target", u->name);
		return -1;
	}
	return 0;
}

/* table_add - a new zeroed entry at the end of CF's table; NULL when full. */
static struct user *
table_add(struct config *cf, int *cap)
{
	if (cf->nusers >= USERS_MAX)
		return NULL;
	if (cf->nusers == *cap) {
		int ncap = *cap ? *cap * 2 : 64;
		struct user *nu = realloc(cf->users, (size_t)ncap * sizeof *nu);
		if (!nu)
			return NULL;
		cf->users = nu;
		*cap = ncap;
	}
	memset(&cf->users[cf->nusers], 0, sizeof cf->users[0]);
	return &cf->users[cf->nusers];
}

/* entry_parse - "name" or "name: targets" (LINE is modified) into U. */
static int
entry_parse(struct config *cf, struct user *u, char *line, char *why, size_t whysz)
{
	char *colon = strchr(line, ':');

	if (colon)
		*colon = '\0';
	line = config_trim(line);
	if (!users_valid_name(line)) {
		snprintf(why, whysz, "bad name \"%s\" (letters, digits, '.', '_', '-'; at most %d; "
		    "not starting with '.' nor ending in .lock)", line, USER_NAME_MAX);
		return -1;
	}
	strcpy(u->name, line);
	if (cf->users_system && !colon) {
		snprintf(why, whysz, "\"%s\": expected name: target, ...", u->name);
		return -1;
	}
	if (colon && parse_targets(cf, u, colon + 1, why, whysz) < 0)
		return -1;
	return 0;
}

/* entry_release - free U's targets (an entry that was refused). */
static void
entry_release(struct user *u)
{
	for (int j = 0; j < u->ntargets; j++)
		free(u->targets[j]);
	free(u->targets);
	u->targets = NULL;
	u->ntargets = 0;
}

/* load_users_file - the users file: one entry a line, first error fatal. */
static int
load_users_file(struct config *cf, char *err, size_t errsz)
{
	FILE *f = fopen(cf->users_file, "r");
	char buf[CONF_LINE_MAX], why[512];
	int lineno = 0, rc, cap = 0;

	if (!f)
		return config_error(err, errsz, cf->users_file, 0, "cannot open: %s", strerror(errno));
	while ((rc = config_read_line(f, buf, sizeof buf)) != 0) {
		char *line;
		struct user *u;

		lineno++;
		if (rc < 0) {
			fclose(f);
			return config_error(err, errsz, cf->users_file, lineno, "line too long");
		}
		line = config_trim(buf);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (!(u = table_add(cf, &cap))) {
			fclose(f);
			return config_error(err, errsz, cf->users_file, lineno,
			    "more than %d users (or out of memory)", USERS_MAX);
		}
		u->line = lineno;
		rc = entry_parse(cf, u, line, why, sizeof why);
		cf->nusers++;
		if (rc < 0) {
			fclose(f);
			return config_error(err, errsz, cf->users_file, lineno, "%s", why);
		}
	}
	fclose(f);
	return 0;
}

/* aliases_error - report one error of the aliases file at LINENO; the
 * first one is kept in ERR. */
static void
aliases_error(const struct config *cf, int lineno, int *errors, char *err, size_t errsz,
              const char *why)
{
	if ((*errors)++ == 0)
		config_error(err, errsz, cf->aliases_file, lineno, "%s", why);
	if (*errors <= CONF_REPORTS_MAX)
		config_report(LOG_ERR, "%s:%d: %s", cf->aliases_file, lineno, why);
}

/* aliases_entry - one logical aliases(5) line (continuations joined) at
 * LINENO: added to the table, or reported as an error. */
static void
aliases_entry(struct config *cf, char *line, int lineno, int *cap, int *errors,
              char *err, size_t errsz)
{
	char why[512];
	struct user *u = table_add(cf, cap);

	if (!u)
		snprintf(why, sizeof why, "more than %d aliases (or out of memory)", USERS_MAX);
	else {
		u->line = lineno;
		if (entry_parse(cf, u, line, why, sizeof why) == 0) {
			cf->nusers++;
			return;
		}
		entry_release(u);
	}
	aliases_error(cf, lineno, errors, err, errsz, why);
}

/*
 * load_aliases_file - an aliases(5) file: "name: target, ...", "#"
 * comments, continuation lines starting with white space. Every error is
 * reported (up to CONF_REPORTS_MAX), the first one returned in ERR.
 */
static int
load_aliases_file(struct config *cf, int given, char *err, size_t errsz)
{
	FILE *f = fopen(cf->aliases_file, "r");
	char buf[CONF_LINE_MAX], *entry;
	size_t elen = 0;
	int lineno = 0, start = 0, rc, cap = 0, errors = 0;

	if (!f) {
		if (!given && errno == ENOENT)
			return 0;       /* no /etc/aliases: none */
		return config_error(err, errsz, cf->aliases_file, 0, "cannot open: %s",
		    strerror(errno));
	}
	if (!(entry = malloc(ALIASES_LINE_MAX))) {
		fclose(f);
		return config_error(err, errsz, cf->aliases_file, 0, "out of memory");
	}
	entry[0] = '\0';
	for (;;) {
		rc = config_read_line(f, buf, sizeof buf);
		if (rc != 0)
			lineno++;
		int cont = rc > 0 && (buf[0] == ' ' || buf[0] == '\t');
		char *line = rc > 0 ? config_trim(buf) : buf;
		if (rc > 0 && line[0] == '#')
			continue;
		if (cont && line[0] && !start) {
			aliases_error(cf, lineno, &errors, err, errsz,
			    "a continuation line with no entry to continue");
			continue;
		}
		if (cont && line[0]) {
			if (elen + 2 + strlen(line) >= ALIASES_LINE_MAX) {
				aliases_error(cf, start, &errors, err, errsz, "entry too long");
				start = 0;
				elen = 0;
				continue;
			}
			entry[elen++] = ' ';
			strcpy(entry + elen, line);
			elen += strlen(line);
			continue;
		}
		if (start)
			aliases_entry(cf, entry, start, &cap, &errors, err, errsz);
		start = 0;
		elen = 0;
		if (rc == 0)
			break;
		if (rc < 0) {
			aliases_error(cf, lineno, &errors, err, errsz, "line too long");
			continue;
		}
		if (line[0] == '\0')
			continue;
		start = lineno;
		elen = strlen(line);
		memcpy(entry, line, elen + 1);
	}
	free(entry);
	fclose(f);
	return errors ? -1 : 0;
}

/* users_load - read the users or aliases file; check aliases. */
int
users_load(struct config *cf, int aliases_given, char *err, size_t errsz)
{
	const char *file = cf->users_system ? cf->aliases_file : cf->users_file;
	char why[512];

	if (cf->users_system ? load_aliases_file(cf, aliases_given, err, errsz) < 0
	                     : load_users_file(cf, err, errsz) < 0)
		return -1;
	if (cf->nusers > 0)
		qsort(cf->users, (size_t)cf->nusers, sizeof *cf->users, user_cmp);
	/* Sorted, a name given twice (in any case) sits beside its twin. */
	for (int i = 1; i < cf->nusers; i++)
		if (strcasecmp(cf->users[i - 1].name, cf->users[i].name) == 0) {
			const struct user *later = cf->users[i].line > cf->users[i - 1].line ?
			    &cf->users[i] : &cf->users[i - 1];
			return config_error(err, errsz, file, later->line,
			    "\"%s\" given twice", later->name);
		}

	for (int i = 0; i < cf->nusers; i++) {
		const struct user *stack[ALIAS_DEPTH_MAX + 1];
		int mailboxes = 0;
		if (check_alias(cf, &cf->users[i], 0, stack, &mailboxes, why, sizeof why) < 0)
			return config_error(err, errsz, file, cf->users[i].line, "%s", why);
	}
	if (cf->users_system)
		return 0;       /* expansions depend on the accounts: sized at RCPT */
	/* Every alias within the limit. One expansion serves them all; only
	 * its counts need clearing (calloc would touch all its pages), and a
	 * plain mailbox expands to itself. */
	struct expansion *ex = malloc(sizeof *ex);
	if (!ex)
		return config_error(err, errsz, file, 0, "out of memory");
	ex->nmailboxes = ex->nforeign = 0;
	for (int i = 0; i < cf->nusers; i++) {
		if (cf->users[i].ntargets == 0)
			continue;
		int rc = users_expand(cf, cf->users[i].name, ex);
		expansion_free(ex);
		if (rc == UX_OVERFLOW) {
			free(ex);
			return config_error(err, errsz, file, cf->users[i].line,
			    "\"%s\" expands to more than %d addresses", cf->users[i].name,
			    RCPT_EXPAND_MAX);
		}
	}
	free(ex);
	const struct user *pm = users_find(cf, "postmaster");
	int mailboxes = 0;
	if (pm) {
		const struct user *stack[ALIAS_DEPTH_MAX + 1];
		check_alias(cf, pm, 0, stack, &mailboxes, why, sizeof why);
	}
	if (mailboxes == 0)
		return config_error(err, errsz, file, 0,
		    "postmaster must be a mailbox or an alias reaching a local mailbox");
	return 0;
}

/* users_find - the table entry for NAME (any case), or NULL. */
const struct user *
users_find(const struct config *cf, const char *name)
{
	struct user key;

	if (strlcpy_ck(key.name, name, sizeof key.name) < 0 || cf->nusers == 0)
		return NULL;
	return bsearch(&key, cf->users, (size_t)cf->nusers, sizeof *cf->users, user_cmp);
}

/* account - the password entry of NAME (lower-cased first) if its name
 * passes our rules, else NULL (users system). */
static struct passwd *
account(const char *name)
{
	char lower[USER_NAME_MAX + 1];
	struct passwd *pw;

	if (strlcpy_ck(lower, name, sizeof lower) < 0)
		return NULL;
	str_lower(lower);
	if (!users_valid_name(lower) || !(pw = getpwnam(lower)) || !users_valid_name(pw->pw_name))
		return NULL;
	return pw;
}

/* users_mailbox - whether NAME is a mailbox; its spelling into OUT. */
int
users_mailbox(const struct config *cf, const char *name, char *out, size_t outsz)
{
	if (cf->users_system) {
		struct passwd *pw = account(name);
		return pw && strlcpy_ck(out, pw->pw_name, outsz) == 0;
	}
	const struct user *u = users_find(cf, name);
	return u && u->ntargets == 0 && strlcpy_ck(out, u->name, outsz) == 0;
}

/* ----------------------------------------------------------- expansion */

/* The state of one expansion. */
struct xstate {
	const struct config *cf;
	struct expansion *ex;
	const char *stack[ALIAS_DEPTH_MAX + 2];     /* names being expanded */
	int found;              /* something was added or discarded */
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
		if (target_local(x->cf, u->targets[i], local, sizeof local)) {
			const struct user *t = users_find(x->cf, local);
			rc = t ? expand_user(x, t, depth + 1) : UX_OVERFLOW;
		} else
			rc = add_foreign(x, u->targets[i]);
		if (rc != UX_FOUND)
			return rc;
	}
	return UX_FOUND;
}

/* account_mailbox - users system: the mailbox of account NAME itself (a
 * self-reference, \name, a loop); a name that is no account is skipped
 * with a log line. */
static int
account_mailbox(struct xstate *x, const char *name)
{
	struct passwd *pw = account(name);

	if (!pw) {
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

	if (is_discard(t)) {
		x->found = 1;
		return UX_FOUND;
	}
	if (!target_local(x->cf, t, local, sizeof local))
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
 * forward_read - ~/.forward of account PW into BUF: 1 read, 0 none or
 * ignored (logged). Postfix's checks: a plain file (no symlink) owned by
 * the user (or root), not writable by group or others, not too long.
 */
static int
forward_read(const struct passwd *pw, char *buf, size_t bufsz)
{
	char path[FILE_PATH_MAX];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	if (!pw->pw_dir || pw->pw_dir[0] != '/' ||
	    path_join(path, sizeof path, pw->pw_dir, ".forward") < 0)
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			config_report(LOG_WARNING, "%s: %s: ignored", path, strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != pw->pw_uid && st.st_uid != 0) || (st.st_mode & 022)) {
		config_report(LOG_WARNING, "%s: not a plain file owned by %s and writable by it "
		    "only: ignored", path, pw->pw_name);
		close(fd);
		return 0;
	}
	while (got < bufsz && (n = read(fd, buf + got, bufsz - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			config_report(LOG_WARNING, "%s: %s: ignored", path, strerror(errno));
			close(fd);
			return 0;
		}
		got += (size_t)n;
	}
	close(fd);
	if (got >= bufsz) {
		config_report(LOG_WARNING, "%s: longer than %zu octets: ignored", path, bufsz - 1);
		return 0;
	}
	buf[got] = '\0';
	return 1;
}

/*
 * expand_forward - the addresses of PW's ~/.forward (commas or lines;
 * "#" comment lines). Anything but an address, a name or \name is logged
 * and ignored. Returns UX_FOUND when it forwards somewhere, UX_UNKNOWN
 * when there is none (the mailbox then), or an error.
 */
static int
expand_forward(struct xstate *x, const struct passwd *pw, int depth)
{
	char *buf = malloc(FORWARD_FILE_MAX + 1), *line, *save = NULL, owner[USER_NAME_MAX + 1];
	int rc = UX_UNKNOWN, used = 0;

	if (!buf)
		return UX_OVERFLOW;
	strlcpy_ck(owner, pw->pw_name, sizeof owner);
	if (!forward_read(pw, buf, FORWARD_FILE_MAX + 1)) {
		free(buf);
		return UX_UNKNOWN;
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *t, *rest = line;
		if (config_trim(line)[0] == '#')
			continue;
		while ((t = split_targets(&rest)) != NULL) {
			size_t n = strlen(t);
			char local[USER_NAME_MAX + 2];
			if (t[0] == '\0')
				continue;
			if (t[0] == '<' && n > 2 && t[n - 1] == '>') {
				t[n - 1] = '\0';
				t++;
			}
			int ok = t[0] == '\\' ? users_valid_name(t + 1) :
			    strchr(t, '@') ? valid_foreign(t) : users_valid_name(t);
			if (ok && target_local(x->cf, t, local, sizeof local) && local[0] != '\\' &&
			    !users_valid_name(local))
				ok = 0;
			if (!ok || unsupported_kind(t)) {
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
 * .forward, else its mailbox); a name met again is its own mailbox. */
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
	x->stack[depth] = name;
	if ((u = users_find(x->cf, name)) != NULL) {
		if (u->unsupported)
			return UX_UNSUPPORTED;
		for (int i = 0; i < u->ntargets; i++)
			if ((rc = expand_target(x, u->targets[i], u->name, depth + 1)) != UX_FOUND)
				return rc;
		return UX_FOUND;
	}
	if (!(pw = account(name))) {
		/* RFC 5321 wants postmaster: root's unless the aliases say. */
		if (strcasecmp(name, "postmaster") == 0 && depth == 0)
			return expand_name(x, "root", depth + 1);
		return UX_UNKNOWN;
	}
	strlcpy_ck(own, pw->pw_name, sizeof own);
	x->stack[depth] = own;
	rc = expand_forward(x, pw, depth + 1);
	if (rc == UX_UNKNOWN)
		return add_mailbox(x, own);
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
		return rc == UX_FOUND && !x.found ? UX_UNKNOWN : rc;
	}
	if (!(u = users_find(cf, name)))
		return UX_UNKNOWN;
	return expand_user(&x, u, 0);
}

/* expansion_free - release the strings of EX and empty it. */
void
expansion_free(struct expansion *ex)
{
	for (int i = 0; i < ex->nforeign; i++)
		free(ex->foreign[i]);
	for (int i = 0; i < ex->nmailboxes; i++)
		free(ex->mailboxes[i]);
	ex->nforeign = 0;
	ex->nmailboxes = 0;
}

/* users_free - release the users table. */
void
users_free(struct config *cf)
{
	for (int i = 0; i < cf->nusers; i++)
		entry_release(&cf->users[i]);
	free(cf->users);
	cf->users = NULL;
	cf->nusers = 0;
}
