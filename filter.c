/*
 * filter.c - the content filter hook (see filter.h).
 *
 * The filter is started without a shell, with the session's privileges,
 * in a process group of its own: its stdin is the staged message itself
 * (a file: a filter that never reads it blocks nobody), its stdout and
 * stderr are pipes read with poll. What it prints is turned into stored
 * text and written to OUT_FD as it comes, through one fixed buffer, so
 * memory does not grow with the message; of stderr only the first line
 * is kept, bounded. When the filter exits, when filter_timeout passes,
 * or when the output grows past max_message_size, the whole process
 * group is killed, so a filter that never closes its stdout, or leaves a
 * child behind (holding our pipes or not), cannot hold the session or
 * outlive its verdict. A session ended by a signal kills it too
 * (filter_on_signal).
 *
 * Exit status (qmail-qfilter's conventions): 0 store its output (empty
 * output is a fault); 100, 64, 65, 70, 76, 77, 78, 112 refuse for good;
 * anything else, a signal or the timeout refuse for now. The envelope is
 * the session's: the filter cannot change it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bufout.h"
#include "filter.h"
#include "log.h"
#include "util.h"

/* The exit codes that refuse a message for good. */
static const int permanent[] = { 100, 64, 65, 70, 76, 77, 78, 112 };

/* The filter's process group while it runs, for filter_on_signal. */
static volatile pid_t running;

/* filter_on_signal - kill the running filter's process group (async-
 * signal-safe): the session is ending. */
void
filter_on_signal(void)
{
	if (running > 0)
		kill(-running, SIGKILL);
}

/* recipients_fit - the length of the longest prefix of the LF-separated
 * list R that ends a line and has at most MAX octets; *LEFT_OUT the
 * lines that do not fit (0: all of it fits). */
static size_t
recipients_fit(const char *r, size_t max, long *left_out)
{
	size_t len = strlen(r), cut = 0;

	*left_out = 0;
	if (len <= max)
		return len;
	for (size_t i = 0; i <= max; i++)
		if (r[i] == '\n')
			cut = i;
	*left_out = 1;
	for (size_t i = cut + 1; i < len; i++)
		if (r[i] == '\n')
			(*left_out)++;
	return cut;
}

/* child - in the forked child: set up the descriptors, the environment
 * and the signals, then exec the filter. Never returns. */
static void
child(const struct config *cf, const struct filter_info *fi, int in_fd, int out_w, int err_w)
{
	char uid[32], count[32];
	sigset_t none;
	size_t cut;
	long left_out;

	setpgid(0, 0);
	/* The session's handlers would remove its staging files: gone
	 * before the signals blocked around fork come through. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (lseek(in_fd, 0, SEEK_SET) < 0 || dup2(in_fd, 0) < 0 || dup2(out_w, 1) < 0 ||
	    dup2(err_w, 2) < 0)
		_exit(127);
	closefrom(3);
	/* One environment string is at most MAX_ARG_STRLEN (128 KiB) for
	 * execve: the list is cut after the last whole line that fits in
	 * FILTER_RCPTS_ENV_MAX, and SMTP_RECIPIENTS_TRUNCATED says how many
	 * recipients were left out. */
	cut = recipients_fit(fi->recipients, FILTER_RCPTS_ENV_MAX, &left_out);
	unsetenv("SMTP_RECIPIENTS_TRUNCATED");
	if (left_out > 0) {
		char *r = strdup(fi->recipients);
		if (!r)
			_exit(127);
		r[cut] = '\0';
		snprintf(count, sizeof count, "%ld", left_out);
		if (setenv("SMTP_RECIPIENTS", r, 1) < 0 ||
		    setenv("SMTP_RECIPIENTS_TRUNCATED", count, 1) < 0)
			_exit(127);
		free(r);
	} else if (setenv("SMTP_RECIPIENTS", fi->recipients, 1) < 0)
		_exit(127);
	if (setenv("SMTP_SENDER", fi->sender, 1) < 0 ||
	    setenv("SMTP_CLIENT_ADDR", fi->client, 1) < 0 ||
	    setenv("SMTP_HELO", fi->helo, 1) < 0 ||
	    setenv("SMTP_AUTH_USER", fi->auth_user, 1) < 0 ||
	    setenv("SMTP_QUEUE_ID", fi->queue_id, 1) < 0)
		_exit(127);
	unsetenv("SMTP_LOCAL_UID");
	if (fi->local_uid >= 0) {
		snprintf(uid, sizeof uid, "%ld", fi->local_uid);
		setenv("SMTP_LOCAL_UID", uid, 1);
	}
	execv(cf->filter_argv[0], cf->filter_argv);
	_exit(127);     /* not a permanent code: a missing filter is a 4xx */
}

/* Where the filter's output stands. */
struct fout {
	struct bufout *o;
	long long size;         /* CRLF-measured */
	int cr;                 /* a CR not yet written */
	char last;              /* the last octet written */
	int any;                /* something was printed */
};

/* fout_put - one chunk of the filter's stdout as stored text. */
static void
fout_put(struct fout *f, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = buf[i];
		f->any = 1;
		if (f->cr) {
			f->cr = 0;
			if (c == '\n') {
				bufout_put(f->o, "\n", 1);
				f->size += 2;
				f->last = '\n';
				continue;
			}
			bufout_put(f->o, "\r", 1);      /* a bare CR stays */
			f->size++;
		}
		if (c == '\r') {
			f->cr = 1;
			continue;
		}
		bufout_put(f->o, &c, 1);
		f->size += c == '\n' ? 2 : 1;
		f->last = c;
	}
}

/* fout_end - the output ended: a pending CR, a last line end. */
static void
fout_end(struct fout *f)
{
	if (f->cr) {
		bufout_put(f->o, "\r", 1);
		f->size++;
		f->last = '\r';
	}
	if (f->any && f->last != '\n') {
		bufout_put(f->o, "\n", 1);
		f->size += 2;
	}
}

/* errline_put - keep the first line of stderr, at most FILTER_ERR_MAX. */
static void
errline_put(char *line, size_t *len, int *done, const char *buf, size_t n)
{
	for (size_t i = 0; i < n && !*done; i++) {
		if (buf[i] == '\n' || *len == FILTER_ERR_MAX)
			*done = 1;
		else
			line[(*len)++] = buf[i];
	}
	line[*len] = '\0';
}

/* is_permanent - an exit code that refuses for good. */
static int
is_permanent(int code)
{
	for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++)
		if (permanent[i] == code)
			return 1;
	return 0;
}

/* filter_exited - whether the filter PID has ended, leaving it to be
 * reaped (its pid, and so its group's id, stays ours until then). */
static int
filter_exited(pid_t pid)
{
	siginfo_t si;

	si.si_pid = 0;
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* filter_run - run the filter on IN_FD into OUT_FD (see filter.h). */
enum filter_verdict
filter_run(const struct config *cf, const struct filter_info *fi, int in_fd, int out_fd,
           long long allowance, long long *size, char *text, size_t textsz)
{
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, status = 0, exited = 0;
	int errdone = 0, killed = 0, toobig = 0, werr = 0;
	char errline[FILTER_ERR_MAX + 1] = "", buf[IO_BUF_SIZE];
	size_t errlen = 0;
	long long deadline = now_ms() + (long long)cf->filter_timeout * 1000;
	struct fout f = { NULL, 0, 0, '\n', 0 };
	enum filter_verdict v;
	sigset_t block, old;
	pid_t pid;

	*size = 0;
	if (!(f.o = malloc(sizeof *f.o)) || pipe2(outp, O_CLOEXEC) < 0 ||
	    pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(text, textsz, "cannot start the filter: %s", strerror(errno));
		goto fail;
	}
	bufout_init(f.o, out_fd);
	/* The signals that end the session wait until the child is known
	 * (filter_on_signal) and has dropped the session's handlers. */
	sigfillset(&block);
	sigprocmask(SIG_BLOCK, &block, &old);
	if ((pid = fork()) < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		snprintf(text, textsz, "cannot start the filter: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child(cf, fi, in_fd, outp[1], errp[1]);
	setpgid(pid, pid);      /* also here: no race with the child's own */
	running = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;

	while (outp[0] >= 0 || errp[0] >= 0 || !exited) {
		struct pollfd pf[2];
		nfds_t n = 0;
		long long left = deadline - now_ms();

		if (!exited && filter_exited(pid)) {
			/* Its verdict is in: whatever it left running (holding
			 * our pipes, or not) goes with its group. The filter
			 * itself is not reaped yet, so the group's id cannot
			 * be anyone else's. */
			exited = 1;
			kill(-pid, SIGKILL);
		}
		if (exited && outp[0] < 0 && errp[0] < 0)
			break;
		if (left <= 0 || toobig || werr) {
			kill(-pid, SIGKILL);
			killed = 1;
			break;
		}
		if (outp[0] >= 0)
			pf[n++] = (struct pollfd){ .fd = outp[0], .events = POLLIN };
		if (errp[0] >= 0)
			pf[n++] = (struct pollfd){ .fd = errp[0], .events = POLLIN };
		/* With both pipes closed, wait for the exit in short steps. */
		if (poll(pf, n, n ? (left > 1000 ? 1000 : (int)left) : (left > 20 ? 20 : (int)left)) < 0 &&
		    errno != EINTR) {
			kill(-pid, SIGKILL);
			killed = 1;
			break;
		}
		for (nfds_t i = 0; i < n; i++) {
			ssize_t got;
			if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(pf[i].fd, buf, sizeof buf);
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (pf[i].fd == outp[0]) {
				if (got <= 0) {
					close(outp[0]);
					outp[0] = -1;
					continue;
				}
				fout_put(&f, buf, (size_t)got);
				if (f.o->err)
					werr = f.o->err;
				if (cf->max_message_size && f.size - allowance > cf->max_message_size)
					toobig = 1;
			} else {
				if (got <= 0) {
					close(errp[0]);
					errp[0] = -1;
					continue;
				}
				errline_put(errline, &errlen, &errdone, buf, (size_t)got);
			}
		}
	}
	/* The whole group, on every path: a child it left must not outlive
	 * it; then the filter is reaped and both pipes closed. */
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	running = 0;
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	fout_end(&f);
	if (bufout_flush(f.o) < 0 && !werr)
		werr = f.o->err ? f.o->err : EIO;
	*size = f.size - allowance;
	sanitize_text(errline);
	if (toobig) {
		snprintf(text, textsz, "output over max_message_size");
		v = FILTER_TOOBIG;
	} else if (werr) {
		snprintf(text, textsz, "cannot store its output: %s", strerror(werr));
		v = FILTER_TEMP;
	} else if (killed) {
		snprintf(text, textsz, "no answer within %d s: killed", cf->filter_timeout);
		v = FILTER_TEMP;
	} else if (WIFSIGNALED(status)) {
		snprintf(text, textsz, "killed by signal %d", WTERMSIG(status));
		v = FILTER_TEMP;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (f.any) {
			snprintf(text, textsz, "passed");
			v = FILTER_PASS;
		} else {
			snprintf(text, textsz, "exit 0 with empty output");
			v = FILTER_TEMP;
		}
	} else if (WIFEXITED(status) && is_permanent(WEXITSTATUS(status))) {
		snprintf(text, textsz, "%s", errline[0] ? errline : "Message refused by content filter");
		v = FILTER_REFUSE;
	} else {
		snprintf(text, textsz, "exit %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		v = FILTER_TEMP;
	}
	if (v != FILTER_PASS && v != FILTER_REFUSE && errline[0]) {
		size_t l = strlen(text);
		snprintf(text + l, textsz - l, " (%s)", errline);
	}
	free(f.o);
	return v;
fail:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(f.o);
	return FILTER_TEMP;
}
