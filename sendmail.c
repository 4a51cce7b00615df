/*
 * sendmail - the door for the host's own programs (cron, mail(1), ...).
 *
 * SYNOPSIS
 *	sendmail [-C FILE] [-f SENDER] [-F FULLNAME] [-t] [-i | -oi]
 *	         [-bm | -bs | -bp | -bi] [-q] [-v] [-V] [-B TYPE] [-N DSN]
 *	         [-R RET] [-o OPTION ...] [--] [RECIPIENT ...]
 *	mailq        (sendmail -bp)
 *	newaliases   (sendmail -bi)
 *
 * DESCRIPTION
 *	-bm (the default) sends the message on standard input. sendmail
 *	speaks SMTP to smtp-session over the AF_UNIX socket submit_socket,
 *	which identifies it by its uid; when nothing answers there (or it
 *	answers 4xx before the message text), the same dialogue goes into
 *	the maildrop through the setgid helper smtp-postdrop, for
 *	relay-agent's pickup. sendmail itself has no privilege, and it
 *	stores a message for all its recipients or for none.
 *
 *	The message (submit.c): recipients from the command line, and with
 *	-t from To:, Cc: and Bcc: (Bcc: removed); an address without "@"
 *	gets the first domain line (else hostname); From: (full name from -F
 *	or GECOS), Date: and Message-ID: added when missing; a leading mbox
 *	"From " line dropped; without -i a line holding only "." ends it.
 *
 *	-bs relays SMTP between standard input/output and the socket; -bp
 *	and -q run relay-agent -l / -f (root and the spool's owner only);
 *	-bi checks the users and aliases files. The configuration is read
 *	when it can be; when it cannot, the default socket and maildrop are
 *	used, and said so only if those fail too.
 *
 * EXIT STATUS (sysexits.h)
 *	0 the message is stored (delivered, queued or in the maildrop);
 *	64 usage; 65 bad input (a NUL octet, a bad address, refused text);
 *	67 a local recipient that does not exist; 75 temporary failure;
 *	77 not allowed (-bp, -q); 78 configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "base64.h"
#include "bufout.h"
#include "config.h"
#include "linereader.h"
#include "submit.h"
#include "util.h"

#ifndef SBINDIR
#define SBINDIR "/usr/local/sbin"
#endif
#ifndef LIBEXECDIR
#define LIBEXECDIR "/usr/local/lib/smtp-session"
#endif

/* The command line. */
struct opts {
	const char *conf;
	const char *sender;             /* -f / -r; NULL: the user */
	const char *fullname;           /* -F */
	int extract;                    /* -t */
	int dot_ok;                     /* -i, -oi */
	char mode;                      /* m, s, p, i */
	int flush;                      /* -q */
	int verbose;                    /* -v */
	int body7;                      /* -B 7BIT */
	char **rcpts;
	int nrcpts;
};

/* Everything one message needs. */
struct job {
	const struct opts *o;
	struct config cf;
	const char *conf_note;          /* why the configuration was not read */
	char domain[DOMAIN_MAX + 1];    /* for addresses without "@" */
	char sender[ADDR_MAX + 1];      /* "" for <> */
	char (*rcpts)[ADDR_MAX + 1];
	int nrcpts;
	struct message msg;
	char added[1024 + 2 * ADDR_MAX];
};

/* die - a message on stderr, then exit STATUS. */
static void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void
die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("sendmail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* usage - the command line, then exit 64. */
static void
usage(const char *why)
{
	if (why)
		fprintf(stderr, "sendmail: %s\n", why);
	fprintf(stderr, "usage: sendmail [-C FILE] [-f SENDER] [-F FULLNAME] [-t] [-i | -oi]\n"
	    "                [-bm | -bs | -bp | -bi] [-q] [-v] [-V] [-B TYPE] [-N DSN] [-R RET]\n"
	    "                [-o OPTION] [--] [RECIPIENT ...]\n");
	exit(EXIT_USAGE);
}

/* parse_args - sendmail's options, Postfix's meanings; the unsupported
 * ones Postfix ignores are ignored. */
static void
parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		for (int j = 1; a[j]; j++) {
			char c = a[j], *val = NULL;
			if (strchr("CfrFBNRobhLXAOV", c)) {
				if (a[j + 1])
					val = a + j + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else if (c == 'V') {
					printf("sendmail %s\n", VERSION);
					exit(0);
				} else
					usage("an option needs a value");
			}
			switch (c) {
			case 't': o->extract = 1; continue;
			case 'i': o->dot_ok = 1; continue;
			case 'v': o->verbose = 1; continue;
			case 'I': o->mode = 'i'; continue;
			case 'G': case 'n': case 'U': case 'm': continue;
			case 'q': o->flush = 1; break;          /* -q30m: the rest ignored */
			case 'C': o->conf = val; break;
			case 'f': case 'r': o->sender = val; break;
			case 'F': o->fullname = val; break;
			case 'B': o->body7 = strcasecmp(val, "7BIT") == 0; break;
			case 'o':
				if (val[0] == 'i')
					o->dot_ok = 1;
				break;
			case 'b':
				if (strchr("mspi", val[0]) && val[1] == '\0')
					o->mode = val[0];
				else
					usage("only -bm, -bs, -bp and -bi are supported");
				break;
			case 'N': case 'R': case 'h': case 'L': case 'X': case 'A': case 'O': case 'V':
				break;                          /* accepted, ignored */
			default:
				usage("unknown option");
			}
			break;          /* the value took the rest of this word */
		}
	}
	o->rcpts = argv + i;
	o->nrcpts = argc - i;
}

/* program_path - NAME beside this program (the build directory),
 * else in DIR (the installed place). */
static void
program_path(char *out, size_t outsz, const char *dir, const char *name)
{
	char self[FILE_PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (path_join(out, outsz, self, name) == 0 && access(out, X_OK) == 0)
				return;
		}
	}
	path_join(out, outsz, dir, name);
}

/* load_conf - the configuration in MODE; an unreadable file (sendmail runs
 * as anyone) means the defaults, noted for later. */
static void
load_conf(struct job *j, enum config_mode mode)
{
	static char note[FILE_PATH_MAX + 64];
	char err[2048];
	FILE *f = fopen(j->o->conf, "r");

	if (!f && mode == CONFIG_CLIENT) {
		snprintf(note, sizeof note, "%s: %s; used the defaults", j->o->conf, strerror(errno));
		j->conf_note = note;
		config_defaults(&j->cf);
		return;
	}
	if (f)
		fclose(f);
	if (config_load(&j->cf, j->o->conf, mode, err, sizeof err) < 0)
		die(EXIT_CONFIG, "%s", err);
}

/* queue_allowed - root and the spool's owner may see and flush the queue. */
static int
queue_allowed(const struct config *cf)
{
	struct stat st;

	return getuid() == 0 || (stat(cf->spool_dir, &st) == 0 && st.st_uid == getuid());
}

/* run_queue - -bp and -q: relay-agent -l or -f, for those allowed. */
static void
run_queue(struct job *j, const char *flag)
{
	char prog[FILE_PATH_MAX];

	if (!queue_allowed(&j->cf))
		die(EXIT_NOPERM, "the mail queue is for root and the mail system's account (the owner "
		    "of %s) only", j->cf.spool_dir);
	program_path(prog, sizeof prog, SBINDIR, "relay-agent");
	fflush(NULL);
	execl(prog, "relay-agent", "-c", j->o->conf, flag, (char *)NULL);
	die(EXIT_TEMPFAIL, "cannot run %s: %s", prog, strerror(errno));
}

/* bi_report - newaliases: each warning and error of the files on stderr. */
static int bi_errors;
static void
bi_report(int prio, const char *text)
{
	if (prio <= LOG_ERR)
		bi_errors++;
	fprintf(stderr, "%s%s\n", prio <= LOG_ERR ? "" : "warning: ", text);
}

/* check_files - -bi: the users or aliases file, every error file:line. */
static void
check_files(struct job *j)
{
	char err[2048];

	config_set_reporter(bi_report);
	if (config_load(&j->cf, j->o->conf, CONFIG_FULL, err, sizeof err) < 0) {
		if (!bi_errors)
			fprintf(stderr, "%s\n", err);
		exit(EXIT_CONFIG);
	}
	if (j->o->verbose)
		printf("%s: %d %s\n", j->cf.users_system ? j->cf.aliases_file : j->cf.users_file,
		    j->cf.nusers, j->cf.users_system ? "aliases" : "names");
	exit(0);
}

/* submit_connect - a connected socket to submit_socket, or -1. */
static int
submit_connect(const struct config *cf, char *why, size_t whysz)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	strlcpy_ck(sun.sun_path, cf->submit_socket, sizeof sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		snprintf(why, whysz, "%s: %s", cf->submit_socket, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* relay_bs - -bs: copy octets both ways until the server closes. */
static void
relay_bs(struct job *j)
{
	char why[FILE_PATH_MAX + 128], buf[IO_BUF_SIZE];
	int fd = submit_connect(&j->cf, why, sizeof why), in_open = 1;

	if (fd < 0)
		die(EXIT_TEMPFAIL, "cannot reach the submission socket %s%s%s", why,
		    j->conf_note ? "; " : "", j->conf_note ? j->conf_note : "");
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
		if (poll(p, in_open ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			exit(EXIT_TEMPFAIL);
		}
		if (p[0].revents) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n <= 0)
				exit(0);
			if (write_all(1, buf, (size_t)n) < 0)
				exit(EXIT_TEMPFAIL);
		}
		if (in_open && p[1].revents) {
			ssize_t n = read(0, buf, sizeof buf);
			if (n <= 0) {
				shutdown(fd, SHUT_WR);
				in_open = 0;
			} else if (write_all(fd, buf, (size_t)n) < 0)
				exit(EXIT_TEMPFAIL);
		}
	}
}

/* qualify - ADDR with "@domain" when it has no "@", parsed and checked
 * as a path; into OUT. NULL_OK: "" and "<>" are the null sender. */
static int
qualify(const struct job *j, const char *addr, int null_ok, char *out, size_t outsz)
{
	char path[2 * ADDR_MAX + 8];
	const char *end;
	struct addr a;
	size_t n = strlen(addr);

	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>') {
		addr++;
		n -= 2;
	}
	if (n == 0 && null_ok) {
		out[0] = '\0';
		return 0;
	}
	if (n > 2 * ADDR_MAX)
		return -1;
	snprintf(path, sizeof path, "<%.*s%s%s>", (int)n, addr,
	    memchr(addr, '@', n) ? "" : "@", memchr(addr, '@', n) ? "" : j->domain);
	if (addr_parse_path(path, &end, 0, &a) != ADDR_OK || *end || a.domain[0] == '\0')
		return -1;
	return strlcpy_ck(out, a.full, outsz);
}

/* add_rcpt - one more recipient (duplicates ignored, any case). */
static int
add_rcpt(void *arg, const char *addr)
{
	struct job *j = arg;
	char q[ADDR_MAX + 1];

	if (qualify(j, addr, 0, q, sizeof q) < 0) {
		char shown[80];
		strlcpy_ck(shown, addr, sizeof shown);
		sanitize_text(shown);
		die(EXIT_DATAERR, "bad recipient address \"%s\"", shown);
	}
	for (int i = 0; i < j->nrcpts; i++)
		if (strcasecmp(j->rcpts[i], q) == 0)
			return 0;
	if (j->nrcpts >= RCPT_EXPAND_MAX)
		die(EXIT_DATAERR, "more than %d recipients", RCPT_EXPAND_MAX);
	strcpy(j->rcpts[j->nrcpts++], q);
	return 0;
}

/* phrase - NAME as an RFC 5322 display name: as it is when it is plain
 * words, quoted when it has specials, RFC 2047-encoded when 8-bit. */
static void
phrase(const char *name, char *out, size_t outsz)
{
	int eight = 0, special = 0;

	for (const char *p = name; *p; p++) {
		if ((unsigned char)*p >= 0x80)
			eight = 1;
		else if (!(*p == ' ' || (*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= 'a' && *p <= 'z') || strchr("!#$%&'*+-/=?^_`{|}~", *p)))
			special = 1;
	}
	if (eight) {
		char b64[512];
		size_t n = strlen(name);
		if (n > 300 || base64_encode((const unsigned char *)name, n, b64, sizeof b64) < 0) {
			out[0] = '\0';
			return;
		}
		snprintf(out, outsz, "=?UTF-8?B?%s?=", b64);
		return;
	}
	if (!special) {
		strlcpy_ck(out, name, outsz);
		return;
	}
	size_t o = 0;
	out[o++] = '"';
	for (const char *p = name; *p && o + 4 < outsz; p++) {
		if (*p == '"' || *p == '\\')
			out[o++] = '\\';
		out[o++] = (*p < 0x20 || *p == 0x7f) ? ' ' : *p;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* full_name - -F, else the GECOS name of the user ('&' is the login
 * name, capitalised); "" when none. */
static void
full_name(const struct job *j, const struct passwd *pw, char *out, size_t outsz)
{
	char raw[256] = "";
	size_t o = 0;

	if (j->o->fullname)
		strlcpy_ck(raw, j->o->fullname, sizeof raw);
	else if (pw && pw->pw_gecos) {
		for (const char *p = pw->pw_gecos; *p && *p != ',' && o + 1 < sizeof raw; p++) {
			if (*p != '&') {
				raw[o++] = *p;
				continue;
			}
			for (const char *l = pw->pw_name; *l && o + 1 < sizeof raw; l++)
				raw[o++] = l == pw->pw_name && *l >= 'a' && *l <= 'z' ? (char)(*l - 32) : *l;
		}
		raw[o] = '\0';
	}
	text_scrub(raw, SCRUB_CTL, ' ');
	phrase(config_trim(raw), out, outsz);
}

/* prepare - configuration, sender, recipients, the header section and the
 * headers to add. */
static void
prepare(struct job *j)
{
	char why[256], name[600], date[64], id[QUEUE_ID_MAX];
	struct passwd *pw = getpwuid(getuid());
	size_t n = 0;

	load_conf(j, CONFIG_CLIENT);
	strlcpy_ck(j->domain, j->cf.ndomains ? j->cf.domains[0] : j->cf.hostname, sizeof j->domain);
	if (j->o->sender) {
		if (qualify(j, j->o->sender, 1, j->sender, sizeof j->sender) < 0)
			die(EXIT_DATAERR, "bad sender address \"%.80s\"", j->o->sender);
	} else if (!pw || qualify(j, pw->pw_name, 0, j->sender, sizeof j->sender) < 0)
		die(EXIT_NOUSER, "no user name for uid %ld", (long)getuid());
	if (!(j->rcpts = calloc(RCPT_EXPAND_MAX, sizeof *j->rcpts)))
		die(EXIT_TEMPFAIL, "out of memory");
	for (int i = 0; i < j->o->nrcpts; i++) {
		const char *p = j->o->rcpts[i];
		char addr[ADDR_MAX * 2 + 2];
		int rc;
		while ((rc = addrlist_next(&p, addr, sizeof addr)) == 1)
			add_rcpt(j, addr);
		if (rc < 0)
			die(EXIT_DATAERR, "recipient address too long");
	}
	message_init(&j->msg, 0, !j->o->dot_ok);
	if (message_read_header(&j->msg, why, sizeof why) < 0)
		die(EXIT_DATAERR, "%s: nothing sent", why);
	if (j->o->extract && message_header_addrs(&j->msg, add_rcpt, j) < 0)
		die(EXIT_DATAERR, "a header address is too long");
	if (j->nrcpts == 0) {
		if (j->o->extract)
			die(EXIT_DATAERR, "no recipient in To:, Cc: or Bcc:");
		usage("no recipients");
	}
	/* Added when missing, as Postfix's cleanup does for local mail. */
	if (!j->msg.have_from) {
		full_name(j, pw, name, sizeof name);
		n += (size_t)snprintf(j->added + n, sizeof j->added - n, "From: %s%s%s%s\n", name,
		    name[0] ? " <" : "", j->sender[0] ? j->sender : "MAILER-DAEMON", name[0] ? ">" : "");
	}
	if (!j->msg.have_date) {
		rfc5322_date(date, sizeof date, time(NULL));
		n += (size_t)snprintf(j->added + n, sizeof j->added - n, "Date: %s\n", date);
	}
	if (!j->msg.have_msgid && n < sizeof j->added) {
		queue_id_new(id, sizeof id);
		snprintf(j->added + n, sizeof j->added - n, "Message-ID: <%s@%s>\n", id, j->cf.hostname);
	}
}

/* cmd - one SMTP command line, CRLF added. */
static void
cmd(struct bufout *o, const char *fmt, const char *arg)
{
	bufout_printf(o, fmt, arg);
	bufout_put(o, "\r\n", 2);
}

/* Replies read from the socket. */
struct reply {
	int code;
	char text[SMTP_REPLY_MAX + 1];  /* its last line */
};

/* read_reply - one reply, multi-line ones whole; -1 when the connection
 * broke or the reply is not SMTP. */
static int
read_reply(struct job *j, struct linereader *lr, struct reply *r)
{
	char line[SMTP_REPLY_MAX + 1];
	size_t len;

	for (int k = 0; k < SMTP_REPLY_LINES_MAX; k++) {
		if (lr_getline(lr, line, SMTP_REPLY_MAX, &len) != LR_LINE)
			return -1;
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		sanitize_text(line);
		if (j->o->verbose)
			fprintf(stderr, "<<< %s\n", line);
		if (len < 3 || line[0] < '2' || line[0] > '5' || (len > 3 && line[3] != ' ' && line[3] != '-'))
			return -1;
		r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		strcpy(r->text, line);
		if (len == 3 || line[3] == ' ')
			return 0;
	}
	return -1;
}

/* send_cmd - one command and its reply; -1 when the connection broke. */
static int
send_cmd(struct job *j, struct bufout *o, struct linereader *lr, const char *fmt,
         const char *arg, struct reply *r)
{
	if (j->o->verbose) {
		fputs(">>> ", stderr);
		fprintf(stderr, fmt, arg);
		fputc('\n', stderr);
	}
	cmd(o, fmt, arg);
	if (bufout_flush(o) < 0)
		return -1;
	return read_reply(j, lr, r);
}

/* Outcomes of the socket attempt. */
enum { SOCK_DONE, SOCK_FALLBACK };

/*
 * via_socket - the whole dialogue over the submission socket. Returns
 * SOCK_FALLBACK when nothing was stored and the message text was not
 * read yet (no socket, a 4xx before DATA): the maildrop takes it then.
 * Otherwise exits with the outcome.
 */
static int
via_socket(struct job *j, char *why, size_t whysz)
{
	struct bufout *o = malloc(sizeof *o);
	struct linereader *lr = malloc(sizeof *lr);
	struct reply r = { 0, "" };
	char param[ADDR_MAX + 32];
	int fd, refused = 0, nouser = 0;

	if (!o || !lr)
		die(EXIT_TEMPFAIL, "out of memory");
	if ((fd = submit_connect(&j->cf, why, whysz)) < 0)
		goto fallback_closed;
	bufout_init(o, fd);
	lr_init(lr, fd, j->cf.smtp_timeout);
	if (read_reply(j, lr, &r) < 0 || r.code != 220 ||
	    send_cmd(j, o, lr, "EHLO %s", j->cf.hostname, &r) < 0 || r.code != 250)
		goto fallback;
	snprintf(param, sizeof param, "<%s> BODY=%s", j->sender, j->o->body7 ? "7BIT" : "8BITMIME");
	if (send_cmd(j, o, lr, "MAIL FROM:%s", param, &r) < 0 || r.code / 100 == 4)
		goto fallback;
	if (r.code / 100 != 2)
		die(EXIT_DATAERR, "sender <%s>: %s", j->sender, r.text);
	for (int i = 0; i < j->nrcpts; i++) {
		snprintf(param, sizeof param, "<%s>", j->rcpts[i]);
		if (send_cmd(j, o, lr, "RCPT TO:%s", param, &r) < 0 || r.code / 100 == 4)
			goto fallback;
		if (r.code / 100 != 2) {
			fprintf(stderr, "sendmail: <%s>: %s\n", j->rcpts[i], r.text);
			refused++;
			nouser += strncmp(r.text + 4, "5.1.", 4) == 0;
		}
	}
	if (refused) {
		/* All or nothing: the caller fixes the address and sends again. */
		send_cmd(j, o, lr, "QUIT%s", "", &r);
		die(nouser ? EXIT_NOUSER : EXIT_DATAERR, "nothing sent: %d recipient(s) refused",
		    refused);
	}
	if (send_cmd(j, o, lr, "DATA%s", "", &r) < 0 || r.code / 100 == 4)
		goto fallback;
	if (r.code != 354)
		die(EXIT_DATAERR, "%s", r.text);
	/* From here the input is read: no other way is left. */
	if (message_write(&j->msg, o, j->added) < 0) {
		if (j->msg.nul)
			die(EXIT_DATAERR, "the message contains a NUL octet: nothing sent");
		die(EXIT_TEMPFAIL, "read error: %s: nothing sent", strerror(j->msg.in.err));
	}
	if (bufout_flush(o) < 0 || read_reply(j, lr, &r) < 0)
		die(EXIT_TEMPFAIL, "lost the connection to %s: the message may not have been stored",
		    j->cf.submit_socket);
	if (r.code / 100 == 4)
		die(EXIT_TEMPFAIL, "%s", r.text);
	if (r.code / 100 != 2)
		die(EXIT_DATAERR, "%s", r.text);
	send_cmd(j, o, lr, "QUIT%s", "", &r);
	exit(0);
fallback:
	snprintf(why, whysz, "%s: %s", j->cf.submit_socket, r.code ? r.text : "no SMTP answer");
	cmd(o, "QUIT%s", "");
	bufout_flush(o);
	close(fd);
fallback_closed:
	free(o);
	free(lr);
	return SOCK_FALLBACK;
}

/* via_maildrop - the same dialogue into the maildrop, through the setgid
 * helper: its exit status decides. */
static void
via_maildrop(struct job *j, const char *sockwhy)
{
	char prog[FILE_PATH_MAX], param[ADDR_MAX + 32];
	struct bufout *o = malloc(sizeof *o);
	int p[2], status;
	pid_t pid;

	program_path(prog, sizeof prog, LIBEXECDIR, "smtp-postdrop");
	if (!o || pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		die(EXIT_TEMPFAIL, "cannot start %s: %s", prog, strerror(errno));
	if (pid == 0) {
		dup2(p[0], 0);
		execl(prog, "smtp-postdrop", j->cf.spool_dir, (char *)NULL);
		fprintf(stderr, "sendmail: cannot run %s: %s\n", prog, strerror(errno));
		_exit(EXIT_TEMPFAIL);
	}
	close(p[0]);
	bufout_init(o, p[1]);
	cmd(o, "EHLO %s", j->cf.hostname);
	snprintf(param, sizeof param, "<%s> BODY=%s", j->sender, j->o->body7 ? "7BIT" : "8BITMIME");
	cmd(o, "MAIL FROM:%s", param);
	for (int i = 0; i < j->nrcpts; i++) {
		snprintf(param, sizeof param, "<%s>", j->rcpts[i]);
		cmd(o, "RCPT TO:%s", param);
	}
	cmd(o, "DATA%s", "");
	int rc = message_write(&j->msg, o, j->added);
	if (rc == 0)
		cmd(o, "QUIT%s", "");   /* the helper commits only after this */
	bufout_flush(o);
	close(p[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		if (j->msg.nul)
			die(EXIT_DATAERR, "the message contains a NUL octet: nothing sent");
		die(EXIT_TEMPFAIL, "read error: %s: nothing sent", strerror(j->msg.in.err));
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		exit(0);
	die(EXIT_TEMPFAIL, "the message could not be stored: the submission socket (%s) and the "
	    "maildrop %s/maildrop both failed%s%s", sockwhy, j->cf.spool_dir,
	    j->conf_note ? "; " : "", j->conf_note ? j->conf_note : "");
}

int
main(int argc, char **argv)
{
	static struct opts o = { .conf = CONFIG_DEFAULT, .mode = 'm' };
	static struct job j;
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	char why[FILE_PATH_MAX + SMTP_REPLY_MAX];

	if (strcmp(base, "mailq") == 0)
		o.mode = 'p';
	else if (strcmp(base, "newaliases") == 0)
		o.mode = 'i';
	parse_args(argc, argv, &o);
	j.o = &o;
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	switch (o.flush ? 'q' : o.mode) {
	case 'q':
	case 'p':
		load_conf(&j, CONFIG_CLIENT);
		run_queue(&j, o.flush ? "-f" : "-l");
		break;
	case 'i':
		check_files(&j);
		break;
	case 's':
		load_conf(&j, CONFIG_CLIENT);
		relay_bs(&j);
		break;
	}
	prepare(&j);
	if (via_socket(&j, why, sizeof why) == SOCK_FALLBACK)
		via_maildrop(&j, why);
	return EXIT_TEMPFAIL;
}
