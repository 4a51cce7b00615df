/*
 * relay-sched.c - one relay-agent pass: a scheduler with a rolling set
 * of deliveries.
 *
 * The message side (relay-msg.c) turns the due recipients of each
 * message it takes into units: up to RELAY_TXN_RCPTS_MAX recipients of
 * one message for one destination (a domain, the smarthost, or the local
 * mailboxes). A new destination starts its DNS lookup at once (dns.c
 * bounds the queries in flight); its units wait until it is resolved.
 * Units go to worker processes (relay-worker.c), each holding at most
 * one SMTP connection, at most max_connections of them, plus one for
 * local mailboxes so local mail never waits behind remote servers.
 *
 *   per destination   a window that starts at RELAY_CONCURRENCY_START,
 *                     grows by one with each delivery a server answered,
 *                     up to destination_concurrency, and halves when a
 *                     connection to an address that worked fails
 *                     (Postfix's slow start and back-off)
 *   per address       at most address_connections connections (busy or
 *                     kept open) to one address and port
 *   reuse             an idle worker already connected to one of the
 *                     destination's addresses gets the unit first, for
 *                     any domain and any message
 *   backup MX         once a later host delivered what the first ones
 *                     refused, the destination starts there
 *   down              an address whose connect, greeting or EHLO failed
 *                     before it ever worked is not tried again in this
 *                     pass
 *
 * SIGTERM or SIGINT: nothing new starts, workers get RELAY_STOP_GRACE_MS
 * to report, what is known is written, and the pass ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "bounce.h"
#include "dns.h"
#include "log.h"
#include "relay.h"
#include "spool.h"
#include "util.h"

#include "relay-pass.h"

static struct pass *P;                  /* for dns.c's callback */
static volatile sig_atomic_t stop_signal;

/* on_signal - SIGTERM, SIGINT: start nothing new. */
static void on_signal(int sig)
{
	stop_signal = sig;
}

/* ---------------------------------------------------------- addresses */

/* same_sa - one address and port. */
static int same_sa(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

/* addr_index - the table entry of SA, added when new; -1 no memory. */
static int addr_index(struct pass *p, const struct sockaddr_storage *sa)
{
	int i;

	for (i = 0; i < p->naddrs; i++)
		if (same_sa(&p->addrs[i].sa, sa))
			return i;
	if (p->naddrs == p->capaddrs) {
		int cap = p->capaddrs ? p->capaddrs * 2 : 64;
		struct addrent *n = realloc(p->addrs, (size_t)cap * sizeof *n);
		if (!n)
			return -1;
		p->addrs = n;
		p->capaddrs = cap;
	}
	memset(&p->addrs[p->naddrs], 0, sizeof p->addrs[0]);
	p->addrs[p->naddrs].sa = *sa;
	return p->naddrs++;
}

/* addr_text - "ip:port" of table entry I. */
static void addr_text(const struct pass *p, int i, char *out, size_t outsz)
{
	char ip[64];
	const struct sockaddr_storage *sa = &p->addrs[i].sa;

	dns_addr_str(sa, ip, sizeof ip);
	snprintf(out, outsz, "%s:%d", ip, ntohs(sa->ss_family == AF_INET6
	         ? ((const struct sockaddr_in6 *)sa)->sin6_port
	         : ((const struct sockaddr_in *)sa)->sin_port));
}

/* ------------------------------------------------------------ routes */

/* ready_add - RT has queued units and can be dispatched. */
static void ready_add(struct pass *p, struct route *rt)
{
	if (rt->listed || !rt->ready || rt->nqueued == 0)
		return;
	if (p->nready == p->capready) {
		int cap = p->capready ? p->capready * 2 : 64;
		struct route **n = realloc(p->ready, (size_t)cap * sizeof *n);
		if (!n)
			return;         /* picked up when another unit is queued */
		p->ready = n;
		p->capready = cap;
	}
	p->ready[p->nready++] = rt;
	rt->listed = 1;
}

/* route_resolved - dns.c decided RT: register its addresses, or settle
 * its queued units with the failure. */
static void route_resolved(struct dns_route *dr)
{
	struct pass *p = P;
	struct route *rt = dr->owner;
	int h, a;

	if (!rt)
		return;
	if (dr->result == RES_OK) {
		rt->aidx = malloc(DNS_MX_MAX * DNS_ADDRS_MAX * sizeof *rt->aidx);
		for (h = 0; rt->aidx && h < dr->nhosts; h++)
			for (a = 0; a < dr->hosts[h].naddrs; a++)
				rt->aidx[h * DNS_ADDRS_MAX + a] = addr_index(p, &dr->hosts[h].addr[a]);
		if (!rt->aidx) {
			dr->result = RES_TEMP;
			snprintf(dr->why, sizeof dr->why, "451 4.3.0 out of memory");
		}
	}
	rt->ready = 1;
	if (dr->result != RES_OK) {
		relay_narrate("%s: %s", dr->domain, dr->why);
		while (rt->qhead) {
			struct unit *u = rt->qhead;
			int i;
			rt->qhead = u->next;
			rt->nqueued--;
			for (i = 0; i < u->nrcpts; i++)
				msg_outcome(p, u, i, dr->result == RES_PERM ? 'B' : 'D', "none", dr->why);
			msg_unit_done(p, u);
		}
		rt->qtail = NULL;
		return;
	}
	ready_add(p, rt);
}

/* route_find - the route for KEY, created (and its lookup started). */
static struct route *route_find(struct pass *p, const char *key, int hosts_only, int port)
{
	struct route *rt;
	int i;

	for (i = 0; i < p->nroutes; i++)
		if (strcmp(p->routes[i]->dr.domain, key) == 0)
			return p->routes[i];
	if (p->nroutes == p->caproutes) {
		int cap = p->caproutes ? p->caproutes * 2 : 64;
		struct route **n = realloc(p->routes, (size_t)cap * sizeof *n);
		if (!n)
			return NULL;
		p->routes = n;
		p->caproutes = cap;
	}
	if (!(rt = calloc(1, sizeof *rt)))
		return NULL;
	snprintf(rt->dr.domain, sizeof rt->dr.domain, "%s", key);
	rt->dr.hosts_only = hosts_only;
	rt->dr.port = port;
	rt->dr.verbose = relay_verbose;
	rt->dr.owner = rt;
	rt->window = RELAY_CONCURRENCY_START < p->cf->destination_concurrency
	             ? RELAY_CONCURRENCY_START : p->cf->destination_concurrency;
	p->routes[p->nroutes++] = rt;
	dns_lookup(&rt->dr);
	return rt;
}

/* sched_route - the destination of recipient R; NULL when out of memory. */
struct route *sched_route(struct pass *p, const struct spool_rcpt *r)
{
	const struct config *cf = p->cf;
	char dom[DOMAIN_MAX + 1];
	size_t l;

	if (r->mailbox[0])
		return &p->local;       /* a copy that waited for its mailbox */
	snprintf(dom, sizeof dom, "%s", addr_domain(r->addr));
	str_lower(dom);
	l = strlen(dom);
	if (l > 1 && dom[l - 1] == '.')
		dom[l - 1] = '\0';
	if (dom[0] == '\0' || config_is_local_domain(cf, dom))
		return &p->local;
	if (cf->smarthost[0])
		return route_find(p, cf->smarthost, 1, cf->smarthost_port);
	return route_find(p, dom, 0, cf->remote_port);
}

/* ------------------------------------------------------------- units */

/* sched_unit_new - an empty unit of message M for RT. */
struct unit *sched_unit_new(struct pass *p, int m, struct route *rt)
{
	struct unit *u = calloc(1, sizeof *u);

	if (!u)
		return NULL;
	if (p->nfree == 0) {
		int cap = p->nunits ? p->nunits * 2 : 256, i;
		struct unit **n = realloc(p->units, (size_t)cap * sizeof *n);
		int *f = realloc(p->freeids, (size_t)cap * sizeof *f);
		if (n)
			p->units = n;
		if (f)
			p->freeids = f;
		if (!n || !f) {
			free(u);
			return NULL;
		}
		for (i = cap - 1; i >= p->nunits; i--) {
			p->units[i] = NULL;
			p->freeids[p->nfree++] = i;
		}
		p->nunits = cap;
	}
	u->id = p->freeids[--p->nfree];
	u->msg = m;
	u->rt = rt;
	u->worker = -1;
	p->units[u->id] = u;
	p->msgs[m].open++;
	return u;
}

/* sched_unit_queue - put U at the end of its route's queue. */
void sched_unit_queue(struct pass *p, struct unit *u)
{
	struct route *rt = u->rt;

	u->next = NULL;
	if (rt->qtail)
		rt->qtail->next = u;
	else
		rt->qhead = u;
	rt->qtail = u;
	rt->nqueued++;
	ready_add(p, rt);
}

/* ----------------------------------------------------------- workers */

/* worker_start - fork a worker; its index, or -1. */
static int worker_start(struct pass *p, int local)
{
	struct worker *w, *n;
	int sv[2], i, size = sizeof(struct task) + 4096;
	pid_t parent = getpid();

	n = realloc(p->workers, (size_t)(p->nworkers + 1) * sizeof *n);
	if (!n)
		return -1;
	p->workers = n;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	w = &p->workers[p->nworkers];
	memset(w, 0, sizeof *w);
	w->unit = -1;
	w->conn = -1;
	w->local = local;
	w->pid = fork();
	if (w->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (w->pid == 0) {
		/* Die with the parent: results nobody records would only
		 * become duplicates. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* Nothing of the pass stays open here: a flock belongs to the
		 * open file description, so an inherited msg/ID descriptor
		 * would keep that message locked after the pass is done with
		 * it. The worker opens messages by path. */
		close(sv[0]);
		for (i = 0; i < p->capmsgs; i++) {
			if (p->msgs[i].used && p->msgs[i].fd >= 0)
				close(p->msgs[i].fd);
			if (p->msgs[i].used && p->msgs[i].envfd >= 0)
				close(p->msgs[i].envfd);
		}
		for (i = 0; i < p->nworkers; i++)
			if (p->workers[i].fd >= 0)
				close(p->workers[i].fd);
		if (dns_fd() >= 0)
			close(dns_fd());
		relay_worker_main(p->cf, p->opt, sv[1]);
	}
	close(sv[1]);
	w->fd = sv[0];
	fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
	if (!local)
		p->nremote++;
	relay_narrate("worker %d started%s", (int)w->pid, local ? " for local mailboxes" : "");
	return p->nworkers++;
}

/* worker_conn - worker W's connection is now to address A (-1: none). */
static void worker_conn(struct pass *p, struct worker *w, int a)
{
	if (w->conn == a)
		return;
	if (w->conn >= 0)
		p->addrs[w->conn].nconn--;
	w->conn = a;
	if (a >= 0)
		p->addrs[a].nconn++;
}

/* live_addr - route RT's address (host H, address A) is not down. */
static int live_addr(const struct pass *p, const struct route *rt, int h, int a)
{
	int i = rt->aidx[h * DNS_ADDRS_MAX + a];

	return i >= 0 && !p->addrs[i].down;
}

/* pick_worker - a worker for the next unit of RT: -1 none now (RT must
 * wait), -2 none for anyone (every worker busy), -3 every address of RT
 * down. REUSE_ONLY: only an idle worker already connected to RT. */
static int pick_worker(struct pass *p, struct route *rt, int reuse_only)
{
	int i, h, a, best = -1, target = -1;

	if (rt->local) {
		for (i = 0; i < p->nworkers; i++)
			if (p->workers[i].local && p->workers[i].fd >= 0)
				return p->workers[i].unit < 0 ? i : -1;
		return worker_start(p, 1);
	}
	/* An idle worker connected to one of RT's live addresses. */
	for (i = 0; i < p->nworkers; i++) {
		struct worker *w = &p->workers[i];
		if (w->local || w->fd < 0 || w->unit >= 0 || w->conn < 0)
			continue;
		for (h = 0; h < rt->dr.nhosts; h++)
			for (a = 0; a < rt->dr.hosts[h].naddrs; a++)
				if (rt->aidx[h * DNS_ADDRS_MAX + a] == w->conn && live_addr(p, rt, h, a))
					return i;
	}
	if (reuse_only)
		return -1;
	for (i = 0; i < rt->dr.nhosts && target < 0; i++) {
		h = i == 0 ? rt->start : i <= rt->start ? i - 1 : i;
		for (a = 0; a < rt->dr.hosts[h].naddrs && target < 0; a++)
			if (live_addr(p, rt, h, a))
				target = rt->aidx[h * DNS_ADDRS_MAX + a];
	}
	if (target < 0)
		return -3;              /* every address down */
	if (p->addrs[target].nconn >= p->cf->address_connections)
		return -1;
	/* An idle worker with no connection, a new one, or the one idle
	 * longest (its connection goes). */
	for (i = 0; i < p->nworkers; i++) {
		struct worker *w = &p->workers[i];
		if (w->local || w->fd < 0 || w->unit >= 0)
			continue;
		if (w->conn < 0)
			return i;
		if (best < 0 || w->idle_since < p->workers[best].idle_since)
			best = i;
	}
	if (p->nremote < p->cf->max_connections) {
		i = worker_start(p, 0);
		if (i >= 0)
			return i;
	}
	if (best < 0)
		return -2;
	worker_conn(p, &p->workers[best], target);
	return best;
}

/* task_fill - the task of unit U: the live hosts of its route. */
static void task_fill(struct pass *p, struct unit *u, struct task *t)
{
	struct qmsg *m = &p->msgs[u->msg];
	struct route *rt = u->rt;
	int k, a, i;

	memset(t, 0, offsetof(struct task, hosts));
	t->unit = u->id;
	t->local = rt->local;
	snprintf(t->id, sizeof t->id, "%s", m->id);
	snprintf(t->sender, sizeof t->sender, "%s", m->env.sender);
	t->body8bit = strcasecmp(m->env.body, "8BITMIME") == 0;
	t->size = m->size;
	snprintf(t->domain, sizeof t->domain, "%s", rt->dr.domain);
	t->nhosts = 0;
	for (k = 0; !rt->local && k < rt->dr.nhosts; k++) {
		/* From the host the pass stays on, then the others in order. */
		int h = k == 0 ? rt->start : k <= rt->start ? k - 1 : k;
		struct task_host *th = &t->hosts[t->nhosts];
		th->naddrs = 0;
		for (a = 0; a < rt->dr.hosts[h].naddrs; a++)
			if (live_addr(p, rt, h, a))
				th->addr[th->naddrs++] = rt->dr.hosts[h].addr[a];
		if (th->naddrs > 0) {
			snprintf(th->name, sizeof th->name, "%s", rt->dr.hosts[h].name);
			t->nhosts++;
		}
	}
	t->nrcpts = u->nrcpts;
	for (i = 0; i < u->nrcpts; i++) {
		t->rcpt[i] = u->rcpt[i];
		snprintf(t->addr[i], sizeof t->addr[i], "%s", m->env.rcpts[u->rcpt[i]].addr);
	}
}

/* route_all_down - every address of RT is down: its queued units are
 * deferred with the last reason. */
static void route_all_down(struct pass *p, struct route *rt)
{
	char why[SMTP_REPLY_MAX + 1];

	snprintf(why, sizeof why, "%s", rt->lasterr[0] ? rt->lasterr
	         : "451 4.4.1 no mail host answered in this pass");
	while (rt->qhead) {
		struct unit *u = rt->qhead;
		int i;
		rt->qhead = u->next;
		rt->nqueued--;
		for (i = 0; i < u->nrcpts; i++)
			msg_outcome(p, u, i, 'D', "none", why);
		msg_unit_done(p, u);
	}
	rt->qtail = NULL;
}

/* dispatch_route - start RT's queued units while its window allows (with
 * REUSE_ONLY, only on connections already open to it): 0, or -2 when no
 * worker is left for anyone. */
static int dispatch_route(struct pass *p, struct route *rt, int reuse_only)
{
	while (rt->qhead && (rt->local || rt->inflight < (int)rt->window)) {
		struct unit *u = rt->qhead;
		int wi = pick_worker(p, rt, reuse_only && !rt->local);
		struct worker *w;

		if (wi == -3) {
			route_all_down(p, rt);
			return 0;
		}
		if (wi < 0)
			return wi;
		w = &p->workers[wi];
		task_fill(p, u, p->task);
		if (!rt->local && w->conn < 0 && p->task->nhosts > 0)
			worker_conn(p, w, addr_index(p, &p->task->hosts[0].addr[0]));
		if (send(w->fd, p->task, sizeof *p->task, MSG_NOSIGNAL) < 0) {
			log_msg(LOG_ERR, "cannot hand a delivery to worker %d: %s", (int)w->pid,
			        strerror(errno));
			return -2;
		}
		rt->qhead = u->next;
		if (!rt->qhead)
			rt->qtail = NULL;
		rt->nqueued--;
		rt->inflight++;
		u->worker = wi;
		w->unit = p->task->unit;
	}
	return 0;
}

/* idle_connected - whether some idle worker holds a connection. */
static int idle_connected(const struct pass *p)
{
	int i;

	for (i = 0; i < p->nworkers; i++)
		if (p->workers[i].fd >= 0 && p->workers[i].unit < 0 && p->workers[i].conn >= 0)
			return 1;
	return 0;
}

/* dispatch - give queued units to workers, the destinations in turn:
 * first to the connections already open to them, then to any worker. */
static void dispatch(struct pass *p)
{
	int i, k, n = p->nready, round;

	if (p->stopping || p->update_failed || n == 0)
		return;
	for (round = idle_connected(p) ? 0 : 1; round < 2; round++)
		for (i = 0; i < n; i++) {
			struct route *rt = p->ready[(p->rr + i) % n];
			if (rt->qhead && dispatch_route(p, rt, round == 0) == -2)
				break;
			if (round == 0 && !idle_connected(p))
				break;
		}
	for (i = 0, k = 0; i < p->nready; i++) {
		if (p->ready[i]->qhead)
			p->ready[k++] = p->ready[i];
		else
			p->ready[i]->listed = 0;
	}
	p->nready = k;
	p->rr = k ? (p->rr + 1) % k : 0;
}

/* route_stay - a delivery of RT worked over address A: when A is a
 * later host's than RT's first, the hosts before it failed that delivery,
 * so the pass stays on A's host (the others are tried after it). */
static void route_stay(struct route *rt, int a)
{
	int h, k;

	for (h = 0; !rt->local && h < rt->dr.nhosts; h++)
		for (k = 0; k < rt->dr.hosts[h].naddrs; k++)
			if (rt->aidx[h * DNS_ADDRS_MAX + k] == a) {
				if (h != rt->start)
					relay_narrate("%s: staying on %s", rt->dr.domain,
					              rt->dr.hosts[h].name);
				rt->start = h;
				return;
			}
}

/* worker_result - one record from worker W. */
static void worker_result(struct pass *p, struct worker *w, const struct wresult *r)
{
	struct unit *u;
	int i, a;

	if (r->unit < 0 || r->unit >= p->nunits || r->unit != w->unit ||
	    !(u = p->units[r->unit]))
		return;
	switch (r->type) {
	case WR_RCPT:
		for (i = 0; i < u->nrcpts; i++)
			if (u->rcpt[i] == r->rcpt && strchr("SDB", r->kind) && r->kind)
				msg_outcome(p, u, i, r->kind, r->relay, r->reply);
		break;
	case WR_DOWN:
		if ((a = addr_index(p, &r->addr)) < 0)
			break;
		snprintf(u->rt->lasterr, sizeof u->rt->lasterr, "%s", r->reply);
		if (p->addrs[a].ok) {
			/* It has worked in this pass: too many of us, not a
			 * dead host. */
			u->rt->window = u->rt->window / 2 < 1 ? 1 : u->rt->window / 2;
			relay_narrate("%s: connection failed, others work: at most %d at once",
			              u->rt->dr.domain, (int)u->rt->window);
		} else if (!p->addrs[a].down) {
			char t[96];
			p->addrs[a].down = 1;
			addr_text(p, a, t, sizeof t);
			log_msg(LOG_INFO, "%s down for this pass: %s", t, r->reply);
		}
		break;
	case WR_DONE:
		a = r->addr.ss_family ? addr_index(p, &r->addr) : -1;
		worker_conn(p, w, a);
		if (r->worked && a >= 0) {
			p->addrs[a].ok = 1;
			route_stay(u->rt, a);
		}
		if (r->worked && u->rt->window < p->cf->destination_concurrency)
			u->rt->window += 1;     /* slow start: one more per success */
		w->unit = -1;
		w->idle_since = now_ms();
		msg_unit_done(p, u);
		break;
	}
}

/* worker_gone - W's socket closed: it died (or was stopped). */
static void worker_gone(struct pass *p, struct worker *w)
{
	int status, i;

	close(w->fd);
	w->fd = -1;
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	worker_conn(p, w, -1);
	if (!w->local)
		p->nremote--;
	if (w->unit >= 0 && w->unit < p->nunits && p->units[w->unit]) {
		struct unit *u = p->units[w->unit];
		/* Stopped: what it did not report stays as it was. Died: the
		 * recipients it did not report wait for the next attempt. */
		for (i = 0; !p->stopping && !stop_signal && i < u->nrcpts; i++)
			msg_outcome(p, u, i, 'D', "none",
			             "451 4.3.0 delivery process ended unexpectedly");
		msg_unit_done(p, u);
	}
	w->unit = -1;
}

/* worker_read - every record waiting from W. */
static void worker_read(struct pass *p, int wi)
{
	struct wresult r;

	for (;;) {
		ssize_t n = recv(p->workers[wi].fd, &r, sizeof r, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			worker_gone(p, &p->workers[wi]);
			return;
		}
		if ((size_t)n == sizeof r) {
			r.relay[sizeof r.relay - 1] = r.reply[sizeof r.reply - 1] = '\0';
			worker_result(p, &p->workers[wi], &r);
		}
	}
}

/* ------------------------------------------------------------- pass */

/* drop_queued - every unit not handed to a worker yet is given up for
 * this pass: its recipients stay as they were. */
static void drop_queued(struct pass *p)
{
	int i;

	for (i = 0; i < p->nroutes; i++) {
		struct route *rt = p->routes[i];
		while (rt->qhead) {
			struct unit *u = rt->qhead;
			rt->qhead = u->next;
			rt->nqueued--;
			msg_unit_done(p, u);
		}
		rt->qtail = NULL;
		rt->listed = 0;
		rt->dr.owner = NULL;    /* lookups still open decide nothing */
	}
	while (p->local.qhead) {
		struct unit *u = p->local.qhead;
		p->local.qhead = u->next;
		msg_unit_done(p, u);
	}
	p->local.qtail = NULL;
	p->nready = 0;
}

/* stop_begin - a signal came: drop what waits, ask workers to stop. */
static void stop_begin(struct pass *p)
{
	int i;

	log_msg(LOG_INFO, "signal %d: stopping; what is not delivered now is kept",
	        (int)stop_signal);
	p->stopping = 1;
	p->stop_deadline = now_ms() + RELAY_STOP_GRACE_MS;
	drop_queued(p);
	for (i = 0; i < p->nworkers; i++)
		if (p->workers[i].fd >= 0)
			kill(p->workers[i].pid, SIGTERM);
}

/* busy - whether the pass still has anything going on. */
static int busy(const struct pass *p)
{
	int i;

	if (p->nactive > 0 || (!p->stopping && !p->update_failed && p->nextid < p->nids))
		return 1;
	for (i = 0; i < p->nworkers; i++)
		if (p->workers[i].fd >= 0 && p->workers[i].unit >= 0)
			return 1;
	return 0;
}

/* wait_events - poll the workers and the resolver, then handle what came. */
static void wait_events(struct pass *p)
{
	struct pollfd *pf = calloc((size_t)p->nworkers + 1, sizeof *pf);
	int *which = calloc((size_t)p->nworkers + 1, sizeof *which), n = 0, i;
	long t = 1000, d = dns_next_ms();
	long long now = now_ms();

	if (!pf || !which) {
		free(pf);
		free(which);
		sleep_ms(10);
		return;
	}
	if (d >= 0 && d < t)
		t = d;
	if (p->flush_at && p->flush_at - now < t)
		t = p->flush_at <= now ? 0 : (long)(p->flush_at - now);
	if (dns_fd() >= 0 && dns_open_lookups() > 0) {
		pf[n].fd = dns_fd();
		pf[n].events = POLLIN;
		which[n++] = -1;
	}
	for (i = 0; i < p->nworkers; i++)
		if (p->workers[i].fd >= 0) {
			pf[n].fd = p->workers[i].fd;
			pf[n].events = POLLIN;
			which[n++] = i;
		}
	if (poll(pf, (nfds_t)n, (int)t) > 0) {
		for (i = 0; i < n; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (which[i] < 0)
				dns_io();
			else if (p->workers[which[i]].fd >= 0)
				worker_read(p, which[i]);
		}
	}
	dns_tick();
	free(pf);
	free(which);
}

/* active_max - how many messages may be held at once (one descriptor
 * each, two with a reserved envelope). */
static int active_max(const struct config *cf)
{
	struct rlimit rl;
	long room;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	room = ((long)rl.rlim_cur - 64 - 2L * (cf->max_connections + 1)) / 2;
	if (room > RELAY_ACTIVE_MAX)
		room = RELAY_ACTIVE_MAX;
	return room < 16 ? 16 : (int)room;
}

/* pass_end - stop the workers (QUIT on kept connections), write what is
 * left, release everything. */
static void pass_end(struct pass *p)
{
	int i, status;

	for (i = 0; i < p->nworkers; i++)
		if (p->workers[i].fd >= 0) {
			if (p->stopping)
				kill(p->workers[i].pid, SIGKILL);
			close(p->workers[i].fd);
			p->workers[i].fd = -1;
		}
	for (i = 0; i < p->nworkers; i++)
		while (waitpid(p->workers[i].pid, &status, 0) < 0 && errno == EINTR)
			;
	dns_stop();
	for (i = 0; i < p->capmsgs; i++)
		if (p->msgs[i].used)
			msg_finish(p, i);
	msg_flush(p);
	for (i = 0; i < p->nroutes; i++) {
		free(p->routes[i]->aidx);
		free(p->routes[i]);
	}
	for (i = 0; i < p->nunits; i++)
		free(p->units[i]);
	free(p->routes);
	free(p->ready);
	free(p->units);
	free(p->freeids);
	free(p->addrs);
	free(p->workers);
	free(p->msgs);
	free(p->unlinks);
	free(p->task);
}

/* relay_pass - one pass over the spool (see the file header). */
int relay_pass(const struct config *cf, const struct smtp_options *opt, int force)
{
	static struct pass pass;
	struct pass *p = &pass;
	struct sigaction sa;
	int i;

	memset(p, 0, sizeof *p);
	P = p;
	p->cf = cf;
	p->opt = opt;
	p->force = force;
	if (spool_dirs(cf->spool_dir) < 0 || spool_list(cf->spool_dir, &p->ids, &p->nids) < 0) {
		log_msg(LOG_ERR, "cannot read the spool %s: %s", cf->spool_dir, strerror(errno));
		fprintf(stderr, "relay-agent: cannot read the spool %s: %s\n", cf->spool_dir,
		        strerror(errno));
		return EXIT_TEMPFAIL;
	}
	spool_clean_stale(cf->spool_dir);
	relay_narrate("%d message(s) in the spool", p->nids);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	p->capmsgs = active_max(cf);
	p->msgs = calloc((size_t)p->capmsgs, sizeof *p->msgs);
	p->task = malloc(sizeof *p->task);
	if (!p->msgs || !p->task) {
		log_msg(LOG_ERR, "out of memory");
		spool_ids_free(p->ids, p->nids);
		free(p->msgs);
		free(p->task);
		return EXIT_TEMPFAIL;
	}
	for (i = 0; i < p->capmsgs; i++)
		p->msgs[i].fd = p->msgs[i].envfd = -1;
	p->local.local = p->local.ready = 1;
	snprintf(p->local.dr.domain, sizeof p->local.dr.domain, "local mailboxes");
	if (dns_start(cf, route_resolved) < 0)
		log_msg(LOG_ERR, "cannot start the DNS resolver: %s", strerror(errno));
	/* The workers a queue this long can use are forked now, while the
	 * pass's memory is small: a worker forked later shares every page
	 * the scheduler has written so far, and each later write to one of
	 * them costs a copy and a flush of every CPU's TLB. */
	for (i = 0; i < cf->max_connections && i < p->nids; i++)
		if (worker_start(p, 0) < 0)
			break;

	while (busy(p)) {
		msg_take_more(p);
		dispatch(p);
		if (!busy(p))
			break;
		wait_events(p);
		if (stop_signal && !p->stopping)
			stop_begin(p);
		if (p->update_failed && p->nready > 0)
			drop_queued(p); /* nothing more starts; see msg_write */
		if (p->stopping && now_ms() >= p->stop_deadline)
			break;          /* the rest is killed in pass_end */
		if (p->flush_at && now_ms() >= p->flush_at)
			msg_flush(p);
	}
	pass_end(p);
	spool_ids_free(p->ids, p->nids);
	if (p->stopping)
		log_msg(LOG_INFO, "stopped by signal %d", (int)stop_signal);
	return 0;
}
