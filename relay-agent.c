/*
 * relay-agent - drain the relay spool written by smtp-session.
 *
 * SYNOPSIS
 *	relay-agent [-c FILE] [-v] [-f | -l | -p] [-V]
 *
 * DESCRIPTION
 *	One pass over the spool, then exit; cron or a systemd timer starts
 *	it every few minutes, and a pass may start while another still runs.
 *
 *	A pass takes a non-blocking flock on each message file msg/ID (the
 *	file never changes, so the lock survives envelope rewrites), then
 *	reads env/ID: a message another pass holds is skipped, one another
 *	pass finished (st_nlink == 0, or env/ID gone) is ignored. Recipients
 *	that are due (all with -f) are grouped by domain; every domain is
 *	resolved at once through udns (dns.c); each destination then gets
 *	one worker process with one SMTP connection at a time (smtp-client.c)
 *	that carries all of that destination's messages, up to
 *	max_connections workers at once. Workers report each recipient's
 *	reply to the parent over a pipe; the parent alone writes envelopes,
 *	bounces and the log, one message at a time as its workers finish.
 *
 *	Outcomes: a 2xx reply is "sent"; a 5xx, NXDOMAIN, a null MX or a
 *	mail loop is "bounced" (an RFC 3464 report goes to the sender, see
 *	bounce.c; never for a message from <>); anything else is "deferred"
 *	with the next attempt retry_min after this one, doubling up to
 *	retry_max. A recipient still pending queue_lifetime after arrival
 *	bounces instead of being tried. A message leaves the spool when no
 *	recipient is pending.
 *
 *	Crash safety: an envelope changes only by an atomic rename after
 *	the remote server's reply, so a pass killed at any moment leaves
 *	every undelivered recipient pending (at worst a delivered one is
 *	sent again). Workers die with the parent (PR_SET_PDEATHSIG).
 *
 *	Housekeeping: tmp/ files older than SPOOL_TMP_STALE_SEC and msg/
 *	files without an envelope older than SPOOL_ORPHAN_STALE_SEC go.
 *
 *	First, each pass picks up what sendmail left in the maildrop
 *	(pickup.c); -p does only that. Started as root, relay-agent becomes
 *	the spool's owner, after forking the mailbox helper users system
 *	needs (mkmbox.c).
 *
 * OPTIONS
 *	-c FILE  configuration (default /etc/smtp-session.conf)
 *	-v       narrate on stderr      -f  try every message now
 *	-l       list the queue         -V  print the version
 *	-p       pick up the maildrop only
 *
 * EXIT STATUS
 *	0 pass done (deferrals included), 64 usage, 78 configuration,
 *	75 spool unreadable.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bounce.h"
#include "config.h"
#include "dns.h"
#include "inject.h"
#include "log.h"
#include "mkmbox.h"
#include "pickup.h"
#include "smtp-client.h"
#include "spool.h"
#include "util.h"

#define RELAY_TEXT_MAX (DOMAIN_MAX + 80)   /* "host[ip]:port" */

/* One recipient's outcome in this pass. */
struct outcome {
	char kind;                      /* 0 untouched, 'S'ent, 'D'eferred, 'B'ounced */
	char relay[RELAY_TEXT_MAX];
	char reply[SMTP_REPLY_MAX + 1];
};

/* One locked message of the batch. */
struct qmsg {
	char id[QUEUE_ID_MAX];
	int fd;                         /* msg/ID, flock held; -1 when done */
	int envfd;                      /* tmp/ID.env with the room for the
	                                   envelope update reserved; -1: none */
	off_t size;
	struct envelope env;
	struct outcome *out;            /* env.nrcpts of them */
	int jobs_left;                  /* workers still holding recipients */
	int unlink_msg;                 /* envelope gone: msg/ID goes once env/
	                                   is synced */
};

/* The recipients of one message that one worker delivers. */
struct job_item {
	int msg;
	int *rcpts;
	int nrcpts;
};

/* One destination: a worker process and its pipe. */
struct job {
	int route;
	struct job_item *items;
	int nitems, cap;
	int reported;                   /* items whose "M" line arrived */
	pid_t pid;
	int fd;                         /* read end; -1 when finished */
	char buf[RELAY_RESULT_MAX];
	size_t len;
};

/* A recipient due in this batch, before routing. */
struct due {
	int msg, rcpt;
	int route;                      /* -1: local domain */
};

/* Everything of one pass. */
struct pass {
	const struct config *cf;
	int force, verbose;
	struct smtp_options opt;
	struct dns_route *routes;       /* cache for the whole pass */
	int nroutes, caproutes;
	struct qmsg *msgs;
	int nmsgs;
	struct job *jobs;
	int njobs;
	int *route_job;                 /* route index -> job index, per batch */
	int removed;                    /* envelopes unlinked, env/ not synced */
	int update_failed;              /* an envelope update failed: no new
	                                   deliveries in this pass */
};

/* narrate - one step on stderr under -v. */
static int verbose_flag;
static void narrate(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void narrate(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (!verbose_flag)
		return;
	strcpy(line, "relay-agent: ");
	va_start(ap, fmt);
	n = vsnprintf(line + 13, sizeof line - 14, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += 13;
	if ((size_t)n >= sizeof line - 1)
		n = sizeof line - 2;
	line[n++] = '\n';
	/* One write per line: workers share stderr. */
	(void)write_all(2, line, (size_t)n);
}

/* usage - the command line, then exit 64. */
static void usage(void)
{
	fprintf(stderr, "usage: relay-agent [-c FILE] [-v] [-f | -l | -p] [-V]\n");
	exit(EXIT_USAGE);
}

/* retry_delay - seconds until the next attempt after ATTEMPTS tries. */
static long retry_delay(const struct config *cf, int attempts)
{
	long d = cf->retry_min;

	while (--attempts > 0 && d < cf->retry_max)
		d *= 2;
	return d < cf->retry_max ? d : cf->retry_max;
}

/* fmt_age - "2d3h", "4h05m", "12m", "30s". */
static void fmt_age(char *out, size_t outsz, long s)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, outsz, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, outsz, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, outsz, "%ldm", s / 60);
	else
		snprintf(out, outsz, "%lds", s);
}

/* list_queue - -l: print the queue like mailq. */
static int list_queue(const struct config *cf)
{
	char **ids, age[32], next[32];
	int n, i, j, total = 0;
	long long bytes = 0;
	time_t now = time(NULL);

	if (spool_list(cf->spool_dir, &ids, &n) < 0) {
		if (errno == ENOENT) {
			/* Nothing was ever spooled here: no env/ yet. */
			printf("Mail queue is empty\n");
			return 0;
		}
		fprintf(stderr, "relay-agent: cannot read the spool %s/env: %s\n", cf->spool_dir,
		        strerror(errno));
		return EXIT_TEMPFAIL;
	}
	for (i = 0; i < n; i++) {
		struct envelope env;
		struct stat st;

		if (spool_env_load(cf->spool_dir, ids[i], &env) < 0)
			continue;
		if (spool_msg_stat(cf->spool_dir, ids[i], &st) < 0)
			st.st_size = 0;
		if (total == 0)
			printf("%-20s %10s %-8s %s\n", "-Queue ID-", "--Size--", "--Age--",
			       "-Sender/Recipient-");
		total++;
		bytes += st.st_size;
		fmt_age(age, sizeof age, (long)(now - env.arrival));
		printf("%-20s %10lld %-8s <%s>\n", env.id, (long long)st.st_size, age, env.sender);
		for (j = 0; j < env.nrcpts; j++) {
			const struct spool_rcpt *r = &env.rcpts[j];
			if (r->state != RS_PENDING)
				continue;
			printf("%40s<%s>\n", "", r->addr);
			if (r->attempts == 0 && !r->last_reply[0]) {
				printf("%42s(not tried yet)\n", "");
				continue;
			}
			if (r->next_attempt > now)
				fmt_age(next, sizeof next, (long)(r->next_attempt - now));
			else
				snprintf(next, sizeof next, "now");
			printf("%42s(%d attempt%s, next in %s: %s)\n", "", r->attempts,
			       r->attempts == 1 ? "" : "s", next, r->last_reply);
		}
		envelope_free(&env);
	}
	spool_ids_free(ids, n);
	if (total == 0)
		printf("Mail queue is empty\n");
	else
		printf("-- %lld Kbytes in %d Request%s.\n", (bytes + 1023) / 1024, total,
		       total == 1 ? "" : "s");
	return 0;
}

/* set_outcome - record recipient RCPT of M's outcome. */
static void set_outcome(struct qmsg *m, int rcpt, char kind, const char *relay,
                        const char *reply)
{
	struct outcome *o = &m->out[rcpt];

	o->kind = kind;
	snprintf(o->relay, sizeof o->relay, "%s", relay);
	snprintf(o->reply, sizeof o->reply, "%s", reply);
}

/*
 * remove_msg - take a finished message out of the spool: env/ID now,
 * msg/ID at the end of the batch, after one fsync of env/ for all the
 * batch's envelopes (sync_removals). So no envelope ever lacks its text,
 * not even after a crash (the order of spool.h), a crash can only bring a
 * delivered message back for a second delivery, never lose one, and a
 * pass does not pay one disk flush per message.
 */
static int remove_msg(struct pass *p, struct qmsg *m)
{
	if (spool_env_unlink(p->cf->spool_dir, m->id) < 0)
		return -1;
	p->removed++;
	m->unlink_msg = 1;
	return 0;
}

/* sync_removals - make the batch's envelope removals durable, then
 * remove their messages. */
static void sync_removals(struct pass *p)
{
	int i;

	if (p->removed && spool_env_sync(p->cf->spool_dir) < 0)
		log_msg(LOG_WARNING, "cannot sync %s/env: %s", p->cf->spool_dir, strerror(errno));
	p->removed = 0;
	for (i = 0; i < p->nmsgs; i++) {
		if (!p->msgs[i].unlink_msg)
			continue;
		p->msgs[i].unlink_msg = 0;
		if (spool_msg_unlink(p->cf->spool_dir, p->msgs[i].id) < 0)
			log_msg(LOG_ERR, "%s: cannot remove its message file: %s", p->msgs[i].id,
			        strerror(errno));
	}
}

/* remote_host - the host part of a "host[ip]:port" relay, or NULL. */
static const char *remote_host(const char *relay, char *out, size_t outsz)
{
	const char *b = strchr(relay, '[');

	if (!b)
		return NULL;
	snprintf(out, outsz, "%.*s", (int)(b - relay), relay);
	return out;
}

/*
 * finish_msg - apply the outcomes of M to its envelope: log each one,
 * send one bounce for the failed recipients, then rewrite the envelope
 * (or remove the message when nothing is pending) and drop the lock.
 */
static void finish_msg(struct pass *p, struct qmsg *m)
{
	const struct config *cf = p->cf;
	struct envelope *env = &m->env;
	struct bounce_item *items;
	char (*status)[16], (*hosts)[DOMAIN_MAX + 1];
	time_t now = time(NULL), expiry = env->arrival + cf->queue_lifetime;
	int i, nb = 0, changed = 0, pending = 0;
	long delay = (long)(now - env->arrival);

	items = calloc(env->nrcpts, sizeof *items);
	status = calloc(env->nrcpts, sizeof *status);
	hosts = calloc(env->nrcpts, sizeof *hosts);
	if (!items || !status || !hosts) {
		log_msg(LOG_ERR, "%s: out of memory; envelope left as it was", m->id);
		goto out;
	}
	for (i = 0; i < env->nrcpts; i++) {
		struct spool_rcpt *r = &env->rcpts[i];
		struct outcome *o = &m->out[i];

		if (!o->kind || r->state != RS_PENDING)
			continue;
		changed = 1;
		r->attempts++;
		r->last_attempt = now;
		if (o->kind == 'D' && now >= expiry) {
			/* Out of time: this failure is the last. */
			char why[SMTP_REPLY_MAX + 1];
			snprintf(why, sizeof why, "554 5.4.7 delivery time expired (%.470s)", o->reply);
			snprintf(o->reply, sizeof o->reply, "%s", why);
			o->kind = 'B';
		}
		snprintf(r->last_reply, sizeof r->last_reply, "%s", o->reply);
		log_msg(LOG_INFO, "%s: to=<%s>, relay=%s, delay=%ld, status=%s (%s)", m->id,
		        r->addr, o->relay, delay,
		        o->kind == 'S' ? "sent" : o->kind == 'B' ? "bounced" : "deferred", o->reply);
		if (o->kind == 'S') {
			r->state = RS_SENT;
		} else if (o->kind == 'B') {
			r->state = RS_BOUNCED;
			bounce_status(o->reply, status[nb], sizeof status[nb]);
			if (status[nb][0] != '5')
				status[nb][0] = '5';    /* a failure reported as final */
			items[nb].rcpt = r;
			items[nb].status = status[nb];
			items[nb].remote_mta = remote_host(o->relay, hosts[nb], sizeof hosts[nb]);
			items[nb].diagnostic = r->last_reply;
			items[nb].when = now;
			nb++;
		} else {
			time_t next = now + retry_delay(cf, r->attempts);
			r->next_attempt = next < expiry ? next : expiry;
		}
	}

	if (nb > 0 && env->sender[0] == '\0') {
		log_msg(LOG_INFO, "%s: bounce dropped: the message is itself a bounce (from <>)",
		        m->id);
	} else if (nb > 0) {
		char bid[QUEUE_ID_MAX], why[512];

		if (bounce_send(cf, env, m->fd, items, nb, bid, sizeof bid, why, sizeof why)
		    == RES_OK) {
			if (bid[0])
				log_msg(LOG_INFO, "%s: sender non-delivery notification: %s", m->id, bid);
			else
				log_msg(LOG_INFO, "%s: bounce dropped: %s", m->id, why);
		} else {
			/* No bounce, no loss: the recipients stay pending and the
			 * next pass meets the same failure again. */
			log_msg(LOG_WARNING, "%s: %s; recipients kept in the queue", m->id, why);
			for (i = 0; i < nb; i++) {
				struct spool_rcpt *r = (struct spool_rcpt *)items[i].rcpt;
				r->state = RS_PENDING;
				r->next_attempt = now + cf->retry_min;
			}
		}
	}

	for (i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == RS_PENDING)
			pending++;
	if (changed && pending == 0) {
		if (remove_msg(p, m) < 0)
			log_msg(LOG_ERR, "%s: cannot remove from the spool: %s", m->id, strerror(errno));
		else
			log_msg(LOG_INFO, "%s: removed", m->id);
	} else if (changed) {
		/* Into the file reserved at lock time, if one was needed (see
		 * run_batch): no room to run out of. */
		int fd = m->envfd, rc;

		m->envfd = -1;
		rc = fd >= 0 ? spool_env_replace_reserved(cf->spool_dir, fd, env)
		             : spool_env_replace(cf->spool_dir, env);
		if (rc != RES_OK) {
			/* The sent recipients still read pending: the next pass
			 * would send them again. Start nothing more now. */
			log_msg(LOG_ERR, "%s: cannot update the envelope: %s; no more deliveries "
			        "in this pass", m->id, strerror(errno));
			p->update_failed = 1;
		}
	}
out:
	if (m->envfd >= 0)              /* the reserved file was not needed */
		spool_env_unreserve(cf->spool_dir, m->id, m->envfd);
	m->envfd = -1;
	free(items);
	free(status);
	free(hosts);
	free(m->out);
	m->out = NULL;
	envelope_free(env);
	close(m->fd);
	m->fd = -1;
}

/* lock_msg - open and lock msg/ID, read its envelope: 1 taken, 0 skip. */
static int lock_msg(struct pass *p, const char *id, struct qmsg *m)
{
	struct stat st;

	memset(m, 0, sizeof *m);
	m->fd = -1;
	m->envfd = -1;
	snprintf(m->id, sizeof m->id, "%s", id);
	m->fd = spool_msg_open(p->cf->spool_dir, id);
	if (m->fd < 0) {
		if (errno != ENOENT)
			log_msg(LOG_ERR, "%s: cannot open its message file: %s", id, strerror(errno));
		else
			spool_env_orphan(p->cf->spool_dir, id);
		return 0;
	}
	if (flock(m->fd, LOCK_EX | LOCK_NB) < 0) {
		narrate("%s: busy in another pass, skipped", id);
		goto skip;
	}
	/* Locked. Another pass may have finished it meanwhile. */
	if (fstat(m->fd, &st) < 0 || st.st_nlink == 0)
		goto skip;
	m->size = st.st_size;
	if (spool_env_load(p->cf->spool_dir, id, &m->env) < 0) {
		if (errno != ENOENT)
			log_msg(LOG_ERR, "%s: malformed envelope, left alone", id);
		goto skip;
	}
	m->out = calloc(m->env.nrcpts, sizeof *m->out);
	if (!m->out) {
		envelope_free(&m->env);
		goto skip;
	}
	return 1;
skip:
	close(m->fd);
	m->fd = -1;
	return 0;
}

/* route_find - the route for KEY, added (unresolved) when new. */
static int route_find(struct pass *p, const char *key, int hosts_only, int port)
{
	int i;

	for (i = 0; i < p->nroutes; i++)
		if (strcmp(p->routes[i].domain, key) == 0)
			return i;
	if (p->nroutes == p->caproutes) {
		int cap = p->caproutes ? p->caproutes * 2 : 64;
		struct dns_route *n = realloc(p->routes, cap * sizeof *n);
		if (!n)
			return -1;
		p->routes = n;
		p->caproutes = cap;
	}
	memset(&p->routes[p->nroutes], 0, sizeof p->routes[0]);
	snprintf(p->routes[p->nroutes].domain, sizeof p->routes[0].domain, "%s", key);
	p->routes[p->nroutes].hosts_only = hosts_only;
	p->routes[p->nroutes].port = port;
	p->routes[p->nroutes].verbose = p->verbose;
	p->routes[p->nroutes].result = -1;      /* not resolved yet */
	return p->nroutes++;
}

/* job_add - put recipient RCPT of message MSG into the job of ROUTE. */
static int job_add(struct pass *p, int route, int msg, int rcpt)
{
	struct job *j;
	struct job_item *it;
	int *r;

	if (p->route_job[route] < 0) {
		struct job *n = realloc(p->jobs, (p->njobs + 1) * sizeof *n);
		if (!n)
			return -1;
		p->jobs = n;
		j = &p->jobs[p->njobs];
		memset(j, 0, sizeof *j);
		j->route = route;
		j->fd = -1;
		p->route_job[route] = p->njobs++;
	}
	j = &p->jobs[p->route_job[route]];
	it = j->nitems ? &j->items[j->nitems - 1] : NULL;
	if (!it || it->msg != msg) {
		if (j->nitems == j->cap) {
			int cap = j->cap ? j->cap * 2 : 16;
			struct job_item *n = realloc(j->items, cap * sizeof *n);
			if (!n)
				return -1;
			j->items = n;
			j->cap = cap;
		}
		it = &j->items[j->nitems++];
		memset(it, 0, sizeof *it);
		it->msg = msg;
		p->msgs[msg].jobs_left++;
	}
	r = realloc(it->rcpts, (it->nrcpts + 1) * sizeof *r);
	if (!r)
		return -1;
	it->rcpts = r;
	it->rcpts[it->nrcpts++] = rcpt;
	return 0;
}

/* report - one line from a worker to the parent; exits if the parent is gone. */
static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int fd, const char *fmt, ...)
{
	char line[RELAY_RESULT_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		_exit(1);
	if ((size_t)n >= sizeof line - 1) {
		n = sizeof line - 2;
		line[n++] = '\n';
	}
	if (write_all(fd, line, (size_t)n) < 0)
		_exit(1);
}

/* relay_word - make a relay text one word for the result line. */
static void relay_word(char *s)
{
	text_scrub(s, SCRUB_TEXT | SCRUB_SPACE, '_');
}

/* host_error - a dead host's reason, given to every later recipient
 * routed to it: only ever a 4xx (never a recipient's own 5xx). */
static void host_error(struct smtp_reply *e, const char *host)
{
	if (e->code / 100 == 4)
		return;
	e->code = 451;
	snprintf(e->text, sizeof e->text, "451 4.4.2 connection to %.255s lost", host);
}

/*
 * job_run - the worker: deliver every item of job J over connections to
 * the route's hosts, in order, and report each recipient on WFD. Runs in
 * a child process; never returns.
 */
static void job_run(struct pass *p, struct job *j, int wfd)
{
	struct dns_route *rt = &p->routes[j->route];
	struct smtp_client *c = malloc(sizeof *c);
	struct smtp_reply hosterr[DNS_MX_MAX];
	int dead[DNS_MX_MAX] = { 0 }, cur = -1, k;

	if (!c)
		_exit(1);
	c->fd = -1;
	for (k = 0; k < j->nitems; k++) {
		struct job_item *it = &j->items[k];
		struct qmsg *m = &p->msgs[it->msg];
		int n = it->nrcpts, i, h, left = n;
		const char **addrs = calloc(n, sizeof *addrs);
		struct smtp_reply *rep = calloc(n, sizeof *rep), *trep = calloc(n, sizeof *trep);
		char (*relay)[RELAY_TEXT_MAX] = calloc(n, sizeof *relay);
		int *unsettled = calloc(n, sizeof *unsettled), *map = calloc(n, sizeof *map);

		int msgfd = -1;

		if (!addrs || !rep || !trep || !relay || !unsettled || !map)
			_exit(1);
		for (i = 0; i < n; i++) {
			unsettled[i] = 1;
			rep[i].code = 451;
			snprintf(rep[i].text, sizeof rep[i].text, "451 4.4.1 no mail host for %s answered",
			         rt->domain);
			snprintf(relay[i], sizeof relay[i], "none");
		}
		/* Our own descriptor of the message (the parent's lock covers it;
		 * see job_start). */
		msgfd = spool_msg_open(p->cf->spool_dir, m->id);
		if (msgfd < 0) {
			left = 0;
			for (i = 0; i < n; i++)
				snprintf(rep[i].text, sizeof rep[i].text,
				         "451 4.3.0 cannot open the message file: %s", strerror(errno));
		}
		for (h = 0; h < rt->nhosts && left > 0; h++) {
			struct dns_host *host = &rt->hosts[h];
			struct smtp_txn t;
			int a, nt = 0;

			if (dead[h]) {
				for (i = 0; i < n; i++)
					if (unsettled[i])
						rep[i] = hosterr[h];
				continue;
			}
			if (c->fd >= 0 && (cur != h || c->messages >= RELAY_CONN_REUSE_MAX))
				smtp_close(c);
			if (c->fd < 0) {
				for (a = 0; a < host->naddrs; a++)
					if (smtp_open(c, &p->opt, &host->addr[a], host->name, &hosterr[h])
					    == RES_OK)
						break;
				if (c->fd < 0) {
					dead[h] = 1;
					host_error(&hosterr[h], host->name);
					for (i = 0; i < n; i++)
						if (unsettled[i]) {
							rep[i] = hosterr[h];
							smtp_format_relay(c, relay[i], sizeof relay[i]);
						}
					continue;
				}
				cur = h;
			}
			for (i = 0; i < n; i++)
				if (unsettled[i]) {
					addrs[nt] = m->env.rcpts[it->rcpts[i]].addr;
					map[nt++] = i;
				}
			t.sender = m->env.sender;
			t.body8bit = strcasecmp(m->env.body, "8BITMIME") == 0;
			t.msgfd = msgfd;
			t.size = m->size;
			t.rcpts = addrs;
			t.nrcpts = nt;
			t.replies = trep;
			if (smtp_send(c, &t, &hosterr[h]) != RES_OK) {
				/* The connection broke: the host's reason for the
				 * messages after this one is about the connection,
				 * never a recipient's own reply. */
				dead[h] = 1;
				host_error(&hosterr[h], host->name);
			}
			for (i = 0; i < nt; i++) {
				int r = map[i];
				rep[r] = trep[i];
				smtp_format_relay(c, relay[r], sizeof relay[r]);
				if (trep[i].code / 100 == 2 || trep[i].code / 100 == 5) {
					unsettled[r] = 0;
					left--;
				}
			}
		}
		for (i = 0; i < n; i++) {
			char kind = rep[i].code / 100 == 2 ? 'S' : rep[i].code / 100 == 5 ? 'B' : 'D';
			relay_word(relay[i]);
			report(wfd, "R %d %d %c %s %s\n", it->msg, it->rcpts[i], kind, relay[i],
			       rep[i].text);
		}
		report(wfd, "M %d\n", it->msg);
		if (msgfd >= 0)
			close(msgfd);
		free(addrs);
		free(rep);
		free(trep);
		free(relay);
		free(unsettled);
		free(map);
	}
	smtp_close(c);
	_exit(0);
}

/* job_start - fork the worker of job J; -1 when that fails. */
static int job_start(struct pass *p, struct job *j)
{
	int fds[2];
	pid_t parent = getpid();

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	j->pid = fork();
	if (j->pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (j->pid == 0) {
		int i;

		close(fds[0]);
		/* Die with the parent: results nobody records would only
		 * become duplicates. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* Nothing of the batch stays open here: a flock belongs to the
		 * open file description, so an inherited msg/ID descriptor
		 * would keep that message locked, after the parent has finished
		 * it, for as long as this worker lives. The worker opens its
		 * own messages by path (a new description, not locked: the
		 * parent's lock covers them). */
		for (i = 0; i < p->nmsgs; i++) {
			if (p->msgs[i].fd >= 0)
				close(p->msgs[i].fd);
			if (p->msgs[i].envfd >= 0)
				close(p->msgs[i].envfd);
			p->msgs[i].fd = p->msgs[i].envfd = -1;
		}
		for (i = 0; i < p->njobs; i++)
			if (p->jobs[i].fd >= 0 && &p->jobs[i] != j)
				close(p->jobs[i].fd);
		job_run(p, j, fds[1]);
	}
	close(fds[1]);
	j->fd = fds[0];
	narrate("worker %d for %s: %d message(s)", (int)j->pid, p->routes[j->route].domain,
	        j->nitems);
	return 0;
}

/* item_done - message of job item IT has all its results from this job. */
static void item_done(struct pass *p, struct job_item *it)
{
	struct qmsg *m = &p->msgs[it->msg];

	if (--m->jobs_left == 0 && m->fd >= 0)
		finish_msg(p, m);
}

/* job_line - one result line from a worker:
 * "R MSG RCPT KIND RELAY REPLY" or "M MSG". */
static void job_line(struct pass *p, struct job *j, char *line)
{
	int msg, rcpt, off = 0;
	char kind, *relay, *sp;

	if (line[0] == 'M') {
		if (j->reported < j->nitems &&
		    sscanf(line, "M %d", &msg) == 1 && msg == j->items[j->reported].msg)
			item_done(p, &j->items[j->reported++]);
		return;
	}
	if (sscanf(line, "R %d %d %c %n", &msg, &rcpt, &kind, &off) < 3 || !off)
		return;
	relay = line + off;
	if (!(sp = strchr(relay, ' ')))
		return;
	*sp = '\0';
	if (msg < 0 || msg >= p->nmsgs || p->msgs[msg].fd < 0 || rcpt < 0 ||
	    rcpt >= p->msgs[msg].env.nrcpts || !strchr("SDB", kind))
		return;
	set_outcome(&p->msgs[msg], rcpt, kind, relay, sp + 1);
}

/* job_end - the worker of J exited: what it did not report is deferred. */
static void job_end(struct pass *p, struct job *j)
{
	int status, k, i;

	close(j->fd);
	j->fd = -1;
	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	for (k = j->reported; k < j->nitems; k++) {
		struct job_item *it = &j->items[k];
		struct qmsg *m = &p->msgs[it->msg];
		for (i = 0; i < it->nrcpts; i++)
			if (!m->out[it->rcpts[i]].kind)
				set_outcome(m, it->rcpts[i], 'D', "none",
				            "451 4.3.0 delivery process ended unexpectedly");
		item_done(p, it);
	}
	j->reported = j->nitems;
}

/* job_read - read what worker J wrote; handle whole lines. */
static void job_read(struct pass *p, struct job *j)
{
	ssize_t n = read(j->fd, j->buf + j->len, sizeof j->buf - 1 - j->len);
	char *start, *nl;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		job_end(p, j);
		return;
	}
	j->len += (size_t)n;
	j->buf[j->len] = '\0';
	start = j->buf;
	while ((nl = memchr(start, '\n', j->len - (size_t)(start - j->buf)))) {
		*nl = '\0';
		job_line(p, j, start);
		start = nl + 1;
	}
	j->len -= (size_t)(start - j->buf);
	memmove(j->buf, start, j->len);
	if (j->len == sizeof j->buf - 1)
		j->len = 0;     /* a line too long from our own worker: drop it */
}

/* run_jobs - every job, at most max_connections at once. */
static void run_jobs(struct pass *p)
{
	struct pollfd *pf = calloc(p->njobs ? p->njobs : 1, sizeof *pf);
	int *which = calloc(p->njobs ? p->njobs : 1, sizeof *which);
	int next = 0, running = 0, i, k;

	if (!pf || !which) {
		free(pf);
		free(which);
		return;
	}
	while (next < p->njobs || running > 0) {
		while (next < p->njobs && running < p->cf->max_connections) {
			struct job *j = &p->jobs[next++];
			if (p->update_failed) {
				/* Not tried: the recipients stay as they are. */
				j->pid = -1;
				for (k = 0; k < j->nitems; k++)
					item_done(p, &j->items[k]);
				j->reported = j->nitems;
				continue;
			}
			if (job_start(p, j) < 0) {
				log_msg(LOG_ERR, "cannot start a worker: %s", strerror(errno));
				j->pid = -1;
				for (k = 0; k < j->nitems; k++)
					for (i = 0; i < j->items[k].nrcpts; i++)
						set_outcome(&p->msgs[j->items[k].msg], j->items[k].rcpts[i],
						            'D', "none", "451 4.3.0 cannot start a worker");
				for (k = 0; k < j->nitems; k++)
					item_done(p, &j->items[k]);
				j->reported = j->nitems;
				continue;
			}
			running++;
		}
		for (i = 0, k = 0; i < next; i++)
			if (p->jobs[i].fd >= 0) {
				pf[k].fd = p->jobs[i].fd;
				pf[k].events = POLLIN;
				which[k++] = i;
			}
		if (k == 0)
			continue;
		if (poll(pf, k, 1000) < 0 && errno != EINTR)
			break;
		for (i = 0; i < k; i++)
			if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				job_read(p, &p->jobs[which[i]]);
				if (p->jobs[which[i]].fd < 0)
					running--;
			}
	}
	free(pf);
	free(which);
}

/* due_route - the route key of ADDR: -1 local, -2 no memory, else index. */
static int due_route(struct pass *p, const char *addr)
{
	char dom[DOMAIN_MAX + 1];
	const struct config *cf = p->cf;

	snprintf(dom, sizeof dom, "%s", addr_domain(addr));
	str_lower(dom);
	{
		size_t l = strlen(dom);
		if (l > 1 && dom[l - 1] == '.')
			dom[l - 1] = '\0';
	}
	if (dom[0] == '\0' || config_is_local_domain(cf, dom))
		return -1;
	if (cf->smarthost[0])
		return route_find(p, cf->smarthost, 1, cf->smarthost_port);
	return route_find(p, dom, 0, cf->remote_port);
}

/* resolve_new - look up every route not resolved yet, all at once. */
static void resolve_new(struct pass *p)
{
	struct dns_route *tmp;
	int *idx, n = 0, i;

	idx = calloc(p->nroutes ? p->nroutes : 1, sizeof *idx);
	if (!idx)
		return;
	for (i = 0; i < p->nroutes; i++)
		if (p->routes[i].result < 0)
			idx[n++] = i;
	if (n == 0 || !(tmp = calloc(n, sizeof *tmp))) {
		free(idx);
		return;
	}
	/* Resolve in a separate array: dns hosts point back at their route. */
	for (i = 0; i < n; i++)
		tmp[i] = p->routes[idx[i]];
	narrate("resolving %d destination(s)", n);
	dns_resolve_routes(p->cf, tmp, n);
	for (i = 0; i < n; i++) {
		p->routes[idx[i]] = tmp[i];
		if (tmp[i].result != RES_OK)
			narrate("%s: %s", tmp[i].domain, tmp[i].why);
	}
	free(tmp);
	free(idx);
}

/* run_batch - lock messages IDS[0..N), deliver what is due, finish them. */
static void run_batch(struct pass *p, char **ids, int n)
{
	const struct config *cf = p->cf;
	struct due *due = NULL;
	int ndue = 0, capdue = 0, i, k;
	time_t now = time(NULL);

	p->msgs = calloc(n, sizeof *p->msgs);
	if (!p->msgs)
		return;
	p->nmsgs = 0;
	for (i = 0; i < n; i++) {
		struct qmsg *m = &p->msgs[p->nmsgs];
		int ndue0 = ndue, touched = 0;

		int npending = 0;

		if (!lock_msg(p, ids[i], m))
			continue;
		for (k = 0; k < m->env.nrcpts; k++)
			npending += m->env.rcpts[k].state == RS_PENDING;
		for (k = 0; k < m->env.nrcpts; k++) {
			struct spool_rcpt *r = &m->env.rcpts[k];
			if (r->state != RS_PENDING)
				continue;
			if (now >= m->env.arrival + cf->queue_lifetime) {
				char why[SMTP_REPLY_MAX + 1];
				snprintf(why, sizeof why, "554 5.4.7 delivery time expired%s%.470s%s",
				         r->last_reply[0] ? " (" : "", r->last_reply,
				         r->last_reply[0] ? ")" : "");
				set_outcome(m, k, 'B', "none", why);
				touched = 1;
				continue;
			}
			if (!p->force && r->next_attempt > now)
				continue;
			if (ndue == capdue) {
				struct due *d = realloc(due, (capdue = capdue ? capdue * 2 : 256) * sizeof *d);
				if (!d)
					break;
				due = d;
			}
			due[ndue].msg = p->nmsgs;
			due[ndue].rcpt = k;
			due[ndue].route = due_route(p, r->addr);
			if (due[ndue].route < -1)
				continue;
			ndue++;
		}
		/* The envelope update after a delivery must not fail for want
		 * of space (the sent recipients would be sent again on every
		 * pass): its room is taken now, or the message waits. With one
		 * pending recipient no update can matter: sent or bounced, the
		 * message is removed (no space needed); deferred, a lost update
		 * only means the same attempt again. */
		if ((ndue > ndue0 || touched) && npending >= 2) {
			m->envfd = spool_env_reserve(cf->spool_dir, &m->env);
			if (m->envfd < 0) {
				log_msg(LOG_WARNING, "%s: no room for its envelope update (%s); not "
				        "tried in this pass", m->id, strerror(errno));
				ndue = ndue0;
				free(m->out);
				m->out = NULL;
				envelope_free(&m->env);
				close(m->fd);
				m->fd = -1;
				continue;
			}
		}
		p->nmsgs++;
	}
	narrate("%d message(s) locked, %d recipient(s) due", p->nmsgs, ndue);
	resolve_new(p);

	p->route_job = malloc((p->nroutes ? p->nroutes : 1) * sizeof *p->route_job);
	for (i = 0; p->route_job && i < p->nroutes; i++)
		p->route_job[i] = -1;
	p->jobs = NULL;
	p->njobs = 0;
	for (i = 0; i < ndue; i++) {
		struct qmsg *m = &p->msgs[due[i].msg];
		struct spool_rcpt *r = &m->env.rcpts[due[i].rcpt];
		struct dns_route *rt;

		if (due[i].route == -1) {
			/* A local domain: only our own bounces get here. */
			char why[SMTP_REPLY_MAX + 1];
			struct msgtext text = { .fd = m->fd };
			int rc = inject_queued(cf, &text, &m->env, r, why, sizeof why);
			set_outcome(m, due[i].rcpt, rc == RES_OK ? 'S' : rc == RES_PERM ? 'B' : 'D',
			            "local", why);
			continue;
		}
		rt = &p->routes[due[i].route];
		if (rt->result == RES_PERM)
			set_outcome(m, due[i].rcpt, 'B', "none", rt->why);
		else if (rt->result != RES_OK || !p->route_job ||
		         job_add(p, due[i].route, due[i].msg, due[i].rcpt) < 0)
			set_outcome(m, due[i].rcpt, 'D', "none",
			            rt->why[0] ? rt->why : "451 4.3.0 out of memory");
	}
	free(due);

	/* Messages no worker holds are done now; the rest as workers end. */
	for (i = 0; i < p->nmsgs; i++)
		if (p->msgs[i].jobs_left == 0)
			finish_msg(p, &p->msgs[i]);
	run_jobs(p);
	for (i = 0; i < p->nmsgs; i++)
		if (p->msgs[i].fd >= 0)
			finish_msg(p, &p->msgs[i]);
	sync_removals(p);

	for (i = 0; i < p->njobs; i++) {
		for (k = 0; k < p->jobs[i].nitems; k++)
			free(p->jobs[i].items[k].rcpts);
		free(p->jobs[i].items);
	}
	free(p->jobs);
	p->jobs = NULL;
	free(p->route_job);
	p->route_job = NULL;
	free(p->msgs);
	p->msgs = NULL;
}

/* batch_size - how many messages one batch may lock (two fds each). */
static int batch_size(const struct config *cf)
{
	struct rlimit rl;
	long room;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Two descriptors per message: msg/ID and its reserved tmp/ID.env. */
	room = ((long)rl.rlim_cur - 64 - 2L * cf->max_connections) / 2;
	if (room > RELAY_BATCH_MAX)
		room = RELAY_BATCH_MAX;
	return room < 16 ? 16 : (int)room;
}

/* main - options, configuration, housekeeping, then the pass in batches. */
int main(int argc, char **argv)
{
	static struct config cf;
	const char *file = CONFIG_DEFAULT;
	int opt, flush = 0, list = 0, pickup_only = 0, i, batch;
	char err[1024], **ids;
	int nids;
	struct pass p;

	while ((opt = getopt(argc, argv, "c:vflpV")) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 'v': verbose_flag = 1; break;
		case 'f': flush = 1; break;
		case 'l': list = 1; break;
		case 'p': pickup_only = 1; break;
		case 'V':
			printf("relay-agent %s\n", VERSION);
			return 0;
		default: usage();
		}
	}
	if (optind != argc || flush + list + pickup_only > 1)
		usage();

	log_init("relay-agent");
	config_set_reporter(log_later);
	if (config_load(&cf, file, CONFIG_FULL, err, sizeof err) < 0) {
		fprintf(stderr, "relay-agent: %s\n", err);
		log_msg(LOG_ERR, "configuration error: %s", err);
		return EXIT_CONFIG;
	}
	/* Started as root (cron): the mailbox helper keeps root, the rest
	 * runs as the spool's owner. */
	if (mkmbox_child_start(&cf) < 0 || spool_become_owner(cf.spool_dir) < 0) {
		fprintf(stderr, "relay-agent: cannot drop root privileges: %s\n", strerror(errno));
		log_msg(LOG_ERR, "cannot drop root privileges: %s", strerror(errno));
		return EXIT_TEMPFAIL;
	}
	if (log_open(cf.log) < 0) {
		fprintf(stderr, "relay-agent: cannot open log %s: %s\n", cf.log, strerror(errno));
		return EXIT_CONFIG;
	}
	if (verbose_flag && !log_target_is_stderr())
		log_to_stderr_too(1);
	if (list)
		return list_queue(&cf);

	signal(SIGPIPE, SIG_IGN);
	pickup_run(&cf, pickup_only);
	if (pickup_only) {
		config_free(&cf);
		return 0;
	}
	if (spool_dirs(cf.spool_dir) < 0 || spool_list(cf.spool_dir, &ids, &nids) < 0) {
		log_msg(LOG_ERR, "cannot read the spool %s: %s", cf.spool_dir, strerror(errno));
		fprintf(stderr, "relay-agent: cannot read the spool %s: %s\n", cf.spool_dir,
		        strerror(errno));
		return EXIT_TEMPFAIL;
	}
	spool_clean_stale(cf.spool_dir);

	memset(&p, 0, sizeof p);
	p.cf = &cf;
	p.force = flush;
	p.verbose = verbose_flag;
	p.opt.helo = cf.hostname;
	p.opt.connect_timeout = cf.connect_timeout;
	p.opt.timeout = cf.smtp_timeout;
	p.opt.verbose = verbose_flag;
	if (cf.smarthost[0] && cf.smarthost_user[0]) {
		p.opt.auth_user = cf.smarthost_user;
		p.opt.auth_password = cf.smarthost_password;
	}
	batch = batch_size(&cf);
	narrate("%d message(s) in the spool", nids);
	for (i = 0; i < nids && !p.update_failed; i += batch)
		run_batch(&p, ids + i, nids - i < batch ? nids - i : batch);
	spool_ids_free(ids, nids);
	free(p.routes);
	config_free(&cf);
	return 0;
}
