/*
 * config.c - read the configuration file (the users file: users.c).
 *
 * Both are read once at start; every error names the file and the line,
 * and the caller refuses to run (exit 78). After config_load() the
 * structure is read-only. Only whole-line comments exist ("#" as the first
 * non-blank octet), so a smarthost password may contain "#".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "users.h"
#include "util.h"

/* How a key's value is read: most keys are a field of one type. */
enum key_type {
	KT_PATH,        /* a path field (const char *, set_path) */
	KT_INT,         /* an int field in [LO, HI] */
	KT_LONG,        /* a long field in [LO, HI] */
	KT_DURATION,    /* an int field, seconds */
	KT_TIMEOUT,     /* an int field, seconds, at most TIMEOUT_MAX_SEC */
	KT_BOOL,        /* an int field, yes or no */
	KT_FUNC         /* its own parser */
};

struct key {
	const char *name;
	enum key_type type;
	size_t offset;          /* of the field in struct config */
	size_t size;            /* unused */
	long lo, hi;            /* KT_INT, KT_LONG */
	int (*parse)(struct config *, const char *val, char *why, size_t whysz);
	int repeatable;         /* others may be given only once */
};

/* config_error - format "FILE:LINE: text" into ERR; always returns -1. */
int
config_error(char *err, size_t errsz, const char *file, int line, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(err, errsz, "%s:%d: %s", file, line, text);
	else
		snprintf(err, errsz, "%s: %s", file, text);
	return -1;
}

static void (*reporter)(int prio, const char *text);

/* config_set_reporter - where warnings and repeated errors go. */
void
config_set_reporter(void (*fn)(int prio, const char *text))
{
	reporter = fn;
}

/* config_report - one line to the reporter, if there is one. */
void
config_report(int prio, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (!reporter)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	reporter(prio, text);
}

/* copy_val - a string value that must fit its field. */
static int
copy_val(char *dst, size_t dstsz, const char *val, char *why, size_t whysz)
{
	if (val[0] == '\0') {
		snprintf(why, whysz, "missing value");
		return -1;
	}
	if (strlcpy_ck(dst, val, dstsz) < 0) {
		snprintf(why, whysz, "value too long");
		return -1;
	}
	return 0;
}

/* set_path - keep the value VAL (at most CONF_PATH_MAX - 1 octets) in
 * CF's string area and point *DST at it. */
static int
set_path(struct config *cf, const char **dst, const char *val, char *why, size_t whysz)
{
	size_t n = strlen(val);

	if (val[0] == '\0') {
		snprintf(why, whysz, "missing value");
		return -1;
	}
	if (n >= CONF_PATH_MAX || n >= sizeof cf->strings - cf->strings_used) {
		snprintf(why, whysz, "value too long");
		return -1;
	}
	memcpy(cf->strings + cf->strings_used, val, n + 1);
	*dst = cf->strings + cf->strings_used;
	cf->strings_used += n + 1;
	return 0;
}

/* parse_number - a decimal in [LO, HI]. */
static int
parse_number(const char *val, long lo, long hi, long *out, char *why, size_t whysz)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(val, &end, 10);
	if (!isdigit((unsigned char)val[0]) || *end || errno || n < lo || n > hi) {
		snprintf(why, whysz, "expected a number from %ld to %ld", lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

/* parse_dur - a duration in seconds, at least one second. */
static int
parse_dur(const char *val, int *out, char *why, size_t whysz)
{
	long s = parse_duration(val);

	if (s <= 0 || s > 0x7fffffffL) {
		snprintf(why, whysz, "expected a duration such as 30s, 15m, 4h or 5d");
		return -1;
	}
	*out = (int)s;
	return 0;
}

/* parse_wait - a duration used as a timeout: at most TIMEOUT_MAX_SEC. */
static int
parse_wait(const char *val, int *out, char *why, size_t whysz)
{
	if (parse_dur(val, out, why, whysz) < 0)
		return -1;
	if (*out > TIMEOUT_MAX_SEC) {
		snprintf(why, whysz, "at most %dd", TIMEOUT_MAX_SEC / 86400);
		return -1;
	}
	return 0;
}

/* parse_bool - yes or no. */
static int
parse_bool(const char *val, int *out, char *why, size_t whysz)
{
	if (strcmp(val, "yes") == 0)
		*out = 1;
	else if (strcmp(val, "no") == 0)
		*out = 0;
	else {
		snprintf(why, whysz, "expected yes or no");
		return -1;
	}
	return 0;
}

/* config_valid_domain - letters, digits, hyphens and dots; sane labels. */
int
config_valid_domain(const char *d)
{
	size_t n = strlen(d), label = 0;

	if (n == 0 || n > DOMAIN_MAX || d[0] == '.' || d[n - 1] == '.')
		return 0;
	for (; *d; d++) {
		if (*d == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*d) || *d == '-') {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return 1;
}

/* parse_cidr - "ADDR" or "ADDR/PREFIX" into C. */
static int
parse_cidr(const char *s, struct cidr *c)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	long prefix = -1;

	if (strlcpy_ck(buf, s, sizeof buf) < 0)
		return -1;
	slash = strchr(buf, '/');
	if (slash) {
		char *end;
		*slash++ = '\0';
		if (!isdigit((unsigned char)*slash))
			return -1;
		prefix = strtol(slash, &end, 10);
		if (*end)
			return -1;
	}
	memset(c, 0, sizeof *c);
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		if (prefix < 0)
			prefix = 32;
		if (prefix > 32)
			return -1;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		if (prefix < 0)
			prefix = 128;
		if (prefix > 128)
			return -1;
	} else
		return -1;
	c->prefix = (int)prefix;
	return 0;
}

static int
k_hostname(struct config *cf, const char *v, char *why, size_t whysz)
{
	if (!config_valid_domain(v)) {
		snprintf(why, whysz, "bad host name \"%s\"", v);
		return -1;
	}
	return copy_val(cf->hostname, sizeof cf->hostname, v, why, whysz);
}

/* domain_listed - whether DOMAIN (any case) is one of the domain lines. */
static int
domain_listed(const struct config *cf, const char *domain)
{
	for (int i = 0; i < cf->ndomains; i++)
		if (strcasecmp(cf->domains[i], domain) == 0)
			return 1;
	return 0;
}

static int
k_domain(struct config *cf, const char *v, char *why, size_t whysz)
{
	if (!config_valid_domain(v)) {
		snprintf(why, whysz, "bad domain \"%s\"", v);
		return -1;
	}
	if (cf->ndomains >= CONF_DOMAINS_MAX) {
		snprintf(why, whysz, "more than %d domains", CONF_DOMAINS_MAX);
		return -1;
	}
	if (domain_listed(cf, v)) {
		snprintf(why, whysz, "domain \"%s\" given twice", v);
		return -1;
	}
	cf->domains[cf->ndomains] = strdup(v);
	if (!cf->domains[cf->ndomains]) {
		snprintf(why, whysz, "out of memory");
		return -1;
	}
	str_lower(cf->domains[cf->ndomains++]);
	return 0;
}

/* k_users - a users file, or "system": the host's accounts. */
static int
k_users(struct config *cf, const char *v, char *why, size_t whysz)
{
	cf->users_system = strcmp(v, "system") == 0;
	return set_path(cf, &cf->users_file, v, why, whysz);
}

/* socket_path - an absolute path that fits an AF_UNIX address. */
static int
socket_path(struct config *cf, const char **dst, const char *v, char *why, size_t whysz)
{
	if (v[0] != '/' || strlen(v) >= sizeof ((struct sockaddr_un *)0)->sun_path) {
		snprintf(why, whysz, "expected an absolute path of at most %zu octets",
		    sizeof ((struct sockaddr_un *)0)->sun_path - 1);
		return -1;
	}
	return set_path(cf, dst, v, why, whysz);
}

static int
k_submit_socket(struct config *cf, const char *v, char *why, size_t whysz)
{
	return socket_path(cf, &cf->submit_socket, v, why, whysz);
}

static int
k_mkmbox_socket(struct config *cf, const char *v, char *why, size_t whysz)
{
	return socket_path(cf, &cf->mkmbox_socket, v, why, whysz);
}

static int
k_relay_from(struct config *cf, const char *v, char *why, size_t whysz)
{
	char buf[CONF_LINE_MAX], *tok, *save = NULL;

	cf->nrelay_from = 0;
	if (strcmp(v, "none") == 0)
		return 0;
	if (copy_val(buf, sizeof buf, v, why, whysz) < 0)
		return -1;
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (cf->nrelay_from >= CONF_CIDRS_MAX) {
			snprintf(why, whysz, "more than %d networks", CONF_CIDRS_MAX);
			return -1;
		}
		if (parse_cidr(tok, &cf->relay_from[cf->nrelay_from]) < 0) {
			snprintf(why, whysz, "bad network \"%s\" (expected ADDRESS/PREFIX or none)", tok);
			return -1;
		}
		cf->nrelay_from++;
	}
	return 0;
}

static int
k_log(struct config *cf, const char *v, char *why, size_t whysz)
{
	if (strcmp(v, "syslog") && strcmp(v, "stderr") && v[0] != '/') {
		snprintf(why, whysz, "expected syslog, stderr or an absolute file path");
		return -1;
	}
	return set_path(cf, &cf->log, v, why, whysz);
}

/* parse_hostport - "HOST", "HOST:PORT", "[V6]:PORT" or a bare V6. */
static int
parse_hostport(const char *v, char *host, size_t hostsz, int *port)
{
	char buf[DOMAIN_MAX + 16], *colon;
	struct in6_addr a6;

	if (strlcpy_ck(buf, v, sizeof buf) < 0)
		return -1;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (!close || (close[1] && close[1] != ':'))
			return -1;
		colon = close[1] == ':' ? close + 1 : NULL;
		*close = '\0';
		if (inet_pton(AF_INET6, buf + 1, &a6) != 1)
			return -1;
		if (colon) {
			char *end;
			long p = strtol(colon + 1, &end, 10);
			if (!isdigit((unsigned char)colon[1]) || *end || p < 1 || p > 65535)
				return -1;
			*port = (int)p;
		}
		return strlcpy_ck(host, buf + 1, hostsz);
	}
	if (inet_pton(AF_INET6, buf, &a6) == 1)
		colon = NULL;
	else
		colon = strrchr(buf, ':');
	if (colon) {
		char *end;
		long p;
		*colon = '\0';
		p = strtol(colon + 1, &end, 10);
		if (!isdigit((unsigned char)colon[1]) || *end || p < 1 || p > 65535)
			return -1;
		*port = (int)p;
	}
	if (buf[0] == '\0')
		return -1;
	return strlcpy_ck(host, buf, hostsz);
}

static int
k_nameserver(struct config *cf, const char *v, char *why, size_t whysz)
{
	char host[DOMAIN_MAX + 1];
	int port = 53;
	struct sockaddr_storage *ss;

	if (cf->nnameservers >= CONF_NAMESERVERS_MAX) {
		snprintf(why, whysz, "more than %d name servers", CONF_NAMESERVERS_MAX);
		return -1;
	}
	ss = &cf->nameservers[cf->nnameservers];
	memset(ss, 0, sizeof *ss);
	if (parse_hostport(v, host, sizeof host, &port) == 0) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons((unsigned short)port);
			cf->nnameservers++;
			return 0;
		}
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((unsigned short)port);
			cf->nnameservers++;
			return 0;
		}
	}
	snprintf(why, whysz, "bad name server \"%s\" (expected IP, IP:PORT or [IPv6]:PORT)", v);
	return -1;
}

static int
k_smarthost(struct config *cf, const char *v, char *why, size_t whysz)
{
	int port = DEF_REMOTE_PORT;

	if (parse_hostport(v, cf->smarthost, sizeof cf->smarthost, &port) < 0) {
		snprintf(why, whysz, "bad smarthost \"%s\" (expected HOST or HOST:PORT)", v);
		return -1;
	}
	cf->smarthost_port = port;
	return 0;
}

static int
k_smarthost_auth(struct config *cf, const char *v, char *why, size_t whysz)
{
	const char *sp = strpbrk(v, " \t");
	size_t ulen;

	if (!sp) {
		snprintf(why, whysz, "expected USER PASSWORD");
		return -1;
	}
	ulen = (size_t)(sp - v);
	if (ulen >= sizeof cf->smarthost_user) {
		snprintf(why, whysz, "user name too long");
		return -1;
	}
	memcpy(cf->smarthost_user, v, ulen);
	cf->smarthost_user[ulen] = '\0';
	while (*sp == ' ' || *sp == '\t')
		sp++;
	return copy_val(cf->smarthost_password, sizeof cf->smarthost_password, sp, why, whysz);
}

/* k_filter - "filter COMMAND [ARG ...]": an absolute path and its words,
 * run later without a shell. */
static int
k_filter(struct config *cf, const char *v, char *why, size_t whysz)
{
	char *tok, *save = NULL;
	int n = 0;

	if (copy_val(cf->filter_line, sizeof cf->filter_line, v, why, whysz) < 0 ||
	    copy_val(cf->filter_words, sizeof cf->filter_words, v, why, whysz) < 0)
		return -1;
	for (tok = strtok_r(cf->filter_words, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (n >= FILTER_ARGS_MAX) {
			snprintf(why, whysz, "more than %d words", FILTER_ARGS_MAX);
			return -1;
		}
		cf->filter_argv[n++] = tok;
	}
	cf->filter_argv[n] = NULL;
	if (n == 0 || cf->filter_argv[0][0] != '/') {
		snprintf(why, whysz, "expected an absolute path to a program");
		cf->filter_argv[0] = NULL;
		return -1;
	}
	return 0;
}

#define F(field) offsetof(struct config, field)
#define S(field) F(field), 0
static const struct key keys[] = {
	{ "hostname", KT_FUNC, 0, 0, 0, 0, k_hostname, 0 },
	{ "domain", KT_FUNC, 0, 0, 0, 0, k_domain, 1 },
	{ "users", KT_FUNC, 0, 0, 0, 0, k_users, 0 },
	{ "aliases", KT_PATH, S(aliases_file), 0, 0, NULL, 0 },
	{ "mailbox_dir", KT_PATH, S(mailbox_dir), 0, 0, NULL, 0 },
	{ "spool_dir", KT_PATH, S(spool_dir), 0, 0, NULL, 0 },
	{ "relay_from", KT_FUNC, 0, 0, 0, 0, k_relay_from, 0 },
	{ "auth_file", KT_PATH, S(auth_file), 0, 0, NULL, 0 },
	{ "max_message_size", KT_LONG, F(max_message_size), 0, 0, 0x7fffffffL, NULL, 0 },
	{ "queue_minfree", KT_LONG, F(queue_minfree), 0, 0, QUEUE_MINFREE_MAX, NULL, 0 },
	{ "max_recipients", KT_INT, F(max_recipients), 0, 1, RCPT_EXPAND_MAX, NULL, 0 },
	{ "timeout", KT_TIMEOUT, F(timeout), 0, 0, 0, NULL, 0 },
	{ "log", KT_FUNC, 0, 0, 0, 0, k_log, 0 },
	{ "log_transcript", KT_BOOL, F(log_transcript), 0, 0, 0, NULL, 0 },
	{ "nameserver", KT_FUNC, 0, 0, 0, 0, k_nameserver, 1 },
	{ "dns_timeout", KT_TIMEOUT, F(dns_timeout), 0, 0, 0, NULL, 0 },
	{ "remote_port", KT_INT, F(remote_port), 0, 1, 65535, NULL, 0 },
	{ "connect_timeout", KT_TIMEOUT, F(connect_timeout), 0, 0, 0, NULL, 0 },
	{ "smtp_timeout", KT_TIMEOUT, F(smtp_timeout), 0, 0, 0, NULL, 0 },
	{ "smarthost", KT_FUNC, 0, 0, 0, 0, k_smarthost, 0 },
	{ "smarthost_auth", KT_FUNC, 0, 0, 0, 0, k_smarthost_auth, 0 },
	{ "smarthost_auth_file", KT_PATH, S(smarthost_auth_file), 0, 0, NULL, 0 },
	{ "submit_socket", KT_FUNC, 0, 0, 0, 0, k_submit_socket, 0 },
	{ "mkmbox_socket", KT_FUNC, 0, 0, 0, 0, k_mkmbox_socket, 0 },
	{ "tls_wrapped", KT_BOOL, F(tls_wrapped), 0, 0, 0, NULL, 0 },
	{ "max_connections", KT_INT, F(max_connections), 0, 1, 1000, NULL, 0 },
	{ "destination_concurrency", KT_INT, F(destination_concurrency), 0, 1, 1000, NULL, 0 },
	{ "address_connections", KT_INT, F(address_connections), 0, 1, 1000, NULL, 0 },
	{ "retry_min", KT_DURATION, F(retry_min), 0, 0, 0, NULL, 0 },
	{ "retry_max", KT_DURATION, F(retry_max), 0, 0, 0, NULL, 0 },
	{ "queue_lifetime", KT_DURATION, F(queue_lifetime), 0, 0, 0, NULL, 0 },
	{ "session_limit", KT_TIMEOUT, F(session_limit), 0, 0, 0, NULL, 0 },
	{ "require_auth", KT_BOOL, F(require_auth), 0, 0, 0, NULL, 0 },
	{ "filter", KT_FUNC, 0, 0, 0, 0, k_filter, 0 },
	{ "filter_timeout", KT_TIMEOUT, F(filter_timeout), 0, 0, 0, NULL, 0 },
};
#undef S
#undef F
#define NKEYS (sizeof keys / sizeof keys[0])

/* key_parse - read VAL into the field K describes. */
static int
key_parse(const struct key *k, struct config *cf, const char *val, char *why, size_t whysz)
{
	char *field = (char *)cf + k->offset;
	long n;

	switch (k->type) {
	case KT_PATH:
		return set_path(cf, (const char **)(void *)field, val, why, whysz);
	case KT_INT:
		if (parse_number(val, k->lo, k->hi, &n, why, whysz) < 0)
			return -1;
		*(int *)(void *)field = (int)n;
		return 0;
	case KT_LONG:
		return parse_number(val, k->lo, k->hi, (long *)(void *)field, why, whysz);
	case KT_DURATION:
		return parse_dur(val, (int *)(void *)field, why, whysz);
	case KT_TIMEOUT:
		return parse_wait(val, (int *)(void *)field, why, whysz);
	case KT_BOOL:
		return parse_bool(val, (int *)(void *)field, why, whysz);
	case KT_FUNC:
		break;
	}
	return k->parse(cf, val, why, whysz);
}

/* defaults_set - every default into CF, which is all zeros. */
static void
defaults_set(struct config *cf)
{
	if (gethostname(cf->hostname, sizeof cf->hostname) < 0 || !cf->hostname[0])
		strcpy(cf->hostname, "localhost");
	cf->hostname[sizeof cf->hostname - 1] = '\0';
	cf->file = cf->users_file = cf->aliases_file = cf->auth_file = "";
	cf->smarthost_auth_file = "";
	cf->mailbox_dir = "/var/vmail";
	cf->spool_dir = "/var/spool/smtp-session";
	/* 127.0.0.0/8 and ::1/128, without parsing them in every process. */
	cf->relay_from[0] = (struct cidr){ .family = AF_INET, .addr = { 127 }, .prefix = 8 };
	cf->relay_from[1] = (struct cidr){ .family = AF_INET6, .addr = { [15] = 1 }, .prefix = 128 };
	cf->nrelay_from = 2;
	cf->max_message_size = DEF_MAX_MESSAGE_SIZE;
	cf->max_recipients = DEF_MAX_RECIPIENTS;
	cf->timeout = DEF_TIMEOUT;
	cf->log = "syslog";
	cf->dns_timeout = DEF_DNS_TIMEOUT;
	cf->remote_port = DEF_REMOTE_PORT;
	cf->connect_timeout = DEF_CONNECT_TIMEOUT;
	cf->smtp_timeout = DEF_SMTP_TIMEOUT;
	cf->smarthost_port = DEF_REMOTE_PORT;
	cf->max_connections = DEF_MAX_CONNECTIONS;
	cf->destination_concurrency = DEF_DESTINATION_CONCURRENCY;
	cf->address_connections = DEF_ADDRESS_CONNECTIONS;
	cf->retry_min = DEF_RETRY_MIN;
	cf->retry_max = DEF_RETRY_MAX;
	cf->queue_lifetime = DEF_QUEUE_LIFETIME;
	cf->session_limit = DEF_SESSION_LIMIT;
	cf->filter_timeout = DEF_FILTER_TIMEOUT;
	cf->submit_socket = DEF_SUBMIT_SOCKET;
	cf->mkmbox_socket = DEF_MKMBOX_SOCKET;
}

/* config_defaults - fill CF with every default. */
void
config_defaults(struct config *cf)
{
	memset(cf, 0, sizeof *cf);
	defaults_set(cf);
}

/* config_trim - strip leading and trailing blanks (and a CR) in place. */
char *
config_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* config_read_line - one line of F into BUF; 1, 0 at EOF, -1 when too long. */
int
config_read_line(FILE *f, char *buf, size_t bufsz)
{
	size_t n;

	if (!fgets(buf, (int)bufsz, f))
		return 0;
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n') {
		buf[n - 1] = '\0';
		return 1;
	}
	if (feof(f))
		return 1;
	/* Overlong: skip the rest of it so the next line is counted right. */
	int c;
	while ((c = getc(f)) != EOF && c != '\n')
		;
	return -1;
}

/* key_seen - whether key NAME was given (SEEN from config_load). */
static int
key_seen(const unsigned char *seen, const char *name)
{
	for (size_t k = 0; k < NKEYS; k++)
		if (strcmp(keys[k].name, name) == 0)
			return seen[k];
	return 0;
}

/*
 * read_auth_file - smarthost_auth_file: "user password" on its first line
 * that is not blank or a comment. Its secret must not be readable by
 * every user (sendmail may read the main file, this one never).
 */
static int
read_auth_file(struct config *cf, char *err, size_t errsz)
{
	const char *file = cf->smarthost_auth_file;
	char buf[CONF_LINE_MAX], why[256];
	struct stat st;
	int rc, lineno = 0;
	FILE *f = fopen(file, "r");

	if (!f)
		return config_error(err, errsz, file, 0, "cannot open: %s", strerror(errno));
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)) {
		fclose(f);
		return config_error(err, errsz, file, 0,
		    "readable by every user: make it mode 0640 (owner root, group of the service account)");
	}
	while ((rc = config_read_line(f, buf, sizeof buf)) != 0) {
		char *line;
		lineno++;
		if (rc < 0)
			break;
		line = config_trim(buf);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		rc = k_smarthost_auth(cf, line, why, sizeof why);
		explicit_bzero(buf, sizeof buf);
		fclose(f);
		if (rc < 0)
			return config_error(err, errsz, file, lineno, "%s", why);
		return 0;
	}
	fclose(f);
	return config_error(err, errsz, file, lineno, rc < 0 ? "line too long" :
	    "no \"user password\" line");
}

/* config_load - read FILE (and its users file) into CF. */
int
config_load(struct config *cf, const char *file, enum config_mode mode,
            char *err, size_t errsz)
{
	memset(cf, 0, sizeof *cf);
	return config_load_fresh(cf, file, mode, err, errsz);
}

/* config_load_fresh - config_load into an all-zero CF, not cleared again. */
int
config_load_fresh(struct config *cf, const char *file, enum config_mode mode,
                  char *err, size_t errsz)
{
	char buf[CONF_LINE_MAX], why[512];
	unsigned char seen[NKEYS] = { 0 };
	int lineno = 0, rc;
	FILE *f;

	defaults_set(cf);
	if (set_path(cf, &cf->file, file, why, sizeof why) < 0)
		return config_error(err, errsz, file, 0, "%s", why);
	f = fopen(file, "r");
	if (!f) {
		if (mode == CONFIG_DEBUG && errno == ENOENT)
			return 0;
		return config_error(err, errsz, file, 0, "cannot open: %s", strerror(errno));
	}
	while ((rc = config_read_line(f, buf, sizeof buf)) != 0) {
		char *line, *val;
		size_t k;

		lineno++;
		if (rc < 0) {
			fclose(f);
			return config_error(err, errsz, file, lineno, "line too long");
		}
		line = config_trim(buf);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		val = line + strcspn(line, " \t");
		if (*val)
			*val++ = '\0';
		val = config_trim(val);
		for (k = 0; k < NKEYS; k++)
			if (strcmp(keys[k].name, line) == 0)
				break;
		if (k == NKEYS) {
			fclose(f);
			return config_error(err, errsz, file, lineno, "unknown key \"%s\"", line);
		}
		if (seen[k] && !keys[k].repeatable) {
			fclose(f);
			return config_error(err, errsz, file, lineno, "\"%s\" given twice", line);
		}
		seen[k] = 1;
		if (val[0] == '\0') {
			fclose(f);
			return config_error(err, errsz, file, lineno, "\"%s\" needs a value", line);
		}
		if (key_parse(&keys[k], cf, val, why, sizeof why) < 0) {
			fclose(f);
			return config_error(err, errsz, file, lineno, "%s: %s", line, why);
		}
	}
	if (ferror(f)) {
		fclose(f);
		return config_error(err, errsz, file, 0, "read error");
	}
	fclose(f);
	if (cf->retry_max < cf->retry_min)
		return config_error(err, errsz, file, 0, "retry_max is shorter than retry_min");
	if (cf->smarthost_user[0] && cf->smarthost_auth_file[0])
		return config_error(err, errsz, file, 0,
		    "smarthost_auth and smarthost_auth_file both given");
	if (cf->aliases_file[0] && !cf->users_system)
		return config_error(err, errsz, file, 0,
		    "\"aliases\" needs \"users system\" (a users file holds its own aliases)");
	/* users system: Debian's places unless the file says otherwise. */
	if (cf->users_system && !key_seen(seen, "mailbox_dir"))
		cf->mailbox_dir = "/var/mail";
	if (cf->users_system && !cf->aliases_file[0])
		cf->aliases_file = DEF_ALIASES_FILE;
	if (mode == CONFIG_CLIENT)
		return 0;
	if (cf->auth_file[0] && access(cf->auth_file, R_OK) < 0)
		return config_error(err, errsz, file, 0, "auth_file %s: %s", cf->auth_file, strerror(errno));
	if (cf->filter_argv[0] && access(cf->filter_argv[0], X_OK) < 0)
		return config_error(err, errsz, file, 0, "filter %s: %s", cf->filter_argv[0],
		    strerror(errno));
	if (mode == CONFIG_DEBUG)
		return 0;
	if (cf->smarthost_auth_file[0] && read_auth_file(cf, err, errsz) < 0)
		return -1;
	if (cf->ndomains == 0)
		return config_error(err, errsz, file, 0, "no \"domain\" given");
	if (cf->users_file[0] == '\0')
		return config_error(err, errsz, file, 0, "no \"users\" file given");
	return users_load(cf, key_seen(seen, "aliases"), err, errsz);
}

/* config_minfree - the free space spool_dir must keep (see config.h). */
long long
config_minfree(const struct config *cf)
{
	long long rule = (long long)cf->max_message_size * 3 / 2;

	return cf->queue_minfree > rule ? cf->queue_minfree : rule;
}

/* config_is_local_domain - whether DOMAIN (any case) is one of ours: a
 * domain line, hostname or localhost (Postfix's default mydestination). */
int
config_is_local_domain(const struct config *cf, const char *domain)
{
	return domain_listed(cf, domain) || strcasecmp(domain, cf->hostname) == 0 ||
	    strcasecmp(domain, "localhost") == 0;
}

/* config_addr_in_cidr - whether SA lies in C (v4-mapped v6 counts as v4). */
int
config_addr_in_cidr(const struct cidr *c, const struct sockaddr *sa)
{
	const unsigned char *a;
	int bits = c->prefix;

	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			if (c->family != AF_INET)
				return 0;
			a = a6->s6_addr + 12;
		} else {
			if (c->family != AF_INET6)
				return 0;
			a = a6->s6_addr;
		}
	} else if (sa->sa_family == AF_INET) {
		if (c->family != AF_INET)
			return 0;
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else
		return 0;
	for (int i = 0; bits > 0; i++, bits -= 8) {
		unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
		if ((a[i] & mask) != (c->addr[i] & mask))
			return 0;
	}
	return 1;
}

/* config_relay_allowed - whether the peer address may relay. */
int
config_relay_allowed(const struct config *cf, const struct sockaddr *sa)
{
	for (int i = 0; i < cf->nrelay_from; i++)
		if (config_addr_in_cidr(&cf->relay_from[i], sa))
			return 1;
	return 0;
}

/* config_free - release what config_load allocated. */
void
config_free(struct config *cf)
{
	for (int i = 0; i < cf->ndomains; i++)
		free(cf->domains[i]);
	cf->ndomains = 0;
	users_free(cf);
}
