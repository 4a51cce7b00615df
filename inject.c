/*
 * inject.c - the one way mail enters storage (see inject.h).
 *
 * A message's targets are its local mailboxes (struct mbox_txn, deliver.c)
 * and its spool recipients (struct envelope, spool.c). inject_store writes
 * them in this order, so that one failure undoes everything:
 *
 *   1. lock every mailbox in name order (a busy one may be set aside);
 *   2. append to each and fsync (one over quota may be set aside);
 *   3. commit the spool entry: foreign targets, and a copy for each
 *      mailbox set aside, which relay-agent appends later (same retry,
 *      lifetime and bounce rules as remote delivery);
 *   4. only now is everything durable: release the locks.
 *
 * Should step 3 fail, the mailboxes, still locked, are truncated back. A
 * hard failure (disk full, I/O error) is a RES_TEMP with nothing stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "inject.h"
#include "log.h"
#include "spool.h"
#include "users.h"
#include "util.h"

/* inject_begin - an empty injection from SENDER. */
void
inject_begin(struct inject *in, const struct config *cf, const char *sender)
{
	memset(in, 0, sizeof *in);
	in->cf = cf;
	deliver_init(&in->txn, cf->mailbox_dir);
	in->txn.system = cf->users_system;
	in->txn.helper = cf->mkmbox_socket;
	in->txn.spool_dir = cf->spool_dir;
	strlcpy_ck(in->env.sender, sender, sizeof in->env.sender);
	strcpy(in->env.body, "7BIT");
	in->env.version = ENVELOPE_VERSION;
	in->max_boxes = INJECT_TARGETS_MAX;
}

/* inject_targets - distinct mailboxes and foreign targets so far. */
int
inject_targets(const struct inject *in)
{
	return in->txn.nboxes + in->env.nrcpts;
}

/* has_foreign - whether ADDR is a spool recipient already (any case). */
static int
has_foreign(const struct inject *in, const char *addr)
{
	for (int i = 0; i < in->env.nrcpts; i++)
		if (!in->env.rcpts[i].mailbox[0] && strcasecmp(in->env.rcpts[i].addr, addr) == 0)
			return 1;
	return 0;
}

/* box_named - the mailbox NAME of the message, or NULL. */
static struct mbox *
box_named(const struct inject *in, const char *name)
{
	for (int i = 0; i < in->txn.nboxes; i++)
		if (strcmp(in->txn.boxes[i].name, name) == 0)
			return &in->txn.boxes[i];
	return NULL;
}

/* has_mailbox - whether NAME is one of the mailboxes already. */
static int
has_mailbox(const struct inject *in, const char *name)
{
	return box_named(in, name) != NULL;
}

/* box_add - mailbox NAME for the recipient ORIG (the first recipient
 * that reaches it is kept: a copy set aside is queued for it); -1 when
 * out of memory. */
static int
box_add(struct inject *in, const char *orig, const char *name, const char *delivered_to)
{
	struct mbox *b;

	if (deliver_add(&in->txn, name, delivered_to) < 0 || !(b = box_named(in, name)))
		return -1;
	if (!b->orig[0])
		strlcpy_ck(b->orig, orig, sizeof b->orig);
	return 0;
}

/* too_many - the reply for an address that would pass the limit. */
static int
too_many(char *why, size_t whysz)
{
	snprintf(why, whysz, "452 4.5.3 Error: too many recipients");
	return RES_TEMP;
}

/* split_addr - ADDR into its unquoted local part and lower-cased domain
 * ("" for a bare postmaster); -1 when the local part does not fit. */
static int
split_addr(const char *addr, char *local, size_t localsz, char *dom, size_t domsz)
{
	const char *at = strrchr(addr, '@');
	char raw[LOCALPART_MAX + 3];
	size_t ll = at ? (size_t)(at - addr) : strlen(addr);

	if (ll >= sizeof raw)
		return -1;
	memcpy(raw, addr, ll);
	raw[ll] = '\0';
	if (strlcpy_ck(dom, at ? at + 1 : "", domsz) < 0)
		return -1;
	str_lower(dom);
	return addr_local_unquoted(raw, local, localsz);
}

/* inject_add - route one recipient (see inject.h). */
int
inject_add(struct inject *in, const char *orig, const char *addr, char *why, size_t whysz)
{
	const struct config *cf = in->cf;
	char local[LOCALPART_MAX + 1], dom[DOMAIN_MAX + 1], dt[ADDR_MAX + 1];
	struct expansion *ex;
	int rc, fresh = 0, fresh_boxes = 0, i;

	if (split_addr(addr, local, sizeof local, dom, sizeof dom) < 0) {
		snprintf(why, whysz, "501 5.5.4 <%s>: bad address", addr);
		return RES_PERM;
	}
	if (dom[0] && !config_is_local_domain(cf, dom)) {
		if (has_foreign(in, addr))
			return RES_OK;
		if (inject_targets(in) >= INJECT_TARGETS_MAX)
			return too_many(why, whysz);
		if (envelope_add_rcpt(&in->env, orig, addr, NULL) < 0) {
			snprintf(why, whysz, "451 4.3.0 Error: out of memory");
			return RES_TEMP;
		}
		return RES_OK;
	}

	/* A local address: its mailboxes and foreign targets. */
	/* Only the counts need clearing: calloc would touch every page. */
	if (!(ex = malloc(sizeof *ex))) {
		snprintf(why, whysz, "451 4.3.0 Error: out of memory");
		return RES_TEMP;
	}
	ex->nmailboxes = ex->nforeign = 0;
	rc = users_expand(cf, local, ex);
	if (rc == UX_UNKNOWN) {
		snprintf(why, whysz, "550 5.1.1 <%s>: Recipient address rejected: User unknown",
		    addr);
		rc = RES_PERM;
		goto out;
	}
	if (rc == UX_UNSUPPORTED) {
		snprintf(why, whysz, "550 5.7.1 <%s>: Recipient address rejected: delivery to "
		    "a command, a file or an include list is not supported", addr);
		rc = RES_PERM;
		goto out;
	}
	if (rc == UX_BROKEN) {
		snprintf(why, whysz, "550 5.1.1 <%s>: Recipient address rejected: unusable alias",
		    addr);
		rc = RES_PERM;
		goto out;
	}
	if (rc == UX_TEMP) {
		snprintf(why, whysz, "451 4.3.0 <%s>: Temporary lookup failure", addr);
		rc = RES_TEMP;
		goto out;
	}
	if (rc == UX_DEFER && in->may_wait) {
		/* A ~/.forward the session cannot have read now: the address
		 * waits in the queue, and relay-agent expands it again. */
		if (has_foreign(in, addr))
			rc = RES_OK;
		else if (inject_targets(in) >= INJECT_TARGETS_MAX)
			rc = too_many(why, whysz);
		else if (envelope_add_rcpt(&in->env, orig, addr, NULL) < 0) {
			snprintf(why, whysz, "451 4.3.0 Error: out of memory");
			rc = RES_TEMP;
		} else
			rc = RES_OK;
		goto out;
	}
	if (rc == UX_DEFER) {
		snprintf(why, whysz, "451 4.3.0 <%s>: its ~/.forward cannot be read now", addr);
		rc = RES_TEMP;
		goto out;
	}
	if (rc != UX_FOUND) {
		rc = too_many(why, whysz);
		goto out;
	}
	for (i = 0; i < ex->nmailboxes; i++)
		fresh_boxes += !has_mailbox(in, ex->mailboxes[i]);
	fresh = fresh_boxes;
	for (i = 0; i < ex->nforeign; i++)
		fresh += !has_foreign(in, ex->foreign[i]);
	if (inject_targets(in) + fresh > INJECT_TARGETS_MAX ||
	    in->txn.nboxes + fresh_boxes > in->max_boxes) {
		rc = too_many(why, whysz);
		goto out;
	}
	rc = RES_OK;
	for (i = 0; i < ex->nmailboxes && rc == RES_OK; i++) {
		snprintf(dt, sizeof dt, "%s@%s", ex->mailboxes[i], dom[0] ? dom : cf->domains[0]);
		if (box_add(in, orig, ex->mailboxes[i], dt) < 0)
			rc = RES_TEMP;
	}
	for (i = 0; i < ex->nforeign && rc == RES_OK; i++)
		if (!has_foreign(in, ex->foreign[i]) &&
		    envelope_add_rcpt(&in->env, orig, ex->foreign[i], NULL) < 0)
			rc = RES_TEMP;
	if (rc != RES_OK)
		snprintf(why, whysz, "451 4.3.0 Error: out of memory");
out:
	expansion_free(ex);
	free(ex);
	return rc;
}

/* inject_add_mailbox - a copy for mailbox NAME as such. */
int
inject_add_mailbox(struct inject *in, const char *orig, const char *name,
                   const char *delivered_to, char *why, size_t whysz)
{
	char box[USER_NAME_MAX + 1];
	int rc = users_mailbox(in->cf, name, box, sizeof box);

	if (rc < 0) {
		/* The password database failed: the reply stays generic, the
		 * reason goes to the log. */
		log_msg(LOG_WARNING, "cannot look up local mailbox %s: %s", name, strerror(errno));
		snprintf(why, whysz, "451 4.3.0 <%s>: Temporary lookup failure", delivered_to);
		return RES_TEMP;
	}
	if (rc == 0) {
		snprintf(why, whysz, "550 5.1.1 <%s>: no such local mailbox", delivered_to);
		return RES_PERM;
	}
	if (has_mailbox(in, box))
		return RES_OK;
	if (box_add(in, orig, box, delivered_to) < 0) {
		snprintf(why, whysz, "451 4.3.0 Error: out of memory");
		return RES_TEMP;
	}
	return RES_OK;
}

/* waiting_to_spool - give each mailbox set aside its spool recipient. */
static int
waiting_to_spool(struct inject *in)
{
	for (int i = 0; i < in->txn.nboxes; i++) {
		const struct mbox *b = &in->txn.boxes[i];
		if (!b->waiting)
			continue;
		/* The address the client gave (an alias, say), not the
		 * mailbox's own: a DSN about this copy names it. */
		if (envelope_add_rcpt(&in->env, b->orig[0] ? b->orig : b->delivered_to,
		    b->delivered_to, b->name) < 0)
			return -1;
		in->nwaiting++;
		log_msg(LOG_INFO, "mailbox %s %s: its copy waits in the queue", b->name,
		    b->aside ? b->aside : "cannot take it now");
	}
	return 0;
}

/* inject_store - every copy durable, or nothing stored (see inject.h). */
int
inject_store(struct inject *in, const struct msgtext *text, char *why, size_t whysz)
{
	const struct config *cf = in->cf;
	time_t now = time(NULL);
	int err;

	in->env.arrival = now;
	if (text->id)
		strlcpy_ck(in->env.id, text->id, sizeof in->env.id);
	if (in->txn.nboxes > 0) {
		if (deliver_lock_all(&in->txn, in->may_wait, why, whysz) != RES_OK)
			return RES_TEMP;
		if (deliver_append_all(&in->txn, text, in->env.sender, now, in->may_wait,
		    why, whysz) != RES_OK) {
			deliver_release(&in->txn);
			return RES_TEMP;
		}
		if (waiting_to_spool(in) < 0) {
			deliver_rollback(&in->txn);
			deliver_release(&in->txn);
			snprintf(why, whysz, "451 4.3.0 Error: out of memory");
			return RES_TEMP;
		}
	}
	/* The spool entry: the commit point for relay-agent. Should it fail,
	 * the mailboxes, still locked, are truncated back. */
	if (in->env.nrcpts > 0 && spool_commit(cf->spool_dir, text, &in->env) != RES_OK) {
		err = errno;
		log_msg(LOG_ERR, "cannot queue a message in %s: %s", cf->spool_dir, strerror(err));
		deliver_rollback(&in->txn);
		deliver_release(&in->txn);
		if (err == ENOSPC || err == EDQUOT || err == EFBIG)
			snprintf(why, whysz, "452 4.3.1 Insufficient system storage");
		else
			snprintf(why, whysz, "451 4.3.0 Error: queue file write error");
		return RES_TEMP;
	}
	/* Every copy is on disk: the locks may go. */
	deliver_release_locks(&in->txn);
	return RES_OK;
}

/* inject_log - one line per stored copy (addresses escaped: client text). */
void
inject_log(const struct inject *in, const char *id, double delay)
{
	char to[4 * ADDR_MAX + 1], orig[4 * ADDR_MAX + 1];

	for (int i = 0; i < in->txn.nboxes; i++)
		if (!in->txn.boxes[i].waiting)
			log_msg(LOG_INFO, "%s: to=<%s>, relay=local, delay=%.2f, status=sent "
			    "(delivered to mailbox %s)", id,
			    log_token(to, sizeof to, in->txn.boxes[i].delivered_to), delay,
			    in->txn.boxes[i].name);
	for (int i = 0; i < in->env.nrcpts; i++)
		log_msg(LOG_INFO, "%s: to=<%s>, orig_to=<%s>, relay=spool, delay=%.2f, "
		    "status=queued (%sfor relay-agent)", id,
		    log_token(to, sizeof to, in->env.rcpts[i].addr),
		    log_token(orig, sizeof orig, in->env.rcpts[i].orig), delay,
		    in->env.rcpts[i].mailbox[0] ? "mailbox busy, " : "");
}

/* inject_end - release everything. */
void
inject_end(struct inject *in)
{
	deliver_release(&in->txn);
	envelope_free(&in->env);
	in->nwaiting = 0;
}

/* inject_queued - deliver queued TEXT to its local recipient R now. */
int
inject_queued(const struct config *cf, const struct msgtext *text,
              const struct envelope *env, const struct spool_rcpt *r,
              long lock_wait_ms, char *why, size_t whysz)
{
	struct inject in;
	int rc;

	inject_begin(&in, cf, env->sender);
	in.txn.lock_wait_ms = lock_wait_ms;
	strlcpy_ck(in.env.body, env->body, sizeof in.env.body);
	strlcpy_ck(in.env.auth, env->auth, sizeof in.env.auth);
	strlcpy_ck(in.env.client, env->client, sizeof in.env.client);
	strlcpy_ck(in.env.helo, env->helo, sizeof in.env.helo);
	rc = r->mailbox[0] ? inject_add_mailbox(&in, r->orig, r->mailbox, r->addr, why, whysz)
	                   : inject_add(&in, r->orig, r->addr, why, whysz);
	if (rc == RES_OK)
		rc = inject_store(&in, text, why, whysz);
	if (rc == RES_OK) {
		if (in.env.nrcpts > 0)
			snprintf(why, whysz, "250 2.0.0 delivered to %d mailbox(es), forwarded as %s",
			    in.txn.nboxes, in.env.id);
		else
			snprintf(why, whysz, "250 2.0.0 delivered to mailbox");
	}
	inject_end(&in);
	return rc;
}
