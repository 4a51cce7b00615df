/*
 * pickup.c - relay-agent's pickup: each file sendmail left in the
 * maildrop becomes a local submission on behalf of its owner.
 *
 * A dropped file holds the SMTP dialogue sendmail would have spoken over
 * the submission socket (EHLO, MAIL, one RCPT per recipient, DATA, the
 * dot-stuffed text, QUIT). The pickup checks that it has that shape,
 * takes the sender and recipients from it (for a report only), and feeds
 * the file unchanged, as standard input, to smtp-session -c FILE -U UID,
 * UID being the file's owner: every check of a session applies, and
 * nothing in the file is trusted but its owner. What is fed is the file
 * as it is but for its RCPT lines: only those of the recipients still
 * to do (a child writes it into a pipe). It reads the replies, in order,
 * and decides for each recipient:
 *
 *   2xx at RCPT, 250 after the final dot    done: stored
 *   5xx at RCPT, or a 5xx for the message   done: reported to the sender
 *                                           in a DSN (bounce.c; none for
 *                                           <>: logged)
 *   4xx at RCPT (452 too many recipients    still to do: fed again at once
 *   after a partial store, say), 4xx for    in a new transaction when the
 *   the message, no reply at all            last one stored something,
 *                                           else at the next run, until
 *                                           queue_lifetime after the
 *                                           file's mtime: then a DSN
 *
 * Which recipients are done is recorded (maildrop/NAME.done, spool.h)
 * while some are still to do; the file goes when all are done. Each file
 * is locked (flock) while it is handled, so two pickups never feed the
 * same file; one interrupted between a delivery and its record may
 * deliver that copy twice, never lose it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bounce.h"
#include "linereader.h"
#include "log.h"
#include "pickup.h"
#include "spool.h"
#include "util.h"

#ifndef SBINDIR
#define SBINDIR "/usr/local/sbin"
#endif

/* One recipient of a dropped file and its reply. */
struct drop_rcpt {
	char addr[ADDR_MAX + 1];
	off_t off;                      /* its RCPT line in the file */
	size_t len;
	int code;                       /* this transaction's reply; 0: none */
	char reply[SMTP_REPLY_MAX + 1];
	int report;                     /* to put in this run's DSN */
};

/* One dropped file. */
struct drop {
	const char *name;
	int fd;
	long uid;
	time_t mtime;
	char sender[ADDR_MAX + 1];      /* "" for <> */
	struct drop_rcpt *rcpts;
	unsigned char *done;            /* per recipient: stored or reported */
	int nrcpts;
	off_t head;                     /* where the RCPT lines start */
	off_t data;                     /* where the DATA line starts */
	off_t text;                     /* where the message text starts */
	int code;                       /* the first reply of this transaction
	                                   that is no success and not a RCPT's
	                                   (0: none), and its text */
	char reply[SMTP_REPLY_MAX + 1];
	int early;                      /* that reply came before the RCPTs
	                                   (greeting, EHLO, MAIL): theirs say
	                                   nothing */
	int stored;                     /* 250 after the final dot */
};

/* drop_line - the line at *OFF of FD (CRLF or LF removed) into BUF;
 * *OFF advances. 0, or -1 at the end or when it is longer than MAX. */
static int
drop_line(int fd, off_t *off, char *buf, size_t max)
{
	ssize_t n = pread(fd, buf, max + 2, *off);
	char *nl;

	if (n <= 0 || !(nl = memchr(buf, '\n', (size_t)n)))
		return -1;
	*off += nl - buf + 1;
	*nl = '\0';
	if (nl > buf && nl[-1] == '\r')
		nl[-1] = '\0';
	return 0;
}

/* path_arg - the path after KW ("MAIL FROM:", "RCPT TO:") into OUT. */
static int
path_arg(const char *line, const char *kw, int null_ok, char *out, size_t outsz)
{
	size_t n = strlen(kw);
	const char *end;
	struct addr a;

	if (strncasecmp(line, kw, n) != 0)
		return -1;
	line += n;
	while (*line == ' ')
		line++;
	if (addr_parse_path(line, &end, null_ok, &a) != ADDR_OK)
		return -1;
	return strlcpy_ck(out, a.null ? "" : a.full, outsz);
}

/* drop_parse - check the dialogue's commands and take its sender and
 * recipients; -1 with WHY when it is not what sendmail writes. */
static int
drop_parse(struct drop *d, char *why, size_t whysz)
{
	char line[SMTP_MAILRCPT_MAX + 3];
	off_t off = 0;

	if (drop_line(d->fd, &off, line, SMTP_MAILRCPT_MAX) < 0 ||
	    (strncasecmp(line, "EHLO ", 5) != 0 && strncasecmp(line, "HELO ", 5) != 0)) {
		snprintf(why, whysz, "no EHLO first");
		return -1;
	}
	if (drop_line(d->fd, &off, line, SMTP_MAILRCPT_MAX) < 0 ||
	    path_arg(line, "MAIL FROM:", 1, d->sender, sizeof d->sender) < 0) {
		snprintf(why, whysz, "no MAIL FROM after EHLO");
		return -1;
	}
	d->head = off;
	for (;;) {
		off_t start = off;
		if (drop_line(d->fd, &off, line, SMTP_MAILRCPT_MAX) < 0) {
			snprintf(why, whysz, "no DATA after the recipients");
			return -1;
		}
		if (strcasecmp(line, "DATA") == 0) {
			d->data = start;
			break;
		}
		if (d->nrcpts >= RCPT_EXPAND_MAX) {
			snprintf(why, whysz, "more than %d recipients", RCPT_EXPAND_MAX);
			return -1;
		}
		if (path_arg(line, "RCPT TO:", 0, d->rcpts[d->nrcpts].addr,
		    sizeof d->rcpts[0].addr) < 0) {
			snprintf(why, whysz, "a bad RCPT TO line");
			return -1;
		}
		d->rcpts[d->nrcpts].off = start;
		d->rcpts[d->nrcpts].len = (size_t)(off - start);
		d->nrcpts++;
	}
	if (d->nrcpts == 0) {
		snprintf(why, whysz, "no recipient");
		return -1;
	}
	d->text = off;
	return 0;
}

/* read_reply - one reply of the session (multi-line ones whole): its
 * code, 0 when it never came; its last line into TEXT. */
static int
read_reply(struct linereader *lr, char *text, size_t textsz)
{
	char line[SMTP_REPLY_MAX + 1];
	size_t len;

	for (int k = 0; k < SMTP_REPLY_LINES_MAX; k++) {
		if (lr_getline(lr, line, SMTP_REPLY_MAX, &len) != LR_LINE)
			return 0;
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len < 3 || line[0] < '2' || line[0] > '5' ||
		    (len > 3 && line[3] != ' ' && line[3] != '-'))
			return 0;
		if (len == 3 || line[3] == ' ') {
			sanitize_text(line);
			strlcpy_ck(text, line, textsz);
			return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		}
	}
	return 0;
}

/* note - a reply of a step that is no RCPT: remember the first failure. */
static void
note(struct drop *d, int code, const char *text)
{
	if (code / 100 == 2 || code == 354 || d->code)
		return;
	d->code = code ? code : 451;
	strlcpy_ck(d->reply, code ? text : "451 4.3.0 the local submission ended without "
	    "an answer", sizeof d->reply);
}

/* session_path - smtp-session beside relay-agent, else in SBINDIR. */
static void
session_path(char *out, size_t outsz)
{
	char self[FILE_PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if (path_join(out, outsz, self, "smtp-session") == 0 && access(out, X_OK) == 0)
				return;
		}
	}
	path_join(out, outsz, SBINDIR, "smtp-session");
}

/* copy_range - octets [FROM, TO) of FD (TO -1: to its end) onto OUT. */
static int
copy_range(int fd, off_t from, off_t to, int out)
{
	static char buf[IO_BUF_SIZE];

	while (to < 0 || from < to) {
		size_t want = to < 0 || to - from > (off_t)sizeof buf ? sizeof buf : (size_t)(to - from);
		ssize_t n = pread(fd, buf, want, from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 || to >= 0 ? -1 : 0;
		if (write_all(out, buf, (size_t)n) < 0)
			return -1;
		from += n;
	}
	return 0;
}

/* write_dialogue - the file as it is, but with only the RCPT lines of the
 * recipients still to do, onto OUT (a child's job: the session reads it
 * while the parent reads the replies). */
static void
write_dialogue(const struct drop *d, int out)
{
	if (copy_range(d->fd, 0, d->head, out) < 0)
		_exit(1);
	for (int i = 0; i < d->nrcpts; i++)
		if (!d->done[i] && !d->rcpts[i].report && copy_range(d->fd, d->rcpts[i].off,
		    d->rcpts[i].off + (off_t)d->rcpts[i].len, out) < 0)
			_exit(1);
	_exit(copy_range(d->fd, d->data, -1, out) < 0);
}

/* feed - one transaction: smtp-session -U on the recipients still to do;
 * their replies into D's recipients, the rest into D. */
static void
feed(const struct config *cf, struct drop *d)
{
	char prog[FILE_PATH_MAX], uid[32], text[SMTP_REPLY_MAX + 1];
	struct linereader *lr = malloc(sizeof *lr);
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, code, feeds[RCPT_EXPAND_MAX], nfeed = 0;
	pid_t writer = -1, pid = -1;

	d->code = 0;
	d->reply[0] = '\0';
	d->early = 0;
	d->stored = 0;
	for (int i = 0; i < d->nrcpts; i++) {
		if (d->rcpts[i].report)
			continue;       /* keeps the reply it is reported with */
		d->rcpts[i].code = 0;
		strlcpy_ck(d->rcpts[i].reply, "451 4.3.0 no answer", sizeof d->rcpts[i].reply);
		if (!d->done[i] && !d->rcpts[i].report)
			feeds[nfeed++] = i;
	}
	session_path(prog, sizeof prog);
	snprintf(uid, sizeof uid, "%ld", d->uid);
	if (!lr || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    (writer = fork()) < 0)
		goto fail;
	if (writer == 0) {
		close(in[0]);
		close(out[0]);
		close(out[1]);
		write_dialogue(d, in[1]);
	}
	if ((pid = fork()) < 0)
		goto fail;
	if (pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(EXIT_TEMPFAIL);
		execl(prog, "smtp-session", "-c", cf->file, "-U", uid, (char *)NULL);
		_exit(EXIT_TEMPFAIL);
	}
	close(in[0]);
	close(in[1]);
	close(out[1]);
	in[0] = in[1] = out[1] = -1;
	lr_init(lr, out[0], 2 * cf->smtp_timeout);
	/* Greeting, EHLO, MAIL, each RCPT, DATA, the reply after the dot. */
	for (int step = 0; step < 4 + nfeed; step++) {
		code = read_reply(lr, text, sizeof text);
		if (step >= 3 && step < 3 + nfeed) {
			struct drop_rcpt *r = &d->rcpts[feeds[step - 3]];
			r->code = code;
			if (code)
				strlcpy_ck(r->reply, text, sizeof r->reply);
			if (code)
				continue;
		}
		if (code == 0 || step < 3 + nfeed) {
			if (step < 3 && !d->code && code / 100 != 2)
				d->early = 1;
			note(d, code, text);
			if (code == 0)
				break;
			continue;
		}
		/* DATA: with no recipient taken, its 503 says nothing new. */
		if (code != 354) {
			for (int k = 0; k < nfeed; k++)
				if (d->rcpts[feeds[k]].code / 100 == 2)
					note(d, code, text);
			break;
		}
		code = read_reply(lr, text, sizeof text);
		note(d, code, text);
		if (code / 100 == 2) {
			d->stored = 1;
			strlcpy_ck(d->reply, text, sizeof d->reply);
		}
	}
	close(out[0]);
	free(lr);
	child_reap(pid, PICKUP_REAP_MS);
	child_reap(writer, PICKUP_REAP_MS);
	return;
fail:
	log_msg(LOG_ERR, "pickup: cannot start %s: %s", prog, strerror(errno));
	note(d, 0, "");
	for (int k = 0; k < 2; k++) {
		if (in[k] >= 0)
			close(in[k]);
		if (out[k] >= 0)
			close(out[k]);
	}
	if (writer > 0) {
		kill(writer, SIGKILL);
		child_reap(writer, PICKUP_REAP_MS);
	}
	free(lr);
}

/* headers_copy - the message's header section, dot-unstuffed, LF line
 * ends, into an anonymous file for the DSN; its fd or -1. */
static int
headers_copy(const struct drop *d)
{
	char line[SMTP_TEXT_LINE_MAX + 3];
	off_t off = d->text;
	size_t total = 0;
	int fd = memfd_create("dsn-headers", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (total < BOUNCE_HEADERS_MAX && drop_line(d->fd, &off, line, SMTP_TEXT_LINE_MAX) == 0) {
		const char *s = line[0] == '.' ? line + 1 : line;
		if (s[0] == '\0')
			break;          /* the empty line, or the final dot */
		size_t n = strlen(s);
		if (write_all(fd, s, n) < 0 || write_all(fd, "\n", 1) < 0)
			break;
		total += n + 1;
	}
	return fd;
}

/* report - the DSN about the recipients of D marked for it, each with
 * its last reply. RES_OK (sent, or nobody to tell) or RES_TEMP. */
static int
report(const struct config *cf, struct drop *d)
{
	struct envelope env;
	struct bounce_item *items = calloc((size_t)d->nrcpts, sizeof *items);
	struct spool_rcpt *rs = calloc((size_t)d->nrcpts, sizeof *rs);
	char (*status)[16] = calloc((size_t)d->nrcpts, sizeof *status);
	char bid[QUEUE_ID_MAX], why[512];
	int n = 0, rc = RES_TEMP, hfd = -1;
	time_t now = time(NULL);

	if (!items || !rs || !status)
		goto out;
	for (int i = 0; i < d->nrcpts; i++) {
		struct drop_rcpt *r = &d->rcpts[i];
		if (!r->report)
			continue;
		strlcpy_ck(rs[n].orig, r->addr, sizeof rs[n].orig);
		strlcpy_ck(rs[n].addr, r->addr, sizeof rs[n].addr);
		strlcpy_ck(rs[n].last_reply, r->reply, sizeof rs[n].last_reply);
		rs[n].state = RS_BOUNCED;
		bounce_status(rs[n].last_reply, status[n], sizeof status[n]);
		status[n][0] = '5';     /* reported as final: it will not be retried */
		items[n].rcpt = &rs[n];
		items[n].status = status[n];
		items[n].diagnostic = rs[n].last_reply;
		items[n].when = now;
		n++;
	}
	if (n == 0) {
		rc = RES_OK;
		goto out;
	}
	if (d->sender[0] == '\0') {
		log_msg(LOG_INFO, "pickup: %s: uid=%ld, from=<>: %d recipient(s) refused (%s); "
		    "nobody to tell", d->name, d->uid, n, rs[0].last_reply);
		rc = RES_OK;
		goto out;
	}
	memset(&env, 0, sizeof env);
	strlcpy_ck(env.id, d->name, sizeof env.id);
	env.arrival = d->mtime;
	strlcpy_ck(env.sender, d->sender, sizeof env.sender);
	env.rcpts = rs;
	env.nrcpts = n;
	if ((hfd = headers_copy(d)) < 0)
		goto out;
	rc = bounce_send(cf, &env, hfd, items, n, bid, sizeof bid, why, sizeof why);
	if (rc == RES_OK && bid[0])
		log_msg(LOG_INFO, "pickup: %s: uid=%ld, from=<%s>: %d recipient(s) refused (%s); "
		    "sender non-delivery notification: %s", d->name, d->uid, d->sender, n,
		    rs[0].last_reply, bid);
	else if (rc == RES_OK)
		log_msg(LOG_INFO, "pickup: %s: uid=%ld: %d recipient(s) refused; bounce dropped: %s",
		    d->name, d->uid, n, why);
	else
		log_msg(LOG_WARNING, "pickup: %s: no DSN now: %s", d->name, why);
out:
	if (hfd >= 0)
		close(hfd);
	free(items);
	free(rs);
	free(status);
	return rc;
}

/* drop_done - the file is finished with: removed, durably. */
static void
drop_done(const struct config *cf, const struct drop *d)
{
	if (spool_drop_remove(cf->spool_dir, d->name) < 0)
		log_msg(LOG_ERR, "pickup: %s: cannot remove it: %s", d->name, strerror(errno));
}

/* settle - after a transaction: each recipient done, to report, or still
 * to do (see the top). Returns how many are still to do; *STORED how many
 * this transaction stored. */
static int
settle(struct drop *d, int *stored)
{
	int pending = 0, any_taken = 0;

	*stored = 0;
	for (int i = 0; i < d->nrcpts; i++)
		if (!d->done[i] && !d->rcpts[i].report && d->rcpts[i].code / 100 == 2)
			any_taken = 1;
	for (int i = 0; i < d->nrcpts; i++) {
		struct drop_rcpt *r = &d->rcpts[i];
		if (d->done[i] || r->report)
			continue;               /* finished, or to be reported */
		if (d->early)
			r->code = 0;            /* no RCPT reply counts */
		if (r->code / 100 == 5) {
			r->report = 1;          /* refused for good at RCPT */
		} else if (r->code / 100 == 2 && d->stored) {
			d->done[i] = 1;
			(*stored)++;
		} else if (d->code / 100 == 5 && (any_taken || d->early)) {
			/* The message itself refused for good (MAIL, the
			 * content): this recipient will not take it either. */
			strlcpy_ck(r->reply, d->reply, sizeof r->reply);
			r->report = 1;
		} else {
			if (r->code / 100 == 2 || r->code == 0)
				strlcpy_ck(r->reply, d->reply[0] ? d->reply :
				    "451 4.3.0 the local submission ended without an answer",
				    sizeof r->reply);
			pending++;
		}
	}
	return pending;
}

/* pickup_one - handle maildrop file NAME; 1 when it was handled. */
static int
pickup_one(const struct config *cf, const char *name)
{
	struct drop d = { .name = name, .fd = -1 };
	struct stat st;
	char why[256];
	int handled = 0, pending = 0, stored, round, total = 0, left = 0, expired;

	if ((d.fd = spool_drop_open(cf->spool_dir, name)) < 0) {
		if (errno != ENOENT)
			log_msg(LOG_ERR, "pickup: %s: %s", name, strerror(errno));
		return 0;
	}
	/* Another pickup may hold it, or have removed it meanwhile. */
	if (flock(d.fd, LOCK_EX | LOCK_NB) < 0 || fstat(d.fd, &st) < 0 || st.st_nlink == 0)
		goto out;
	handled = 1;
	d.uid = (long)st.st_uid;
	d.mtime = st.st_mtime;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    !(d.rcpts = calloc(RCPT_EXPAND_MAX, sizeof *d.rcpts)) ||
	    !(d.done = calloc(RCPT_EXPAND_MAX, 1))) {
		log_msg(LOG_ERR, "pickup: %s: not a plain file (or out of memory): left alone", name);
		goto out;
	}
	if (drop_parse(&d, why, sizeof why) < 0) {
		log_msg(LOG_WARNING, "pickup: %s: uid=%ld: not a file sendmail writes (%s): removed",
		    name, d.uid, why);
		drop_done(cf, &d);
		goto out;
	}
	if (spool_drop_state_load(cf->spool_dir, name, d.done, d.nrcpts) < 0) {
		log_msg(LOG_ERR, "pickup: %s: cannot read what was done of it: %s: left alone", name,
		    strerror(errno));
		goto out;
	}
	/* A transaction, and another at once while the last one stored
	 * something and recipients refused for now remain (a 452 after a
	 * partial store). */
	for (round = 0; round < PICKUP_FEEDS_MAX; round++) {
		feed(cf, &d);
		pending = settle(&d, &stored);
		total += stored;
		if (stored)
			log_msg(LOG_INFO, "pickup: %s: uid=%ld, from=<%s>, nrcpt=%d: %s", name, d.uid,
			    d.sender, stored, d.reply);
		if (!pending || !stored)
			break;
	}
	/* Past queue_lifetime those still to do are reported as expired. */
	expired = pending && time(NULL) >= d.mtime + cf->queue_lifetime;
	for (int i = 0; i < d.nrcpts && expired; i++)
		if (!d.done[i] && !d.rcpts[i].report) {
			char last[SMTP_REPLY_MAX + 1];
			strlcpy_ck(last, d.rcpts[i].reply, sizeof last);
			snprintf(d.rcpts[i].reply, sizeof d.rcpts[i].reply, "554 5.4.7 delivery time "
			    "expired (%.400s)", last);
			d.rcpts[i].report = 1;
		}
	if (report(cf, &d) == RES_OK)
		for (int i = 0; i < d.nrcpts; i++)
			if (d.rcpts[i].report) {
				d.done[i] = 1;
				total++;
			}
	for (int i = 0; i < d.nrcpts; i++)
		left += !d.done[i];
	if (!left) {
		drop_done(cf, &d);
		goto out;
	}
	/* Some are still to do: remember the others, keep the file. */
	if (total > 0 && spool_drop_state_save(cf->spool_dir, name, d.done, d.nrcpts) < 0)
		log_msg(LOG_ERR, "pickup: %s: cannot record what was done of it (%s): the next "
		    "run may deliver it again to those", name, strerror(errno));
	for (int i = 0; i < d.nrcpts; i++)
		if (!d.done[i]) {
			log_msg(LOG_INFO, "pickup: %s: uid=%ld, from=<%s>: deferred (%s)", name, d.uid,
			    d.sender, d.rcpts[i].reply);
			break;
		}
out:
	free(d.done);
	free(d.rcpts);
	close(d.fd);
	return handled;
}

/* pickup_run - every file of the maildrop (see pickup.h). */
int
pickup_run(const struct config *cf, int again)
{
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	char **names, *last = NULL;
	int n, total = 0;

	spool_drop_clean(cf->spool_dir);
	for (int round = 0; round < (again ? PICKUP_ROUNDS_MAX : 1); round++) {
		int fresh = 0;
		if (spool_drop_list(cf->spool_dir, &names, &n) < 0) {
			if (errno != ENOENT)
				log_msg(LOG_ERR, "pickup: cannot read %s/maildrop: %s", cf->spool_dir,
				    strerror(errno));
			break;
		}
		/* Names are queue ids, in time order: only later ones are new. */
		for (int i = 0; i < n; i++)
			if (!last || strcmp(names[i], last) > 0) {
				fresh++;
				total += pickup_one(cf, names[i]);
			}
		if (n > 0) {
			free(last);
			last = strdup(names[n - 1]);
		}
		spool_ids_free(names, n);
		if (!fresh || !last)
			break;
	}
	free(last);
	signal(SIGPIPE, old);
	return total;
}
