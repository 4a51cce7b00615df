/*
 * dns.c - MX and address lookups for relay-agent, through udns.
 *
 * Lookups start as the scheduler asks for them: one MX query per domain,
 * and each MX answer asks for the A and AAAA records of its hosts. At
 * most DNS_INFLIGHT_MAX queries are outstanding at once (the others wait
 * in a queue, in order), and the socket's receive buffer is enlarged, so
 * a burst of answers from a fast local resolver is never dropped. The
 * scheduler's poll loop drives the socket (dns_io) and the timers
 * (dns_tick); a route still open dns_timeout after its first query is a
 * temporary failure. udns speaks UDP only, so a truncated answer comes
 * back as a temporary failure, like a timeout or SERVFAIL.
 *
 * Decisions (RFC 5321 5.1, RFC 7505):
 *   MX records        sorted by preference, equal preferences shuffled;
 *                     our own hostname, or a host with one of this
 *                     host's own addresses, drops itself and every host
 *                     of its preference or higher (else we would loop);
 *                     none left: 554 5.4.6; an MX name that is an
 *                     address is ignored with a warning (RFC 5321 5.1)
 *   null MX           550 5.1.10, no fallback to A/AAAA
 *   no MX (NODATA)    implicit MX: the domain itself at preference 0
 *   NXDOMAIN          550 5.1.2
 *   anything else     451 4.4.3, deferred; never falls back to A/AAAA
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
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

/* Our own hostname and addresses, for the mail loop checks. */
static const char *self_name = "";
static struct sockaddr_storage self_addr[DNS_SELF_ADDRS_MAX];
static int nself;

/* A query waiting for its turn: an MX query for a route, or an address
 * query (A or AAAA) for a host. */
struct dq {
	char type;                      /* 'M', '4' or '6' */
	void *p;                        /* struct dns_route or dns_host */
};

/* The resolver of the pass. */
static struct {
	int fd;                         /* -1: not open */
	int inflight;                   /* queries submitted, not answered */
	struct dq *q;                   /* waiting queries, a ring */
	size_t qcap, qhead, qlen;
	struct dns_route **open;        /* routes not decided */
	int nopen, capopen;
	int timeout_s;
	void (*on_done)(struct dns_route *r);
} R = { .fd = -1 };

static void queue_push(char type, void *p);
static void pump(void);

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

/* decided - R is final: off the open list, and the scheduler is told. */
static void decided(struct dns_route *r)
{
	int i;

	r->done = 1;
	for (i = 0; i < R.nopen; i++)
		if (R.open[i] == r) {
			R.open[i] = R.open[--R.nopen];
			break;
		}
	if (R.on_done)
		R.on_done(r);
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
	say(r, "%s", r->why);
	decided(r);
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

	/* A host with one of our own addresses is this host under another
	 * name: it and every host of its preference or higher would loop. */
	if (!r->hosts_only) {
		int cut = -1;
		for (i = 0; i < r->nhosts; i++)
			for (k = 0; k < r->hosts[i].naddrs; k++)
				if (dns_is_self(&r->hosts[i].addr[k]) &&
				    (cut < 0 || r->hosts[i].pref < cut)) {
					say(r, "%s is this host", r->hosts[i].name);
					cut = r->hosts[i].pref;
				}
		if (cut >= 0) {
			for (i = 0, j = 0; i < r->nhosts; i++)
				if (r->hosts[i].pref < cut)
					r->hosts[j++] = r->hosts[i];
			r->nhosts = j;
			if (j == 0) {
				route_fail(r, RES_PERM, "554 5.4.6 mail for %s loops back to myself",
				           r->domain);
				return;
			}
		}
	}
	if (j > 0) {
		r->result = RES_OK;
		say(r, "%d host(s) with addresses", j);
		decided(r);
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

	R.inflight--;

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

	R.inflight--;

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

	(void)ctx;
	if (host_literal(h, h->name, r->port))
		return;
	h->pending += 2;
	r->pending += 2;
	queue_push('4', h);
	queue_push('6', h);
}

/* numeric_name - whether NAME is an address where a host name belongs. */
static int numeric_name(const char *name)
{
	char buf[DOMAIN_MAX + 1];
	unsigned char a[16];
	size_t n;

	if (strlcpy_ck(buf, name, sizeof buf) < 0)
		return 0;
	n = strlen(buf);
	if (n && buf[n - 1] == '.')
		buf[n - 1] = '\0';
	return inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1;
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

	R.inflight--;
	r->pending--;
	if (r->done) {
		free(res);
		return;
	}
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
		if (numeric_name(name)) {
			/* RFC 5321 5.1: an MX names a host, never an address. */
			log_msg(LOG_WARNING, "numeric domain name in resource data of MX record "
			        "for %s: %s (ignored)", r->domain, name);
			say(r, "MX %d %s: an address, not a host name: ignored",
			    res->dnsmx_mx[i].priority, name);
			continue;
		}
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

/* self_addrs - this host's own addresses (getifaddrs). */
static void self_addrs(void)
{
	struct ifaddrs *ifa, *i;

	nself = 0;
	if (getifaddrs(&ifa) < 0) {
		log_msg(LOG_WARNING, "cannot list this host's addresses (%s): MX hosts that "
		        "are this host are found by name only", strerror(errno));
		return;
	}
	for (i = ifa; i && nself < DNS_SELF_ADDRS_MAX; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
		                     i->ifa_addr->sa_family != AF_INET6))
			continue;
		memset(&self_addr[nself], 0, sizeof self_addr[0]);
		memcpy(&self_addr[nself], i->ifa_addr, i->ifa_addr->sa_family == AF_INET
		       ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		nself++;
	}
	freeifaddrs(ifa);
}

/* dns_is_self - SA's address (not its port) is one of ours. */
int dns_is_self(const struct sockaddr_storage *sa)
{
	int i;

	for (i = 0; i < nself; i++) {
		if (self_addr[i].ss_family != sa->ss_family)
			continue;
		if (sa->ss_family == AF_INET &&
		    memcmp(&((const struct sockaddr_in *)sa)->sin_addr,
		           &((const struct sockaddr_in *)&self_addr[i])->sin_addr, 4) == 0)
			return 1;
		if (sa->ss_family == AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
		           &((const struct sockaddr_in6 *)&self_addr[i])->sin6_addr, 16) == 0)
			return 1;
	}
	return 0;
}

/* resolver_open - configure the default udns context; its fd or -1. */
static int resolver_open(const struct config *cf)
{
	int i, tmo, fd, size = DNS_RCVBUF;

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
	fd = dns_open(NULL);
	/* Room for a burst of answers: what does not fit is dropped by the
	 * kernel and costs a retransmission. The kernel caps the size at
	 * net.core.rmem_max; that is no error. */
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0)
		log_msg(LOG_WARNING, "cannot enlarge the DNS receive buffer: %s", strerror(errno));
	return fd;
}

/* dns_start - open the resolver of the pass. */
int dns_start(const struct config *cf, void (*on_done)(struct dns_route *r))
{
	self_name = cf->hostname;
	R.on_done = on_done;
	R.timeout_s = cf->dns_timeout;
	R.inflight = 0;
	self_addrs();
	R.fd = resolver_open(cf);
	return R.fd < 0 ? -1 : 0;
}

/* queue_push - one query waits for its turn. */
static void queue_push(char type, void *p)
{
	if (R.qlen == R.qcap) {
		size_t cap = R.qcap ? R.qcap * 2 : 256, i;
		struct dq *n = malloc(cap * sizeof *n);
		if (!n) {
			/* No room to wait: the query fails at once, for now. */
			if (type == 'M') {
				struct dns_route *r = p;
				r->pending--;
				route_fail(r, RES_TEMP, "451 4.3.0 out of memory resolving %s", r->domain);
			} else {
				struct dns_host *h = p;
				h->tempfail = 1;
				h->pending--;
				h->route->pending--;
				route_finish(h->route);
			}
			return;
		}
		for (i = 0; i < R.qlen; i++)
			n[i] = R.q[(R.qhead + i) % R.qcap];
		free(R.q);
		R.q = n;
		R.qcap = cap;
		R.qhead = 0;
	}
	R.q[(R.qhead + R.qlen++) % R.qcap] = (struct dq){ type, p };
}

/* submit - send one waiting query; a route already decided drops it. */
static void submit(struct dq d)
{
	struct dns_route *r = d.type == 'M' ? d.p : ((struct dns_host *)d.p)->route;
	struct dns_host *h = d.type == 'M' ? NULL : d.p;
	void *q = NULL;

	if (r->done) {
		if (h)
			h->pending--;
		r->pending--;
		return;
	}
	if (d.type == 'M') {
		r->deadline = now_ms() + (long long)R.timeout_s * 1000;
		q = dns_submit_mx(NULL, r->domain, DNS_NOSRCH, mx_done, r);
	} else if (d.type == '4') {
		q = dns_submit_a4(NULL, h->name, DNS_NOSRCH, a4_done, h);
	} else {
		q = dns_submit_a6(NULL, h->name, DNS_NOSRCH, a6_done, h);
	}
	if (q) {
		R.inflight++;
		return;
	}
	r->pending--;
	if (d.type == 'M') {
		if (dns_status(NULL) == DNS_E_BADQUERY)
			route_fail(r, RES_PERM, "550 5.1.2 bad domain name %s", r->domain);
		else
			route_fail(r, RES_TEMP, "451 4.4.3 cannot query DNS for %s", r->domain);
		return;
	}
	h->pending--;
	h->tempfail = 1;
	route_finish(r);
}

/* pump - submit waiting queries while fewer than DNS_INFLIGHT_MAX are out. */
static void pump(void)
{
	while (R.qlen > 0 && R.inflight < DNS_INFLIGHT_MAX) {
		struct dq d = R.q[R.qhead];
		R.qhead = (R.qhead + 1) % R.qcap;
		R.qlen--;
		submit(d);
	}
}

/* dns_lookup - start resolving R (see dns.h). */
void dns_lookup(struct dns_route *r)
{
	int k;

	r->nhosts = 0;
	r->pending = 0;
	r->done = 0;
	r->result = RES_TEMP;
	r->why[0] = '\0';
	memset(r->hosts, 0, sizeof r->hosts);
	for (k = 0; k < DNS_MX_MAX; k++)
		r->hosts[k].route = r;
	r->deadline = now_ms() + (long long)R.timeout_s * 1000;
	if (R.nopen == R.capopen) {
		int cap = R.capopen ? R.capopen * 2 : 64;
		struct dns_route **n = realloc(R.open, (size_t)cap * sizeof *n);
		if (!n) {
			route_fail(r, RES_TEMP, "451 4.3.0 out of memory resolving %s", r->domain);
			return;
		}
		R.open = n;
		R.capopen = cap;
	}
	R.open[R.nopen++] = r;

	/* Address literals and a smarthost given as an address need no DNS. */
	if (r->domain[0] == '[' || r->hosts_only) {
		if (host_literal(&r->hosts[0], r->domain, r->port)) {
			snprintf(r->hosts[0].name, sizeof r->hosts[0].name, "%s", r->domain);
			r->nhosts = 1;
			route_finish(r);
			return;
		}
		if (r->domain[0] == '[') {
			route_fail(r, RES_PERM, "550 5.1.2 bad address literal %s", r->domain);
			return;
		}
	}
	if (R.fd < 0) {
		route_fail(r, RES_TEMP, "451 4.4.3 cannot start the DNS resolver");
		return;
	}
	if (r->hosts_only) {
		r->nhosts = 1;
		snprintf(r->hosts[0].name, sizeof r->hosts[0].name, "%s", r->domain);
		host_submit(NULL, &r->hosts[0]);
	} else {
		r->pending++;
		queue_push('M', r);
	}
	pump();
}

/* dns_fd - the resolver's socket. */
int dns_fd(void)
{
	return R.fd;
}

/* dns_io - answers have come. */
void dns_io(void)
{
	if (R.fd < 0)
		return;
	dns_ioevent(NULL, 0);
	pump();
}

/* dns_next_ms - when dns_tick must run next. */
long dns_next_ms(void)
{
	long long now = now_ms(), next = -1;
	int i, t;

	if (R.nopen == 0)
		return -1;
	for (i = 0; i < R.nopen; i++)
		if (next < 0 || R.open[i]->deadline < next)
			next = R.open[i]->deadline;
	if (R.fd >= 0 && (t = dns_timeouts(NULL, -1, 0)) >= 0 &&
	    now + (long long)t * 1000 < next)
		next = now + (long long)t * 1000;
	return next <= now ? 0 : (long)(next - now);
}

/* dns_tick - retransmit, fail what ran out of time, submit what waits. */
void dns_tick(void)
{
	long long now = now_ms();
	int i;

	if (R.fd >= 0)
		dns_timeouts(NULL, -1, 0);
	for (i = 0; i < R.nopen; )
		if (R.open[i]->deadline <= now) {
			struct dns_route *r = R.open[i];
			route_fail(r, RES_TEMP, "451 4.4.3 DNS lookup for %s timed out", r->domain);
		} else {
			i++;
		}
	pump();
}

/* dns_open_lookups - routes not decided yet. */
int dns_open_lookups(void)
{
	return R.nopen;
}

/* dns_stop - fail what is open, close the resolver. */
void dns_stop(void)
{
	while (R.nopen > 0)
		route_fail(R.open[0], RES_TEMP, "451 4.4.3 DNS lookup for %s not finished",
		           R.open[0]->domain);
	if (R.fd >= 0)
		dns_reset(NULL);        /* closes the socket, drops the queries */
	R.fd = -1;
	free(R.q);
	R.q = NULL;
	R.qcap = R.qhead = R.qlen = 0;
	free(R.open);
	R.open = NULL;
	R.capopen = 0;
	R.inflight = 0;
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
