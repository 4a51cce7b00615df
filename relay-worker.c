/*
 * relay-worker.c - relay-agent's delivery processes.
 *
 * A worker holds at most one SMTP connection, kept open between tasks so
 * the scheduler can give it the next delivery to the same address (for
 * any domain and message). For each task it walks the hosts in order,
 * each host's addresses in order, at most RELAY_ADDRS_TRIED_MAX new
 * addresses in all; a task given to a worker already connected to one of
 * the task's addresses starts there (a backup MX that works is kept),
 * and comes back to the hosts before it last.
 *
 *   connect, greeting or EHLO fails   WR_DOWN for that address; the next
 *                                     address, then the next host
 *   greeting or EHLO names us         every recipient bounces, 5.4.6
 *   a recipient's 2xx or 5xx          reported at once (WR_RCPT)
 *   452 (or 552) at RCPT, after other recipients went through in the
 *                                     same transaction: the rest in a
 *                                     new transaction on the same
 *                                     connection
 *   other 4xx                         the next host
 *   421, or a connection that breaks  a reused connection is opened
 *                                     again once (the server may limit
 *                                     messages per connection); a fresh
 *                                     one: the next host
 *
 * What no host settled is reported deferred with the last reason. Local
 * recipients (the scheduler's local tasks) go through inject_queued().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "inject.h"
#include "relay.h"
#include "spool.h"
#include "util.h"

/* The connection this worker keeps. */
static struct smtp_client conn = { .fd = -1 };
static struct sockaddr_storage conn_sa;

/* A recipient's state inside one task. */
struct trcpt {
	int open;                       /* no final reply yet */
	int here;                       /* goes into the next transaction on
	                                   this connection */
	struct smtp_reply rep;
	char relay[RELAY_TEXT_MAX];
};

/* send_result - one record to the scheduler; a scheduler gone ends us. */
static void send_result(int fd, const struct wresult *w)
{
	while (send(fd, w, sizeof *w, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			_exit(1);
}

/* report - recipient I of task T: its outcome now. */
static void report(int fd, const struct task *t, int i, const struct trcpt *r)
{
	struct wresult w;

	memset(&w, 0, sizeof w);
	w.type = WR_RCPT;
	w.unit = t->unit;
	w.rcpt = t->rcpt[i];
	w.kind = r->rep.code / 100 == 2 ? 'S' : r->rep.code / 100 == 5 ? 'B' : 'D';
	snprintf(w.relay, sizeof w.relay, "%s", r->relay);
	snprintf(w.reply, sizeof w.reply, "%s", r->rep.text);
	send_result(fd, &w);
}

/* same_addr - whether A and B are one address and port. */
static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
	}
	return 0;
}

/* open_conn - connect to address A of host H (closing what is open). */
static int open_conn(const struct smtp_options *opt, const struct task_host *h,
                     const struct sockaddr_storage *a, struct smtp_reply *err)
{
	int rc;

	if (conn.fd >= 0)
		smtp_close(&conn);
	rc = smtp_open(&conn, opt, a, h->name, err);
	if (rc == RES_OK)
		conn_sa = *a;
	return rc;
}

/* down - tell the scheduler address A failed before any transaction. */
static void down(int fd, const struct task *t, const struct sockaddr_storage *a,
                 const struct smtp_reply *err)
{
	struct wresult w;

	memset(&w, 0, sizeof w);
	w.type = WR_DOWN;
	w.unit = t->unit;
	w.addr = *a;
	snprintf(w.reply, sizeof w.reply, "%s", err->text);
	send_result(fd, &w);
}

/*
 * transactions - deliver the open recipients of T over the connection,
 * in as many transactions as 452s ask for. Returns 1 when the connection
 * broke (or closed with 421) before everything here was answered, else 0.
 * *WORKED is set when a server answered a whole transaction.
 */
static int transactions(int fd, const struct task *t, int msgfd, struct trcpt *r,
                        int *worked)
{
	const char *addrs[RELAY_TXN_RCPTS_MAX];
	struct smtp_reply reps[RELAY_TXN_RCPTS_MAX], err;
	int map[RELAY_TXN_RCPTS_MAX], i, n, rc, progress, again;
	struct smtp_txn x;

	for (;;) {
		for (i = 0, n = 0; i < t->nrcpts; i++)
			if (r[i].open && r[i].here) {
				addrs[n] = t->addr[i];
				map[n++] = i;
			}
		if (n == 0)
			return 0;
		memset(&x, 0, sizeof x);
		x.sender = t->sender;
		x.body8bit = t->body8bit;
		x.msgfd = msgfd;
		x.size = t->size;
		x.rcpts = addrs;
		x.nrcpts = n;
		x.replies = reps;
		rc = smtp_send(&conn, &x, &err);
		progress = again = 0;
		for (i = 0; i < n; i++) {
			struct trcpt *q = &r[map[i]];
			q->rep = reps[i];
			smtp_format_relay(&conn, q->relay, sizeof q->relay);
			q->here = 0;
			if (reps[i].code / 100 == 2 || reps[i].code / 100 == 5) {
				q->open = 0;
				progress += reps[i].code / 100 == 2;
				report(fd, t, map[i], q);
			} else if (reps[i].code == 452 && rc == RES_OK) {
				q->here = 1;    /* "too many recipients": next transaction */
				again = 1;
			}
		}
		if (rc != RES_OK) {
			/* Broken: every recipient still open may go on elsewhere. */
			for (i = 0; i < t->nrcpts; i++)
				r[i].here = r[i].open;
			return 1;
		}
		*worked = 1;
		if (!again || !progress) {
			/* Nothing more for this host: a 452 for the first
			 * recipient is a refusal like any 4xx. */
			for (i = 0; i < t->nrcpts; i++)
				r[i].here = 0;
			return 0;
		}
	}
}

/* loop_bounce - every open recipient bounces: the host is us. */
static void loop_bounce(int fd, const struct task *t, struct trcpt *r)
{
	int i;

	for (i = 0; i < t->nrcpts; i++) {
		char dom[DOMAIN_MAX + 1];

		if (!r[i].open)
			continue;
		snprintf(dom, sizeof dom, "%s", addr_domain(t->addr[i]));
		r[i].rep.code = 554;
		snprintf(r[i].rep.text, sizeof r[i].rep.text,
		         "554 5.4.6 mail for %s loops back to myself", dom);
		smtp_format_relay(&conn, r[i].relay, sizeof r[i].relay);
		r[i].open = 0;
		report(fd, t, i, &r[i]);
	}
}

/* start_at - where T starts: the host and address of the connection this
 * worker holds, when it is one of T's; else the first. */
static void start_at(const struct task *t, int *hs, int *as)
{
	int h, a;

	*hs = *as = 0;
	if (conn.fd < 0)
		return;
	for (h = 0; h < t->nhosts; h++)
		for (a = 0; a < t->hosts[h].naddrs; a++)
			if (same_addr(&t->hosts[h].addr[a], &conn_sa)) {
				*hs = h;
				*as = a;
				return;
			}
}

/* run_remote - deliver task T over SMTP; see the file header. */
static int run_remote(int fd, const struct config *cf, const struct smtp_options *opt,
                      const struct task *t)
{
	struct trcpt *r = calloc(t->nrcpts ? t->nrcpts : 1, sizeof *r);
	int i, k, a, hs, as, tried = 0, worked = 0, msgfd;

	if (!r)
		_exit(1);
	for (i = 0; i < t->nrcpts; i++) {
		r[i].open = 1;
		r[i].rep.code = 451;
		snprintf(r[i].rep.text, sizeof r[i].rep.text,
		         "451 4.4.1 no mail host for %s answered", t->domain);
		snprintf(r[i].relay, sizeof r[i].relay, "none");
	}
	msgfd = spool_msg_open(cf->spool_dir, t->id);
	if (msgfd < 0) {
		for (i = 0; i < t->nrcpts; i++)
			snprintf(r[i].rep.text, sizeof r[i].rep.text,
			         "451 4.3.0 cannot open the message file: %s", strerror(errno));
		goto out;
	}
	start_at(t, &hs, &as);
	for (k = 0; k < t->nhosts; k++) {
		/* From the host of the connection kept, then on, then the
		 * hosts before it. */
		const struct task_host *host = &t->hosts[(hs + k) % t->nhosts];
		int answered = 0;

		for (i = 0; i < t->nrcpts; i++)
			r[i].here = r[i].open;
		for (a = k == 0 ? as : 0; a < host->naddrs && !answered; a++) {
			struct smtp_reply err;
			int reopened = 0, rc;

			if (conn.fd < 0 || !same_addr(&conn_sa, &host->addr[a])) {
				if (tried >= RELAY_ADDRS_TRIED_MAX)
					goto out;
				tried++;
				rc = open_conn(opt, host, &host->addr[a], &err);
				if (rc == RES_PERM) {
					loop_bounce(fd, t, r);
					goto out;
				}
				if (rc != RES_OK) {
					down(fd, t, &host->addr[a], &err);
					for (i = 0; i < t->nrcpts; i++)
						if (r[i].open) {
							r[i].rep = err;
							smtp_format_relay(&conn, r[i].relay, sizeof r[i].relay);
						}
					continue;
				}
				reopened = 1;   /* a fresh connection is not opened again */
			}
			answered = 1;
			while (transactions(fd, t, msgfd, r, &worked) && !reopened) {
				/* A reused connection that broke: the server may have
				 * closed it after its last message, or said 421. Once
				 * more on a new connection to the same address. */
				reopened = 1;
				if (tried >= RELAY_ADDRS_TRIED_MAX + 1)
					break;
				rc = open_conn(opt, host, &host->addr[a], &err);
				if (rc == RES_PERM) {
					loop_bounce(fd, t, r);
					goto out;
				}
				if (rc != RES_OK) {
					down(fd, t, &host->addr[a], &err);
					break;
				}
			}
		}
		for (i = 0; i < t->nrcpts && !r[i].open; i++)
			;
		if (i == t->nrcpts)
			break;
	}
out:
	for (i = 0; i < t->nrcpts; i++)
		if (r[i].open)
			report(fd, t, i, &r[i]);
	if (msgfd >= 0)
		close(msgfd);
	free(r);
	return worked;
}

/* run_local - deliver task T's recipients to local mailboxes. */
static void run_local(int fd, const struct config *cf, const struct task *t)
{
	struct envelope env;
	struct msgtext text = { .fd = -1 };
	struct trcpt q;
	int i, rc;

	memset(&q, 0, sizeof q);
	snprintf(q.relay, sizeof q.relay, "local");
	text.fd = spool_msg_open(cf->spool_dir, t->id);
	rc = text.fd < 0 ? -1 : spool_env_load(cf->spool_dir, t->id, &env);
	for (i = 0; i < t->nrcpts; i++) {
		if (rc < 0 || t->rcpt[i] < 0 || t->rcpt[i] >= env.nrcpts) {
			q.rep.code = 451;
			snprintf(q.rep.text, sizeof q.rep.text,
			         "451 4.3.0 cannot read the queued message: %s", strerror(errno));
		} else {
			int r = inject_queued(cf, &text, &env, &env.rcpts[t->rcpt[i]], q.rep.text,
			                      sizeof q.rep.text);
			q.rep.code = r == RES_OK ? 250 : r == RES_PERM ? 550 : 451;
		}
		report(fd, t, i, &q);
	}
	if (rc == 0)
		envelope_free(&env);
	if (text.fd >= 0)
		close(text.fd);
}

/* relay_worker_main - tasks until the scheduler closes FD. */
void relay_worker_main(const struct config *cf, const struct smtp_options *opt, int fd)
{
	struct task *t = malloc(sizeof *t);
	struct wresult w;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (!t)
		_exit(1);
	for (;;) {
		ssize_t n = recv(fd, t, sizeof *t, 0);
		int worked = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			smtp_close(&conn);      /* the pass is over: QUIT */
			_exit(0);
		}
		if ((size_t)n != sizeof *t || t->nrcpts < 0 || t->nrcpts > RELAY_TXN_RCPTS_MAX ||
		    t->nhosts < 0 || t->nhosts > DNS_MX_MAX)
			_exit(1);
		if (t->local)
			run_local(fd, cf, t);
		else
			worked = run_remote(fd, cf, opt, t);
		memset(&w, 0, sizeof w);
		w.type = WR_DONE;
		w.unit = t->unit;
		w.worked = worked;
		if (conn.fd >= 0)
			w.addr = conn_sa;
		send_result(fd, &w);
	}
}
