/*
 * relay-msg.c - the message side of a relay-agent pass.
 *
 * Messages are taken from the list in order into a fixed number of slots
 * (one descriptor each, two with a reserved envelope), each locked by the
 * flock of its msg/ID: an envelope that cannot be parsed is moved to
 * corrupt/, a held one is skipped. Its due recipients become units for
 * the scheduler (relay-sched.c). A recipient is due at its next attempt,
 * with -f, at expiry (one final attempt), or when its next attempt lies
 * further ahead than any retry delay could put it (the clock was stepped
 * back).
 *
 * Outcomes change the envelope in memory at once and reach the disk
 * within RELAY_FLUSH_MS (msg_flush: each changed envelope written into
 * the room reserved for it, renamed, one fsync of env/ for all). Sent is
 * "sent"; refused is "failed" until the message is done in this pass,
 * then one bounce reports every failed recipient and they become
 * "bounced"; deferred waits retry_min, doubling up to retry_max, never
 * past the expiry. A message with nothing pending leaves the spool:
 * envelope first, its text after the next fsync of env/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounce.h"
#include "log.h"
#include "relay-pass.h"
#include "spool.h"
#include "util.h"

/* relay_expiry - arrival, queue_lifetime, and the time held. */
time_t relay_expiry(const struct config *cf, const struct envelope *env, time_t now)
{
	time_t t = env->arrival + cf->queue_lifetime + env->held;

	if (env->hold && now > env->hold)
		t += now - env->hold;
	return t;
}

/* retry_delay - seconds until the next attempt after ATTEMPTS tries. */
static long retry_delay(const struct config *cf, int attempts)
{
	long d = cf->retry_min;

	while (--attempts > 0 && d < cf->retry_max)
		d *= 2;
	return d < cf->retry_max ? d : cf->retry_max;
}


/*
 * msg_outcome - recipient I of unit U: KIND ('S', 'D', 'B') with REPLY
 * from RELAY. The envelope in memory changes now and is written within
 * RELAY_FLUSH_MS; the log line is written now.
 */
void msg_outcome(struct pass *p, struct unit *u, int i, char kind,
                         const char *relay, const char *reply)
{
	struct qmsg *m = &p->msgs[u->msg];
	struct spool_rcpt *r = &m->env.rcpts[u->rcpt[i]];
	time_t now = time(NULL);
	char why[SMTP_REPLY_MAX + 1];

	if (u->got[i] || r->state != RS_PENDING)
		return;
	u->got[i] = 1;
	r->attempts++;
	r->last_attempt = now;
	snprintf(why, sizeof why, "%s", reply);
	if (kind == 'D' && now >= m->expiry) {
		/* That was the final attempt. */
		snprintf(why, sizeof why, "554 5.4.7 delivery time expired (%.470s)", reply);
		kind = 'B';
	}
	snprintf(r->last_reply, sizeof r->last_reply, "%s", why);
	snprintf(m->relay[u->rcpt[i]], sizeof m->relay[0], "%s", relay);
	log_msg(LOG_INFO, "%s: to=<%s>, relay=%s, delay=%ld, status=%s (%s)", m->id, r->addr,
	        relay, (long)(now - m->env.arrival),
	        kind == 'S' ? "sent" : kind == 'B' ? "bounced" : "deferred", why);
	if (kind == 'S') {
		r->state = RS_SENT;
	} else if (kind == 'B') {
		r->state = RS_FAILED;   /* its bounce goes when the message is done */
	} else {
		time_t next = now + retry_delay(p->cf, r->attempts);
		r->next_attempt = next < m->expiry ? next : m->expiry;
	}
	m->dirty = m->changed = 1;
	if (!p->flush_at)
		p->flush_at = now_ms() + RELAY_FLUSH_MS;
}

/* msg_unit_done - U is over (its recipients without an outcome are left as
 * they were); its message finishes when it was the last. */
void msg_unit_done(struct pass *p, struct unit *u)
{
	int mi = u->msg;

	if (u->worker >= 0)
		u->rt->inflight--;
	p->units[u->id] = NULL;
	p->freeids[p->nfree++] = u->id;
	free(u);
	if (--p->msgs[mi].open == 0)
		msg_finish(p, mi);
}


/* ---------------------------------------------------------- messages */

/* msg_write - write M's envelope (within the next env/ fsync). */
static void msg_write(struct pass *p, struct qmsg *m)
{
	int fd = m->envfd;

	m->envfd = -1;
	m->dirty = 0;
	if (spool_env_put(p->cf->spool_dir, fd, &m->env) != RES_OK) {
		/* The sent recipients still read pending: the next pass would
		 * send them again. Start nothing more now. */
		log_msg(LOG_ERR, "%s: cannot update the envelope: %s; no more deliveries in "
		        "this pass", m->id, strerror(errno));
		p->update_failed = 1;
		return;
	}
	p->need_sync = 1;
	/* Room for the next update, while deliveries of it are still open. */
	if (m->open > 0 && (m->envfd = spool_env_reserve(p->cf->spool_dir, &m->env)) < 0) {
		log_msg(LOG_ERR, "%s: no room for its next envelope update (%s); no more "
		        "deliveries in this pass", m->id, strerror(errno));
		p->update_failed = 1;
	}
}

/* msg_flush - write every changed envelope, one fsync of env/ for all, then
 * remove the message files of the envelopes removed. */
void msg_flush(struct pass *p)
{
	int i;

	for (i = 0; i < p->capmsgs; i++)
		if (p->msgs[i].used && p->msgs[i].dirty)
			msg_write(p, &p->msgs[i]);
	if (p->need_sync && spool_env_sync(p->cf->spool_dir) < 0)
		log_msg(LOG_WARNING, "cannot sync %s/env: %s", p->cf->spool_dir, strerror(errno));
	p->need_sync = 0;
	for (i = 0; i < p->nunlinks; i++)
		if (spool_msg_unlink(p->cf->spool_dir, p->unlinks[i]) < 0)
			log_msg(LOG_ERR, "%s: cannot remove its message file: %s", p->unlinks[i],
			        strerror(errno));
	p->nunlinks = 0;
	p->flush_at = 0;
}

/* msg_bounce - one bounce for M's failed recipients; they become bounced
 * (or pending again when no bounce can be made now). */
static void msg_bounce(struct pass *p, struct qmsg *m)
{
	const struct config *cf = p->cf;
	struct envelope *env = &m->env;
	struct bounce_item *items = calloc(env->nrcpts, sizeof *items);
	char (*status)[16] = calloc(env->nrcpts, sizeof *status);
	time_t now = time(NULL);
	char bid[QUEUE_ID_MAX], why[512];
	int i, nb = 0;

	if (!items || !status)
		goto out;
	for (i = 0; i < env->nrcpts; i++) {
		struct spool_rcpt *r = &env->rcpts[i];
		char *b;

		if (r->state != RS_FAILED)
			continue;
		bounce_status(r->last_reply, status[nb], sizeof status[nb]);
		status[nb][0] = '5';    /* a failure reported as final */
		items[nb].rcpt = r;
		items[nb].status = status[nb];
		items[nb].remote_mta = NULL;
		if ((b = strchr(m->relay[i], '[')) != NULL) {
			*b = '\0';      /* "host[ip]:port" -> "host" */
			items[nb].remote_mta = m->relay[i];
		}
		items[nb].diagnostic = r->last_reply;
		items[nb].when = r->last_attempt ? r->last_attempt : now;
		nb++;
	}
	if (nb == 0)
		goto out;
	if (env->sender[0] == '\0') {
		log_msg(LOG_INFO, "%s: bounce dropped: the message is itself a bounce (from <>)",
		        m->id);
	} else if (bounce_send(cf, env, m->fd, items, nb, bid, sizeof bid, why, sizeof why)
	           == RES_OK) {
		if (bid[0])
			log_msg(LOG_INFO, "%s: sender non-delivery notification: %s", m->id, bid);
		else
			log_msg(LOG_INFO, "%s: bounce dropped: %s", m->id, why);
	} else {
		/* No bounce, no loss: the recipients stay pending and the next
		 * pass meets the same failure again. */
		log_msg(LOG_WARNING, "%s: %s; recipients kept in the queue", m->id, why);
		for (i = 0; i < env->nrcpts; i++)
			if (env->rcpts[i].state == RS_FAILED) {
				env->rcpts[i].state = RS_PENDING;
				env->rcpts[i].next_attempt = now + cf->retry_min;
			}
		m->changed = 1;
		goto out;
	}
	for (i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == RS_FAILED)
			env->rcpts[i].state = RS_BOUNCED;
	m->changed = 1;
out:
	free(items);
	free(status);
}

/* msg_release - forget slot MI: unlock, free. */
static void msg_release(struct pass *p, int mi)
{
	struct qmsg *m = &p->msgs[mi];

	if (m->envfd >= 0)
		spool_env_unreserve(p->cf->spool_dir, m->id, m->envfd);
	envelope_free(&m->env);
	free(m->relay);
	close(m->fd);
	memset(m, 0, sizeof *m);
	m->fd = m->envfd = -1;
	p->nactive--;
}

/* msg_finish - nothing of message MI is open in this pass: bounce what
 * failed, then write the envelope or remove the message. */
void msg_finish(struct pass *p, int mi)
{
	struct qmsg *m = &p->msgs[mi];
	int i, live = 0;

	msg_bounce(p, m);
	for (i = 0; i < m->env.nrcpts; i++)
		live += m->env.rcpts[i].state == RS_PENDING || m->env.rcpts[i].state == RS_FAILED;
	if (live == 0) {
		/* Envelope now, text after the next fsync of env/: an
		 * envelope never lacks its text, even after a crash. */
		if (spool_env_unlink(p->cf->spool_dir, m->id) < 0) {
			log_msg(LOG_ERR, "%s: cannot remove from the spool: %s", m->id,
			        strerror(errno));
		} else {
			log_msg(LOG_INFO, "%s: removed", m->id);
			p->need_sync = 1;
			if (p->nunlinks == p->capunlinks) {
				int cap = p->capunlinks ? p->capunlinks * 2 : 64;
				void *n = realloc(p->unlinks, (size_t)cap * sizeof *p->unlinks);
				if (n) {
					p->unlinks = n;
					p->capunlinks = cap;
				}
			}
			/* No room to remember it: housekeeping removes the text. */
			if (p->nunlinks < p->capunlinks)
				snprintf(p->unlinks[p->nunlinks++], QUEUE_ID_MAX, "%s", m->id);
		}
		if (!p->flush_at)
			p->flush_at = now_ms() + RELAY_FLUSH_MS;
	} else if (m->changed) {
		msg_write(p, m);
		if (!p->flush_at)
			p->flush_at = now_ms() + RELAY_FLUSH_MS;
	}
	msg_release(p, mi);
}

/* msg_due - whether pending recipient R is to be tried now. */
static int msg_due(const struct pass *p, const struct qmsg *m, const struct spool_rcpt *r,
                   time_t now)
{
	if (p->force || r->next_attempt <= now || now >= m->expiry)
		return 1;
	/* A next attempt further ahead than any retry delay can put it: the
	 * clock was stepped back since. */
	return r->next_attempt > now + p->cf->retry_max + 3600;
}

/* msg_plan - the due recipients of message MI as units; 1 when anything
 * of it is to be done in this pass. */
static int msg_plan(struct pass *p, int mi)
{
	struct qmsg *m = &p->msgs[mi];
	struct unit *open[64];          /* the unit being filled per route */
	struct route *openrt[64];
	int nopen = 0, i, k, pending = 0, due = 0, failed = 0;
	time_t now = time(NULL);

	for (i = 0; i < m->env.nrcpts; i++) {
		pending += m->env.rcpts[i].state == RS_PENDING;
		failed += m->env.rcpts[i].state == RS_FAILED;
		due += m->env.rcpts[i].state == RS_PENDING && msg_due(p, m, &m->env.rcpts[i], now);
	}
	if (due == 0)
		return failed > 0;      /* a bounce a crash kept from going */
	/* The envelope update after a delivery must not fail for want of
	 * space (the sent recipients would be sent again on every pass): its
	 * room is taken now, or the message waits. With one pending
	 * recipient no update can matter: sent or bounced, the message is
	 * removed; deferred, a lost update only means the same attempt. */
	if (pending >= 2 && (m->envfd = spool_env_reserve(p->cf->spool_dir, &m->env)) < 0) {
		log_msg(LOG_WARNING, "%s: no room for its envelope update (%s); not tried in "
		        "this pass", m->id, strerror(errno));
		return failed > 0;
	}
	for (i = 0; i < m->env.nrcpts; i++) {
		struct spool_rcpt *r = &m->env.rcpts[i];
		struct route *rt;
		struct unit *u = NULL;

		if (r->state != RS_PENDING || !msg_due(p, m, r, now))
			continue;
		if (!(rt = sched_route(p, r)))
			continue;       /* out of memory: tried next time */
		for (k = 0; k < nopen; k++)
			if (openrt[k] == rt)
				u = open[k];
		if (u && u->nrcpts == RELAY_TXN_RCPTS_MAX)
			u = NULL;
		if (!u) {
			if (!(u = sched_unit_new(p, mi, rt)))
				continue;
			sched_unit_queue(p, u);
			for (k = 0; k < nopen && openrt[k] != rt; k++)
				;
			if (k == nopen && nopen < 64)
				nopen++;
			if (k < 64) {
				openrt[k] = rt;
				open[k] = u;
			}
		}
		u->rcpt[u->nrcpts++] = i;
	}
	return 1;
}

/* msg_take - lock message ID into a free slot and plan it; 0 when there
 * is nothing to do with it. */
static int msg_take(struct pass *p, const char *id)
{
	struct qmsg *m = NULL;
	struct stat st;
	int mi;

	for (mi = 0; mi < p->capmsgs; mi++)
		if (!p->msgs[mi].used) {
			m = &p->msgs[mi];
			break;
		}
	if (!m)
		return 0;
	memset(m, 0, sizeof *m);
	m->envfd = -1;
	snprintf(m->id, sizeof m->id, "%s", id);
	m->fd = spool_msg_open(p->cf->spool_dir, id);
	if (m->fd < 0) {
		if (errno == ENOENT)
			spool_env_orphan(p->cf->spool_dir, id);
		else
			log_msg(LOG_ERR, "%s: cannot open its message file: %s", id, strerror(errno));
		return 0;
	}
	if (flock(m->fd, LOCK_EX | LOCK_NB) < 0) {
		relay_narrate("%s: busy in another pass, skipped", id);
		goto skip;
	}
	/* Locked. Another pass may have finished it meanwhile. */
	if (fstat(m->fd, &st) < 0 || st.st_nlink == 0)
		goto skip;
	m->size = st.st_size;
	if (spool_env_load(p->cf->spool_dir, id, &m->env) < 0) {
		if (errno == EINVAL) {
			if (spool_corrupt(p->cf->spool_dir, id) == 0)
				log_msg(LOG_ERR, "%s: malformed envelope: moved to %s/corrupt/", id,
				        p->cf->spool_dir);
			else
				log_msg(LOG_ERR, "%s: malformed envelope, cannot move it aside: %s", id,
				        strerror(errno));
		} else if (errno != ENOENT) {
			log_msg(LOG_ERR, "%s: cannot read its envelope: %s", id, strerror(errno));
		}
		goto skip;
	}
	if (m->env.hold) {
		relay_narrate("%s: on hold, skipped", id);
		envelope_free(&m->env);
		goto skip;
	}
	if (!(m->relay = calloc(m->env.nrcpts, sizeof *m->relay))) {
		envelope_free(&m->env);
		goto skip;
	}
	m->used = 1;
	m->expiry = relay_expiry(p->cf, &m->env, time(NULL));
	p->nactive++;
	if (!msg_plan(p, mi)) {
		msg_release(p, mi);
		return 0;
	}
	if (m->open == 0)
		msg_finish(p, mi);
	return 1;
skip:
	close(m->fd);
	m->fd = -1;
	return 0;
}

/* msg_take_more - fill the free slots with the next messages of the list. */
void msg_take_more(struct pass *p)
{
	while (!p->stopping && !p->update_failed && p->nactive < p->capmsgs &&
	       p->nextid < p->nids)
		msg_take(p, p->ids[p->nextid++]);
}

