/*
 * users.c - the tables of local names: the users file, or under users
 * system the aliases(5) file (their expansion: users-expand.c).
 *
 * Two sources of names. A users file ("users FILE"): each line a mailbox
 * or an alias; read once by config_load(), aliases checked for loops,
 * depth and size at load time, the first error fatal. The host's accounts
 * ("users system", as Debian's MTAs do): an aliases(5) file, then the
 * password database (getpwnam) and each account's ~/.forward, read at
 * expansion time. One entry of the aliases file that cannot be used never
 * stops the host's mail (Postfix's rule): it is a warning, and that alias
 * alone is refused (550 5.1.1); a name given twice keeps its first entry.
 *
 * Every name handed out is a copy of a table or password-database entry,
 * checked by users_valid_name(): no file name is ever built from what a
 * client typed. Under users system a |command, /file or :include: target
 * is logged at load and refuses its alias (550 5.7.1) while the rest of
 * the file works; /dev/null discards; an alias or .forward that names its
 * own name (or \name) delivers to that account's mailbox (Postfix's rule),
 * and so does a name met again while it is being expanded.
 */
#include <arpa/inet.h>
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
#include "users-int.h"
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

/* valid_literal - an address literal: [IPv4] or [IPv6:address]. */
static int
valid_literal(const char *d)
{
	char ip[INET6_ADDRSTRLEN + 8], buf[sizeof(struct in6_addr)];
	size_t n = strlen(d);

	if (n < 3 || d[0] != '[' || d[n - 1] != ']' || n - 2 >= sizeof ip)
		return 0;
	memcpy(ip, d + 1, n - 2);
	ip[n - 2] = '\0';
	if (strncasecmp(ip, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, ip + 5, buf) == 1;
	return inet_pton(AF_INET, ip, buf) == 1;
}

/* users_valid_foreign - a plain local@domain (or @[address literal]) with a
 * printable ASCII local part. */
int
users_valid_foreign(const char *s)
{
	const char *at = strrchr(s, '@');

	if (!at || at == s || strlen(s) > ADDR_MAX || (size_t)(at - s) > LOCALPART_MAX)
		return 0;
	for (const char *p = s; p < at; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("<>()[]\\,;:\"", *p))
			return 0;
	return config_valid_domain(at + 1) || valid_literal(at + 1);
}

/* user_cmp - entries by name, any case (the table's order for bsearch). */
static int
user_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct user *)a)->name, ((const struct user *)b)->name);
}

/* user_line_cmp - by name, then by line: the first of a duplicate first. */
static int
user_line_cmp(const void *a, const void *b)
{
	int c = user_cmp(a, b);

	return c ? c : ((const struct user *)a)->line - ((const struct user *)b)->line;
}

/* users_target_local - whether alias target T names a local name; LOCAL gets
 * the name part (a leading backslash kept). */
int
users_target_local(const struct config *cf, const char *t, char *local, size_t localsz)
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

/* users_is_discard - the /dev/null target (users system). */
int
users_is_discard(const char *t)
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
	if (u->broken)
		return 0;               /* refused: reaches nothing */
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
		if (users_is_discard(u->targets[i]) ||
		    !users_target_local(cf, u->targets[i], local, sizeof local))
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

/* users_unsupported_kind - what kind of aliases(5) target T is that we refuse;
 * NULL for an address, a name or /dev/null. */
const char *
users_unsupported_kind(const char *t)
{
	if (t[0] == '"')
		t++;
	if (t[0] == '|')
		return "|command";
	if (strncasecmp(t, ":include:", 9) == 0)
		return ":include:";
	if (t[0] == '/' && !users_is_discard(t))
		return "/file";
	return NULL;
}

/* users_split_targets - the next comma-separated target of *P (commas inside
 * double quotes do not count), trimmed; NULL at the end. */
char *
users_split_targets(char **p)
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

	while ((t = users_split_targets(&rest)) != NULL) {
		char local[USER_NAME_MAX + 2];
		size_t n = strlen(t);
		if (t[0] == '\0')
			continue;
		if (u->ntargets >= ALIAS_TARGETS_MAX) {
			snprintf(why, whysz, "more than %d targets", ALIAS_TARGETS_MAX);
			return -1;
		}
		if (cf->users_system && users_unsupported_kind(t)) {
			u->unsupported = 1;
			config_report(LOG_WARNING, "%s:%d: alias \"%s\": %s targets are not supported; "
			    "its address is refused with 550 5.7.1", cf->aliases_file, u->line, u->name,
			    users_unsupported_kind(t));
			continue;
		}
		if (cf->users_system && t[0] == '<' && n > 2 && t[n - 1] == '>') {
			t[n - 1] = '\0';
			t++;
		}
		int ok = cf->users_system && (users_is_discard(t) ||
		    (t[0] == '\\' && users_valid_name(t + 1)));
		if (!ok && !(strchr(t, '@') ? users_valid_foreign(t) : users_valid_name(t))) {
			snprintf(why, whysz, "bad alias target \"%s\"", t);
			return -1;
		}
		if (!ok && users_target_local(cf, t, local, sizeof local) && !users_valid_name(local)) {
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

/* aliases_warn - one entry of the aliases file at LINENO cannot be used:
 * a warning (up to CONF_REPORTS_MAX of them); the rest of the file works. */
static void
aliases_warn(const struct config *cf, int lineno, int *problems, const char *what)
{
	if (++*problems <= CONF_REPORTS_MAX)
		config_report(LOG_WARNING, "%s:%d: %s", cf->aliases_file, lineno, what);
}

/* alias_refuse - keep NAME (when it is a name) as a broken alias, which
 * refuses its address (550 5.1.1): mail for it must not go to an account
 * of that name, which the administrator meant to redirect. */
static void
alias_refuse(struct config *cf, int *cap, const char *name, int lineno)
{
	struct user *u;

	if (!users_valid_name(name) || !(u = table_add(cf, cap)))
		return;
	strcpy(u->name, name);
	u->line = lineno;
	u->broken = 1;
	cf->nusers++;
}

/* aliases_entry - one logical aliases(5) line (continuations joined) at
 * LINENO: added to the table; one that cannot be parsed is reported, and
 * its name, when it has one, refused. */
static void
aliases_entry(struct config *cf, char *line, int lineno, int *cap, int *problems)
{
	char why[512], what[640], name[USER_NAME_MAX + 1] = "";
	struct user *u = table_add(cf, cap);
	char *colon = strchr(line, ':');

	if (colon && (size_t)(colon - line) < sizeof name) {
		memcpy(name, line, (size_t)(colon - line));
		name[colon - line] = '\0';
		char *t = config_trim(name);
		memmove(name, t, strlen(t) + 1);
	}
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
	if (colon && users_valid_name(name)) {
		snprintf(what, sizeof what, "%s: alias \"%s\" refused (550 5.1.1) until it is "
		    "fixed", why, name);
		alias_refuse(cf, cap, name, lineno);
	} else
		snprintf(what, sizeof what, "%s: entry skipped", why);
	aliases_warn(cf, lineno, problems, what);
}

/*
 * load_aliases_file - an aliases(5) file: "name: target, ...", "#"
 * comments, continuation lines starting with white space. An entry that
 * cannot be used is a warning (Postfix's newaliases does the same), never
 * an error: one bad line must not stop the mail of the whole host. Only
 * a file that cannot be read is an error.
 */
static int
load_aliases_file(struct config *cf, int given, char *err, size_t errsz)
{
	FILE *f = fopen(cf->aliases_file, "r");
	char buf[CONF_LINE_MAX], *entry;
	size_t elen = 0;
	int lineno = 0, start = 0, rc, cap = 0, problems = 0;

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
			aliases_warn(cf, lineno, &problems, "a continuation line with no entry to "
			    "continue: skipped");
			continue;
		}
		if (cont && line[0]) {
			if (elen + 2 + strlen(line) >= ALIASES_LINE_MAX) {
				char name[USER_NAME_MAX + 1] = "", *colon = strchr(entry, ':');
				if (colon && (size_t)(colon - entry) < sizeof name) {
					memcpy(name, entry, (size_t)(colon - entry));
					name[colon - entry] = '\0';
				}
				alias_refuse(cf, &cap, config_trim(name), start);
				aliases_warn(cf, start, &problems, "entry too long: its alias (if it "
				    "names one) refused (550 5.1.1) until it is fixed");
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
			aliases_entry(cf, entry, start, &cap, &problems);
		start = 0;
		elen = 0;
		if (rc == 0)
			break;
		if (rc < 0) {
			aliases_warn(cf, lineno, &problems, "line too long: skipped");
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
	if (problems > CONF_REPORTS_MAX)
		config_report(LOG_WARNING, "%s: %d more entries cannot be used", cf->aliases_file,
		    problems - CONF_REPORTS_MAX);
	return 0;
}

/* users_dedup - users system: a name given twice (in any case) keeps its
 * first entry, with a warning about the others (CF's table is sorted by
 * name, then line). */
static void
users_dedup(struct config *cf)
{
	int n = 0;

	for (int i = 0; i < cf->nusers; i++) {
		if (n > 0 && strcasecmp(cf->users[n - 1].name, cf->users[i].name) == 0) {
			config_report(LOG_WARNING, "%s:%d: \"%s\" given again (first at line %d): this "
			    "entry is ignored", cf->aliases_file, cf->users[i].line, cf->users[i].name,
			    cf->users[n - 1].line);
			entry_release(&cf->users[i]);
			continue;
		}
		cf->users[n++] = cf->users[i];
	}
	cf->nusers = n;
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
		qsort(cf->users, (size_t)cf->nusers, sizeof *cf->users, user_line_cmp);
	if (cf->users_system)
		users_dedup(cf);
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
		if (check_alias(cf, &cf->users[i], 0, stack, &mailboxes, why, sizeof why) == 0)
			continue;
		if (!cf->users_system)
			return config_error(err, errsz, file, cf->users[i].line, "%s", why);
		/* Under users system the alias alone is refused. */
		config_report(LOG_WARNING, "%s:%d: %s: alias \"%s\" refused (550 5.1.1) until it "
		    "is fixed", file, cf->users[i].line, why, cf->users[i].name);
		cf->users[i].loop = 1;
	}
	for (int i = 0; i < cf->nusers; i++)
		if (cf->users[i].loop) {
			entry_release(&cf->users[i]);
			cf->users[i].broken = 1;
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
