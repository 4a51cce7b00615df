/*
 * dns.h - where mail for a domain goes: MX hosts and their addresses,
 * looked up through udns for many domains at once in one event loop.
 */
#ifndef DNS_H
#define DNS_H

#include <sys/socket.h>

#include "config.h"
#include "bounds.h"

struct dns_route;

/* One host to try: an MX target (or the domain itself, or the smarthost). */
struct dns_host {
	struct dns_route *route;        /* the route this host belongs to */
	char name[DOMAIN_MAX + 1];
	int pref;                       /* MX preference; 0 when implicit */
	struct sockaddr_storage addr[DNS_ADDRS_MAX];
	int naddrs;
	int pending;                    /* address queries outstanding */
	int tempfail;                   /* an address query failed for now */
};

/*
 * A route: the hosts for one domain, in the order to try them. RESULT is
 * RES_OK (NHOSTS >= 1), RES_PERM (bounce: NXDOMAIN, null MX, mail loop, no
 * usable host) or RES_TEMP (defer); WHY then holds an SMTP-style reply
 * ("550 5.1.2 ...") for the log and the bounce.
 */
struct dns_route {
	char domain[DOMAIN_MAX + 1];    /* lower-cased, no trailing dot */
	int hosts_only;                 /* 1: DOMAIN is a host (smarthost), no MX */
	int port;                       /* port to connect to */
	int result;                     /* enum result */
	char why[SMTP_REPLY_MAX + 1];
	struct dns_host hosts[DNS_MX_MAX];
	int nhosts;
	int pending;                    /* queries outstanding for this route */
	int done;                       /* RESULT is final */
	int verbose;
};

/*
 * dns_resolve_routes - resolve every route in R (N of them) concurrently:
 * MX in preference order (equal preferences shuffled), hosts that are our
 * own HOSTNAME dropped with every host of their preference or higher,
 * each host's A and AAAA, implicit MX when the domain has none. Waits at
 * most cf->dns_timeout seconds in all; what is unresolved then is RES_TEMP.
 * Returns 0, or -1 when the resolver cannot even start (every route then
 * RES_TEMP).
 */
int dns_resolve_routes(const struct config *cf, struct dns_route *r, int n);

/* dns_addr_str - "ip" text of SA into OUT. */
void dns_addr_str(const struct sockaddr_storage *sa, char *out, size_t outsz);

#endif
