/*
 * inject.h - the one way mail enters storage. A message and its
 * recipients become mbox copies and a spool entry, all or nothing.
 *
 * Every source of mail uses it: smtp-session for each message it accepts
 * (network clients, local submissions, the maildrop's pickup), and
 * relay-agent for bounces and for queued mail to a local address. Local
 * addresses are expanded through the users file here, and only here.
 *
 *	inject_begin(&in, cf, sender);
 *	inject_add(&in, orig, addr, why, whysz);   per recipient (RCPT time)
 *	inject_store(&in, &text, why, whysz);      after DATA
 *	inject_end(&in);
 */
#ifndef INJECT_H
#define INJECT_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "deliver.h"
#include "envelope.h"
#include "msgtext.h"

struct inject {
	const struct config *cf;
	struct envelope env;    /* the spool's share: foreign targets, and
	                           local copies that had to wait; sender,
	                           body, auth, client and helo are set by the
	                           caller before inject_store */
	struct mbox_txn txn;    /* the mailboxes' share */
	int may_wait;           /* a mailbox that is busy or over quota gets
	                           its copy through the spool (sessions); 0:
	                           the store fails instead (relay-agent) */
	int nwaiting;           /* copies inject_store sent to the spool for
	                           that reason */
	int max_boxes;          /* distinct mailboxes one message may have:
	                           INJECT_TARGETS_MAX unless the descriptor
	                           limit is lower (each is held open at once) */
};

/* inject_begin - an empty injection of a message from SENDER ("" for <>). */
void inject_begin(struct inject *in, const struct config *cf, const char *sender);

/*
 * inject_add - route the recipient ADDR ("local@domain", or a bare
 * "postmaster"), given as ORIG. A local address is expanded into its
 * mailboxes and foreign targets; a foreign one goes to the spool. The
 * distinct targets of one message are at most INJECT_TARGETS_MAX, its
 * mailboxes at most in->max_boxes. A local address whose expansion needs
 * a ~/.forward that cannot be read now goes to the spool as it is when
 * in->may_wait (a session), for relay-agent to expand; else it fails
 * temporarily. Each mailbox remembers the first ORIG that reached it.
 * RES_OK; RES_PERM with "550 5.1.1 ..." (no such local name, an unusable
 * alias) or "550 5.7.1 ..." in WHY; RES_TEMP with "452 4.5.3 ..." (over
 * a limit: nothing of it added) or "451 4.3.0 ..." (the password
 * database or a ~/.forward cannot be read now).
 */
int inject_add(struct inject *in, const char *orig, const char *addr,
               char *why, size_t whysz);

/*
 * inject_add_mailbox - a copy for local mailbox NAME as such (a queued
 * copy that waited for a busy mailbox): never expanded again.
 * DELIVERED_TO is its Delivered-To address. RES_OK, RES_PERM when NAME
 * is no mailbox (any more), or RES_TEMP when the lookup itself failed
 * (the password database, under users system).
 */
int inject_add_mailbox(struct inject *in, const char *orig, const char *name,
                       const char *delivered_to, char *why, size_t whysz);

/* inject_targets - distinct mailboxes and foreign targets so far. */
int inject_targets(const struct inject *in);

/*
 * inject_store - store TEXT for every target: lock and append every
 * mailbox, commit the spool entry, and only then return RES_OK (every
 * copy fsynced). RES_TEMP with the SMTP reply in WHY otherwise, and then
 * no mailbox holds any part of the message and the spool has nothing of
 * it. When TEXT has an id (it was staged under one), the spool entry, if
 * any, takes it; else it gets a new one (in in->env.id afterwards).
 */
int inject_store(struct inject *in, const struct msgtext *text, char *why, size_t whysz);

/* inject_log - one log line per stored copy: ID, DELAY seconds. */
void inject_log(const struct inject *in, const char *id, double delay);

/*
 * inject_queued - relay-agent's delivery of the queued message TEXT
 * (envelope ENV) to its local recipient R, now: the mailboxes of R's
 * address (or R's own mailbox, for a copy that waited), and a new spool
 * entry for the foreign targets of an alias. A mailbox still locked after
 * LOCK_WAIT_MS (0: LOCK_WAIT_MAX_MS) fails it: the copy stays queued, so
 * a short wait loses nothing. RES_OK, RES_PERM (no such name: a bounce)
 * or RES_TEMP, with the reply in WHY.
 */
int inject_queued(const struct config *cf, const struct msgtext *text,
                  const struct envelope *env, const struct spool_rcpt *r,
                  long lock_wait_ms, char *why, size_t whysz);

/* inject_end - release everything; IN may be begun again. */
void inject_end(struct inject *in);

#endif
