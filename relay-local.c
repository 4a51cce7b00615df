/*
 * relay-local.c - the local mailboxes in a relay-agent pass: queued copies
 * for a mailbox that was busy, bounces to local senders, queued mail for
 * local addresses.
 *
 * Each unit holds the recipients of one message for one mailbox (its key:
 * the MAILBOX of a copy that waited, else the address's local part,
 * lower-cased, without +tag; two addresses reaching one mailbox through
 * aliases share nothing, and deliver.c's locks keep them apart). Up to
 * RELAY_LOCAL_WORKERS processes deliver them (inject_queued, with a short
 * lock wait: a copy that cannot be appended now stays queued), never two
 * for one key at once, so one busy mailbox holds back only its own copies.
 * A key whose delivery failed for now (busy, over quota, the password
 * database down) is remembered for the pass: its further copies are
 * deferred at once with the same reason, without another wait.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "log.h"
#include "relay-pass.h"
#include "util.h"

/* local_key - the key of local recipient R into OUT. */
void local_key(const struct spool_rcpt *r, char *out, size_t outsz)
{
	const char *a = r->addr, *at = strrchr(a, '@');
	size_t n = at ? (size_t)(at - a) : strlen(a);

	if (r->mailbox[0]) {
		snprintf(out, outsz, "%s", r->mailbox);
		return;
	}
	n = strcspn(a, "+") < n ? strcspn(a, "+") : n;
	snprintf(out, outsz, "%.*s", (int)n, a);
	str_lower(out);
}

/* failed_why - the reason KEY failed for now in this pass, or NULL. */
static const char *failed_why(const struct pass *p, const char *key)
{
	int i;

	for (i = 0; i < p->nfailed; i++)
		if (strcmp(p->failed[i].key, key) == 0)
			return p->failed[i].why;
	return NULL;
}

/* local_failed - a delivery to U's mailbox failed for now with WHY: its
 * later copies in this pass are deferred at once. */
void local_failed(struct pass *p, const struct unit *u, const char *why)
{
	if (failed_why(p, u->box))
		return;
	if (p->nfailed == p->capfailed) {
		int cap = p->capfailed ? p->capfailed * 2 : 16;
		void *n = realloc(p->failed, (size_t)cap * sizeof *p->failed);
		if (!n)
			return;         /* its copies wait for the lock again */
		p->failed = n;
		p->capfailed = cap;
	}
	snprintf(p->failed[p->nfailed].key, sizeof p->failed[0].key, "%s", u->box);
	snprintf(p->failed[p->nfailed].why, sizeof p->failed[0].why, "%s", why);
	p->nfailed++;
	relay_narrate("mailbox %s cannot take mail now: its other copies wait for the next pass",
	              u->box);
}

/* key_active - whether a local worker is delivering to KEY now. */
static int key_active(const struct pass *p, const char *key)
{
	int i;

	for (i = 0; i < p->nworkers; i++) {
		const struct worker *w = &p->workers[i];
		if (w->local && w->fd >= 0 && w->unit >= 0 && w->unit < p->nunits &&
		    p->units[w->unit] && strcmp(p->units[w->unit]->box, key) == 0)
			return 1;
	}
	return 0;
}

/* local_worker - an idle local worker (started when fewer than
 * RELAY_LOCAL_WORKERS run); -1 when none. */
static int local_worker(struct pass *p)
{
	int i, n = 0;

	for (i = 0; i < p->nworkers; i++) {
		if (!p->workers[i].local || p->workers[i].fd < 0)
			continue;
		if (p->workers[i].unit < 0)
			return i;
		n++;
	}
	return n < RELAY_LOCAL_WORKERS ? pool_worker_start(p, 1) : -1;
}

/* local_dispatch - start the queued local units that may start: one
 * delivery per key at a time; a key that failed in this pass is deferred
 * at once. */
void local_dispatch(struct pass *p)
{
	struct route *rt = &p->local;
	struct unit *u = rt->qhead, *prev = NULL;

	while (u) {
		struct unit *next = u->next;
		const char *why = failed_why(p, u->box);
		int wi = -1, i;

		if (!why && key_active(p, u->box)) {
			prev = u;               /* its turn comes after that one */
			u = next;
			continue;
		}
		if (!why && (wi = local_worker(p)) < 0)
			return;
		/* Off the queue. */
		if (prev)
			prev->next = next;
		else
			rt->qhead = next;
		if (rt->qtail == u)
			rt->qtail = prev;
		rt->nqueued--;
		if (why) {
			for (i = 0; i < u->nrcpts; i++)
				msg_outcome(p, u, i, 'D', "local", why, 0);
			msg_unit_done(p, u);
		} else {
			struct worker *w = &p->workers[wi];
			sched_task_fill(p, u, p->task);
			if (send(w->fd, p->task, sizeof *p->task, MSG_NOSIGNAL) < 0) {
				log_msg(LOG_ERR, "cannot hand a delivery to worker %d: %s", (int)w->pid,
				        strerror(errno));
				for (i = 0; i < u->nrcpts; i++)
					msg_outcome(p, u, i, 'D', "local",
					            "451 4.3.0 cannot hand the delivery to a local worker", 0);
				msg_unit_done(p, u);
			} else {
				rt->inflight++;
				u->worker = wi;
				w->unit = u->id;
			}
		}
		u = next;
	}
}
