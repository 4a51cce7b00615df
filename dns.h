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
	int pending;                    /* queries outstanding or queued */
	int done;                       /* RESULT is final */
	int verbose;
	long long deadline;             /* now_ms() by which it is decided */
	void *owner;                    /* the scheduler's */
};

/*
 * The resolver of one pass. Lookups are started as the scheduler needs
 * them (dns_lookup); at most DNS_INFLIGHT_MAX queries are outstanding at
 * once, the rest wait in order. Each route is decided within dns_timeout
 * of its first query: MX in preference order (equal preferences
 * shuffled), MX names that are addresses ignored with a warning, hosts
 * that are this host (our hostname, or one of our own addresses) dropped
 * with every host of their preference or higher, each host's A and AAAA,
 * implicit MX when the domain has none. ON_DONE is called once per route
 * as it is decided, from dns_lookup, dns_io or dns_tick.
 */
int dns_start(const struct config *cf, void (*on_done)(struct dns_route *r));

/* dns_lookup - resolve R (domain, hosts_only, port and verbose set); R
 * must stay where it is until ON_DONE. */
void dns_lookup(struct dns_route *r);

/* dns_fd - the socket to poll for input; -1 when there is none. */
int dns_fd(void);

/* dns_io - read the answers waiting on the socket. */
void dns_io(void);

/* dns_next_ms - milliseconds until dns_tick has work; -1: no lookup open. */
long dns_next_ms(void);

/* dns_tick - retransmissions, deadlines, queued queries. */
void dns_tick(void);

/* dns_open_lookups - routes not decided yet. */
int dns_open_lookups(void);

/* dns_stop - close the resolver; routes still open are failed first. */
void dns_stop(void);

/* dns_is_self - whether SA is one of this host's own addresses. */
int dns_is_self(const struct sockaddr_storage *sa);

/* dns_addr_str - "ip" text of SA into OUT. */
void dns_addr_str(const struct sockaddr_storage *sa, char *out, size_t outsz);

#endif
