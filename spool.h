/*
 * spool.h - the relay queue on disk. Every path under spool_dir is built
 * by spool_path() (spool.c; spool-stage.c stages and commits messages,
 * spool-aside.c handles corrupt/, spool-drop.c the maildrop) and nowhere
 * else.
 *
 * Layout under spool_dir:
 *   tmp/                     staging: unnamed (O_TMPFILE) files, which
 *                            have no name until they are linked into
 *                            msg/ or env/, so that a process killed at
 *                            any point leaves nothing here; where the
 *                            file system cannot make them, named ones:
 *   tmp/ID.msg, tmp/ID.env   staging files (invisible to relay-agent);
 *   tmp/ID.new               the content filter's version of tmp/ID.msg,
 *                            renamed over it when the filter passes it
 *   msg/ID                   message text, immutable once named here;
 *                            relay-agent takes flock(LOCK_EX) on it
 *   env/ID                   envelope (envelope.h); replaced whole by
 *                            rename on update
 *   turns                    our own deliveries take turns on each
 *                            local mailbox here (a lock on one byte of
 *                            it per mailbox, turnlock.h) before they
 *                            take the mailbox's locks
 *   corrupt/ID, corrupt/ID.msg  an envelope relay-agent could not parse,
 *                            and its message, moved aside for a human
 *   maildrop/ID              a message sendmail left (see "the maildrop"
 *                            below), maildrop/tmp-ID while it is written,
 *                            maildrop/ID.done what the pickup delivered
 *                            of it so far
 *
 * Commit order: msg fsync, msg named into msg/ (link or rename), fsync
 * msg/, env written and fsynced, env named into env/, fsync env/. Naming
 * the envelope in env/ is the commit point: before it the message does
 * not exist for relay-agent, after it the message is whole. The writer
 * holds the message's flock through the commit, so if the last fsync
 * fails and the commit is undone, no relay-agent pass has begun to
 * deliver it.
 *
 * The message file holds a msgtext (msgtext.h).
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "bounds.h"
#include "envelope.h"
#include "msgtext.h"

/* spool_dirs - make DIR (0711) and tmp/, msg/, env/ (0700) under it if
 * missing, each made durable (its parent directory fsynced); and
 * maildrop/ (see below) when run as root or DIR's owner. */
int spool_dirs(const char *dir);

/* spool_room - whether the file system of DIR has NEED octets free for
 * an unprivileged writer (1 when that cannot be told): smtp-session's
 * check at MAIL (queue_minfree). */
int spool_room(const char *dir, long long need);

/* ------------------------------------------------------- writing mail */

/* spool_unnamed_open - an unnamed file (O_TMPFILE, 0600) in tmp/ for a
 * message's text; the fd, or -1 with errno (EOPNOTSUPP: not on this file
 * system or kernel: use spool_stage_create). */
int spool_unnamed_open(const char *dir);

/* spool_stage_create - create tmp/ID.msg (tmp/ID.new for FILTERED: the
 * content filter's output) with O_EXCL, 0600; the fd, or -1 with errno. */
int spool_stage_create(const char *dir, const char *id, int filtered);

/* spool_stage_discard - remove tmp/ID.msg and tmp/ID.new (gone already
 * after a commit). */
void spool_stage_discard(const char *dir, const char *id);

/* spool_stage_paths - the paths spool_stage_discard removes, into MSG and
 * NEW (FILE_PATH_MAX each), for a signal handler that must remove them
 * without building paths; -1 if too long. */
int spool_stage_paths(const char *dir, const char *id, char *msg, char *new_);

/* spool_restage_commit - tmp/ID.new replaces tmp/ID.msg; 0, or -1. */
int spool_restage_commit(const char *dir, const char *id);

/* spool_turns_open - open (creating, 0600) the turns file; -1 with
 * errno. */
int spool_turns_open(const char *dir);

/*
 * spool_commit - queue TEXT for ENV's recipients under env->id (a new id
 * when empty). A staging file of that id is taken as it is (a named one
 * by rename, an unnamed one by a link); any other text is copied into a
 * new staging file. Returns RES_OK, or RES_TEMP with errno and nothing
 * visible.
 */
int spool_commit(const char *dir, const struct msgtext *text, struct envelope *env);

/* spool_uncommit - undo a commit whose later steps failed elsewhere. */
void spool_uncommit(const char *dir, const char *id);

/* ------------------------------------------------- the queue's side */

/* spool_list - the ids in env/, sorted, into *IDS (N of them); -1 with
 * errno when env/ cannot be read (ENOENT: nothing was ever queued). */
int spool_list(const char *dir, char ***ids, int *n);

/* spool_ids_free - release what spool_list made. */
void spool_ids_free(char **ids, int n);

/* spool_valid_id - whether S is a queue id as spool.c makes them. */
int spool_valid_id(const char *s);

/* spool_msg_open - open msg/ID read-only (not locked); -1 with errno. */
int spool_msg_open(const char *dir, const char *id);

/* spool_msg_stat - stat msg/ID; 0 or -1. */
int spool_msg_stat(const char *dir, const char *id, struct stat *st);

/* spool_env_load - read env/ID; 0, or -1 with errno (EINVAL: malformed,
 * or its id line names another message; ENOENT: gone). */
int spool_env_load(const char *dir, const char *id, struct envelope *env);

/*
 * spool_env_orphan - env/ID whose msg/ID is missing: another pass may
 * just be removing the message (envelope first), but one older than
 * SPOOL_ORPHAN_STALE_SEC can only be what a crash or a hand left; it can
 * never be delivered, so it is logged and removed (moved to corrupt/ when
 * its text is there).
 */
void spool_env_orphan(const char *dir, const char *id);

/* spool_env_replace - atomically replace env/ID with ENV (write
 * tmp/ID.env, fsync, rename, fsync env/). RES_OK or RES_TEMP. */
int spool_env_replace(const char *dir, const struct envelope *env);

/*
 * spool_env_reserve - create tmp/ID.env with room reserved (fallocate) for
 * any update of ENV's envelope (same recipients, any last replies).
 * Returns its fd, or -1 with errno: no room, nothing left behind.
 */
int spool_env_reserve(const char *dir, const struct envelope *env);

/* spool_env_unreserve - close FD (-1: none) and remove tmp/ID.env. */
void spool_env_unreserve(const char *dir, const char *id, int fd);

/* spool_env_unlink - remove env/ID, not yet durably: several removals
 * share one spool_env_sync, and only then their msg/ files go
 * (spool_msg_unlink), so an envelope never outlives its text. */
int spool_env_unlink(const char *dir, const char *id);

/*
 * spool_env_put - replace env/ID with ENV, not yet durably: written into
 * FD from spool_env_reserve when FD >= 0 (FD is closed), else into a new
 * tmp/ID.env; fsynced, then renamed into env/. Several updates share one
 * spool_env_sync. RES_OK or RES_TEMP with errno.
 */
int spool_env_put(const char *dir, int fd, const struct envelope *env);

/* spool_env_sync - make the removals in env/ durable; 0 or -1. */
int spool_env_sync(const char *dir);

/* spool_msg_unlink - remove msg/ID; 0 or -1 (ENOENT counts as done). */
int spool_msg_unlink(const char *dir, const char *id);

/* spool_remove - env/ID, sync, then msg/ID: a message leaves the queue. */
int spool_remove(const char *dir, const char *id);

/* spool_corrupt - move env/ID and then msg/ID aside into corrupt/ (made
 * when missing): an envelope nobody can parse is kept for a human, never
 * skipped silently nor deleted. 0, or -1 with errno. */
int spool_corrupt(const char *dir, const char *id);

/* spool_corrupt_text - move msg/ID to corrupt/ID.msg (its envelope is
 * there already); 0 (also when there is no msg/ID), or -1 with errno. */
int spool_corrupt_text(const char *dir, const char *id);

/* spool_corrupt_has - whether corrupt/ID, an envelope moved aside, exists. */
int spool_corrupt_has(const char *dir, const char *id);

/* spool_corrupt_list - the ids in corrupt/ (an envelope, or a text
 * without its envelope), sorted (none when there is no corrupt/). 0, or
 * -1 with errno. */
int spool_corrupt_list(const char *dir, char ***ids, int *n);

/* spool_corrupt_remove - remove corrupt/ID and corrupt/ID.msg; 0 when
 * there was one, -1 with errno (ENOENT: none). */
int spool_corrupt_remove(const char *dir, const char *id);

/* spool_corrupt_open - open corrupt/ID (SUFFIX "") or corrupt/ID.msg
 * (".msg") read-only; -1 with errno. */
int spool_corrupt_open(const char *dir, const char *id, const char *suffix);

/* spool_env_open - open env/ID read-only; -1 with errno. */
int spool_env_open(const char *dir, const char *id);

/*
 * spool_msg_lock - open msg/ID and take the lock every relay-agent takes
 * before it changes a message (flock LOCK_EX), waiting at most WAIT_MS for
 * a pass that delivers it. The fd, or -1 with errno (EWOULDBLOCK: still
 * busy; ENOENT: no such message, or it left the queue meanwhile).
 */
int spool_msg_lock(const char *dir, const char *id, long wait_ms);

/* spool_clean_stale - remove staging files a crash left (older than
 * SPOOL_TMP_STALE_SEC) and message files that never got, or lost, their
 * envelope (older than SPOOL_ORPHAN_STALE_SEC; one whose envelope is in
 * corrupt/ is moved there instead); each removal is logged. */
void spool_clean_stale(const char *dir);

/* -------------------------------------------------------- the maildrop */

/*
 * spool_dir/maildrop/: sendmail's way in when the submission socket
 * cannot be reached (Postfix's design). Mode 1730, owner the service
 * account, group SPOOL_DROP_GROUP: smtp-postdrop, setgid to that group,
 * may create files there, only the owner may list them, and the sticky
 * bit keeps anyone but their owner and the directory's from removing
 * them. spool_dir is 0711, so this one directory is reachable and the
 * rest stays closed. A dropped file is written as tmp-ID, fsynced,
 * renamed to ID (a queue id) and the directory fsynced: the rename is the
 * commit. Its owner is the user who ran sendmail; relay-agent's pickup
 * feeds it to smtp-session -U on that user's behalf.
 */
#ifndef SPOOL_DROP_GROUP
#define SPOOL_DROP_GROUP "smtpdrop"
#endif
#define SPOOL_DROP_TMP "tmp-"           /* prefix of a file being written */

/* spool_drop_dir - the maildrop of DIR opened with O_PATH (no read right
 * needed, no symbolic link followed): the one descriptor smtp-postdrop
 * creates, renames and syncs through. -1 with errno. */
int spool_drop_dir(const char *dir);

/* spool_drop_room - whether the file system of the maildrop DFD has NEED
 * octets free for an unprivileged writer (1 when it cannot be told). */
int spool_drop_room(int dfd, long long need);

/* spool_drop_create - create tmp-ID (O_EXCL, mode 0644: only the
 * directory's owner and group reach it) in the maildrop DFD; ID into
 * NAME; the fd, or -1 with errno. */
int spool_drop_create(int dfd, char *name, size_t namesz);

/* spool_drop_commit - fsync FD, rename tmp-NAME to NAME, sync the file
 * system (the helper may not read the maildrop to fsync it); closes FD.
 * RES_OK, or RES_TEMP with errno and tmp-NAME removed (nothing
 * half-written stays). */
int spool_drop_commit(int dfd, const char *name, int fd);

/* spool_drop_abandon - close FD and remove tmp-NAME of the maildrop DFD. */
void spool_drop_abandon(int dfd, const char *name, int fd);

/* spool_drop_list - the committed names in maildrop/, oldest id first, at
 * most PICKUP_NAMES_MAX of them (memory stays bounded; a later listing
 * takes the rest); -1 with errno. */
int spool_drop_list(const char *dir, char ***names, int *n);

/* spool_drop_open - open maildrop/NAME read-only (no symlink, no FIFO
 * wait); -1 with errno. */
int spool_drop_open(const char *dir, const char *name);

/* spool_drop_remove - remove maildrop/NAME and fsync the maildrop, then
 * NAME.done. */
int spool_drop_remove(const char *dir, const char *name);

/*
 * What the pickup remembers of a file whose message went to some of its
 * recipients while others failed for now: maildrop/NAME.done, the
 * service account's, one recipient index a line (written whole:
 * NAME.done-new, fsync, rename). Only the service account and
 * smtp-postdrop (tmp-ID and ID only) create files in the maildrop.
 */
#define SPOOL_DROP_STATE ".done"

/* spool_drop_state_load - DONE[i] (N of them) set for each recipient of
 * NAME recorded as done; all clear when there is no record. 0, or -1. */
int spool_drop_state_load(const char *dir, const char *name, unsigned char *done, int n);

/* spool_drop_state_save - record DONE (N) for NAME, durably; 0 or -1. */
int spool_drop_state_save(const char *dir, const char *name, const unsigned char *done, int n);

/*
 * spool_root_check - a program started as root (relay-agent from cron)
 * runs as the owner of DIR, never as root: 0 when not root, or when DIR
 * is a directory that belongs to an account other than root; else -1
 * with the reason in WHY (then it must stop: exit 78).
 */
int spool_root_check(const char *dir, char *why, size_t whysz);

/*
 * spool_become_owner - a program started as root makes the maildrop when
 * it is missing (its group needs root; spool_drop_setup, never repairing)
 * and then becomes DIR's owner, the service account, with its groups.
 * Nothing happens when not root. 0, or -1 with errno (EPERM for a spool
 * of root's: spool_root_check first).
 */
int spool_become_owner(const char *dir);

/*
 * spool_drop_setup - make DIR/maildrop (owner DIR's owner, group
 * SPOOL_DROP_GROUP, mode 1730; DIR 0711), as root or as DIR's owner,
 * through descriptors only: DIR opened with O_NOFOLLOW, maildrop/ made
 * with mkdirat, opened with O_NOFOLLOW and changed with fchown/fchmod.
 * A maildrop that exists is only checked, unless REPAIR: then its owner,
 * group and mode are set, and one that is not a directory of DIR's owner
 * (or root's) is moved aside as maildrop.invalid-TIME and made anew.
 * 0, or -1 with the reason in WHY.
 */
int spool_drop_setup(const char *dir, int repair, char *why, size_t whysz);

/* spool_drop_clean - remove tmp- files a killed smtp-postdrop left,
 * older than SPOOL_TMP_STALE_SEC, and NAME.done records whose file is
 * gone (each logged). */
void spool_drop_clean(const char *dir);

#endif
