/*
 * turnlock.h - our own deliveries to one mailbox take turns, queued in
 * the kernel.
 *
 * A mailbox is guarded by the locks every mail program honours: the
 * dotlock NAME.lock and an fcntl lock on the mbox (deliver.c). Those can
 * only be polled, so before taking them a delivery of ours takes its
 * turn on the mailbox, waited for in the kernel: a write lock on the
 * mailbox's own byte of spool_dir/turns (an open file description lock,
 * at an offset made from the name). Our sessions and relay-agent then
 * never poll each other: one of them at a time competes for the
 * dotlock, and the next one starts the moment the previous one is done.
 * One descriptor holds the turns of every mailbox of a message, and
 * closing it ends them all, once every copy is fsynced. Turns
 * are taken in mailbox name order like the mailbox locks, so a message
 * with many mailboxes cannot deadlock another. No other program sees
 * the file, and the turns only spare polling: the mailbox locks alone
 * still keep every writer apart.
 */
#ifndef TURNLOCK_H
#define TURNLOCK_H

/* turnlock_open - the turns file of SPOOL_DIR (made when missing); its
 * descriptor, or -1 with errno. Closing it ends every turn taken on it. */
int turnlock_open(const char *spool_dir);

/*
 * turnlock_take - wait on FD for the turn on mailbox NAME until DEADLINE
 * (now_ms() value): 0 when it is ours, -2 when it was still taken at
 * the deadline, -1 with errno on an error.
 */
int turnlock_take(int fd, const char *name, long long deadline);

#endif
