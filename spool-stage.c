/*
 * spool-stage.c - how a message enters the queue (part of the spool
 * module, spool.h): its staging files in tmp/ and the commit into msg/
 * and env/, and the turns file of local deliveries.
 *
 * Staging files are unnamed (O_TMPFILE): a message's text gets its name
 * only when it is linked into msg/, its envelope when linked into env/
 * (the commit point), so a process killed at any point leaves nothing in
 * tmp/. Where the file system cannot make or link unnamed files, they
 * are tmp/ID.msg and tmp/ID.env, taken by rename as before; the first
 * failure switches this process to those for good.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "spool-path.h"
#include "util.h"

/* spool_stage_create - create tmp/ID.msg, or tmp/ID.new for FILTERED. */
int
spool_stage_create(const char *dir, const char *id, int filtered)
{
	char path[FILE_PATH_MAX];

	if (spool_path(path, sizeof path, dir, "tmp", id, filtered ? ".new" : ".msg") < 0)
		return -1;
	return open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* Set once this process found that unnamed files cannot be made or
 * linked in spool_dir/tmp: named staging files from then on. */
static int unnamed_broken;

/* unsupported - an errno of O_TMPFILE that means "not here" (EISDIR:
 * kernels before 3.11; EOPNOTSUPP: a file system without it). */
static int
unsupported(int err)
{
	return err == EOPNOTSUPP || err == EISDIR || err == EINVAL;
}

/* spool_unnamed_open - an unnamed file in tmp/ (O_TMPFILE, 0600). */
int
spool_unnamed_open(const char *dir)
{
	char path[FILE_PATH_MAX];
	int fd;

	if (unnamed_broken) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (spool_path(path, sizeof path, dir, NULL, "tmp", "") < 0)
		return -1;
	fd = open(path, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd < 0 && unsupported(errno)) {
		unnamed_broken = 1;
		errno = EOPNOTSUPP;
	}
	return fd;
}

/*
 * link_unnamed - give the unnamed file FD the name DST (never over an
 * existing file: EEXIST). Through /proc/self/fd, else AT_EMPTY_PATH;
 * when neither is possible here (no /proc, and a kernel that keeps
 * AT_EMPTY_PATH to privileged callers), -1 with EOPNOTSUPP.
 */
static int
link_unnamed(int fd, const char *dst, const char *dstdir)
{
	char proc[64];
	int err;

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (linkat(fd, "", AT_FDCWD, dst, AT_EMPTY_PATH) == 0)
		return 0;
	err = errno;
	if ((err == ENOENT || err == EPERM) && access(dstdir, F_OK) == 0) {
		unnamed_broken = 1;
		err = EOPNOTSUPP;
	}
	errno = err;
	return -1;
}

/* spool_turns_open - open the turns file; make it (and the spool) when
 * missing, owned as DIR is: it stays, and a root run (a test by hand)
 * must not leave it closed to the service account. */
int
spool_turns_open(const char *dir)
{
	char path[FILE_PATH_MAX];
	struct stat st;
	int fd;

	if (spool_path(path, sizeof path, dir, NULL, "turns", "") < 0)
		return -1;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0 && errno == ENOENT && spool_dirs(dir) == 0)
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0 && errno == EEXIST)         /* made by another delivery just now */
		return open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd >= 0 && geteuid() == 0 && stat(dir, &st) == 0 && st.st_uid != 0 &&
	    fchown(fd, st.st_uid, st.st_gid) < 0)
		log_msg(LOG_WARNING, "cannot give %s/turns to uid %ld: %s", dir, (long)st.st_uid,
		    strerror(errno));
	return fd;
}

/* spool_stage_paths - tmp/ID.msg and tmp/ID.new. */
int
spool_stage_paths(const char *dir, const char *id, char *msg, char *new_)
{
	return spool_path(msg, FILE_PATH_MAX, dir, "tmp", id, ".msg") < 0 ||
	    spool_path(new_, FILE_PATH_MAX, dir, "tmp", id, ".new") < 0 ? -1 : 0;
}

/* spool_stage_discard - remove tmp/ID.msg and tmp/ID.new. */
void
spool_stage_discard(const char *dir, const char *id)
{
	char msg[FILE_PATH_MAX], new_[FILE_PATH_MAX];

	if (spool_stage_paths(dir, id, msg, new_) == 0) {
		unlink(msg);
		unlink(new_);
	}
}

/* spool_restage_commit - tmp/ID.new over tmp/ID.msg. */
int
spool_restage_commit(const char *dir, const char *id)
{
	char msg[FILE_PATH_MAX], new_[FILE_PATH_MAX];

	if (spool_stage_paths(dir, id, msg, new_) < 0)
		return -1;
	return rename(new_, msg);
}

/* env_file - ENV written and fsynced into a staging file: an unnamed one
 * (its fd in *FD) when UNNAMED, else tmp/ID.env (*FD -1). 0, or -1 with
 * errno and nothing left behind. */
static int
env_file(const char *dir, const struct envelope *env, int unnamed, int *fd)
{
	char tmp[FILE_PATH_MAX];
	int err;

	*fd = -1;
	if (!unnamed)
		return spool_env_stage(dir, env, tmp, sizeof tmp) == RES_OK ? 0 : -1;
	if ((*fd = spool_unnamed_open(dir)) < 0)
		return -1;
	if (envelope_write(*fd, env) < 0 || fsync(*fd) < 0) {
		err = errno;
		close(*fd);
		*fd = -1;
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * commit_file - make the message in MSGFD visible under env->id: the
 * staging file tmp/ID.msg by rename (NAMED), or the unnamed file by a
 * link. Before the envelope has its name in env/ nothing exists for
 * relay-agent; after it (and the fsync of env/) the message is whole and
 * durable. RES_OK, or RES_TEMP with errno and nothing visible (EOPNOTSUPP:
 * unnamed files cannot be linked here; nothing was done).
 */
static int
commit_file(const char *dir, int msgfd, int named, const struct envelope *env)
{
	char tmpmsg[FILE_PATH_MAX], tmpenv[FILE_PATH_MAX], msg[FILE_PATH_MAX];
	char envp[FILE_PATH_MAX], msgdir[FILE_PATH_MAX], envdir[FILE_PATH_MAX];
	int err, envfd = -1;

	if (spool_path(tmpmsg, sizeof tmpmsg, dir, "tmp", env->id, ".msg") < 0 ||
	    spool_path(tmpenv, sizeof tmpenv, dir, "tmp", env->id, ".env") < 0 ||
	    spool_path(msg, sizeof msg, dir, "msg", env->id, "") < 0 ||
	    spool_path(envp, sizeof envp, dir, "env", env->id, "") < 0 ||
	    spool_path(msgdir, sizeof msgdir, dir, NULL, "msg", "") < 0 ||
	    spool_path(envdir, sizeof envdir, dir, NULL, "env", "") < 0)
		return RES_TEMP;
	/* Hold the message's lock (relay-agent's lock, see spool.h) until the
	 * commit is durable: should it have to be undone, no relay-agent pass
	 * can have started on it in between. */
	if (flock(msgfd, LOCK_EX | LOCK_NB) < 0)
		return RES_TEMP;
	if (fsync(msgfd) < 0)
		goto fail;
	/* The text into msg/: never over an existing message (an id
	 * collision is a 4xx, not a loss). */
	if (named ? rename_noreplace(tmpmsg, msg) : link_unnamed(msgfd, msg, msgdir))
		goto fail;
	if (fsync_dir(msgdir) < 0 || env_file(dir, env, !named, &envfd) < 0 ||
	    (named ? rename_noreplace(tmpenv, envp) : link_unnamed(envfd, envp, envdir)))
		goto undo_msg;
	/* Commit point: env/ID exists. Make it durable or take it back. */
	if (fsync_dir(envdir) < 0) {
		err = errno;
		unlink(envp);
		errno = err;
		goto undo_msg;
	}
	if (envfd >= 0)
		close(envfd);
	flock(msgfd, LOCK_UN);
	return RES_OK;
undo_msg:
	err = errno;
	if (envfd >= 0)
		close(envfd);
	if (named) {
		unlink(tmpenv);
		rename(msg, tmpmsg);
	} else {
		unlink(msg);    /* the text stays in MSGFD, unnamed again */
	}
	errno = err;
fail:
	err = errno;
	flock(msgfd, LOCK_UN);
	errno = err;
	return RES_TEMP;
}

/* copy_text - TEXT into FD from its start; 0 or -1 with errno. */
static int
copy_text(const struct msgtext *text, int fd)
{
	char buf[IO_BUF_SIZE];
	off_t off = 0;
	ssize_t n;

	while ((n = msgtext_read(text, buf, sizeof buf, off)) > 0) {
		if (write_all(fd, buf, (size_t)n) < 0)
			return -1;
		off += n;
	}
	return n < 0 ? -1 : 0;
}

/* copy_commit - TEXT copied into a new staging file, then committed:
 * an unnamed one where possible, else tmp/ID.msg. */
static int
copy_commit(const char *dir, const struct msgtext *text, struct envelope *env)
{
	int fd, rc, err, named = 0;

	fd = spool_unnamed_open(dir);
	if (fd < 0 && errno == ENOENT && spool_dirs(dir) == 0)
		fd = spool_unnamed_open(dir);
	if (fd < 0 && errno == EOPNOTSUPP) {
		named = 1;
		fd = spool_stage_create(dir, env->id, 0);
		if (fd < 0 && errno == ENOENT && spool_dirs(dir) == 0)
			fd = spool_stage_create(dir, env->id, 0);
	}
	if (fd < 0)
		return RES_TEMP;
	rc = copy_text(text, fd) < 0 ? RES_TEMP : commit_file(dir, fd, named, env);
	if (rc != RES_OK && !named && errno == EOPNOTSUPP) {
		/* Unnamed files cannot be linked here after all. */
		close(fd);
		return copy_commit(dir, text, env);
	}
	err = errno;
	close(fd);
	if (named)
		spool_stage_discard(dir, env->id);      /* gone when committed */
	errno = err;
	return rc;
}

/* spool_commit - queue TEXT for ENV: its staging file taken as it is
 * when it has one, else a copy. */
int
spool_commit(const char *dir, const struct msgtext *text, struct envelope *env)
{
	int rc;

	if (!env->id[0])
		queue_id_new(env->id, sizeof env->id);
	if (text->fd < 0 || text->file == MSGTEXT_OTHER || !text->id ||
	    strcmp(text->id, env->id) != 0)
		return copy_commit(dir, text, env);
	rc = commit_file(dir, text->fd, text->file == MSGTEXT_NAMED, env);
	if (rc != RES_OK && text->file == MSGTEXT_UNNAMED && errno == EOPNOTSUPP)
		return copy_commit(dir, text, env);
	return rc;
}
