/*
 * addr.h - RFC 5321 paths: "<local@domain>" as given in MAIL and RCPT.
 */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>

#include "bounds.h"

enum addr_status {
	ADDR_OK,
	ADDR_SYNTAX,    /* 501 5.5.4 */
	ADDR_NONASCII,  /* 553 5.6.7 (no SMTPUTF8) */
	ADDR_TOOLONG    /* 501 5.5.4 */
};

struct addr {
	int null;                       /* the path was <> */
	char local[LOCALPART_MAX + 3];  /* as given (quotes kept) */
	char domain[DOMAIN_MAX + 1];    /* as given; "" for bare Postmaster */
	char full[ADDR_MAX + 1];        /* local@domain, or local */
};

/*
 * addr_parse_path - parse "<...>" at S (a source route is dropped).
 * *END is set to the first octet after '>'. NULL_OK allows "<>".
 */
enum addr_status addr_parse_path(const char *s, const char **end,
                                 int null_ok, struct addr *a);

/*
 * addr_local_unquoted - LOCAL without its quotes and backslashes
 * ("\"al\\ice\"" is alice, RFC 5322 3.2.4), for the users-file lookup.
 * -1 if it does not fit OUT.
 */
int addr_local_unquoted(const char *local, char *out, size_t outsz);

/* addr_domain - the domain of a full address (after the last '@'), or "". */
const char *addr_domain(const char *full);

#endif
