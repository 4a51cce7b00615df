/*
 * spool.c - the relay queue on disk (layout and commit order in spool.h).
 *
 * Envelope format, version 1: text, one item per line, "key value":
 *
 *   version 1
 *   id 6740A1B2C3D4E5F
 *   arrival 1732246000                  (seconds since the epoch)
 *   sender alice@example.org            (empty value for <>)
 *   body 8BITMIME                       (7BIT or 8BITMIME)
 *   auth                                (authenticated user, or empty)
 *   client 192.0.2.1
 *   helo client.example.org
 *   rcpt STATE<TAB>ATTEMPTS<TAB>NEXT<TAB>LAST<TAB>ORIG<TAB>ADDR<TAB>REPLY
 *
 * one rcpt line per recipient; STATE is pending, sent or bounced; NEXT and
 * LAST are epoch seconds (0: none); ORIG is the address as the client gave
 * it, ADDR the one to deliver to; REPLY the last reply or error text.
 * Values never hold a TAB or a line end (they are replaced by spaces).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

#define ENV_LINE_MAX (2 * ADDR_MAX + SPOOL_REPLY_MAX + 128) /* octets */

static const char *state_names[] = { "pending", "sent", "bounced" };

/* spool_dirs - make tmp/, msg/ and env/ under DIR (mode 0700) if missing. */
int
spool_dirs(const char *dir)
{
	static const char *subs[] = { "tmp", "msg", "env" };
	char path[4200];

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		if (path_join(path, sizeof path, dir, subs[i]) < 0)
			return -1;
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

/* clean_value - copy S with TABs and control octets made spaces. */
static void
clean_value(char *dst, size_t dstsz, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < dstsz; i++)
		dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
	dst[i] = '\0';
}

/* spool_env_write_fd - write ENV as text to FD. */
int
spool_env_write_fd(int fd, const struct envelope *env)
{
	char line[ENV_LINE_MAX + 64], a[ADDR_MAX + 1], b[ADDR_MAX + 1];
	char r[SPOOL_REPLY_MAX + 1], h[HELO_MAX + 1], s[ADDR_MAX + 1], au[256];
	int n;

	clean_value(s, sizeof s, env->sender);
	clean_value(h, sizeof h, env->helo);
	clean_value(au, sizeof au, env->auth);
	n = snprintf(line, sizeof line,
	    "version %d\nid %s\narrival %lld\nsender %s\nbody %s\nauth %s\n"
	    "client %s\nhelo %s\n", SPOOL_VERSION, env->id, (long long)env->arrival,
	    s, env->body[0] ? env->body : "7BIT", au, env->client, h);
	if (n < 0 || (size_t)n >= sizeof line || write_all(fd, line, (size_t)n) < 0)
		return -1;
	for (int i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *rc = &env->rcpts[i];
		clean_value(a, sizeof a, rc->orig);
		clean_value(b, sizeof b, rc->addr);
		clean_value(r, sizeof r, rc->last_reply);
		n = snprintf(line, sizeof line, "rcpt %s\t%d\t%lld\t%lld\t%s\t%s\t%s\n",
		    state_names[rc->state], rc->attempts, (long long)rc->next_attempt,
		    (long long)rc->last_attempt, a, b, r);
		if (n < 0 || (size_t)n >= sizeof line || write_all(fd, line, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

/* spool_env_add_rcpt - append a pending recipient; 0 or -1. */
int
spool_env_add_rcpt(struct envelope *env, const char *orig, const char *addr)
{
	struct spool_rcpt *n;

	if (env->nrcpts >= SPOOL_RCPTS_MAX)
		return -1;
	n = realloc(env->rcpts, (size_t)(env->nrcpts + 1) * sizeof *n);
	if (!n)
		return -1;
	env->rcpts = n;
	n = &env->rcpts[env->nrcpts];
	memset(n, 0, sizeof *n);
	if (strlcpy_ck(n->orig, orig, sizeof n->orig) < 0 ||
	    strlcpy_ck(n->addr, addr, sizeof n->addr) < 0)
		return -1;
	n->state = RS_PENDING;
	env->nrcpts++;
	return 0;
}

/* parse_rcpt - one "rcpt" value into a new recipient. */
static int
parse_rcpt(struct envelope *env, char *v)
{
	char *f[7];
	int i;

	for (i = 0; i < 7; i++) {
		f[i] = v;
		v = i < 6 ? strchr(v, '\t') : NULL;
		if (i < 6) {
			if (!v)
				return -1;
			*v++ = '\0';
		}
	}
	if (spool_env_add_rcpt(env, f[4], f[5]) < 0)
		return -1;
	struct spool_rcpt *r = &env->rcpts[env->nrcpts - 1];
	for (i = 0; i < 3; i++)
		if (strcmp(f[0], state_names[i]) == 0)
			break;
	if (i == 3)
		return -1;
	r->state = (enum rcpt_state)i;
	r->attempts = atoi(f[1]);
	r->next_attempt = (time_t)atoll(f[2]);
	r->last_attempt = (time_t)atoll(f[3]);
	strlcpy_ck(r->last_reply, f[6], sizeof r->last_reply);
	return 0;
}

/* spool_env_read - read an envelope file; 0, or -1 when malformed. */
int
spool_env_read(const char *path, struct envelope *env)
{
	char line[ENV_LINE_MAX + 16];
	FILE *f = fopen(path, "re");
	int ok = 1;

	memset(env, 0, sizeof *env);
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		size_t n = strlen(line);
		char *v;
		if (n == 0 || line[n - 1] != '\n') {
			ok = 0;
			break;
		}
		line[n - 1] = '\0';
		v = strchr(line, ' ');
		if (!v) {
			ok = 0;
			break;
		}
		*v++ = '\0';
		if (strcmp(line, "version") == 0)
			env->version = atoi(v);
		else if (strcmp(line, "id") == 0)
			ok = strlcpy_ck(env->id, v, sizeof env->id) == 0;
		else if (strcmp(line, "arrival") == 0)
			env->arrival = (time_t)atoll(v);
		else if (strcmp(line, "sender") == 0)
			ok = strlcpy_ck(env->sender, v, sizeof env->sender) == 0;
		else if (strcmp(line, "body") == 0)
			ok = strlcpy_ck(env->body, v, sizeof env->body) == 0;
		else if (strcmp(line, "auth") == 0)
			ok = strlcpy_ck(env->auth, v, sizeof env->auth) == 0;
		else if (strcmp(line, "client") == 0)
			ok = strlcpy_ck(env->client, v, sizeof env->client) == 0;
		else if (strcmp(line, "helo") == 0)
			ok = strlcpy_ck(env->helo, v, sizeof env->helo) == 0;
		else if (strcmp(line, "rcpt") == 0)
			ok = parse_rcpt(env, v) == 0;
		/* unknown keys are kept for later versions: ignored */
		if (!ok)
			break;
	}
	if (ferror(f))
		ok = 0;
	fclose(f);
	if (!ok || env->version != SPOOL_VERSION || !env->id[0] || env->nrcpts == 0) {
		spool_env_free(env);
		return -1;
	}
	return 0;
}

/* spool_env_free - release env->rcpts. */
void
spool_env_free(struct envelope *env)
{
	free(env->rcpts);
	env->rcpts = NULL;
	env->nrcpts = 0;
}

/* sub_path - DIR/SUB/NAME[SUFFIX]. */
static int
sub_path(char *out, size_t outsz, const char *dir, const char *sub, const char *name,
         const char *suffix)
{
	int n = snprintf(out, outsz, "%s/%s/%s%s", dir, sub, name, suffix);

	return (n < 0 || (size_t)n >= outsz) ? -1 : 0;
}

/* env_stage - write tmp/ID.env and fsync it; RES_OK or RES_TEMP. */
static int
env_stage(const char *dir, const struct envelope *env, char *tmp, size_t tmpsz)
{
	int fd, err;

	if (sub_path(tmp, tmpsz, dir, "tmp", env->id, ".env") < 0) {
		errno = ENAMETOOLONG;
		return RES_TEMP;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return RES_TEMP;
	if (spool_env_write_fd(fd, env) < 0 || fsync(fd) < 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		errno = err;
		return RES_TEMP;
	}
	if (close(fd) < 0) {
		err = errno;
		unlink(tmp);
		errno = err;
		return RES_TEMP;
	}
	return RES_OK;
}

/* spool_env_replace - atomically replace env/ID with ENV. */
int
spool_env_replace(const char *dir, const struct envelope *env)
{
	char tmp[4200], dst[4200], envdir[4200];

	if (env_stage(dir, env, tmp, sizeof tmp) != RES_OK)
		return RES_TEMP;
	if (sub_path(dst, sizeof dst, dir, "env", env->id, "") < 0 ||
	    path_join(envdir, sizeof envdir, dir, "env") < 0 ||
	    rename(tmp, dst) < 0) {
		unlink(tmp);
		return RES_TEMP;
	}
	return fsync_dir(envdir) < 0 ? RES_TEMP : RES_OK;
}

/* spool_stage_open - create tmp/ID.msg with a fresh ID. */
int
spool_stage_open(const char *dir, char *id, size_t idsz)
{
	char path[4200];

	for (int tries = 0; tries < 10; tries++) {
		queue_id_new(id, idsz);
		if (sub_path(path, sizeof path, dir, "tmp", id, ".msg") < 0)
			return -1;
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* spool_stage_discard - remove tmp/ID.msg. */
void
spool_stage_discard(const char *dir, const char *id)
{
	char path[4200];

	if (sub_path(path, sizeof path, dir, "tmp", id, ".msg") == 0)
		unlink(path);
}

/*
 * spool_commit - make the staged message ID visible to relay-agent.
 * Before the rename into env/ nothing exists for relay-agent; after it
 * (and the fsync of env/) the message is whole and durable.
 */
int
spool_commit(const char *dir, int msgfd, const struct envelope *env)
{
	char tmpmsg[4200], tmpenv[4200], msg[4200], envp[4200], msgdir[4200], envdir[4200];
	int err;

	if (sub_path(tmpmsg, sizeof tmpmsg, dir, "tmp", env->id, ".msg") < 0 ||
	    sub_path(msg, sizeof msg, dir, "msg", env->id, "") < 0 ||
	    sub_path(envp, sizeof envp, dir, "env", env->id, "") < 0 ||
	    path_join(msgdir, sizeof msgdir, dir, "msg") < 0 ||
	    path_join(envdir, sizeof envdir, dir, "env") < 0) {
		errno = ENAMETOOLONG;
		return RES_TEMP;
	}
	/* Hold the message's lock (relay-agent's lock, see spool.h) until the
	 * commit is durable: should it have to be undone, no relay-agent pass
	 * can have started on it in between. */
	if (flock(msgfd, LOCK_EX | LOCK_NB) < 0)
		return RES_TEMP;
	if (fsync(msgfd) < 0 || env_stage(dir, env, tmpenv, sizeof tmpenv) != RES_OK) {
		err = errno;
		flock(msgfd, LOCK_UN);
		errno = err;
		return RES_TEMP;
	}
	/* Never over an existing message: an id collision is a 4xx, not a loss. */
	if (rename_noreplace(tmpmsg, msg) < 0) {
		err = errno;
		unlink(tmpenv);
		flock(msgfd, LOCK_UN);
		errno = err;
		return RES_TEMP;
	}
	if (fsync_dir(msgdir) < 0 || rename_noreplace(tmpenv, envp) < 0) {
		err = errno;
		rename(msg, tmpmsg);
		unlink(tmpenv);
		flock(msgfd, LOCK_UN);
		errno = err;
		return RES_TEMP;
	}
	/* Commit point: env/ID exists. Make it durable or take it back. */
	if (fsync_dir(envdir) < 0) {
		err = errno;
		unlink(envp);
		rename(msg, tmpmsg);
		flock(msgfd, LOCK_UN);
		errno = err;
		return RES_TEMP;
	}
	flock(msgfd, LOCK_UN);
	return RES_OK;
}

/* spool_uncommit - undo a commit whose later steps failed elsewhere. */
void
spool_uncommit(const char *dir, const char *id)
{
	char envp[4200], msg[4200], envdir[4200];

	if (sub_path(envp, sizeof envp, dir, "env", id, "") == 0)
		unlink(envp);
	if (path_join(envdir, sizeof envdir, dir, "env") == 0)
		fsync_dir(envdir);
	if (sub_path(msg, sizeof msg, dir, "msg", id, "") == 0)
		unlink(msg);
}

/* spool_remove - remove env/ID then msg/ID (relay-agent, when done). */
int
spool_remove(const char *dir, const char *id)
{
	char envp[4200], msg[4200], envdir[4200];

	if (sub_path(envp, sizeof envp, dir, "env", id, "") < 0 ||
	    sub_path(msg, sizeof msg, dir, "msg", id, "") < 0 ||
	    path_join(envdir, sizeof envdir, dir, "env") < 0)
		return -1;
	if (unlink(envp) < 0 && errno != ENOENT)
		return -1;
	fsync_dir(envdir);
	if (unlink(msg) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/*
 * spool_env_reserve - create tmp/ID.env for a later update of ENV's
 * envelope and reserve its disk space now (posix_fallocate), so that the
 * update after a delivery cannot fail for want of space. The bound: the
 * header and each recipient line are each written from one buffer of
 * ENV_LINE_MAX + 64 octets (spool_env_write_fd), so the file never needs
 * more than (nrcpts + 1) of those, whatever last replies the update holds.
 * Returns the open file, or -1 with errno (nothing left behind).
 */
int
spool_env_reserve(const char *dir, const struct envelope *env)
{
	char tmp[4200];
	off_t len = (off_t)(env->nrcpts + 1) * (ENV_LINE_MAX + 64);
	int fd, err;

	if (sub_path(tmp, sizeof tmp, dir, "tmp", env->id, ".env") < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	err = posix_fallocate(fd, 0, len);
	if (err != 0) {
		close(fd);
		unlink(tmp);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * spool_env_replace_reserved - replace env/ID with ENV through FD, the
 * file spool_env_reserve made: write from its start, cut it to the length
 * written, fsync, rename into env/, fsync env/. FD is closed in any case.
 * RES_OK or RES_TEMP with errno (the staging file is then removed).
 */
int
spool_env_replace_reserved(const char *dir, int fd, const struct envelope *env)
{
	char tmp[4200], dst[4200], envdir[4200];
	off_t end;
	int err;

	if (sub_path(tmp, sizeof tmp, dir, "tmp", env->id, ".env") < 0 ||
	    sub_path(dst, sizeof dst, dir, "env", env->id, "") < 0 ||
	    path_join(envdir, sizeof envdir, dir, "env") < 0) {
		close(fd);
		errno = ENAMETOOLONG;
		return RES_TEMP;
	}
	if (lseek(fd, 0, SEEK_SET) < 0 || spool_env_write_fd(fd, env) < 0 ||
	    (end = lseek(fd, 0, SEEK_CUR)) < 0 || ftruncate(fd, end) < 0 || fsync(fd) < 0)
		goto fail;
	err = close(fd);
	fd = -1;
	if (err < 0 || rename(tmp, dst) < 0)
		goto fail;
	return fsync_dir(envdir) < 0 ? RES_TEMP : RES_OK;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = err;
	return RES_TEMP;
}

/* spool_env_unreserve - close FD (if open) and remove tmp/ID.env: the
 * reservation was not needed. */
void
spool_env_unreserve(const char *dir, const char *id, int fd)
{
	char tmp[4200];

	if (fd >= 0)
		close(fd);
	if (sub_path(tmp, sizeof tmp, dir, "tmp", id, ".env") == 0)
		unlink(tmp);
}
