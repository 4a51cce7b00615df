/*
 * users.c - the users file: local mailboxes and aliases, and the
 * expansion of a local address into the mailboxes and foreign addresses
 * it reaches.
 *
 * Read once by config_load(); names are checked (letters, digits, ".",
 * "_", "-"; see valid_user_name), aliases checked for loops, depth and
 * size at load time, so an expansion at run time only ever fails for
 * want of memory. Mailbox names handed out always point into the table,
 * never at client text: no file name is ever built from what a client
 * typed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "users.h"
#include "util.h"

/* valid_user_name - letters, digits, ".", "_", "-"; not ".x", not "x.lock". */
static int
valid_user_name(const char *s)
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

/* target_local - whether alias target T names a local mailbox or alias;
 * LOCAL gets the name part. */
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

/* check_alias - walk an alias, refusing loops and depth over the limit;
 * *MAILBOXES counts the mailboxes reached. */
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
		if (!target_local(cf, u->targets[i], local, sizeof local))
			continue;
		const struct user *t = users_find(cf, local);
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

/* parse_targets - split "a, b@x, c" into U's targets. */
static int
parse_targets(const struct config *cf, struct user *u, char *list, char *why, size_t whysz)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *t = config_trim(tok);
		char local[USER_NAME_MAX + 2];
		if (t[0] == '\0')
			continue;
		if (u->ntargets >= ALIAS_TARGETS_MAX) {
			snprintf(why, whysz, "more than %d targets", ALIAS_TARGETS_MAX);
			return -1;
		}
		if (strchr(t, '@') ? !valid_foreign(t) :
		    !valid_user_name(t)) {
			snprintf(why, whysz, "bad alias target \"%s\"", t);
			return -1;
		}
		if (target_local(cf, t, local, sizeof local) && !valid_user_name(local)) {
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
	if (u->ntargets == 0) {
		snprintf(why, whysz, "alias \"%s\" has no target", u->name);
		return -1;
	}
	return 0;
}

/* users_load - read the users file and check aliases and postmaster. */
int
users_load(struct config *cf, char *err, size_t errsz)
{
	FILE *f = fopen(cf->users_file, "r");
	char buf[CONF_LINE_MAX], why[512];
	int lineno = 0, rc, cap = 0;

	if (!f)
		return config_error(err, errsz, cf->users_file, 0, "cannot open: %s", strerror(errno));
	while ((rc = config_read_line(f, buf, sizeof buf)) != 0) {
		char *line, *colon;
		struct user *u;

		lineno++;
		if (rc < 0) {
			fclose(f);
			return config_error(err, errsz, cf->users_file, lineno, "line too long");
		}
		line = config_trim(buf);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (cf->nusers >= USERS_MAX) {
			fclose(f);
			return config_error(err, errsz, cf->users_file, lineno, "more than %d users", USERS_MAX);
		}
		if (cf->nusers == cap) {
			int ncap = cap ? cap * 2 : 64;
			struct user *nu = realloc(cf->users, (size_t)ncap * sizeof *nu);
			if (!nu) {
				fclose(f);
				return config_error(err, errsz, cf->users_file, lineno, "out of memory");
			}
			cf->users = nu;
			cap = ncap;
		}
		u = &cf->users[cf->nusers];
		memset(u, 0, sizeof *u);
		colon = strchr(line, ':');
		if (colon)
			*colon = '\0';
		line = config_trim(line);
		if (!valid_user_name(line)) {
			fclose(f);
			return config_error(err, errsz, cf->users_file, lineno,
			    "bad name \"%s\" (letters, digits, '.', '_', '-'; at most %d; "
			    "not starting with '.' nor ending in .lock)", line, USER_NAME_MAX);
		}
		strcpy(u->name, line);
		cf->nusers++;
		if (colon && parse_targets(cf, u, colon + 1, why, sizeof why) < 0) {
			fclose(f);
			return config_error(err, errsz, cf->users_file, lineno, "%s", why);
		}
		u->line = lineno;
	}
	fclose(f);
	if (cf->nusers > 0)
		qsort(cf->users, (size_t)cf->nusers, sizeof *cf->users, user_cmp);
	/* Sorted, a name given twice (in any case) sits beside its twin. */
	for (int i = 1; i < cf->nusers; i++)
		if (strcasecmp(cf->users[i - 1].name, cf->users[i].name) == 0) {
			const struct user *later = cf->users[i].line > cf->users[i - 1].line ?
			    &cf->users[i] : &cf->users[i - 1];
			return config_error(err, errsz, cf->users_file, later->line,
			    "\"%s\" given twice", later->name);
		}

	for (int i = 0; i < cf->nusers; i++) {
		const struct user *stack[ALIAS_DEPTH_MAX + 1];
		int mailboxes = 0;
		if (check_alias(cf, &cf->users[i], 0, stack, &mailboxes, why, sizeof why) < 0)
			return config_error(err, errsz, cf->users_file, 0, "%s", why);
	}
	for (int i = 0; i < cf->nusers; i++) {
		struct expansion *ex = calloc(1, sizeof *ex);
		int rc = ex ? users_expand(cf, cf->users[i].name, ex) : -1;
		if (ex) {
			expansion_free(ex);
			free(ex);
		}
		if (rc < 0)
			return config_error(err, errsz, cf->users_file, cf->users[i].line,
			    "\"%s\" expands to more than %d addresses", cf->users[i].name,
			    RCPT_EXPAND_MAX);
	}
	const struct user *pm = users_find(cf, "postmaster");
	int mailboxes = 0;
	if (pm) {
		const struct user *stack[ALIAS_DEPTH_MAX + 1];
		check_alias(cf, pm, 0, stack, &mailboxes, why, sizeof why);
	}
	if (mailboxes == 0)
		return config_error(err, errsz, cf->users_file, 0,
		    "postmaster must be a mailbox or an alias reaching a local mailbox");
	return 0;
}

/* users_find - the users-file entry for NAME (any case), or NULL. */
const struct user *
users_find(const struct config *cf, const char *name)
{
	struct user key;

	if (strlcpy_ck(key.name, name, sizeof key.name) < 0 || cf->nusers == 0)
		return NULL;
	return bsearch(&key, cf->users, (size_t)cf->nusers, sizeof *cf->users, user_cmp);
}

/* expand_add_mailbox - add NAME unless present. */
static int
expand_add_mailbox(struct expansion *ex, const char *name)
{
	for (int i = 0; i < ex->nmailboxes; i++)
		if (strcmp(ex->mailboxes[i], name) == 0)
			return 0;
	if (ex->nmailboxes >= RCPT_EXPAND_MAX)
		return -1;
	ex->mailboxes[ex->nmailboxes++] = name;
	return 0;
}

/* expand_add_foreign - add a copy of ADDR unless present (any case). */
static int
expand_add_foreign(struct expansion *ex, const char *addr)
{
	for (int i = 0; i < ex->nforeign; i++)
		if (strcasecmp(ex->foreign[i], addr) == 0)
			return 0;
	if (ex->nforeign >= RCPT_EXPAND_MAX)
		return -1;
	if (!(ex->foreign[ex->nforeign] = strdup(addr)))
		return -1;
	ex->nforeign++;
	return 0;
}

/* expand_user - add what U reaches; loops were refused at load time. */
static int
expand_user(const struct config *cf, const struct user *u, int depth, struct expansion *ex)
{
	if (u->ntargets == 0)
		return expand_add_mailbox(ex, u->name);
	if (depth > ALIAS_DEPTH_MAX)
		return -1;
	for (int i = 0; i < u->ntargets; i++) {
		char local[USER_NAME_MAX + 2];
		if (target_local(cf, u->targets[i], local, sizeof local)) {
			const struct user *t = users_find(cf, local);
			if (!t || expand_user(cf, t, depth + 1, ex) < 0)
				return -1;
		} else if (expand_add_foreign(ex, u->targets[i]) < 0)
			return -1;
	}
	return 0;
}

/* users_expand - expand LOCAL (any case; "+tag" ignored). */
int
users_expand(const struct config *cf, const char *local, struct expansion *ex)
{
	char name[LOCALPART_MAX + 1];
	const struct user *u;
	char *plus;

	if (strlcpy_ck(name, local, sizeof name) < 0)
		return 0;
	if ((plus = strchr(name, '+')) != NULL)
		*plus = '\0';
	if (!(u = users_find(cf, name)))
		return 0;
	return expand_user(cf, u, 0, ex) < 0 ? -1 : 1;
}

/* expansion_free - release the foreign addresses of EX. */
void
expansion_free(struct expansion *ex)
{
	for (int i = 0; i < ex->nforeign; i++)
		free(ex->foreign[i]);
	ex->nforeign = 0;
	ex->nmailboxes = 0;
}


/* users_free - release the users table. */
void
users_free(struct config *cf)
{
	for (int i = 0; i < cf->nusers; i++) {
		for (int j = 0; j < cf->users[i].ntargets; j++)
			free(cf->users[i].targets[j]);
		free(cf->users[i].targets);
	}
	free(cf->users);
	cf->users = NULL;
	cf->nusers = 0;
}
