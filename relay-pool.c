/*
 * relay-pool.c - relay-agent's worker processes as the scheduler sees
 * them: the table of mail host addresses (with what the pass learnt of
 * each: down, worked, how many connections it takes), starting workers,
 * choosing the one for a delivery (a connection already open to the
 * destination first), and what they report. The policy is described in
 * relay-sched.c's header.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "relay.h"
#include "util.h"

#include "relay-pass.h"

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

/* pool_addr_index - the table entry of SA, added when new; -1 no memory. */
int pool_addr_index(struct pass *p, const struct sockaddr_storage *sa)
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

/* ----------------------------------------------------------- workers */

/* pool_worker_start - fork a worker (LOCAL: for local mailboxes); its
 * index, or -1. */
int pool_worker_start(struct pass *p, int local)
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
		 * become duplicates. A local worker finishes the append it is
		 * in first (it blocks SIGTERM meanwhile): a mailbox is never
		 * left with half a message and a stale lock. */
		prctl(PR_SET_PDEATHSIG, local ? SIGTERM : SIGKILL);
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
		relay_worker_main(p->cf, p->opt, sv[1], local);
	}
	close(sv[1]);
	w->fd = sv[0];
	fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
	if (!local)
		p->nremote++;
	relay_narrate("worker %d started%s", (int)w->pid, local ? " for local mailboxes" : "");
	return p->nworkers++;
}

/* pool_worker_conn - worker W's connection is now to address A (-1: none). */
void pool_worker_conn(struct pass *p, struct worker *w, int a)
{
	if (w->conn == a)
		return;
	if (w->conn >= 0)
		p->addrs[w->conn].nconn--;
	w->conn = a;
	if (a >= 0)
		p->addrs[a].nconn++;
}

/* addr_limit - the connections address A may have at once. */
static int addr_limit(const struct pass *p, int a)
{
	int cap = p->addrs[a].cap;

	return cap > 0 && cap < p->cf->address_connections ? cap : p->cf->address_connections;
}

/* pool_live_addr - route RT's address (host H, address A) is not down. */
int pool_live_addr(const struct pass *p, const struct route *rt, int h, int a)
{
	int i = rt->aidx[h * DNS_ADDRS_MAX + a];

	return i >= 0 && !p->addrs[i].down;
}

/* pool_pick_worker - a worker for the next unit of RT: -1 none now (RT must
 * wait), -2 none for anyone (every worker busy), -3 every address of RT
 * down. REUSE_ONLY: only an idle worker already connected to RT. */
int pool_pick_worker(struct pass *p, struct route *rt, int reuse_only)
{
	int i, h, a, best = -1, target = -1;

	/* An idle worker connected to one of RT's live addresses. */
	for (i = 0; i < p->nworkers; i++) {
		struct worker *w = &p->workers[i];
		if (w->local || w->fd < 0 || w->unit >= 0 || w->conn < 0)
			continue;
		for (h = 0; h < rt->dr.nhosts; h++)
			for (a = 0; a < rt->dr.hosts[h].naddrs; a++)
				if (rt->aidx[h * DNS_ADDRS_MAX + a] == w->conn && pool_live_addr(p, rt, h, a))
					return i;
	}
	if (reuse_only)
		return -1;
	for (i = 0; i < rt->dr.nhosts && target < 0; i++) {
		h = i == 0 ? rt->start : i <= rt->start ? i - 1 : i;
		for (a = 0; a < rt->dr.hosts[h].naddrs && target < 0; a++)
			if (pool_live_addr(p, rt, h, a))
				target = rt->aidx[h * DNS_ADDRS_MAX + a];
	}
	if (target < 0)
		return -3;              /* every address down */
	if (p->addrs[target].nconn >= addr_limit(p, target))
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
		i = pool_worker_start(p, 0);
		if (i >= 0)
			return i;
	}
	if (best < 0)
		return -2;
	pool_worker_conn(p, &p->workers[best], target);
	return best;
}

/* ----------------------------------------------------------- results */

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

/* addr_failed - a connection of worker W to address A failed (REPLY): a
 * server at its limit, or an address down (see the file header). */
static void addr_failed(struct pass *p, struct worker *w, struct route *rt, int a,
                        const char *reply)
{
	struct addrent *e = &p->addrs[a];
	int others = e->nconn - (w->conn == a);
	char t[96];

	e->fails++;
	addr_text(p, a, t, sizeof t);
	if (others > 0 || (e->ok && e->fails < RELAY_ADDR_FAILS_MAX)) {
		rt->window = rt->window / 2 < 1 ? 1 : rt->window / 2;
		if (others > 0 && (e->cap == 0 || others < e->cap))
			e->cap = others;
		relay_narrate("%s: %s failed (%s) while %d other connection(s) are open to it: at "
		              "most %d at once to it, %d deliveries at once for %s", rt->dr.domain, t,
		              reply, others, addr_limit(p, a), (int)rt->window, rt->dr.domain);
	} else if (!e->down) {
		e->down = 1;
		log_msg(LOG_INFO, "%s down for this pass: %s", t, reply);
	}
}

/* unit_requeue - worker W handed U back: its recipients without an
 * outcome go to the head of the route's queue again. */
static void unit_requeue(struct pass *p, struct unit *u)
{
	struct route *rt = u->rt;
	int i, k;

	rt->inflight--;
	u->worker = -1;
	for (i = k = 0; i < u->nrcpts; i++)
		if (!u->got[i])
			u->rcpt[k++] = u->rcpt[i];
	u->nrcpts = k;
	memset(u->got, 0, sizeof u->got);
	if (k == 0) {
		msg_unit_done(p, u);
		return;
	}
	u->next = rt->qhead;
	rt->qhead = u;
	if (!rt->qtail)
		rt->qtail = u;
	rt->nqueued++;
	sched_ready_add(p, rt);
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
				msg_outcome(p, u, i, r->kind, r->relay, r->reply, !r->ours);
		if (u->rt->local && r->kind == 'D')
			local_failed(p, u, r->reply);
		break;
	case WR_ACCEPTED:
		/* Slow start: one more per delivery the server accepts a
		 * recipient of. That is Postfix's positive feedback (a delivery
		 * without connection or handshake failure), applied as soon as
		 * it is known rather than when the transaction ends: a server
		 * slow to answer DATA or the text does not slow the ramp; one
		 * that refuses the connection or the recipients gives none. */
		if (!u->fed && u->rt->window < p->cf->destination_concurrency)
			u->rt->window += 1;
		u->fed = 1;
		break;
	case WR_DOWN:
		if ((a = pool_addr_index(p, &r->addr)) < 0)
			break;
		snprintf(u->rt->lasterr, sizeof u->rt->lasterr, "%s", r->reply);
		addr_failed(p, w, u->rt, a, r->reply);
		break;
	case WR_DONE:
		a = r->waddr.ss_family ? pool_addr_index(p, &r->waddr) : -1;
		if (r->worked && a >= 0) {
			if (p->addrs[a].down)
				relay_narrate("%s works again", u->rt->dr.domain);
			p->addrs[a].ok = 1;
			p->addrs[a].down = 0;
			p->addrs[a].fails = 0;
			route_stay(u->rt, a);
		}
		if (r->worked && !u->fed && u->rt->window < p->cf->destination_concurrency)
			u->rt->window += 1;     /* slow start, when WR_ACCEPTED did not */
		u->fed |= r->worked;
		a = r->addr.ss_family ? pool_addr_index(p, &r->addr) : -1;
		pool_worker_conn(p, w, a);
		w->unit = -1;
		w->idle_since = now_ms();
		if (r->handback && !p->stopping && !p->update_failed)
			unit_requeue(p, u);
		else
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
	pool_worker_conn(p, w, -1);
	if (!w->local)
		p->nremote--;
	if (w->unit >= 0 && w->unit < p->nunits && p->units[w->unit]) {
		struct unit *u = p->units[w->unit];
		/* Stopped: what it did not report stays as it was. Died: the
		 * recipients it did not report wait for the next attempt. */
		for (i = 0; !p->stopping && !sched_signalled() && i < u->nrcpts; i++)
			msg_outcome(p, u, i, 'D', "none",
			            "451 4.3.0 delivery process ended unexpectedly", 0);
		msg_unit_done(p, u);
	}
	w->unit = -1;
}

/* pool_worker_read - every record waiting from W. */
void pool_worker_read(struct pass *p, int wi)
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
