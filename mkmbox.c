/*
 * mkmbox.c - a missing system mailbox made for its user (see mkmbox.h).
 *
 * The request is one line, the account name; the answer one line:
 * "ok", "no REASON" (no such account: never will be) or "error REASON".
 * The helper checks the name with our rules and getpwnam, takes its
 * directory from its own configuration (never from the asker), creates
 * the file with O_EXCL|O_NOFOLLOW and only then gives it away, so no
 * asker can make it touch another file. Three ways reach it:
 *
 *   systemd     smtp-mkmbox.socket (Accept=yes) runs smtp-mkmbox as root
 *               with CAP_CHOWN only; the socket is for the service group
 *   cron/root   relay-agent forks a root child before it drops to the
 *               service account and passes its channel to what it runs
 *               ($SMTP_MKMBOX_FD); each request sends the child one end
 *               of a fresh socket pair
 *   root        a program already running as root creates the file itself
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bounds.h"
#include "log.h"
#include "mkmbox.h"
#include "users.h"
#include "util.h"

/* mkmbox_create - create DIR/NAME for account NAME (see mkmbox.h). */
int
mkmbox_create(const char *dir, const char *name, char *why, size_t whysz)
{
	struct passwd *pw;
	struct group *gr;
	struct stat st;
	int dfd, fd, err;

	if (!users_valid_name(name) || !(pw = getpwnam(name)) || strcmp(pw->pw_name, name) != 0) {
		snprintf(why, whysz, "no account %s", users_valid_name(name) ? name : "of that name");
		return RES_PERM;
	}
	uid_t uid = pw->pw_uid;
	if (!(gr = getgrnam(MKMBOX_GROUP))) {
		snprintf(why, whysz, "no group %s", MKMBOX_GROUP);
		return RES_TEMP;
	}
	gid_t gid = gr->gr_gid;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(why, whysz, "%s: %s", dir, strerror(errno));
		return RES_TEMP;
	}
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		err = errno;
		if (err == EEXIST && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode)) {
			close(dfd);
			return RES_OK;  /* made meanwhile; its owner is checked on use */
		}
		snprintf(why, whysz, "%s/%s: %s", dir, name, strerror(err));
		close(dfd);
		return RES_TEMP;
	}
	/* New and empty: mode first, then give it away (after fchown only
	 * its new owner could change the mode). */
	if (fchmod(fd, 0660) < 0 || fchown(fd, uid, gid) < 0 || fsync(fd) < 0 || fsync(dfd) < 0) {
		err = errno;
		unlinkat(dfd, name, 0);     /* ours, made an instant ago */
		close(fd);
		close(dfd);
		snprintf(why, whysz, "%s/%s: %s", dir, name, strerror(err));
		return RES_TEMP;
	}
	close(fd);
	close(dfd);
	log_msg(LOG_INFO, "created mailbox %s/%s (owner %s, group %s, mode 0660)", dir, name, name,
	    MKMBOX_GROUP);
	return RES_OK;
}

/* read_line - one line of at most MKMBOX_LINE_MAX octets from FD within
 * MKMBOX_WAIT_MS, LF removed; 0, or -1. */
static int
read_line(int fd, char *buf, size_t bufsz)
{
	long long deadline = now_ms() + MKMBOX_WAIT_MS;
	size_t got = 0;

	while (got < bufsz - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		n = read(fd, buf + got, bufsz - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		char *nl = memchr(buf, '\n', got);
		if (nl) {
			*nl = '\0';
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = '\0';
			return 0;
		}
	}
	return -1;
}

/* mkmbox_serve - one request on IN, the answer on OUT. */
void
mkmbox_serve(int in, int out, const char *dir)
{
	char name[MKMBOX_LINE_MAX + 1], why[MKMBOX_LINE_MAX + FILE_PATH_MAX], ans[MKMBOX_LINE_MAX];
	int rc;

	if (read_line(in, name, sizeof name) < 0) {
		(void)write_all(out, "error no request\n", 17);
		return;
	}
	rc = mkmbox_create(dir, name, why, sizeof why);
	if (rc != RES_OK) {
		sanitize_text(name);
		log_msg(LOG_WARNING, "mailbox for \"%.64s\" not created: %s", name, why);
	}
	snprintf(ans, sizeof ans, "%s\n", rc == RES_OK ? "ok" : rc == RES_PERM ?
	    "no such account" : "error cannot create it now");
	(void)write_all(out, ans, strlen(ans));
}

/* ask - send NAME on the connected socket FD, read the answer. */
static int
ask(int fd, const char *name, char *why, size_t whysz)
{
	char line[MKMBOX_LINE_MAX + 1];

	snprintf(line, sizeof line, "%s\n", name);
	if (write_all(fd, line, strlen(line)) < 0 || read_line(fd, line, sizeof line) < 0) {
		snprintf(why, whysz, "the mailbox helper did not answer");
		return RES_TEMP;
	}
	if (strcmp(line, "ok") == 0)
		return RES_OK;
	sanitize_text(line);
	snprintf(why, whysz, "the mailbox helper says: %.100s", line);
	return strncmp(line, "no ", 3) == 0 ? RES_PERM : RES_TEMP;
}

/* via_channel - a request through relay-agent's child: one end of a new
 * socket pair goes over the channel CHAN. */
static int
via_channel(int chan, const char *name, char *why, size_t whysz)
{
	int sv[2], rc;
	char byte = 'r', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
	                     .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, whysz, "socketpair: %s", strerror(errno));
		return RES_TEMP;
	}
	memset(cbuf, 0, sizeof cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
	if (sendmsg(chan, &mh, MSG_NOSIGNAL) != 1) {
		snprintf(why, whysz, "the mailbox helper is gone: %s", strerror(errno));
		rc = RES_TEMP;
	} else {
		close(sv[1]);
		sv[1] = -1;
		rc = ask(sv[0], name, why, whysz);
	}
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return rc;
}

/* via_socket - a request through the helper socket at PATH. */
static int
via_socket(const char *path, const char *name, char *why, size_t whysz)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlcpy_ck(sun.sun_path, path, sizeof sun.sun_path) < 0) {
		snprintf(why, whysz, "mkmbox_socket too long");
		return RES_TEMP;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		snprintf(why, whysz, "no mailbox helper at %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return RES_TEMP;
	}
	rc = ask(fd, name, why, whysz);
	close(fd);
	return rc;
}

/* mkmbox_request - have DIR/NAME made, by whichever way there is. */
int
mkmbox_request(const char *dir, const char *name, const char *helper, char *why, size_t whysz)
{
	const char *chan = getenv(MKMBOX_FD_ENV);
	char *end;
	long fd;

	if (geteuid() == 0)
		return mkmbox_create(dir, name, why, whysz);
	if (chan && *chan) {
		errno = 0;
		fd = strtol(chan, &end, 10);
		if (!*end && !errno && fd > 2 && fd < 65536 && fcntl((int)fd, F_GETFD) >= 0)
			return via_channel((int)fd, name, why, whysz);
	}
	return via_socket(helper, name, why, whysz);
}

/* mkmbox_owner_ok - whether ST belongs to account NAME. */
int
mkmbox_owner_ok(const struct stat *st, const char *name)
{
	struct passwd *pw = getpwnam(name);

	return pw && st->st_uid == pw->pw_uid;
}

/* child_loop - the root child: serve each socket the channel brings, one
 * at a time, until every holder of the other end is gone. */
static void
child_loop(int chan, const char *dir)
{
	for (;;) {
		char byte, cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
		                     .msg_controllen = sizeof cbuf };
		struct cmsghdr *cm;
		int fd = -1;
		ssize_t n = recvmsg(chan, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
			    cm->cmsg_len == CMSG_LEN(sizeof(int)))
				memcpy(&fd, CMSG_DATA(cm), sizeof fd);
		if (fd < 0)
			continue;
		mkmbox_serve(fd, fd, dir);
		close(fd);
	}
}

/* mkmbox_child_start - fork the root child of relay-agent (see mkmbox.h). */
int
mkmbox_child_start(const struct config *cf)
{
	static char env[32];
	int sv[2];
	pid_t pid;

	if (geteuid() != 0 || !cf->users_system)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		/* Nothing but the channel: stdin and stdout may be a terminal. */
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			if (null > 2)
				close(null);
		}
		signal(SIGPIPE, SIG_IGN);
		child_loop(sv[1], cf->mailbox_dir);
	}
	close(sv[1]);
	/* The programs relay-agent starts (its pickup's sessions) inherit it. */
	if (fcntl(sv[0], F_SETFD, 0) < 0)
		return -1;
	snprintf(env, sizeof env, "%d", sv[0]);
	return setenv(MKMBOX_FD_ENV, env, 1);
}
