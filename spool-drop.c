/*
 * spool-drop.c - the maildrop under spool_dir (see spool.h, "the
 * maildrop"): made and repaired by root or the spool's owner through
 * descriptors only; written by the setgid smtp-postdrop through one
 * descriptor of the directory; read, remembered and emptied by the
 * pickup (pickup.c); and the switch of a program started as root to the
 * spool's owner.
 *
 * The spool's owner (the service account) may put anything under any
 * name in spool_dir at any moment, so nothing here that runs as root
 * changes a file by its path below spool_dir: it opens with O_NOFOLLOW
 * and changes what it opened (fchown, fchmod).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "spool-path.h"
#include "util.h"

/*
 * spool_drop_setup - see spool.h. Every step after the first open goes
 * through descriptors: DIR is opened without following a symbolic link,
 * maildrop/ is made with mkdirat and opened with O_NOFOLLOW, and its
 * owner, group and mode are changed with fchown and fchmod on what was
 * opened, so that the owner of DIR (who may put anything under that
 * name at any moment) cannot turn a change meant for the maildrop onto
 * another file.
 */
int
spool_drop_setup(const char *dir, int repair, char *why, size_t whysz)
{
	struct group *gr = getgrnam(SPOOL_DROP_GROUP);
	struct stat st, m;
	uid_t me = geteuid();
	int dfd, fd = -1, made = 0, rc = -1;

	why[0] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0) {
		snprintf(why, whysz, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (me != 0 && me != st.st_uid) {
		snprintf(why, whysz, "%s belongs to uid %ld: only root or its owner may make "
		    "its maildrop", dir, (long)st.st_uid);
		goto out;
	}
	for (int round = 0; round < 2 && fd < 0; round++) {
		if (mkdirat(dfd, "maildrop", 0700) == 0)
			made = 1;
		else if (errno != EEXIST) {
			snprintf(why, whysz, "cannot create %s/maildrop: %s", dir, strerror(errno));
			goto out;
		}
		fd = openat(dfd, "maildrop", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &m) == 0 && S_ISDIR(m.st_mode) &&
		    (made ? m.st_uid == me : (m.st_uid == st.st_uid || m.st_uid == 0)))
			break;
		/* Not a directory (a symbolic link, a file), or not the one we
		 * made, or someone else's: never touched; set aside when asked
		 * to repair, else left for the administrator. */
		if (fd >= 0) {
			close(fd);
			fd = -1;
		}
		if (made) {
			snprintf(why, whysz, "%s/maildrop changed while it was being made: left alone",
			    dir);
			goto out;
		}
		if (!repair) {
			snprintf(why, whysz, "%s/maildrop is not a directory of %s's owner: left alone "
			    "(install -d -o OWNER -g %s -m 1730 %s/maildrop after moving it away)", dir,
			    dir, SPOOL_DROP_GROUP, dir);
			goto out;
		}
		char aside[64];
		snprintf(aside, sizeof aside, "maildrop.invalid-%ld", (long)time(NULL));
		if (renameat(dfd, "maildrop", dfd, aside) < 0) {
			snprintf(why, whysz, "cannot move %s/maildrop aside: %s", dir, strerror(errno));
			goto out;
		}
		char note[FILE_PATH_MAX + 128];
		snprintf(note, sizeof note, "%s/maildrop was not a directory of the spool's owner: "
		    "moved aside as %s", dir, aside);
		log_later(LOG_WARNING, note);
	}
	if (fd < 0) {
		if (!why[0])
			snprintf(why, whysz, "%s/maildrop: still not a directory of the spool's owner", dir);
		goto out;
	}
	if (!made && !repair) {
		/* Exists: only checked. */
		if ((m.st_mode & 07777) != 01730 || m.st_uid != st.st_uid || !gr ||
		    m.st_gid != gr->gr_gid)
			snprintf(why, whysz, "%s/maildrop should be owned by uid %ld, group %s, mode "
			    "1730 (install -d -o OWNER -g %s -m 1730 %s/maildrop)", dir,
			    (long)st.st_uid, SPOOL_DROP_GROUP, SPOOL_DROP_GROUP, dir);
		rc = why[0] ? -1 : 0;
		goto out;
	}
	/* Owned as DIR is; group and mode of the maildrop (its group needs
	 * root, or an owner in that group). */
	if (me == 0 && m.st_uid != st.st_uid && fchown(fd, st.st_uid, (gid_t)-1) < 0) {
		snprintf(why, whysz, "%s/maildrop: cannot give it to uid %ld: %s", dir,
		    (long)st.st_uid, strerror(errno));
		goto out;
	}
	if (!gr || fchown(fd, (uid_t)-1, gr->gr_gid) < 0) {
		snprintf(why, whysz, "%s/maildrop: cannot set group %s (%s): sendmail cannot drop "
		    "mail there until it is (install -d -o OWNER -g %s -m 1730 %s/maildrop)", dir,
		    SPOOL_DROP_GROUP, gr ? strerror(errno) : "no such group", SPOOL_DROP_GROUP, dir);
		goto out;
	}
	if (fchmod(fd, 01730) < 0 || ((st.st_mode & 07777) != 0711 && fchmod(dfd, 0711) < 0)) {
		snprintf(why, whysz, "cannot set the modes of %s/maildrop: %s", dir, strerror(errno));
		goto out;
	}
	if (made && fsync(dfd) < 0) {
		snprintf(why, whysz, "%s: fsync: %s", dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/* spool_drop_make - the maildrop when it is missing, made as spool_drop_setup
 * does it (root or DIR's owner); a failure is logged: the queue itself
 * works without a maildrop. */
void
spool_drop_make(const char *dir)
{
	char why[FILE_PATH_MAX + 256];
	struct stat st;

	if (stat(dir, &st) < 0 || (geteuid() != 0 && geteuid() != st.st_uid))
		return;
	if (spool_drop_setup(dir, 0, why, sizeof why) < 0)
		log_later(LOG_ERR, why);        /* root: before the log is open */
}

/* ------------------------------------------------ smtp-postdrop's side */

/* spool_drop_dir - the maildrop of DIR as a descriptor (see spool.h). */
int
spool_drop_dir(const char *dir)
{
	char path[FILE_PATH_MAX];

	if (spool_path(path, sizeof path, dir, NULL, "maildrop", "") < 0)
		return -1;
	return open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* spool_drop_room - whether the maildrop's file system has NEED octets
 * free for an unprivileged writer (see spool.h). */
int
spool_drop_room(int dfd, long long need)
{
	struct statvfs sv;

	if (fstatvfs(dfd, &sv) < 0)
		return 1;       /* unknown: the write will tell */
	return (long long)sv.f_bavail * (long long)sv.f_frsize >= need;
}

/* tmp_name - "tmp-NAME" into OUT. */
static int
tmp_name(char *out, size_t outsz, const char *name)
{
	int n = snprintf(out, outsz, "%s%s", SPOOL_DROP_TMP, name);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* spool_drop_create - create tmp-ID in the maildrop DFD, mode 0644
 * whatever the umask. */
int
spool_drop_create(int dfd, char *name, size_t namesz)
{
	char tmp[QUEUE_ID_MAX + 8];

	for (int tries = 0; tries < 10; tries++) {
		queue_id_new(name, namesz);
		if (tmp_name(tmp, sizeof tmp, name) < 0)
			return -1;
		int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW |
		    O_NOCTTY, 0600);
		if (fd >= 0) {
			if (fchmod(fd, 0644) < 0) {
				int err = errno;
				close(fd);
				unlinkat(dfd, tmp, 0);
				errno = err;
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* spool_drop_abandon - close FD and remove tmp-NAME of the maildrop DFD. */
void
spool_drop_abandon(int dfd, const char *name, int fd)
{
	char tmp[QUEUE_ID_MAX + 8];
	int err = errno;

	if (fd >= 0)
		close(fd);
	if (tmp_name(tmp, sizeof tmp, name) == 0)
		unlinkat(dfd, tmp, 0);
	errno = err;
}

/* spool_drop_commit - fsync, rename into place, make the rename durable.
 * The rename is the commit: before it the pickup sees nothing. The
 * setgid helper may not read the maildrop (1730), so it cannot open the
 * directory to fsync it: syncfs on the file's file system does that. */
int
spool_drop_commit(int dfd, const char *name, int fd)
{
	char tmp[QUEUE_ID_MAX + 8];
	int err;

	if (tmp_name(tmp, sizeof tmp, name) < 0 || fsync(fd) < 0) {
		spool_drop_abandon(dfd, name, fd);
		return RES_TEMP;
	}
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) < 0) {
		/* A file system without RENAME_NOREPLACE: link fails on EEXIST. */
		if ((errno != EINVAL && errno != ENOSYS) || linkat(dfd, tmp, dfd, name, 0) < 0) {
			spool_drop_abandon(dfd, name, fd);
			return RES_TEMP;
		}
		unlinkat(dfd, tmp, 0);
	}
	if (syncfs(fd) < 0) {
		/* Not known to be durable: take it back, the caller says 75. */
		err = errno;
		if (renameat(dfd, name, dfd, tmp) == 0)
			unlinkat(dfd, tmp, 0);
		close(fd);
		errno = err;
		return RES_TEMP;
	}
	return close(fd) < 0 ? RES_TEMP : RES_OK;
}

/* ------------------------------------------------------ the pickup's side */

/* spool_drop_list - the committed files of the maildrop, sorted; at most
 * PICKUP_NAMES_MAX of them in one listing. */
int
spool_drop_list(const char *dir, char ***names, int *n)
{
	return spool_list_ids(dir, "maildrop", PICKUP_NAMES_MAX, names, n);
}

/* spool_drop_open - open maildrop/NAME read-only (a FIFO planted there
 * must not block the pickup). */
int
spool_drop_open(const char *dir, const char *name)
{
	return spool_open_id(dir, "maildrop", name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
}

/* spool_drop_remove - remove maildrop/NAME, then what the pickup
 * remembered of it (NAME.done), durably. */
int
spool_drop_remove(const char *dir, const char *name)
{
	char path[FILE_PATH_MAX], state[FILE_PATH_MAX], drop[FILE_PATH_MAX];

	if (!spool_valid_id(name) || spool_path(path, sizeof path, dir, "maildrop", name, "") < 0 ||
	    spool_path(state, sizeof state, dir, "maildrop", name, SPOOL_DROP_STATE) < 0 ||
	    spool_path(drop, sizeof drop, dir, NULL, "maildrop", "") < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	if (fsync_dir(drop) < 0)
		return -1;
	/* A crash here leaves NAME.done alone: spool_drop_clean removes it. */
	if (unlink(state) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* spool_drop_state_load - which recipients of NAME are done (see spool.h). */
int
spool_drop_state_load(const char *dir, const char *name, unsigned char *done, int n)
{
	char path[FILE_PATH_MAX], buf[16];
	FILE *f;
	int fd;

	memset(done, 0, (size_t)n);
	if (!spool_valid_id(name) ||
	    spool_path(path, sizeof path, dir, "maildrop", name, SPOOL_DROP_STATE) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!(f = fdopen(fd, "r"))) {
		close(fd);
		return -1;
	}
	while (fgets(buf, sizeof buf, f)) {
		char *end;
		long i = strtol(buf, &end, 10);
		if (end != buf && (*end == '\n' || *end == '\0') && i >= 0 && i < n)
			done[i] = 1;
	}
	fclose(f);
	return 0;
}

/* spool_drop_state_save - record DONE for NAME: written, fsynced, renamed
 * over NAME.done, the maildrop fsynced. */
int
spool_drop_state_save(const char *dir, const char *name, const unsigned char *done, int n)
{
	char path[FILE_PATH_MAX], tmp[FILE_PATH_MAX], drop[FILE_PATH_MAX], line[16];
	int fd, err;

	if (!spool_valid_id(name) ||
	    spool_path(path, sizeof path, dir, "maildrop", name, SPOOL_DROP_STATE) < 0 ||
	    spool_path(tmp, sizeof tmp, dir, "maildrop", name, SPOOL_DROP_STATE "-new") < 0 ||
	    spool_path(drop, sizeof drop, dir, NULL, "maildrop", "") < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!done[i])
			continue;
		snprintf(line, sizeof line, "%d\n", i);
		if (write_all(fd, line, strlen(line)) < 0)
			goto fail;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) < 0 || fsync_dir(drop) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = err;
	return -1;
}

/* stale - whether maildrop entry NAME is litter to remove now: a tmp-
 * file older than SPOOL_TMP_STALE_SEC, or a NAME.done (or .done-new)
 * whose message is gone. */
static int
stale(const char *dir, const char *name, const struct stat *st, time_t now)
{
	char base[QUEUE_ID_MAX + 1], path[FILE_PATH_MAX];
	size_t plen = strlen(SPOOL_DROP_TMP);
	const char *dot = strchr(name, '.');
	struct stat bst;

	if (strncmp(name, SPOOL_DROP_TMP, plen) == 0)
		return spool_valid_id(name + plen) && now - st->st_mtime >= SPOOL_TMP_STALE_SEC;
	if (!dot || (size_t)(dot - name) >= sizeof base ||
	    (strcmp(dot, SPOOL_DROP_STATE) != 0 && strcmp(dot, SPOOL_DROP_STATE "-new") != 0))
		return 0;
	memcpy(base, name, (size_t)(dot - name));
	base[dot - name] = '\0';
	return spool_valid_id(base) && st->st_uid == geteuid() &&
	    spool_path(path, sizeof path, dir, "maildrop", base, "") == 0 &&
	    lstat(path, &bst) < 0 && errno == ENOENT;
}

/* spool_drop_clean - remove the litter of the maildrop (see spool.h). */
void
spool_drop_clean(const char *dir)
{
	char sub[FILE_PATH_MAX], path[FILE_PATH_MAX];
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	int seen = 0;
	DIR *d;

	if (spool_path(sub, sizeof sub, dir, NULL, "maildrop", "") < 0 || !(d = opendir(sub)))
		return;
	while ((de = readdir(d)) && seen++ < PICKUP_NAMES_MAX * 4) {
		if (de->d_name[0] == '.' ||
		    spool_path(path, sizeof path, dir, "maildrop", de->d_name, "") < 0 ||
		    lstat(path, &st) < 0 || !stale(dir, de->d_name, &st, now))
			continue;
		if (unlink(path) == 0)
			log_msg(LOG_INFO, "removed stale maildrop file %s (uid %ld)", de->d_name,
			    (long)st.st_uid);
	}
	closedir(d);
}

/* spool_root_check - started as root, whether DIR may be run as its
 * owner (see spool.h). */
int
spool_root_check(const char *dir, char *why, size_t whysz)
{
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (stat(dir, &st) < 0) {
		snprintf(why, whysz, "spool_dir %s: %s: started as root, relay-agent runs as the "
		    "owner of spool_dir, which must exist and belong to the mail system's "
		    "unprivileged account", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid == 0) {
		snprintf(why, whysz, "spool_dir %s %s: started as root, relay-agent runs as the "
		    "owner of spool_dir, never as root (chown -R vmail: %s, or run it as that "
		    "account)", dir, S_ISDIR(st.st_mode) ? "belongs to root" : "is not a directory",
		    dir);
		return -1;
	}
	return 0;
}

/* spool_become_owner - root becomes the spool's owner (see spool.h). */
int
spool_become_owner(const char *dir)
{
	struct passwd *pw;
	struct stat st;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	if (stat(dir, &st) < 0)
		return -1;
	if (st.st_uid == 0) {
		errno = EPERM;          /* spool_root_check says why */
		return -1;
	}
	spool_drop_make(dir);   /* its group needs root; the rest is the owner's */
	errno = 0;
	pw = getpwuid(st.st_uid);
	if (!pw && errno != 0 && errno != ENOENT && errno != ESRCH)
		return -1;      /* the account database cannot be read now */
	gid = pw ? pw->pw_gid : st.st_gid;
	if ((pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) < 0 || setgid(gid) < 0 ||
	    setuid(st.st_uid) < 0)
		return -1;
	if (getuid() != st.st_uid || geteuid() != st.st_uid || setuid(0) == 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}
