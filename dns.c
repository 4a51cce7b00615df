/*
 * dns.c - MX and address lookups for relay-agent, through udns.
 *
 * Every domain of a pass is looked up at once: one MX query per domain is
 * submitted, each MX answer submits A and AAAA queries for its hosts, and
 * one poll() loop drives them all until every route is decided or the
 * dns_timeout deadline passes. udns speaks UDP only, so a truncated
 * answer comes back as a temporary failure, like a timeout or SERVFAIL.
 *
 * Decisions (RFC 5321 5.1, RFC 7505):
 *   MX records        sorted by preference, equal preferences shuffled;
 *                     our own hostname drops itself and every host of its
 *                     preference or higher (else we would loop)
 *   null MX           550 5.1.10, no fallback to A/AAAA
 *   no MX (NODATA)    implicit MX: the domain itself at preference 0
 *   NXDOMAIN          550 5.1.2
 *   anything else     451 4.4.3, deferred; never falls back to A/AAAA
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <udns.h>

#include "dns.h"
#include "log.h"
#include "util.h"

/* Our own hostname, for the mail loop check in mx_done. */
static const char *self_name = "";

/* say - narrate one step on stderr when the route is verbose. */
static void say(const struct dns_route *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(const struct dns_route *r, const char *fmt, ...)
{
	char prefix[DOMAIN_MAX + 32];
	va_list ap;

	if (!r->verbose)
		return;
	snprintf(prefix, sizeof prefix, "relay-agent: dns %s: ", r->domain);
	va_start(ap, fmt);
	log_narrate(prefix, fmt, ap);
	va_end(ap);
}

/* route_fail - decide route R as failed with RESULT and reply text. */
static void route_fail(struct dns_route *r, int result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void route_fail(struct dns_route *r, int result, const char *fmt, ...)
{
	va_list ap;

	if (r->done)
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof r->why, fmt, ap);
	va_end(ap);
	r->result = result;
	r->done = 1;
	say(r, "%s", r->why);
}

/* name_equal - host names equal, ignoring case and one trailing dot. */
static int name_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* host_literal - fill H's address when its name is an IP address. */
static int host_literal(struct dns_host *h, const char *name, int port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&h->addr[0];
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->addr[0];
	char buf[DOMAIN_MAX + 1];
	size_t len = strlen(name);

	/* "[192.0.2.1]" is an address literal (RFC 5321 4.1.3); a bare
	 * address is accepted for a smarthost. */
	if (len >= 2 && name[0] == '[' && name[len - 1] == ']') {
		if (len - 2 >= sizeof buf)
			return 0;
		memcpy(buf, name + 1, len - 2);
		buf[len - 2] = '\0';
	} else if (strlcpy_ck(buf, name, sizeof buf) < 0) {
		return 0;
	}
	if (strncasecmp(buf, "IPv6:", 5) == 0)
		memmove(buf, buf + 5, strlen(buf + 5) + 1);
	memset(&h->addr[0], 0, sizeof h->addr[0]);
	if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
	} else {
		return 0;
	}
	h->naddrs = 1;
	return 1;
}

/* route_finish - once no query is outstanding, decide the route. */
static void route_finish(struct dns_route *r)
{
	int i, j, k, temp = 0;
	struct sockaddr_storage tmp[DNS_ADDRS_MAX];

	if (r->done || r->pending > 0)
		return;

	/* Keep the hosts that have an address, in order; inside a host,
	 * IPv4 addresses first (they work on more networks). */
	for (i = 0, j = 0; i < r->nhosts; i++) {
		struct dns_host *h = &r->hosts[i];
		int n = 0;

		if (h->tempfail)
			temp = 1;
		if (h->naddrs == 0)
			continue;
		for (k = 0; k < h->naddrs; k++)
			if (h->addr[k].ss_family == AF_INET)
				tmp[n++] = h->addr[k];
		for (k = 0; k < h->naddrs; k++)
			if (h->addr[k].ss_family != AF_INET)
				tmp[n++] = h->addr[k];
		memcpy(h->addr, tmp, n * sizeof tmp[0]);
		if (i != j)
			r->hosts[j] = *h;
		j++;
	}
	r->nhosts = j;
	if (j > 0) {
		r->result = RES_OK;
		r->done = 1;
		say(r, "%d host(s) with addresses", j);
		return;
	}
	if (temp || r->hosts_only)
		route_fail(r, RES_TEMP, "451 4.4.3 cannot find the address of a host for %s",
		           r->domain);
	else
		route_fail(r, RES_PERM, "550 5.4.4 no mail host for %s has an address",
		           r->domain);
}

/* add_addr - append one address to H, with the route's port. */
static void add_addr(struct dns_host *h, int family, const void *a)
{
	struct sockaddr_storage *ss;

	if (h->naddrs >= DNS_ADDRS_MAX)
		return;
	ss = &h->addr[h->naddrs++];
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(h->route->port);
		memcpy(&s4->sin_addr, a, sizeof s4->sin_addr);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(h->route->port);
		memcpy(&s6->sin6_addr, a, sizeof s6->sin6_addr);
	}
}

/* addr_failed - note a failed address query of H (NXDOMAIN and NODATA
 * only mean "no address of this family"). */
static void addr_failed(struct dns_ctx *ctx, struct dns_host *h, const char *type)
{
	int st = dns_status(ctx);

	if (st != DNS_E_NXDOMAIN && st != DNS_E_NODATA)
		h->tempfail = 1;
	say(h->route, "%s %s: %s", type, h->name, dns_strerror(st));
}

/* a4_done - the A answer for one host. */
static void a4_done(struct dns_ctx *ctx, struct dns_rr_a4 *res, void *data)
{
	struct dns_host *h = data;
	int i;

	if (res) {
		for (i = 0; i < res->dnsa4_nrr; i++)
			add_addr(h, AF_INET, &res->dnsa4_addr[i]);
		say(h->route, "A %s: %d address(es)", h->name, res->dnsa4_nrr);
		free(res);
	} else {
		addr_failed(ctx, h, "A");
	}
	h->pending--;
	h->route->pending--;
	route_finish(h->route);
}

/* a6_done - the AAAA answer for one host. */
static void a6_done(struct dns_ctx *ctx, struct dns_rr_a6 *res, void *data)
{
	struct dns_host *h = data;
	int i;

	if (res) {
		for (i = 0; i < res->dnsa6_nrr; i++)
			add_addr(h, AF_INET6, &res->dnsa6_addr[i]);
		say(h->route, "AAAA %s: %d address(es)", h->name, res->dnsa6_nrr);
		free(res);
	} else {
		addr_failed(ctx, h, "AAAA");
	}
	h->pending--;
	h->route->pending--;
	route_finish(h->route);
}

/* host_submit - ask for the addresses of host H (unless it is a literal). */
static void host_submit(struct dns_ctx *ctx, struct dns_host *h)
{
	struct dns_route *r = h->route;

	if (host_literal(h, h->name, r->port))
		return;
	if (dns_submit_a4(ctx, h->name, DNS_NOSRCH, a4_done, h)) {
		h->pending++;
		r->pending++;
	} else {
		h->tempfail = 1;
	}
	if (dns_submit_a6(ctx, h->name, DNS_NOSRCH, a6_done, h)) {
		h->pending++;
		r->pending++;
	} else {
		h->tempfail = 1;
	}
}

/* mx_order - sort key: preference, then the random tie-breaker. */
struct mx_sort {
	int pref;
	long key;
	const char *name;
};

/* mx_cmp - qsort comparison of two MX records. */
static int mx_cmp(const void *a, const void *b)
{
	const struct mx_sort *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* mx_done - the MX answer for one domain: order the hosts, ask for their
 * addresses. */
static void mx_done(struct dns_ctx *ctx, struct dns_rr_mx *res, void *data)
{
	struct dns_route *r = data;
	const char *selfname = self_name;
	struct mx_sort *mx = NULL;
	int i, n = 0, cut = -1, st = dns_status(ctx);

	r->pending--;
	if (!res) {
		if (st == DNS_E_NODATA) {
			/* No MX: the domain itself is the mail host. */
			say(r, "no MX record, implicit MX");
			if (name_equal(r->domain, selfname)) {
				route_fail(r, RES_PERM, "554 5.4.6 mail for %s loops back to myself",
				           r->domain);
				return;
			}
			r->nhosts = 1;
			snprintf(r->hosts[0].name, sizeof r->hosts[0].name, "%s", r->domain);
			r->hosts[0].pref = 0;
			host_submit(ctx, &r->hosts[0]);
			route_finish(r);
		} else if (st == DNS_E_NXDOMAIN) {
			route_fail(r, RES_PERM, "550 5.1.2 domain %s does not exist (NXDOMAIN)",
			           r->domain);
		} else {
			route_fail(r, RES_TEMP, "451 4.4.3 DNS lookup of MX for %s failed: %s",
			           r->domain, dns_strerror(st));
		}
		return;
	}

	/* A null MX (RFC 7505): the domain accepts no mail at all. */
	if (res->dnsmx_nrr == 1 && (res->dnsmx_mx[0].name[0] == '\0' ||
	                            strcmp(res->dnsmx_mx[0].name, ".") == 0)) {
		free(res);
		route_fail(r, RES_PERM, "556 5.1.10 domain %s accepts no mail (null MX)",
		           r->domain);
		return;
	}
	if (res->dnsmx_nrr > 0)
		mx = calloc(res->dnsmx_nrr, sizeof *mx);
	if (!mx) {
		free(res);
		route_fail(r, RES_TEMP, "451 4.3.0 out of memory resolving %s", r->domain);
		return;
	}
	for (i = 0; i < res->dnsmx_nrr; i++) {
		const char *name = res->dnsmx_mx[i].name;
		if (name[0] == '\0' || strcmp(name, ".") == 0)
			continue;       /* a null MX mixed with real ones: ignore it */
		mx[n].pref = res->dnsmx_mx[i].priority;
		mx[n].key = random_between(0, 1L << 30);
		mx[n].name = name;
		n++;
	}
	qsort(mx, n, sizeof *mx, mx_cmp);

	/* Our own name cuts the list at its preference. */
	for (i = 0; i < n; i++)
		if (name_equal(mx[i].name, selfname) && (cut < 0 || mx[i].pref < cut))
			cut = mx[i].pref;
	for (i = 0; i < n && r->nhosts < DNS_MX_MAX; i++) {
		struct dns_host *h = &r->hosts[r->nhosts];
		if (cut >= 0 && mx[i].pref >= cut)
			break;
		if (strlen(mx[i].name) >= sizeof h->name)
			continue;
		snprintf(h->name, sizeof h->name, "%s", mx[i].name);
		h->pref = mx[i].pref;
		r->nhosts++;
		say(r, "MX %d %s", h->pref, h->name);
	}
	free(mx);
	free(res);
	if (r->nhosts == 0) {
		if (cut >= 0)
			route_fail(r, RES_PERM, "554 5.4.6 mail for %s loops back to myself",
			           r->domain);
		else
			route_fail(r, RES_PERM, "550 5.4.4 domain %s has no usable MX host",
			           r->domain);
		return;
	}
	for (i = 0; i < r->nhosts; i++)
		host_submit(ctx, &r->hosts[i]);
	route_finish(r);
}

/* resolver_open - configure the default udns context; its fd or -1. */
static int resolver_open(const struct config *cf)
{
	int i, tmo;

	if (dns_init(NULL, 0) < 0)
		return -1;
	if (cf->nnameservers > 0) {
		dns_add_serv(NULL, NULL);
		for (i = 0; i < cf->nnameservers; i++)
			if (dns_add_serv_s(NULL, (const struct sockaddr *)&cf->nameservers[i]) < 0)
				return -1;
	}
	/* udns gives up on its own after about timeout * 2^attempts; keep
	 * that inside our deadline so short deadlines still see answers. */
	tmo = cf->dns_timeout >= 8 ? 4 : (cf->dns_timeout >= 4 ? 2 : 1);
	dns_set_opt(NULL, DNS_OPT_TIMEOUT, tmo);
	return dns_open(NULL);
}

/* dns_resolve_routes - every route at once in one event loop (see dns.h). */
int dns_resolve_routes(const struct config *cf, struct dns_route *r, int n)
{
	int fd, i, active;
	long long deadline;

	for (i = 0; i < n; i++) {
		r[i].nhosts = 0;
		r[i].pending = 0;
		r[i].done = 0;
		r[i].result = RES_TEMP;
		r[i].why[0] = '\0';
		memset(r[i].hosts, 0, sizeof r[i].hosts);
		for (int k = 0; k < DNS_MX_MAX; k++)
			r[i].hosts[k].route = &r[i];
	}

	/* Address literals and a smarthost given as an address need no DNS. */
	for (i = 0; i < n; i++) {
		if (r[i].domain[0] == '[' || r[i].hosts_only) {
			if (host_literal(&r[i].hosts[0], r[i].domain, r[i].port)) {
				snprintf(r[i].hosts[0].name, sizeof r[i].hosts[0].name, "%s",
				         r[i].domain);
				r[i].nhosts = 1;
				route_finish(&r[i]);
			} else if (r[i].domain[0] == '[') {
				route_fail(&r[i], RES_PERM, "550 5.1.2 bad address literal %s",
				           r[i].domain);
			}
		}
	}

	self_name = cf->hostname;
	fd = resolver_open(cf);
	if (fd < 0) {
		for (i = 0; i < n; i++)
			route_fail(&r[i], RES_TEMP, "451 4.4.3 cannot start the DNS resolver: %s",
			           strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (r[i].done)
			continue;
		if (r[i].hosts_only) {
			r[i].nhosts = 1;
			snprintf(r[i].hosts[0].name, sizeof r[i].hosts[0].name, "%s", r[i].domain);
			host_submit(NULL, &r[i].hosts[0]);
			route_finish(&r[i]);
			continue;
		}
		if (dns_submit_mx(NULL, r[i].domain, DNS_NOSRCH, mx_done, &r[i]))
			r[i].pending++;
		else if (dns_status(NULL) == DNS_E_BADQUERY)
			route_fail(&r[i], RES_PERM, "550 5.1.2 bad domain name %s", r[i].domain);
		else
			route_fail(&r[i], RES_TEMP, "451 4.4.3 cannot query DNS for %s",
			           r[i].domain);
	}

	deadline = now_ms() + (long long)cf->dns_timeout * 1000;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		int t;

		active = dns_active(NULL);
		if (active <= 0 || left <= 0)
			break;
		t = dns_timeouts(NULL, -1, 0);
		if (t < 0 || (long long)t * 1000 > left)
			t = (int)((left + 999) / 1000);
		if (poll(&p, 1, (int)((long long)t * 1000 < left ? t * 1000 : left)) > 0)
			dns_ioevent(NULL, 0);
	}

	/* Whatever is still open ran out of time. */
	for (i = 0; i < n; i++)
		if (!r[i].done)
			route_fail(&r[i], RES_TEMP, "451 4.4.3 DNS lookup for %s timed out",
			           r[i].domain);
	dns_reset(NULL);
	return 0;
}

/* dns_addr_str - the address of SA as text. */
void dns_addr_str(const struct sockaddr_storage *sa, char *out, size_t outsz)
{
	const void *a = sa->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (!inet_ntop(sa->ss_family, a, out, outsz))
		snprintf(out, outsz, "?");
}
