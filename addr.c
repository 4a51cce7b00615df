/*
 * addr.c - parse RFC 5321 paths ("<local@domain>") from MAIL and RCPT.
 *
 * Strict grammar (section 4.1.2): dot-string or quoted-string local part,
 * a domain of letter-digit-hyphen labels or an address literal. Octets
 * above 127 get their own answer (553 5.6.7: no SMTPUTF8 here).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

/* is_atext - RFC 5322 atext. */
static int
is_atext(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* parse_local - dot-string or quoted-string at S; returns its end or NULL. */
static const char *
parse_local(const char *s)
{
	if (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\') {
				s++;
				if ((unsigned char)*s < 32 || (unsigned char)*s > 126)
					return NULL;
			} else if ((unsigned char)*s < 32 || (unsigned char)*s > 126)
				return NULL;
		}
		return *s == '"' ? s + 1 : NULL;
	}
	if (!is_atext((unsigned char)*s))
		return NULL;
	while (is_atext((unsigned char)*s) || (*s == '.' && is_atext((unsigned char)s[1])))
		s++;
	return s;
}

/* parse_domain - sub-domains or an address literal; its end or NULL. */
static const char *
parse_domain(const char *s)
{
	if (*s == '[') {
		const char *end = strchr(s, ']');
		char lit[64];
		size_t n;
		unsigned char buf[16];

		if (!end || (n = (size_t)(end - s - 1)) >= sizeof lit)
			return NULL;
		memcpy(lit, s + 1, n);
		lit[n] = '\0';
		if (strncasecmp(lit, "IPv6:", 5) == 0) {
			if (inet_pton(AF_INET6, lit + 5, buf) != 1)
				return NULL;
		} else if (inet_pton(AF_INET, lit, buf) != 1)
			return NULL;
		return end + 1;
	}
	for (;;) {
		const char *label = s;
		if (!isalnum((unsigned char)*s))
			return NULL;
		while (isalnum((unsigned char)*s) || *s == '-')
			s++;
		if (s[-1] == '-' || s - label > 63)
			return NULL;
		if (*s != '.')
			return s;
		s++;
	}
}

/* addr_parse_path - parse "<...>" at S. */
enum addr_status
addr_parse_path(const char *s, const char **end, int null_ok, struct addr *a)
{
	const char *p, *close, *lend, *dend;
	size_t llen, dlen;

	memset(a, 0, sizeof *a);
	if (*s != '<')
		return ADDR_SYNTAX;
	/* The closing '>' outside any quoted string ("a>b"@x is one address). */
	close = NULL;
	for (p = s + 1; *p && !close; p++) {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				break;
		} else if (*p == '>')
			close = p;
	}
	for (p = s; *p && (!close || p < close); p++)
		if ((unsigned char)*p >= 0x80)
			return ADDR_NONASCII;
	if (!close)
		return ADDR_SYNTAX;
	if ((size_t)(close - s - 1) > ADDR_MAX)
		return ADDR_TOOLONG;
	*end = close + 1;
	p = s + 1;
	if (p == close) {
		if (!null_ok)
			return ADDR_SYNTAX;
		a->null = 1;
		return ADDR_OK;
	}
	if (*p == '@') {        /* source route: "@a,@b:" is ignored */
		const char *colon = strchr(p, ':');
		if (!colon || colon > close)
			return ADDR_SYNTAX;
		for (const char *q = p; q < colon; ) {
			if (*q != '@' || !(q = parse_domain(q + 1)))
				return ADDR_SYNTAX;
			if (*q == ',')
				q++;
			else if (q != colon)
				return ADDR_SYNTAX;
		}
		p = colon + 1;
	}
	lend = parse_local(p);
	if (!lend)
		return ADDR_SYNTAX;
	llen = (size_t)(lend - p);
	if (llen > LOCALPART_MAX + 2 || (p[0] != '"' && llen > LOCALPART_MAX))
		return ADDR_TOOLONG;
	memcpy(a->local, p, llen);
	a->local[llen] = '\0';
	if (lend == close) {    /* bare <Postmaster> (RFC 5321 4.5.1) */
		if (strcasecmp(a->local, "postmaster") != 0)
			return ADDR_SYNTAX;
		strcpy(a->full, a->local);
		return ADDR_OK;
	}
	if (*lend != '@')
		return ADDR_SYNTAX;
	dend = parse_domain(lend + 1);
	if (!dend || dend != close)
		return ADDR_SYNTAX;
	dlen = (size_t)(dend - lend - 1);
	if (dlen > DOMAIN_MAX)
		return ADDR_TOOLONG;
	memcpy(a->domain, lend + 1, dlen);
	a->domain[dlen] = '\0';
	if (llen + 1 + dlen > ADDR_MAX)
		return ADDR_TOOLONG;
	memcpy(a->full, a->local, llen);
	a->full[llen] = '@';
	memcpy(a->full + llen + 1, a->domain, dlen + 1);
	return ADDR_OK;
}

/* addr_domain - the domain of a full address (after the last '@'), or "". */
const char *
addr_domain(const char *full)
{
	const char *at = strrchr(full, '@');

	return at ? at + 1 : "";
}

/* addr_local_unquoted - LOCAL without its quotes and backslashes. */
int
addr_local_unquoted(const char *local, char *out, size_t outsz)
{
	size_t o = 0;

	if (local[0] != '"')
		return strlen(local) < outsz ? (strcpy(out, local), 0) : -1;
	for (const char *p = local + 1; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		if (o + 1 >= outsz)
			return -1;
		out[o++] = *p;
	}
	out[o] = '\0';
	return 0;
}
