/*
 * deliver.c - append one message to several mboxes, all or nothing.
 *
 * The format of each copy is mboxrd.c's.
 *
 * Locking: first our own turn on the mailbox (turnlock.c: a lock in
 * spool_dir/turns, waited for in the kernel, so that our deliveries
 * queue instead of polling each other); then, as procmail, mutt and
 * Postfix do, a NAME.lock dotlock (O_EXCL; one older than
 * DOTLOCK_STALE_SEC is removed) and an fcntl write lock on the mbox,
 * retried at random intervals of a few milliseconds while another
 * program holds them. All of it for LOCK_WAIT_MAX_MS at most. Mailboxes
 * are locked in name order and held until every copy is fsynced; any
 * failure truncates every one back to the size it had, so a 4xx leaves no
 * part of the message anywhere.
 *
 * A delivery never waits for a mailbox while it holds another: each one
 * is first tried without waiting; a busy one makes it let go of every
 * mailbox it holds, wait for that one alone, and take the others again,
 * in order, without waiting. So a mail reader or another delivery is
 * held up only by the mailbox it wants, never by a busy neighbour.
 *
 * Under users system a mailbox its user made unusable (unreadable to
 * us, hard-linked, not a plain file, someone else's) or that is missing
 * and cannot be made is no reason to hold back the other recipients: its
 * copy is set aside at once, like a busy one after the wait.
 *
 * The transaction that holds locks is noted for deliver_on_signal, which
 * a signal handler (or an exit) calls to take back an unfinished append
 * and remove our dotlocks: a session ended by SIGTERM leaves neither a
 * part of a message nor a NAME.lock behind. A dotlock is made and noted
 * with those signals blocked, so none is ever made without being noted.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "mboxrd.h"
#include "mkmbox.h"
#include "turnlock.h"
#include "util.h"

/* What taking one mailbox came to. */
enum {
	BOX_HELD = 0,           /* ours: turn, dotlock, fcntl lock */
	BOX_ERROR = -1,         /* a failure: the whole delivery fails */
	BOX_BUSY = -2,          /* still locked at the deadline */
	BOX_UNUSABLE = -3       /* its user's to mend (users system): set
	                           aside without waiting */
};
/* The transaction holding mailbox locks, for deliver_on_signal; KEEP
 * once its copies are final (only locks are left to drop). */
static struct mbox_txn *volatile sig_txn;
static volatile sig_atomic_t sig_keep;

/* signals_hold - block (HOLD 1) or restore (0) the signals that end a
 * session, around the making of a dotlock. */
static void
signals_hold(int hold, sigset_t *old)
{
	sigset_t set;

	if (!hold) {
		sigprocmask(SIG_SETMASK, old, NULL);
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, old);
}

/* deliver_init - an empty transaction on mailbox directory DIR. */
void
deliver_init(struct mbox_txn *t, const char *dir)
{
	memset(t, 0, sizeof *t);
	strlcpy_ck(t->dir, dir, sizeof t->dir);
	t->turns = -1;
}

/* deliver_add - add mailbox NAME, keeping the list sorted and unique. */
int
deliver_add(struct mbox_txn *t, const char *name, const char *delivered_to)
{
	int i;

	for (i = 0; i < t->nboxes; i++) {
		int c = strcmp(t->boxes[i].name, name);
		if (c == 0)
			return 0;
		if (c > 0)
			break;
	}
	if (t->nboxes == t->cap) {
		int ncap = t->cap ? t->cap * 2 : 8;
		struct mbox *nb = realloc(t->boxes, (size_t)ncap * sizeof *nb);
		if (!nb)
			return -1;
		t->boxes = nb;
		t->cap = ncap;
	}
	memmove(&t->boxes[i + 1], &t->boxes[i], (size_t)(t->nboxes - i) * sizeof *t->boxes);
	struct mbox *b = &t->boxes[i];
	memset(b, 0, sizeof *b);
	b->fd = -1;
	if (strlcpy_ck(b->name, name, sizeof b->name) < 0 ||
	    strlcpy_ck(b->delivered_to, delivered_to, sizeof b->delivered_to) < 0)
		return -1;
	t->nboxes++;
	return 0;
}

/* fail_reply - a failed local write with ERRNO: the detail (mailbox,
 * operation, error) to the log, a generic 4xx in WHY for the client, who
 * must learn neither the mailboxes behind an alias nor our errors. */
static void
fail_reply(char *why, size_t whysz, int err, const char *what, const char *name)
{
	log_msg(LOG_ERR, "mailbox %s: %s failed: %s", name, what, strerror(err));
	if (err == ENOSPC || err == EDQUOT || err == EFBIG)
		snprintf(why, whysz, "452 4.3.1 Insufficient system storage");
	else
		snprintf(why, whysz, "451 4.3.0 Local delivery failed, try again later");
}

/* busy_reply - a mailbox still locked, or replaced, at the deadline. */
static void
busy_reply(char *why, size_t whysz, const char *name, const char *how)
{
	log_msg(LOG_INFO, "mailbox %s %s after the wait", name, how);
	snprintf(why, whysz, "451 4.2.0 Mailbox busy, try again later");
}

/*
 * dotlock_break - remove the stale dotlock LOCKPATH that lstat showed as
 * OLD, never a fresh one another delivery took in between: the lock is
 * renamed aside (atomic), and removed only if what was moved is still
 * that old file; otherwise it is put back.
 */
static void
dotlock_break(const char *lockpath, const struct stat *old)
{
	char aside[FILE_PATH_MAX];
	const char *slash = strrchr(lockpath, '/');
	struct stat st;
	int n;

	/* ".NAME.lock.stale.PID" beside it: no mailbox name starts with '.'. */
	n = slash ? snprintf(aside, sizeof aside, "%.*s/.%s.stale.%d", (int)(slash - lockpath),
	    lockpath, slash + 1, (int)getpid())
	          : snprintf(aside, sizeof aside, ".%s.stale.%d", lockpath, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof aside || rename(lockpath, aside) < 0)
		return;
	if (lstat(aside, &st) == 0 && st.st_dev == old->st_dev && st.st_ino == old->st_ino &&
	    st.st_mtime == old->st_mtime) {
		if (unlink(aside) == 0)
			log_msg(LOG_WARNING, "removed stale lock %s (%ld s old)", lockpath,
			    (long)(time(NULL) - old->st_mtime));
		return;
	}
	/* A fresh lock was taken meanwhile: give it back. */
	if (rename_noreplace(aside, lockpath) < 0) {
		log_msg(LOG_ERR, "lock %s was renewed while a stale one was removed and "
		    "could not be put back: %s", lockpath, strerror(errno));
		unlink(aside);
	}
}

/* dotlock_try - create NAME.lock; 1 held (its inode noted in B), 0 busy,
 * -1 error. */
static int
dotlock_try(struct mbox *b, const char *lockpath)
{
	struct stat st;
	int fd = open(lockpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd >= 0) {
		char pid[32];
		int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
		(void)write_all(fd, pid, (size_t)n);
		if (fstat(fd, &st) < 0) {
			int err = errno;
			close(fd);
			unlink(lockpath);   /* ours: made with O_EXCL just now */
			errno = err;
			return -1;
		}
		b->lock_dev = st.st_dev;
		b->lock_ino = st.st_ino;
		close(fd);
		return 1;
	}
	if (errno != EEXIST)
		return -1;
	/* A lock left by a crash: remove it once it is clearly stale. */
	if (lstat(lockpath, &st) == 0 && time(NULL) - st.st_mtime > DOTLOCK_STALE_SEC)
		dotlock_break(lockpath, &st);
	return 0;
}

/* dotlock_drop - remove NAME.lock if it is still the one we made. */
static void
dotlock_drop(struct mbox *b, const char *lockpath)
{
	struct stat st;

	if (b->dotlocked && lstat(lockpath, &st) == 0 && st.st_dev == b->lock_dev &&
	    st.st_ino == b->lock_ino)
		unlink(lockpath);
	b->dotlocked = 0;
}

/* lock_path - DIR/NAME.lock; -1 if too long. */
static int
lock_path(const struct mbox_txn *t, const struct mbox *b, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s/%s.lock", t->dir, b->name);

	return (n < 0 || (size_t)n >= outsz) ? -1 : 0;
}

/* box_open - open (creating 0600) the mbox and check it is a plain file
 * with one link. Under users system: BOX_UNUSABLE when it is missing and
 * cannot be made now, or is its user's to mend (unreadable to us, a hard
 * link, not a plain file, someone else's): the copy is set aside (logged,
 * the reason in B->aside). */
static int
box_open(struct mbox_txn *t, struct mbox *b, char *why, size_t whysz)
{
	char path[FILE_PATH_MAX];
	struct stat st;

	if (path_join(path, sizeof path, t->dir, b->name) < 0) {
		fail_reply(why, whysz, ENAMETOOLONG, "open", b->name);
		return BOX_ERROR;
	}
	for (int tries = 0; tries < 3; tries++) {
		b->fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (b->fd >= 0 || errno != ENOENT)
			break;
		if (t->system) {        /* its user's file, made by the helper */
			if (mkmbox_request(t->dir, b->name, t->helper, why, whysz) == RES_OK)
				continue;
			log_msg(LOG_WARNING, "mailbox %s/%s is missing: %s", t->dir, b->name, why);
			snprintf(why, whysz, "451 4.3.0 Mailbox %s cannot be created now", b->name);
			b->aside = "is missing";
			return BOX_UNUSABLE;
		}
		/* A new mailbox: its directory entry is fsynced after the append.
		 * EEXIST: another delivery created it just now; open that. */
		b->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC | O_NOCTTY, 0600);
		if (b->fd >= 0) {
			b->created = 1;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (b->fd < 0 && t->system && (errno == EACCES || errno == EPERM || errno == ELOOP)) {
		/* Its mode, or a symbolic link in its place: its user's doing. */
		log_msg(LOG_ERR, "mailbox %s/%s cannot be opened (%s): not written", t->dir,
		    b->name, errno == ELOOP ? "a symbolic link" : strerror(errno));
		snprintf(why, whysz, "451 4.3.0 Mailbox %s cannot be written now", b->name);
		b->aside = errno == ELOOP ? "is a symbolic link" : "cannot be opened";
		return BOX_UNUSABLE;
	}
	if (b->fd < 0) {
		fail_reply(why, whysz, errno, "open", b->name);
		return BOX_ERROR;
	}
	if (fstat(b->fd, &st) < 0) {
		fail_reply(why, whysz, errno, "stat", b->name);
		close(b->fd);
		b->fd = -1;
		return BOX_ERROR;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		int plain = S_ISREG(st.st_mode);
		log_msg(LOG_ERR, "mailbox %s/%s is not a plain file with one link (%s): not written",
		    t->dir, b->name, plain ? "a hard link" : "not a plain file");
		snprintf(why, whysz, "451 4.3.0 Local delivery failed, try again later");
		close(b->fd);
		b->fd = -1;
		if (!t->system)
			return BOX_ERROR;
		snprintf(why, whysz, "451 4.3.0 Mailbox %s cannot be written now", b->name);
		b->aside = plain ? "is a hard link" : "is not a plain file";
		return BOX_UNUSABLE;
	}
	if (t->system && !mkmbox_owner_ok(&st, b->name)) {
		log_msg(LOG_ERR, "mailbox %s/%s is not owned by user %s: not written", t->dir,
		    b->name, b->name);
		snprintf(why, whysz, "451 4.3.0 Mailbox %s is not owned by its user", b->name);
		close(b->fd);
		b->fd = -1;
		b->aside = "is not owned by its user";
		return BOX_UNUSABLE;
	}
	return BOX_HELD;
}

/* box_lock - dotlock and fcntl lock one mbox before DEADLINE (0: one try):
 * BOX_HELD, BOX_ERROR, or BOX_BUSY when it is still locked then. */
static int
box_lock(struct mbox_txn *t, struct mbox *b, long long deadline, char *why, size_t whysz)
{
	char lockpath[FILE_PATH_MAX];

	if (lock_path(t, b, lockpath, sizeof lockpath) < 0) {
		fail_reply(why, whysz, ENAMETOOLONG, "lock", b->name);
		return BOX_ERROR;
	}
	for (;;) {
		if (!b->dotlocked) {
			sigset_t old;
			signals_hold(1, &old);
			int rc = dotlock_try(b, lockpath);
			int err = errno;
			if (rc >= 0)
				b->dotlocked = rc;
			signals_hold(0, &old);
			if (rc < 0) {
				fail_reply(why, whysz, err, "lock", b->name);
				return BOX_ERROR;
			}
		}
		if (b->dotlocked) {
			struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
			if (fcntl(b->fd, F_SETLK, &fl) == 0)
				return BOX_HELD;
			if (errno != EAGAIN && errno != EACCES) {
				fail_reply(why, whysz, errno, "lock", b->name);
				return BOX_ERROR;
			}
			/* Another program holds the fcntl lock: let go of both. */
			dotlock_drop(b, lockpath);
		}
		if (now_ms() >= deadline) {
			b->aside = "is still locked";
			return BOX_BUSY;
		}
		sleep_ms(random_between(LOCK_RETRY_MIN_MS, LOCK_RETRY_MAX_MS));
	}
}

/* box_unlock - drop both locks of B and close it. */
static void
box_unlock(struct mbox_txn *t, struct mbox *b)
{
	char lockpath[FILE_PATH_MAX];

	if (lock_path(t, b, lockpath, sizeof lockpath) == 0)
		dotlock_drop(b, lockpath);
	if (b->fd >= 0) {
		close(b->fd);   /* closing drops the fcntl lock */
		b->fd = -1;
	}
	b->held = 0;
}

/* box_turn - take our turn on B before DEADLINE (0: one try): BOX_HELD,
 * BOX_ERROR, or BOX_BUSY when it is still taken then. */
static int
box_turn(struct mbox_txn *t, struct mbox *b, long long deadline, char *why, size_t whysz)
{
	int rc;

	if (!t->spool_dir)
		return BOX_HELD;
	if (t->turns < 0 && (t->turns = turnlock_open(t->spool_dir)) < 0) {
		if (errno == EACCES || errno == EPERM) {
			/* Made by someone else (root by hand?): the mailbox's
			 * own locks still keep writers apart, only polled. */
			log_msg(LOG_WARNING, "%s/turns: %s: deliveries poll for mailboxes "
			    "(chown it to this account)", t->spool_dir, strerror(errno));
			t->spool_dir = NULL;
			return BOX_HELD;
		}
		fail_reply(why, whysz, errno, "turn lock (spool_dir/turns)", b->name);
		return BOX_ERROR;
	}
	rc = turnlock_take(t->turns, b->name, deadline);
	if (rc == -1) {
		fail_reply(why, whysz, errno, "turn lock", b->name);
		return BOX_ERROR;
	}
	if (rc == -2) {
		b->aside = "is still being written by another delivery";
		return BOX_BUSY;
	}
	return BOX_HELD;
}

/* box_current - whether the locked file is still the mbox at its path:
 * a reader (Python's mailbox, mutt) may have replaced or removed it while
 * we waited, and a copy appended to the old inode would be lost. */
static int
box_current(const struct mbox_txn *t, const struct mbox *b, const struct stat *st)
{
	char path[FILE_PATH_MAX];
	struct stat now;

	return path_join(path, sizeof path, t->dir, b->name) == 0 &&
	    lstat(path, &now) == 0 && S_ISREG(now.st_mode) &&
	    now.st_dev == st->st_dev && now.st_ino == st->st_ino && st->st_nlink == 1;
}

/*
 * box_take - our turn on B, then its dotlock and fcntl lock, waiting until
 * DEADLINE (0: one try of each, no wait): BOX_HELD (B->held, its size
 * noted), BOX_ERROR, BOX_BUSY (still locked, or kept being replaced,
 * then; nothing of it held) or BOX_UNUSABLE (see box_open), with the
 * reason in WHY for the last three.
 */
static int
box_take(struct mbox_txn *t, struct mbox *b, long long deadline, char *why, size_t whysz)
{
	struct stat st;
	int rc = box_turn(t, b, deadline, why, whysz);

	while (rc == BOX_HELD) {
		if ((rc = box_open(t, b, why, whysz)) != BOX_HELD)
			return rc;
		if ((rc = box_lock(t, b, deadline, why, whysz)) != BOX_HELD) {
			box_unlock(t, b);
			return rc;
		}
		if (fstat(b->fd, &st) < 0) {
			fail_reply(why, whysz, errno, "stat", b->name);
			box_unlock(t, b);
			return BOX_ERROR;
		}
		if (box_current(t, b, &st)) {
			b->oldsize = st.st_size;
			b->held = 1;
			return BOX_HELD;
		}
		box_unlock(t, b);
		if (now_ms() >= deadline) {
			b->aside = "keeps being replaced";
			return BOX_BUSY;
		}
	}
	return rc;
}

/* locks_drop - let go of every mailbox held, and of every turn. */
static void
locks_drop(struct mbox_txn *t)
{
	for (int i = t->nboxes - 1; i >= 0; i--)
		box_unlock(t, &t->boxes[i]);
	if (t->turns >= 0)
		close(t->turns);        /* ends every turn taken */
	t->turns = -1;
}

/* deliver_lock_all - lock every mailbox in name order, never waiting for
 * one while holding another; with MAY_WAIT a mailbox still busy at the
 * deadline, or unusable, is set aside (b->waiting). */
int
deliver_lock_all(struct mbox_txn *t, int may_wait, char *why, size_t whysz)
{
	long long deadline = now_ms() + (t->lock_wait_ms > 0 ? t->lock_wait_ms : LOCK_WAIT_MAX_MS);
	/* Every mailbox is held open at once: check the descriptors first,
	 * so that a message that cannot be delivered creates no file. One
	 * mailbox needs no count: if its descriptors run out, no file of
	 * it is made. */
	long room = t->nboxes > 1 ? fd_room() : -1;

	if (room >= 0 && room < (long)t->nboxes + DELIVER_FD_SPARE) {
		log_msg(LOG_ERR, "%d mailboxes but room for only %ld more descriptors",
		    t->nboxes, room);
		snprintf(why, whysz, "451 4.3.0 Local delivery failed, try again later");
		return RES_TEMP;
	}
	sig_keep = 0;
	sig_txn = t;
	for (int i = 0; i < t->nboxes; i++) {
		struct mbox *b = &t->boxes[i];
		int rc, waited = 0;

		if (b->held || b->waiting)
			continue;
		rc = box_take(t, b, 0, why, whysz);
		if (rc == BOX_BUSY && now_ms() < deadline) {
			/* Wait for it alone: whatever this delivery holds
			 * would stay locked for the whole wait. */
			locks_drop(t);
			rc = box_take(t, b, deadline, why, whysz);
			waited = 1;
		}
		if (rc == BOX_ERROR) {
			deliver_release(t);
			return RES_TEMP;
		}
		if (rc == BOX_BUSY)
			busy_reply(why, whysz, b->name, b->aside);
		if (rc != BOX_HELD) {
			if (!may_wait) {
				deliver_release(t);
				return RES_TEMP;
			}
			b->waiting = 1;
		}
		/* After a wait, those before it are taken again, in order,
		 * each without waiting (any busy one: the same again). */
		if (waited)
			i = -1;
	}
	return RES_OK;
}

/* append_one - the message into B's mbox (mboxrd.c), then fsync. */
static int
append_one(struct mbox *b, const struct msgtext *text, const char *sender, time_t when)
{
	int err;

	b->appended = 1;
	if ((err = mboxrd_write(b->fd, b->oldsize, text, sender, b->delivered_to, when)) != 0)
		return err;
	if (fsync(b->fd) < 0)
		return errno ? errno : EIO;
	return 0;
}

/* dir_sync - make the directory entry of every mailbox this delivery
 * wrote into as a new or empty file durable: it may have been created
 * by a delivery that was then taken back, without a directory sync. */
static int
dir_sync(struct mbox_txn *t)
{
	for (int i = 0; i < t->nboxes; i++)
		if (t->boxes[i].appended && (t->boxes[i].created || t->boxes[i].oldsize == 0))
			return fsync_dir(t->dir) < 0 ? (errno ? errno : EIO) : 0;
	return 0;
}

/* deliver_append_all - append to every mailbox; all or nothing. */
int
deliver_append_all(struct mbox_txn *t, const struct msgtext *text, const char *sender,
                   time_t when, int may_wait, char *why, size_t whysz)
{
	for (int i = 0; i < t->nboxes; i++) {
		struct mbox *b = &t->boxes[i];
		if (b->waiting)
			continue;
		int err = append_one(b, text, sender, when);
		if (err == EDQUOT && may_wait) {
			/* Over this user's quota: that copy waits in the spool. */
			if (ftruncate(b->fd, b->oldsize) < 0 || fsync(b->fd) < 0) {
				fail_reply(why, whysz, errno, "truncate", b->name);
				deliver_rollback(t);
				return RES_TEMP;
			}
			b->appended = 0;
			box_unlock(t, b);
			b->waiting = 1;
			b->aside = "is over its quota";
			continue;
		}
		if (err) {
			fail_reply(why, whysz, err, "write", t->boxes[i].name);
			deliver_rollback(t);
			return RES_TEMP;
		}
	}
	int err = dir_sync(t);
	if (err) {
		fail_reply(why, whysz, err, "sync", t->dir);
		deliver_rollback(t);
		return RES_TEMP;
	}
	return RES_OK;
}

/* deliver_rollback - truncate every appended mailbox back and fsync. */
void
deliver_rollback(struct mbox_txn *t)
{
	for (int i = 0; i < t->nboxes; i++) {
		struct mbox *b = &t->boxes[i];
		if (b->fd >= 0 && b->appended) {
			/* Nothing more can be done here but say so: the copy
			 * stays, and the client's retry may add a second one. */
			if (ftruncate(b->fd, b->oldsize) < 0 || fsync(b->fd) < 0)
				log_msg(LOG_ERR, "cannot take back a failed delivery to mailbox "
				    "%s: %s", b->name, strerror(errno));
			b->appended = 0;
		}
	}
}

/* deliver_release_locks - drop every lock and close; the list stays.
 * What is appended now stays (a failure was rolled back before). */
void
deliver_release_locks(struct mbox_txn *t)
{
	if (sig_txn == t)
		sig_keep = 1;
	locks_drop(t);
	if (sig_txn == t) {
		sig_txn = NULL;
		sig_keep = 0;
	}
}

/* cat_safe - append SRC to DST (of DSTSZ, holding *LEN) with async-
 * signal-safe calls only; -1 when it does not fit. */
static int
cat_safe(char *dst, size_t dstsz, size_t *len, const char *src)
{
	size_t n = strlen(src);

	if (*len + n + 1 > dstsz)
		return -1;
	memcpy(dst + *len, src, n + 1);
	*len += n;
	return 0;
}

/* deliver_on_signal - the process is ending in the middle of a delivery
 * (a signal, an exit): truncate every unfinished append back and remove
 * every dotlock we made. Async-signal-safe; the fcntl locks and turns go
 * with the process. */
void
deliver_on_signal(void)
{
	struct mbox_txn *t = sig_txn;
	char path[FILE_PATH_MAX];
	struct stat st;

	if (!t)
		return;
	for (int i = 0; i < t->nboxes; i++) {
		struct mbox *b = &t->boxes[i];
		size_t len = 0;
		if (!sig_keep && b->fd >= 0 && b->appended) {
			if (ftruncate(b->fd, b->oldsize) == 0)
				(void)fsync(b->fd);
		}
		if (b->dotlocked && cat_safe(path, sizeof path, &len, t->dir) == 0 &&
		    cat_safe(path, sizeof path, &len, "/") == 0 &&
		    cat_safe(path, sizeof path, &len, b->name) == 0 &&
		    cat_safe(path, sizeof path, &len, ".lock") == 0 &&
		    lstat(path, &st) == 0 && st.st_dev == b->lock_dev && st.st_ino == b->lock_ino)
			unlink(path);
	}
}

/* deliver_release - drop every lock and close; frees the transaction. */
void
deliver_release(struct mbox_txn *t)
{
	deliver_release_locks(t);
	free(t->boxes);
	t->boxes = NULL;
	t->nboxes = t->cap = 0;
}
