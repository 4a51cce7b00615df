/*
 * spool.c - the relay queue on disk (layout and commit order in spool.h).
 *
 * Every path below spool_dir is made by spool_path(): the directories
 * are fixed names and the file names queue ids that spool_valid_id()
 * accepts, never anything a client sent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "spool-path.h"
#include "util.h"

/* spool_path - DIR/SUB/NAME SUFFIX (SUB NULL: DIR/NAME); -1 if too long. */
int
spool_path(char *out, size_t outsz, const char *dir, const char *sub,
           const char *name, const char *suffix)
{
	int n = sub ? snprintf(out, outsz, "%s/%s/%s%s", dir, sub, name, suffix)
	            : snprintf(out, outsz, "%s/%s%s", dir, name, suffix);

	if (n < 0 || (size_t)n >= outsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* parent_sync - fsync the directory that holds DIR, so that DIR, just
 * made, survives a crash. */
static int
parent_sync(const char *dir)
{
	char parent[FILE_PATH_MAX];
	char *slash;

	if (strlcpy_ck(parent, dir, sizeof parent) < 0)
		return -1;
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash > parent)
		*slash = '\0';          /* "a/b/" is "a/b" */
	if (!(slash = strrchr(parent, '/')))
		return fsync_dir(".");
	if (slash == parent)
		slash[1] = '\0';        /* "/spool": the root directory */
	else
		*slash = '\0';
	return fsync_dir(parent);
}

/* spool_dirs - make DIR and its tmp/, msg/ and env/ (0700) if missing;
 * each one made is made durable (its parent fsynced). */
int
spool_dirs(const char *dir)
{
	static const char *subs[] = { "tmp", "msg", "env" };
	int dfd, made = 0, err;

	if (mkdir(dir, 0700) == 0) {
		chmod(dir, 0711);       /* traversable, not listable: the maildrop */
		if (parent_sync(dir) < 0)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		if (mkdirat(dfd, subs[i], 0700) == 0)
			made = 1;
		else if (errno != EEXIST) {
			err = errno;
			close(dfd);
			errno = err;
			return -1;
		}
	}
	if (made && fsync(dfd) < 0) {
		err = errno;
		close(dfd);
		errno = err;
		return -1;
	}
	close(dfd);
	spool_drop_make(dir);
	return 0;
}

/* spool_room - whether DIR's file system has NEED octets free for an
 * unprivileged writer (1 when that cannot be told). */
int
spool_room(const char *dir, long long need)
{
	struct statvfs sv;

	if (statvfs(dir, &sv) < 0)
		return 1;       /* unknown: the write will tell */
	return (long long)sv.f_bavail * (long long)sv.f_frsize >= need;
}

/* spool_valid_id - letters and digits, as queue_id_new makes them. */
int
spool_valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= QUEUE_ID_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= 'a' && *s <= 'z')))
			return 0;
	return 1;
}

/* spool_env_stage - write tmp/ID.env and fsync it; RES_OK or RES_TEMP. */
int
spool_env_stage(const char *dir, const struct envelope *env, char *tmp, size_t tmpsz)
{
	int fd, err;

	if (spool_path(tmp, tmpsz, dir, "tmp", env->id, ".env") < 0)
		return RES_TEMP;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return RES_TEMP;
	if (envelope_write(fd, env) < 0 || fsync(fd) < 0) {
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
	char tmp[FILE_PATH_MAX], dst[FILE_PATH_MAX], envdir[FILE_PATH_MAX];

	if (spool_env_stage(dir, env, tmp, sizeof tmp) != RES_OK)
		return RES_TEMP;
	if (spool_path(dst, sizeof dst, dir, "env", env->id, "") < 0 ||
	    spool_path(envdir, sizeof envdir, dir, NULL, "env", "") < 0 ||
	    rename(tmp, dst) < 0) {
		int err = errno;
		unlink(tmp);
		errno = err;
		return RES_TEMP;
	}
	return fsync_dir(envdir) < 0 ? RES_TEMP : RES_OK;
}

/* spool_uncommit - undo a commit whose later steps failed elsewhere. */
void
spool_uncommit(const char *dir, const char *id)
{
	char envp[FILE_PATH_MAX], msg[FILE_PATH_MAX];

	if (spool_path(envp, sizeof envp, dir, "env", id, "") == 0)
		unlink(envp);
	spool_env_sync(dir);
	if (spool_path(msg, sizeof msg, dir, "msg", id, "") == 0)
		unlink(msg);
}

/* spool_env_unlink - remove env/ID (not synced). */
int
spool_env_unlink(const char *dir, const char *id)
{
	char envp[FILE_PATH_MAX];

	if (spool_path(envp, sizeof envp, dir, "env", id, "") < 0)
		return -1;
	return unlink(envp) < 0 && errno != ENOENT ? -1 : 0;
}

/* spool_env_sync - fsync env/. */
int
spool_env_sync(const char *dir)
{
	char envdir[FILE_PATH_MAX];

	if (spool_path(envdir, sizeof envdir, dir, NULL, "env", "") < 0)
		return -1;
	return fsync_dir(envdir);
}

/* spool_msg_unlink - remove msg/ID. */
int
spool_msg_unlink(const char *dir, const char *id)
{
	char msg[FILE_PATH_MAX];

	if (spool_path(msg, sizeof msg, dir, "msg", id, "") < 0)
		return -1;
	return unlink(msg) < 0 && errno != ENOENT ? -1 : 0;
}

/* spool_remove - remove env/ID, sync, then msg/ID. */
int
spool_remove(const char *dir, const char *id)
{
	if (spool_env_unlink(dir, id) < 0)
		return -1;
	spool_env_sync(dir);
	return spool_msg_unlink(dir, id);
}

/*
 * spool_env_reserve - create tmp/ID.env for a later update of ENV's
 * envelope and reserve its disk space now (posix_fallocate), so that the
 * update after a delivery cannot fail for want of space.
 * Returns the open file, or -1 with errno (nothing left behind).
 */
int
spool_env_reserve(const char *dir, const struct envelope *env)
{
	char tmp[FILE_PATH_MAX];
	int fd, err;

	if (spool_path(tmp, sizeof tmp, dir, "tmp", env->id, ".env") < 0)
		return -1;
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	err = posix_fallocate(fd, 0, (off_t)envelope_size_max(env));
	if (err != 0) {
		close(fd);
		unlink(tmp);
		errno = err;
		return -1;
	}
	return fd;
}

/* spool_env_put - write ENV into FD (reserved) or a new tmp/ID.env,
 * fsync, rename into env/; the caller syncs env/ once for many. */
int
spool_env_put(const char *dir, int fd, const struct envelope *env)
{
	char tmp[FILE_PATH_MAX], dst[FILE_PATH_MAX];
	off_t end;
	int err;

	if (spool_path(tmp, sizeof tmp, dir, "tmp", env->id, ".env") < 0 ||
	    spool_path(dst, sizeof dst, dir, "env", env->id, "") < 0) {
		if (fd >= 0)
			close(fd);
		return RES_TEMP;
	}
	if (fd < 0 && (fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	                         0600)) < 0)
		return RES_TEMP;
	if (lseek(fd, 0, SEEK_SET) < 0 || envelope_write(fd, env) < 0 ||
	    (end = lseek(fd, 0, SEEK_CUR)) < 0 || ftruncate(fd, end) < 0 || fsync(fd) < 0)
		goto fail;
	err = close(fd);
	fd = -1;
	if (err < 0 || rename(tmp, dst) < 0)
		goto fail;
	return RES_OK;
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
	char tmp[FILE_PATH_MAX];

	if (fd >= 0)
		close(fd);
	if (spool_path(tmp, sizeof tmp, dir, "tmp", id, ".env") == 0)
		unlink(tmp);
}

/* cmp_str - qsort of strings. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* spool_list_ids - the queue ids in DIR/SUB, sorted (see spool-path.h). */
int
spool_list_ids(const char *dir, const char *sub, int max, char ***ids, int *n)
{
	char path[FILE_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int cap = 0, err = 0;

	*ids = NULL;
	*n = 0;
	if (spool_path(path, sizeof path, dir, NULL, sub, "") < 0 || !(d = opendir(path)))
		return -1;
	errno = 0;
	while ((de = readdir(d)) && (max <= 0 || *n < max)) {
		if (!spool_valid_id(de->d_name))
			continue;
		if (*n == cap) {
			char **m = realloc(*ids, (size_t)(cap = cap ? cap * 2 : 256) * sizeof **ids);
			if (!m) {
				err = ENOMEM;
				break;
			}
			*ids = m;
		}
		if (!((*ids)[*n] = strdup(de->d_name))) {
			err = ENOMEM;
			break;
		}
		(*n)++;
	}
	if (!err && errno)
		err = errno;
	closedir(d);
	if (err) {
		spool_ids_free(*ids, *n);
		*ids = NULL;
		*n = 0;
		errno = err;
		return -1;
	}
	if (*n > 0)
		qsort(*ids, (size_t)*n, sizeof **ids, cmp_str);
	return 0;
}

/* spool_list - the queue ids in env/, sorted. */
int
spool_list(const char *dir, char ***ids, int *n)
{
	return spool_list_ids(dir, "env", 0, ids, n);
}

/* spool_ids_free - release what spool_list made. */
void
spool_ids_free(char **ids, int n)
{
	while (n-- > 0)
		free(ids[n]);
	free(ids);
}

/* spool_open_id - open SUB/ID under DIR with FLAGS (O_NOFOLLOW and
 * O_CLOEXEC added); EINVAL for an ID that is not one. */
int
spool_open_id(const char *dir, const char *sub, const char *id, int flags)
{
	char path[FILE_PATH_MAX];

	if (!spool_valid_id(id)) {
		errno = EINVAL;
		return -1;
	}
	if (spool_path(path, sizeof path, dir, sub, id, "") < 0)
		return -1;
	return open(path, flags | O_CLOEXEC | O_NOFOLLOW);
}

/* spool_msg_open - open msg/ID read-only. */
int
spool_msg_open(const char *dir, const char *id)
{
	return spool_open_id(dir, "msg", id, O_RDONLY);
}

/* spool_msg_stat - stat msg/ID. */
int
spool_msg_stat(const char *dir, const char *id, struct stat *st)
{
	char path[FILE_PATH_MAX];

	if (spool_path(path, sizeof path, dir, "msg", id, "") < 0)
		return -1;
	return stat(path, st);
}

/* spool_env_load - read env/ID. */
int
spool_env_load(const char *dir, const char *id, struct envelope *env)
{
	char path[FILE_PATH_MAX];

	memset(env, 0, sizeof *env);
	if (!spool_valid_id(id)) {
		errno = EINVAL;
		return -1;
	}
	if (spool_path(path, sizeof path, dir, "env", id, "") < 0 ||
	    envelope_read(path, env) < 0)
		return -1;
	/* The file name is the message: an envelope that names another
	 * message (a copy edited by hand) would be written back over that
	 * one's envelope. */
	if (strcmp(env->id, id) != 0) {
		envelope_free(env);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* spool_env_orphan - remove env/ID left without its msg/ID long ago. */
void
spool_env_orphan(const char *dir, const char *id)
{
	char path[FILE_PATH_MAX], aside[FILE_PATH_MAX];
	struct envelope env;
	struct stat st;
	time_t age;
	int i, pending = 0;

	if (spool_path(path, sizeof path, dir, "env", id, "") < 0 || lstat(path, &st) < 0)
		return;
	age = time(NULL) - (st.st_ctime > st.st_mtime ? st.st_ctime : st.st_mtime);
	if (age < SPOOL_ORPHAN_STALE_SEC)
		return;
	/* Its text went to corrupt/ just before a crash (the order of an
	 * older version): the envelope follows it there. */
	if (spool_path(aside, sizeof aside, dir, "corrupt", id, ".msg") == 0 &&
	    lstat(aside, &st) == 0) {
		if (spool_corrupt(dir, id) == 0)
			log_msg(LOG_INFO, "moved env/%s to corrupt/ after its message file", id);
		return;
	}
	if (envelope_read(path, &env) == 0) {
		for (i = 0; i < env.nrcpts; i++)
			if (env.rcpts[i].state == RS_PENDING)
				pending++;
		log_msg(LOG_ERR, "%s: envelope without its message file (from=<%s>, %d recipient(s) "
		        "pending), removed", id, env.sender, pending);
		envelope_free(&env);
	} else {
		log_msg(LOG_ERR, "%s: envelope without its message file, removed", id);
	}
	if (unlink(path) < 0 && errno != ENOENT)
		log_msg(LOG_ERR, "%s: cannot remove %s: %s", id, path, strerror(errno));
}

/* spool_clean_stale - remove what crashes left in tmp/ and msg/. */
void
spool_clean_stale(const char *dir)
{
	static const struct { const char *sub; long age; } dirs[] = {
		{ "tmp", SPOOL_TMP_STALE_SEC }, { "msg", SPOOL_ORPHAN_STALE_SEC },
	};
	time_t now = time(NULL);
	char sub[FILE_PATH_MAX], path[FILE_PATH_MAX], env[FILE_PATH_MAX];
	struct dirent *de;
	struct stat st;
	size_t k;

	for (k = 0; k < sizeof dirs / sizeof dirs[0]; k++) {
		DIR *d;

		if (spool_path(sub, sizeof sub, dir, NULL, dirs[k].sub, "") < 0 ||
		    !(d = opendir(sub)))
			continue;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (spool_path(path, sizeof path, dir, dirs[k].sub, de->d_name, "") < 0 ||
			    lstat(path, &st) < 0)
				continue;
			/* A message's age in msg/ counts from its rename there (which
			 * sets st_ctime), not from the end of DATA (st_mtime): a
			 * commit under way renames it a moment before its envelope. */
			if (now - (k == 1 && st.st_ctime > st.st_mtime ? st.st_ctime : st.st_mtime) <
			    dirs[k].age)
				continue;
			if (k == 1) {
				if (spool_path(env, sizeof env, dir, "env", de->d_name, "") < 0 ||
				    access(env, F_OK) == 0 || errno != ENOENT)
					continue;
				/* Its envelope went to corrupt/ just before a crash:
				 * the text follows it there, for a human. */
				if (spool_corrupt_has(dir, de->d_name)) {
					if (spool_corrupt_text(dir, de->d_name) == 0)
						log_msg(LOG_INFO, "moved msg/%s to corrupt/ after its "
						        "envelope", de->d_name);
					continue;
				}
			}
			if (unlink(path) == 0)
				log_msg(LOG_INFO, "removed stale spool file %s/%s", dirs[k].sub,
				        de->d_name);
		}
		closedir(d);
	}
}

/* spool_env_open - open env/ID read-only. */
int
spool_env_open(const char *dir, const char *id)
{
	return spool_open_id(dir, "env", id, O_RDONLY);
}

/* spool_msg_lock - open msg/ID and flock it, waiting at most WAIT_MS. */
int
spool_msg_lock(const char *dir, const char *id, long wait_ms)
{
	long long end = now_ms() + wait_ms;
	struct stat st;
	int fd = spool_msg_open(dir, id), err;

	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			goto fail;
		if (now_ms() >= end) {
			errno = EWOULDBLOCK;
			goto fail;
		}
		sleep_ms(50);
	}
	/* Locked; a pass may have finished the message meanwhile. */
	if (fstat(fd, &st) < 0)
		goto fail;
	if (st.st_nlink == 0) {
		errno = ENOENT;
		goto fail;
	}
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}
