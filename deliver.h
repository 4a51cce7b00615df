/*
 * deliver.h - local delivery: append one message to several mboxes,
 * all or nothing.
 *
 * Mailboxes are locked in name order (our own turn on the mailbox,
 * turnlock.h; then the dotlock NAME.lock and an fcntl write lock on the
 * mbox) and all held until the last fsync, so a failure anywhere
 * truncates every one of them back to its old size. A delivery never
 * waits for one mailbox while it holds another.
 */
#ifndef DELIVER_H
#define DELIVER_H

#include <sys/types.h>
#include <time.h>

#include "bounds.h"
#include "msgtext.h"

struct mbox {
	char name[USER_NAME_MAX + 1];   /* from the users file */
	char delivered_to[ADDR_MAX + 1];/* NAME@DOMAIN for Delivered-To: */
	char orig[ADDR_MAX + 1];        /* the recipient (RCPT) that first
	                                   reached it: set by inject.c */
	int fd;                         /* -1 when not open */
	int dotlocked;
	dev_t lock_dev;                 /* the dotlock we made: removed only */
	ino_t lock_ino;                 /* while it is still that file */
	off_t oldsize;
	int appended;                   /* something was written */
	int created;                    /* this delivery created the file */
	int waiting;                    /* busy past the wait, over quota, or
	                                   unusable: set aside, not written */
	const char *aside;              /* why it was set aside (for the log) */
	int held;                       /* turn and locks ours (while locking) */
};

struct mbox_txn {
	char dir[CONF_PATH_MAX];
	int system;                     /* users system: a missing mailbox is
	                                   made for its user (mkmbox.c) and one
	                                   owned by another user is refused */
	const char *helper;             /* the mailbox helper's socket */
	long lock_wait_ms;              /* the locks' wait; 0: LOCK_WAIT_MAX_MS */
	const char *spool_dir;          /* where the turns are (turnlock.h);
	                                   NULL: deliveries do not take turns */
	int turns;                      /* the turns file while open (every
	                                   turn taken ends when it is closed,
	                                   with the locks); -1 */
	struct mbox *boxes;             /* sorted by name, no duplicates */
	int nboxes;
	int cap;
};

/* deliver_init - an empty transaction on mailbox directory DIR. */
void deliver_init(struct mbox_txn *t, const char *dir);

/* deliver_add - add mailbox NAME (once; later duplicates ignored). */
int deliver_add(struct mbox_txn *t, const char *name, const char *delivered_to);

/*
 * deliver_lock_all - lock every mailbox in name order (our turn, then the
 * dotlock and the fcntl lock), waiting at most t->lock_wait_ms
 * (LOCK_WAIT_MAX_MS when 0) in all. Each is tried without waiting; for a
 * busy one every lock held is let go, that one is waited for alone, and
 * the others are taken again. With MAY_WAIT, a mailbox still locked at
 * the deadline is set aside (its `waiting' set, not held), and so is one
 * unusable under users system (missing and not made, unreadable to us, a
 * hard link, not a plain file, not its user's) at once; without, either
 * fails it all. RES_OK, or RES_TEMP with every lock released and a reason
 * in WHY.
 */
int deliver_lock_all(struct mbox_txn *t, int may_wait, char *why, size_t whysz);

/*
 * deliver_append_all - append the message TEXT to every mailbox not set
 * aside, with From line, Return-Path and Delivered-To, mboxrd quoting,
 * fsync. With MAY_WAIT, a mailbox over its quota (EDQUOT) is truncated
 * back and set aside. RES_OK, or RES_TEMP after truncating every mailbox
 * back.
 */
int deliver_append_all(struct mbox_txn *t, const struct msgtext *text,
                       const char *sender, time_t when, int may_wait,
                       char *why, size_t whysz);

/* deliver_rollback - truncate every appended mailbox back and fsync. */
void deliver_rollback(struct mbox_txn *t);

/* deliver_release_locks - drop every lock and close (the list of
 * mailboxes stays, for the log). */
void deliver_release_locks(struct mbox_txn *t);

/* deliver_release - drop every lock and close; frees the transaction. */
void deliver_release(struct mbox_txn *t);

/*
 * deliver_on_signal - the process is ending while a transaction holds
 * mailbox locks (a signal handler, an exit): an append not yet final is
 * truncated back and every dotlock we made is removed. Async-signal-safe.
 */
void deliver_on_signal(void);

#endif
