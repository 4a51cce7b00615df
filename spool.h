/*
 * spool.h - the relay queue on disk: layout, envelope format, commit.
 *
 * Layout under spool_dir:
 *   tmp/ID.msg, tmp/ID.env   staging files (invisible to relay-agent)
 *   msg/ID                   message text, immutable once renamed here;
 *                            relay-agent takes flock(LOCK_EX) on it
 *   env/ID                   envelope; replaced whole by rename on update
 *
 * Commit order: msg fsync, env fsync, rename msg, fsync msg/, rename env,
 * fsync env/. The rename into env/ is the commit point: before it the
 * message does not exist for relay-agent, after it the message is whole.
 * smtp-session holds the message's flock through the commit, so if the
 * last fsync fails and the commit is undone, no relay-agent pass has
 * begun to deliver it.
 *
 * The message file holds our Received header and the message as received,
 * dot-unstuffed, with LF line ends (bare CRs kept as they came).
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>
#include <time.h>

#include "limits.h"

#define SPOOL_VERSION 1

enum rcpt_state { RS_PENDING, RS_SENT, RS_BOUNCED };

struct spool_rcpt {
	char orig[ADDR_MAX + 1];        /* as the client gave it */
	char addr[ADDR_MAX + 1];        /* after alias expansion */
	enum rcpt_state state;
	int attempts;
	time_t next_attempt;            /* 0: as soon as possible */
	time_t last_attempt;            /* 0: never */
	char last_reply[SPOOL_REPLY_MAX + 1]; /* "" when none */
};

struct envelope {
	int version;
	char id[QUEUE_ID_MAX];
	time_t arrival;
	char sender[ADDR_MAX + 1];      /* "" for <> */
	char body[16];                  /* "7BIT" or "8BITMIME" */
	char auth[256];                 /* authenticated user, "" if none */
	char client[64];                /* peer address */
	char helo[HELO_MAX + 1];
	struct spool_rcpt *rcpts;       /* malloc'ed */
	int nrcpts;
};

/* spool_dirs - make tmp/, msg/ and env/ under DIR (mode 0700) if missing. */
int spool_dirs(const char *dir);

/* spool_env_format - write ENV as text to FD (see spool.c for the format). */
int spool_env_write_fd(int fd, const struct envelope *env);

/* spool_env_parse - read an envelope file; 0, or -1 when malformed. */
int spool_env_read(const char *path, struct envelope *env);

/* spool_env_free - release env->rcpts. */
void spool_env_free(struct envelope *env);

/* spool_env_add_rcpt - append a pending recipient; 0 or -1. */
int spool_env_add_rcpt(struct envelope *env, const char *orig, const char *addr);

/*
 * spool_env_replace - atomically replace env/ID with ENV (write tmp/ID.env,
 * fsync, rename, fsync env/). Returns RES_OK or RES_TEMP.
 */
int spool_env_replace(const char *dir, const struct envelope *env);

/*
 * spool_env_reserve - create tmp/ID.env with room reserved (fallocate) for
 * any update of ENV's envelope (same recipients, any last replies).
 * Returns its fd, or -1 with errno: no room, nothing left behind.
 */
int spool_env_reserve(const char *dir, const struct envelope *env);

/*
 * spool_env_replace_reserved - replace env/ID with ENV, written into FD
 * from spool_env_reserve (cut to length, fsync, rename, fsync env/).
 * Closes FD. RES_OK or RES_TEMP.
 */
int spool_env_replace_reserved(const char *dir, int fd, const struct envelope *env);

/* spool_env_unreserve - close FD (-1: none) and remove tmp/ID.env. */
void spool_env_unreserve(const char *dir, const char *id, int fd);

/*
 * spool_commit - make a staged message visible: MSGFD is the open staging
 * file tmp/ID.msg (already written). Writes the envelope and renames both
 * in commit order. Returns RES_OK or RES_TEMP; on RES_TEMP nothing is visible.
 */
int spool_commit(const char *dir, int msgfd, const struct envelope *env);

/* spool_uncommit - undo a commit whose later steps failed elsewhere. */
void spool_uncommit(const char *dir, const char *id);

/* spool_stage_open - create tmp/ID.msg (O_EXCL, 0600) with a fresh ID
 * written to ID; returns the fd or -1. */
int spool_stage_open(const char *dir, char *id, size_t idsz);

/* spool_stage_discard - remove tmp/ID.msg. */
void spool_stage_discard(const char *dir, const char *id);

/* spool_remove - remove env/ID then msg/ID (relay-agent, when done). */
int spool_remove(const char *dir, const char *id);

#endif
