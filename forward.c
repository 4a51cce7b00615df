/*
 * forward.c - a user's ~/.forward, read with that user's identity
 * (users system; see forward.h).
 *
 * Debian's adduser makes home directories 0700, so the service account
 * cannot read ~/.forward, and must not be given the right to. The file is
 * read by a process that has become its user (initgroups, setgid,
 * setuid), forked by a program that runs as root: smtp-session or
 * relay-agent started as root, the mailbox helper smtp-mkmbox (systemd),
 * relay-agent's root child (cron). The service account reads it itself
 * only when it can (a home it may search); on EACCES it asks the helper,
 * which answers a request "forward NAME" with
 *
 *   ok LEN            LEN octets follow: the file (Postfix's checks made)
 *   none              no ~/.forward
 *   ignored REASON    one that is not used (logged by the asker)
 *   no REASON         no such account
 *   error REASON      nothing known now: try again later
 *
 * The helper takes the name, never a path: the file is always the home
 * directory's .forward from the password database, opened without
 * following a symbolic link, a plain file owned by the user (or root),
 * writable by nobody else, at most FORWARD_FILE_MAX octets.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bounds.h"
#include "config.h"
#include "forward.h"
#include "mkmbox.h"
#include "users.h"
#include "util.h"

/* check_read - Postfix's checks on the open ~/.forward FD of account
 * NAME (UID), then its text into BUF (NUL-terminated); 1 read, 0 not
 * used (the reason in WHY), -1 a read error (in WHY). */
static int
check_read(int fd, const char *name, uid_t uid, char *buf, size_t bufsz, char *why,
           size_t whysz)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_uid != uid && st.st_uid != 0) ||
	    (st.st_mode & 022)) {
		snprintf(why, whysz, "not a plain file owned by %s and writable by it only", name);
		return 0;
	}
	while (got < bufsz && (n = read(fd, buf + got, bufsz - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, whysz, "%s", strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	if (got >= bufsz) {
		snprintf(why, whysz, "longer than %zu octets", bufsz - 1);
		return 0;
	}
	buf[got] = '\0';
	return 1;
}

/* open_forward - open DIR/.forward without following a link; -1 with
 * errno (ENOENT for a home that is no directory). */
static int
open_forward(const char *dir)
{
	char path[FILE_PATH_MAX];

	if (!dir || dir[0] != '/' || path_join(path, sizeof path, dir, ".forward") < 0) {
		errno = ENOENT;
		return -1;
	}
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOTDIR)
		errno = ENOENT;
	return fd;
}

/* answer_self - as the user NAME (UID) now: read its ~/.forward in DIR
 * and write the answer (see the top) on OUT. */
static void
answer_self(const char *name, const char *dir, uid_t uid, int out)
{
	static char buf[FORWARD_FILE_MAX + 1];
	char head[FORWARD_REASON_MAX + 32], why[FORWARD_REASON_MAX];
	int fd = open_forward(dir), rc;

	if (fd < 0) {
		if (errno == ENOENT)
			snprintf(head, sizeof head, "none\n");
		else
			snprintf(head, sizeof head, "ignored %s\n", strerror(errno));
		(void)write_all(out, head, strlen(head));
		return;
	}
	rc = check_read(fd, name, uid, buf, sizeof buf, why, sizeof why);
	close(fd);
	if (rc <= 0) {
		snprintf(head, sizeof head, "%s %s\n", rc == 0 ? "ignored" : "error", why);
		(void)write_all(out, head, strlen(head));
		return;
	}
	snprintf(head, sizeof head, "ok %zu\n", strlen(buf));
	if (write_all(out, head, strlen(head)) == 0)
		(void)write_all(out, buf, strlen(buf));
}

/* spawn - as root: a child that becomes PW and writes the answer about
 * its ~/.forward on OUT; its pid, 0 when the answer was written here (root's
 * own, or a name too long), -1 when it could not start (answered). */
static pid_t
spawn(const struct passwd *pw, int out)
{
	char name[USER_NAME_MAX + 1], dir[FILE_PATH_MAX];
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	pid_t pid;

	if (uid == 0) {
		answer_self(pw->pw_name, pw->pw_dir, 0, out);  /* root's, as root */
		return 0;
	}
	if (strlcpy_ck(name, pw->pw_name, sizeof name) < 0 ||
	    strlcpy_ck(dir, pw->pw_dir ? pw->pw_dir : "", sizeof dir) < 0) {
		(void)write_all(out, "ignored its name or home is too long\n", 37);
		return 0;
	}
	if ((pid = fork()) < 0) {
		(void)write_all(out, "error cannot fork\n", 18);
		return -1;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		if (initgroups(name, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0 ||
		    getuid() != uid || geteuid() != uid || setuid(0) == 0) {
			(void)write_all(out, "error cannot become the user\n", 29);
			_exit(1);
		}
		answer_self(name, dir, uid, out);
		_exit(0);
	}
	return pid;
}

/* forward_serve - as root: the answer about account PW on OUT, from a
 * child that has become PW (see forward.h). */
void
forward_serve(const struct passwd *pw, int out)
{
	child_reap(spawn(pw, out), MKMBOX_WAIT_MS);
}

/* read_until - up to N octets from FD into BUF before DEADLINE (ms);
 * with LINE, stop after a LF. The count read, or -1. */
static ssize_t
read_until(int fd, char *buf, size_t n, long long deadline, int line)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		ssize_t r = read(fd, buf + got, line ? 1 : n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return got ? (ssize_t)got : -1;
		got += (size_t)r;
		if (line && buf[got - 1] == '\n')
			break;
	}
	return (ssize_t)got;
}

/* forward_answer_read - the answer on FD into BUF (see forward.h). */
int
forward_answer_read(int fd, char *buf, size_t bufsz, char *why, size_t whysz)
{
	long long deadline = now_ms() + MKMBOX_WAIT_MS;
	char head[FORWARD_REASON_MAX + 32];
	ssize_t n = read_until(fd, head, sizeof head - 1, deadline, 1);
	char *end;

	if (n <= 0 || head[n - 1] != '\n') {
		snprintf(why, whysz, "no answer about ~/.forward");
		return FWD_TEMP;
	}
	head[n - 1] = '\0';
	sanitize_text(head);
	if (strcmp(head, "none") == 0)
		return FWD_NONE;
	if (strncmp(head, "ignored ", 8) == 0) {
		snprintf(why, whysz, "%s", head + 8);
		return FWD_IGNORED;
	}
	if (strncmp(head, "no ", 3) == 0) {
		snprintf(why, whysz, "%s", head + 3);
		return FWD_NONE;
	}
	if (strncmp(head, "ok ", 3) == 0) {
		errno = 0;
		unsigned long len = strtoul(head + 3, &end, 10);
		if (*end || errno || len >= bufsz ||
		    (len > 0 && read_until(fd, buf, len, deadline, 0) != (ssize_t)len)) {
			snprintf(why, whysz, "a bad answer about ~/.forward");
			return FWD_TEMP;
		}
		buf[len] = '\0';
		return FWD_READ;
	}
	snprintf(why, whysz, "%s", strncmp(head, "error ", 6) == 0 ? head + 6 : head);
	return FWD_TEMP;
}

/* via_child - as root: a child that becomes PW reads it, through a pipe. */
static int
via_child(const struct passwd *pw, char *buf, size_t bufsz, char *why, size_t whysz)
{
	int p[2], rc;

	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, whysz, "pipe: %s", strerror(errno));
		return FWD_TEMP;
	}
	pid = spawn(pw, p[1]);
	close(p[1]);
	/* Read while the child writes (bounded by MKMBOX_WAIT_MS), then
	 * reap it (killed if it hangs). */
	rc = forward_answer_read(p[0], buf, bufsz, why, whysz);
	close(p[0]);
	if (pid > 0 && rc == FWD_TEMP)
		kill(pid, SIGKILL);
	child_reap(pid, MKMBOX_WAIT_MS);
	return rc;
}

/* forward_fetch - ~/.forward of account PW (see forward.h). */
int
forward_fetch(const struct config *cf, const struct passwd *pw, char *buf, size_t bufsz,
              char *why, size_t whysz)
{
	char line[USER_NAME_MAX + 16];
	int fd, rc;

	why[0] = '\0';
	if (geteuid() == 0)
		return via_child(pw, buf, bufsz, why, whysz);
	/* The service account: itself when the home lets it. */
	if ((fd = open_forward(pw->pw_dir)) >= 0) {
		rc = check_read(fd, pw->pw_name, pw->pw_uid, buf, bufsz, why, whysz);
		close(fd);
		return rc > 0 ? FWD_READ : rc == 0 ? FWD_IGNORED : FWD_TEMP;
	}
	if (errno == ENOENT)
		return FWD_NONE;
	if (errno != EACCES) {
		snprintf(why, whysz, "%s", strerror(errno));
		return FWD_IGNORED;
	}
	/* A home it may not search (0700): the helper, as the user. */
	if ((fd = mkmbox_helper_open(cf->mkmbox_socket, why, whysz)) < 0)
		return FWD_TEMP;
	snprintf(line, sizeof line, "forward %s\n", pw->pw_name);
	if (write_all(fd, line, strlen(line)) < 0) {
		snprintf(why, whysz, "the mailbox helper is gone: %s", strerror(errno));
		close(fd);
		return FWD_TEMP;
	}
	rc = forward_answer_read(fd, buf, bufsz, why, whysz);
	close(fd);
	return rc;
}
