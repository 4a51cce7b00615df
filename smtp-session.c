/*
 * smtp-session - one SMTP session on stdin/stdout.
 *
 * SYNOPSIS
 *	smtp-session [-c FILE] [-d] [-V]
 *
 * DESCRIPTION
 *	Started by a super-server (xinetd, systemd socket activation with
 *	Accept=yes, tcpserver) once per connection, or fed a scripted
 *	dialogue on a pipe. Mail for a local domain is appended to each
 *	recipient's mbox (deliver.c); mail for any other domain is written
 *	to the spool (spool.c) for relay-agent. A 250 after DATA means
 *	every copy is fsynced; any failure before that is a 4xx and leaves
 *	no part of the message anywhere.
 *
 *	With -d it is a debug sink: every recipient is accepted, nothing is
 *	delivered, and each message is summarised to the log (mime.c).
 *
 *	fd 0 is read, fd 1 written; fd 2 is never written (under inetd it
 *	is the client) unless the configuration says "log stderr".
 *
 * EXIT STATUS
 *	0 the session ended (QUIT, EOF, timeout, error limit); 64 bad
 *	command line; 78 bad configuration (the client gets 421 4.3.0).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "base64.h"
#include "config.h"
#include "dataread.h"
#include "deliver.h"
#include "limits.h"
#include "linereader.h"
#include "log.h"
#include "mime.h"
#include "spool.h"
#include "util.h"

#define DEFAULT_CONFIG "/etc/smtp-session.conf"
#define OUT_BUF_SIZE   8192     /* octets of replies waiting to be sent */
#define AUTH_FAILURES_MAX  3    /* failed AUTH attempts before 421 */
#ifndef AUTH_FAIL_DELAY_MS
#define AUTH_FAIL_DELAY_MS 1000 /* pause before each 535 */
#endif
#define AUTH_FIELD_MAX     255  /* octets of a user name or password (RFC 4616) */

/* One accepted RCPT of the open transaction. */
struct rcpt {
	struct addr a;
	int local;              /* a local domain or bare Postmaster */
};

struct session {
	const struct config *cf;
	int debug;
	struct linereader lr;
	char out[OUT_BUF_SIZE];
	size_t outlen;
	int closing;                    /* 421 sent: end after flushing */

	struct sockaddr_storage peer_sa;
	char peer[INET6_ADDRSTRLEN];
	int relay_ok;

	int greeted;                    /* HELO or EHLO seen */
	int esmtp;
	char helo[HELO_MAX + 1];
	char auth_user[256];            /* "" unless authenticated */
	int auth_failures;
	int mask_next;                  /* the next line may be an AUTH secret */

	int in_mail;
	struct addr sender;
	char body[16];
	struct rcpt *rcpts;
	int nrcpts;

	const char *verb;               /* command being answered */
	int errors;
	int n_helo, n_ehlo, n_mail, n_rcpt, n_data, n_rset, n_noop, n_quit,
	    n_vrfy, n_other, n_commands;
};

/* ---------------------------------------------------------------- replies */

/* out_flush - send buffered replies; the session ends if the client is gone. */
static void
out_flush(struct session *s)
{
	if (s->outlen == 0)
		return;
	alarm((unsigned)s->cf->timeout);   /* a client that never reads */
	if (write_all(1, s->out, s->outlen) < 0) {
		log_msg(LOG_INFO, "lost connection writing to [%s]: %s", s->peer,
		    strerror(errno));
		exit(0);
	}
	alarm(0);
	s->outlen = 0;
}

/* flush_hook - the line reader is about to wait: answer what is pending. */
static void
flush_hook(void *arg)
{
	out_flush(arg);
}

/* out_line - queue one reply line (CRLF added). */
static void
out_line(struct session *s, const char *line)
{
	size_t n = strlen(line);

	if (n > SMTP_REPLY_MAX - 2)
		n = SMTP_REPLY_MAX - 2;
	if (s->outlen + n + 2 > sizeof s->out)
		out_flush(s);
	memcpy(s->out + s->outlen, line, n);
	memcpy(s->out + s->outlen + n, "\r\n", 2);
	s->outlen += n + 2;
	if (s->cf->log_transcript)
		log_msg(LOG_INFO, "> %.*s", (int)n, line);
}

/*
 * reply - the one reply function: "CODE X.Y.Z text". Every 5xx counts as
 * an error; at SESSION_ERRORS_MAX the session answers 421 and ends.
 * Refusals are logged with the peer.
 */
static void
reply(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void
reply(struct session *s, const char *fmt, ...)
{
	char line[SMTP_REPLY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	out_line(s, line);
	if (line[0] == '4' || line[0] == '5')
		log_msg(LOG_INFO, "reject: %s from [%s]: %s; from=<%s> helo=<%s>",
		    s->verb ? s->verb : "CONNECT", s->peer, line,
		    s->in_mail ? s->sender.full : "", s->helo);
	if (line[0] == '5' && ++s->errors >= SESSION_ERRORS_MAX && !s->closing) {
		char bye[SMTP_REPLY_MAX];
		snprintf(bye, sizeof bye, "421 4.7.0 %s Error: too many errors",
		    s->cf->hostname);
		out_line(s, bye);
		log_msg(LOG_INFO, "too many errors from [%s]", s->peer);
		s->closing = 1;
	}
}

/* ------------------------------------------------------------ transaction */

/* txn_reset - forget the open transaction (RSET, HELO, after DATA). */
static void
txn_reset(struct session *s)
{
	s->in_mail = 0;
	s->nrcpts = 0;
	memset(&s->sender, 0, sizeof s->sender);
	strcpy(s->body, "7BIT");
}

/* ---------------------------------------------------------------- commands */

static void
cmd_helo(struct session *s, char *arg, int esmtp)
{
	if (arg[0] == '\0') {
		reply(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	txn_reset(s);
	strlcpy_ck(s->helo, arg, sizeof s->helo);
	sanitize_text(s->helo);
	s->greeted = 1;
	s->esmtp = esmtp;
	if (!esmtp) {
		reply(s, "250 %s", s->cf->hostname);
		return;
	}
	char line[SMTP_REPLY_MAX];
	snprintf(line, sizeof line, "250-%s", s->cf->hostname);
	out_line(s, line);
	out_line(s, "250-PIPELINING");
	snprintf(line, sizeof line, "250-SIZE %ld", s->cf->max_message_size);
	out_line(s, line);
	out_line(s, "250-8BITMIME");
	if (s->cf->auth_file[0])
		out_line(s, "250-AUTH PLAIN LOGIN");
	out_line(s, "250 ENHANCEDSTATUSCODES");
}

/* path_after - skip "FROM:"/"TO:" and blanks; NULL when absent. */
static char *
path_after(char *arg, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(arg, kw, n) != 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	return arg;
}

/* addr_refusal - answer a path that did not parse; returns 1 if answered. */
static int
addr_refusal(struct session *s, enum addr_status st, const char *what)
{
	switch (st) {
	case ADDR_OK:
		return 0;
	case ADDR_NONASCII:
		reply(s, "553 5.6.7 Non-ASCII addresses are not supported (no SMTPUTF8)");
		break;
	case ADDR_TOOLONG:
		reply(s, "501 5.5.4 %s address too long", what);
		break;
	default:
		reply(s, "501 5.5.4 Syntax: %s", strcmp(what, "Sender") == 0 ?
		    "MAIL FROM:<address>" : "RCPT TO:<address>");
		break;
	}
	return 1;
}

/* unsupported_param - 555, echoing the parameter as printable ASCII only. */
static void
unsupported_param(struct session *s, const char *param)
{
	char shown[65];

	strlcpy_ck(shown, param, sizeof shown);
	sanitize_text(shown);
	reply(s, "555 5.5.4 Unsupported parameter %s", shown);
}

static void
cmd_mail(struct session *s, char *arg)
{
	const char *end;
	char *p = path_after(arg, "FROM:");
	struct addr a;
	long long size = -1;
	char body[16] = "7BIT";

	if (!p) {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (addr_refusal(s, addr_parse_path(p, &end, 1, &a), "Sender"))
		return;
	if (!a.null && a.domain[0] == '\0') {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	/* Parameters: SIZE= and BODY= (RFC 1870, RFC 6152). */
	if (*end && *end != ' ') {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]");
		return;
	}
	char *save = NULL;
	for (char *kw = strtok_r((char *)end, " ", &save); kw; kw = strtok_r(NULL, " ", &save)) {
		char *val = strchr(kw, '=');
		if (val)
			*val++ = '\0';
		if (strcasecmp(kw, "SIZE") == 0 && val) {
			char *e;
			errno = 0;
			size = strtoll(val, &e, 10);
			if (!isdigit((unsigned char)val[0]) || *e) {
				reply(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			if (errno == ERANGE)    /* digits beyond any limit */
				size = LLONG_MAX;
		} else if (strcasecmp(kw, "BODY") == 0 && val) {
			if (strcasecmp(val, "7BIT") == 0)
				strcpy(body, "7BIT");
			else if (strcasecmp(val, "8BITMIME") == 0)
				strcpy(body, "8BITMIME");
			else {
				reply(s, "501 5.5.4 Bad BODY parameter (7BIT or 8BITMIME)");
				return;
			}
		} else if (strcasecmp(kw, "AUTH") == 0 && val && s->cf->auth_file[0]) {
			;   /* RFC 4954 5: accepted; we trust only our own AUTH */
		} else {
			unsupported_param(s, kw);
			return;
		}
	}
	if (size >= 0 && s->cf->max_message_size && size > s->cf->max_message_size) {
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	s->sender = a;
	strcpy(s->body, body);
	s->in_mail = 1;
	s->nrcpts = 0;
	reply(s, "250 2.1.0 Ok");
}

static void
cmd_rcpt(struct session *s, char *arg)
{
	const char *end;
	char *p = path_after(arg, "TO:");
	struct addr a;
	int local;

	if (!p) {
		reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	if (addr_refusal(s, addr_parse_path(p, &end, 0, &a), "Recipient"))
		return;
	if (*end && *end != ' ') {
		reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	while (*end == ' ')
		end++;
	if (*end) {
		unsupported_param(s, end);
		return;
	}
	if (s->nrcpts >= s->cf->max_recipients) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	local = a.domain[0] == '\0' || config_is_local_domain(s->cf, a.domain);
	if (s->debug)
		;   /* the debug sink takes every recipient */
	else if (local) {
		struct expansion ex = { .nmailboxes = 0 };
		char name[LOCALPART_MAX + 1];
		int rc = addr_local_unquoted(a.local, name, sizeof name) < 0 ? 0 :
		    config_expand_local(s->cf, name, &ex);
		expansion_free(&ex);
		if (rc == 0) {
			reply(s, "550 5.1.1 <%s>: Recipient address rejected: User unknown",
			    a.full);
			return;
		}
		if (rc < 0) {
			reply(s, "452 4.5.3 Error: too many recipients");
			return;
		}
	} else if (!s->relay_ok && !s->auth_user[0]) {
		reply(s, "554 5.7.1 <%s>: Relay access denied", a.full);
		return;
	}
	s->rcpts[s->nrcpts].a = a;
	s->rcpts[s->nrcpts].local = local;
	s->nrcpts++;
	reply(s, "250 2.1.5 Ok");
}

/* Where DATA goes while it is read. */
struct stage {
	int fd;
	int err;                /* errno of a failed write */
};

static int
stage_sink(void *arg, const char *buf, size_t n)
{
	struct stage *st = arg;

	if (write_all(st->fd, buf, n) < 0) {
		st->err = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

/* received_header - our trace header (RFC 5321 4.4), first in the file. */
static int
received_header(struct session *s, int fd, const char *id)
{
	char hdr[1024 + HELO_MAX + ADDR_MAX], date[64], forpart[ADDR_MAX + 16] = "";
	const char *proto;
	int n;

	rfc5322_date(date, sizeof date, time(NULL));
	if (s->nrcpts == 1)
		snprintf(forpart, sizeof forpart, "\n\tfor <%s>", s->rcpts[0].a.full);
	if (s->cf->tls_wrapped)
		proto = s->auth_user[0] ? "ESMTPSA" : "ESMTPS";
	else if (s->esmtp)
		proto = s->auth_user[0] ? "ESMTPA" : "ESMTP";
	else
		proto = "SMTP";
	/* The address as an RFC 5321 address literal: [192.0.2.1], [IPv6:...]. */
	n = snprintf(hdr, sizeof hdr, "Received: from %s ([%s%s])\n\tby %s with %s id %s%s;\n\t%s\n",
	    s->helo, strchr(s->peer, ':') ? "IPv6:" : "", s->peer,
	    s->cf->hostname, proto, id, forpart, date);
	if (n < 0 || (size_t)n >= sizeof hdr)
		return -1;
	return write_all(fd, hdr, (size_t)n);
}

/* debug_emit - the debug sink's lines go to the log. */
struct debug_ctx {
	const char *id;
};

static void
debug_emit(void *arg, const char *line)
{
	struct debug_ctx *d = arg;

	log_msg(LOG_INFO, "%s: debug: %s", d->id, line);
}

/* stage_open - the staging file: spool tmp/, or an unlinked temp for -d. */
static int
stage_open(struct session *s, char *id, size_t idsz)
{
	if (s->debug) {
		const char *tmp = getenv("TMPDIR");
		char path[4200];
		int fd;
		queue_id_new(id, idsz);
		snprintf(path, sizeof path, "%s/smtp-session-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		fd = mkstemp(path);
		if (fd >= 0)
			unlink(path);
		return fd;
	}
	int fd = spool_stage_open(s->cf->spool_dir, id, idsz);
	if (fd < 0 && errno == ENOENT && spool_dirs(s->cf->spool_dir) == 0)
		fd = spool_stage_open(s->cf->spool_dir, id, idsz);
	return fd;
}

/* storage_reply - the 4xx for a failed write with ERR. */
static void
storage_reply(struct session *s, int err)
{
	if (err == ENOSPC || err == EDQUOT || err == EFBIG)
		reply(s, "452 4.3.1 Insufficient system storage");
	else
		reply(s, "451 4.3.0 Error: queue file write error");
}

/* deliver_message - every copy to disk, all or nothing; replies. */
static void
deliver_message(struct session *s, int fd, const char *id, long long size, long long t0)
{
	struct mbox_txn txn;
	struct envelope env;
	char why[SMTP_REPLY_MAX];
	int rc = RES_OK, nlocal;
	time_t now = time(NULL);

	deliver_init(&txn, s->cf->mailbox_dir);
	memset(&env, 0, sizeof env);
	env.version = SPOOL_VERSION;
	strlcpy_ck(env.id, id, sizeof env.id);
	env.arrival = now;
	strlcpy_ck(env.sender, s->sender.null ? "" : s->sender.full, sizeof env.sender);
	strlcpy_ck(env.body, s->body, sizeof env.body);
	strlcpy_ck(env.auth, s->auth_user, sizeof env.auth);
	strlcpy_ck(env.client, s->peer, sizeof env.client);
	strlcpy_ck(env.helo, s->helo, sizeof env.helo);

	/* Expand every recipient into mailboxes and spool recipients. */
	for (int i = 0; i < s->nrcpts && rc == RES_OK; i++) {
		struct rcpt *r = &s->rcpts[i];
		struct expansion ex = { .nmailboxes = 0 };
		char dom[DOMAIN_MAX + 1];
		char name[LOCALPART_MAX + 1];
		if (!r->local) {
			ex.foreign[0] = r->a.full;
			ex.nforeign = 1;
		} else if (addr_local_unquoted(r->a.local, name, sizeof name) < 0 ||
		    config_expand_local(s->cf, name, &ex) <= 0)
			rc = RES_TEMP;
		strlcpy_ck(dom, r->a.domain[0] ? r->a.domain : s->cf->domains[0], sizeof dom);
		str_lower(dom);
		for (int j = 0; j < ex.nmailboxes && rc == RES_OK; j++) {
			char dt[ADDR_MAX + 1];
			snprintf(dt, sizeof dt, "%s@%s", ex.mailboxes[j], dom);
			if (deliver_add(&txn, ex.mailboxes[j], dt) < 0)
				rc = RES_TEMP;
		}
		for (int j = 0; j < ex.nforeign && rc == RES_OK; j++) {
			int dup = 0;
			for (int k = 0; k < env.nrcpts; k++)
				if (strcasecmp(env.rcpts[k].addr, ex.foreign[j]) == 0)
					dup = 1;
			if (!dup && spool_env_add_rcpt(&env, r->a.full, ex.foreign[j]) < 0)
				rc = RES_TEMP;
		}
		if (r->local)
			expansion_free(&ex);
	}
	if (rc != RES_OK) {
		reply(s, "451 4.3.0 Error: recipient expansion failed");
		goto out;
	}
	nlocal = txn.nboxes;

	/* Local copies: lock all, append all, fsync all (deliver.c). */
	if (nlocal > 0) {
		if (deliver_lock_all(&txn, why, sizeof why) != RES_OK) {
			reply(s, "%s", why);
			goto out;
		}
		if (deliver_append_all(&txn, fd, s->sender.null ? "" : s->sender.full, now,
		    why, sizeof why) != RES_OK) {
			deliver_release(&txn);
			reply(s, "%s", why);
			goto out;
		}
	}
	/* Spool copy: the commit point for relay-agent. On failure the
	 * mailboxes, still locked, are truncated back. */
	if (env.nrcpts > 0) {
		if (spool_commit(s->cf->spool_dir, fd, &env) != RES_OK) {
			int err = errno;
			deliver_rollback(&txn);
			deliver_release(&txn);
			storage_reply(s, err);
			goto out;
		}
	}
	/* Local only: cmd_data removes the staging file. */

	double delay = (double)(now_ms() - t0) / 1000.0;
	log_msg(LOG_INFO, "%s: from=<%s>, size=%lld, nrcpt=%d", id,
	    s->sender.null ? "" : s->sender.full, size, s->nrcpts);
	for (int i = 0; i < nlocal; i++)
		log_msg(LOG_INFO, "%s: to=<%s>, relay=local, delay=%.2f, status=sent "
		    "(delivered to mailbox %s)", id, txn.boxes[i].delivered_to, delay,
		    txn.boxes[i].name);
	deliver_release(&txn);
	for (int i = 0; i < env.nrcpts; i++)
		log_msg(LOG_INFO, "%s: to=<%s>, orig_to=<%s>, relay=spool, delay=%.2f, "
		    "status=queued (for relay-agent)", id, env.rcpts[i].addr,
		    env.rcpts[i].orig, delay);
	reply(s, "250 2.0.0 Ok: queued as %s", id);
out:
	deliver_release(&txn);
	spool_env_free(&env);
}

/* debug_report - the debug sink's summary of one message. */
static void
debug_report(struct session *s, int fd, const char *id, long long size)
{
	struct debug_ctx d = { id };

	log_msg(LOG_INFO, "%s: debug: client=[%s], helo=%s, from=<%s>, size=%lld",
	    id, s->peer, s->helo, s->sender.null ? "" : s->sender.full, size);
	for (int i = 0; i < s->nrcpts; i++)
		log_msg(LOG_INFO, "%s: debug: to=<%s>", id, s->rcpts[i].a.full);
	if (mime_report(fd, debug_emit, &d) < 0)
		log_msg(LOG_WARNING, "%s: debug: message could not be read back", id);
	reply(s, "250 2.0.0 Ok: queued as %s", id);
}

/*
 * cmd_data - stream the message to a staging file through the DATA state
 * machine, then deliver. Returns -1 when the session must end (EOF or
 * timeout inside DATA).
 */
static int
cmd_data(struct session *s, char *arg)
{
	char id[QUEUE_ID_MAX];
	struct dataread *d;
	struct stage st = { -1, 0 };
	long long t0 = now_ms(), deadline, last_lines = 0, since = 0;
	int result = 0;

	if (arg[0]) {
		reply(s, "501 5.5.4 Syntax: DATA");
		return 0;
	}
	if (!s->in_mail) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return 0;
	}
	if (s->nrcpts == 0) {
		reply(s, "503 5.5.1 Error: need RCPT command");
		return 0;
	}
	st.fd = stage_open(s, id, sizeof id);
	if (st.fd < 0) {
		log_msg(LOG_ERR, "cannot create a staging file in %s/tmp: %s",
		    s->cf->spool_dir, strerror(errno));
		storage_reply(s, errno);
		return 0;
	}
	if (received_header(s, st.fd, id) < 0) {
		storage_reply(s, errno);
		goto discard;
	}
	log_msg(LOG_INFO, "%s: client=[%s], helo=%s", id, s->peer, s->helo);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	out_flush(s);

	if (!(d = malloc(sizeof *d))) {
		log_msg(LOG_ERR, "out of memory");
		exit(EXIT_TEMPFAIL);
	}
	dr_init(d, s->cf->max_message_size, stage_sink, &st);
	/* Idle timeout: no complete line for `timeout` (a long line counts
	 * as progress every IO_BUF_SIZE octets). */
	deadline = now_ms() + (long long)s->cf->timeout * 1000;
	while (!d->done) {
		const char *p;
		ssize_t n = lr_peek(&s->lr, &p, deadline);
		if (n <= 0) {
			if (n == -2) {
				reply(s, "421 4.4.2 %s Error: timeout exceeded", s->cf->hostname);
				log_msg(LOG_INFO, "timeout after DATA from [%s]", s->peer);
			} else
				log_msg(LOG_INFO, "lost connection after DATA from [%s]", s->peer);
			result = -1;
			free(d);
			goto discard;
		}
		size_t used = dr_feed(d, p, (size_t)n);
		lr_consume(&s->lr, used);
		since += (long long)used;
		if (d->lines != last_lines || since >= IO_BUF_SIZE) {
			last_lines = d->lines;
			since = 0;
			deadline = now_ms() + (long long)s->cf->timeout * 1000;
		}
	}
	s->n_data++;
	if (dr_finish(d) < 0) {
		log_msg(LOG_ERR, "%s: staging write failed: %s", id, strerror(st.err));
		storage_reply(s, st.err);
	} else if (d->toobig)
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
	else if (d->nul)
		reply(s, "554 5.6.0 Message contains NUL characters");
	else if (d->hops > HOPS_MAX)
		reply(s, "554 5.4.6 Too many hops (mail loop?)");
	else if (s->debug)
		debug_report(s, st.fd, id, d->size);
	else
		deliver_message(s, st.fd, id, d->size, t0);
	free(d);
discard:
	if (!s->debug)
		spool_stage_discard(s->cf->spool_dir, id);  /* gone if committed */
	close(st.fd);
	txn_reset(s);
	return result;
}


/* ------------------------------------------------------------------ AUTH */

/*
 * auth_read - send "334 CHALLENGE" and read the client's base64 answer
 * into OUT. Returns the decoded length; -1 for "*" (cancelled, answered),
 * -2 for bad base64 (answered), -3 when the session must end.
 */
static ssize_t
auth_read(struct session *s, const char *challenge, unsigned char *out, size_t outsz)
{
	char line[SMTP_AUTH_MAX + 1];
	size_t len;
	ssize_t n;
	char c334[SMTP_REPLY_MAX];

	snprintf(c334, sizeof c334, "334 %s", challenge);
	out_line(s, c334);
	enum lr_status st = lr_getline(&s->lr, line, SMTP_AUTH_MAX, &len);
	if (st == LR_TIMEOUT) {
		reply(s, "421 4.4.2 %s Error: timeout exceeded", s->cf->hostname);
		return -3;
	}
	if (st == LR_EOF || st == LR_ERROR)
		return -3;
	if (s->cf->log_transcript)
		log_msg(LOG_INFO, "< ***");
	if (st == LR_TOOLONG) {
		reply(s, "500 5.5.6 Error: authentication response too long");
		return -2;
	}
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (strcmp(line, "*") == 0) {
		reply(s, "501 5.7.0 Authentication cancelled");
		return -1;
	}
	n = strlen(line) == len ? base64_decode(line, out, outsz) : -1;
	explicit_bzero(line, sizeof line);
	if (n < 0) {
		reply(s, "501 5.5.2 Error: cannot decode the response");
		return -2;
	}
	return n;
}

/* decode_initial - an initial response ("=" is empty); -2 when bad. */
static ssize_t
decode_initial(struct session *s, const char *arg, unsigned char *out, size_t outsz)
{
	ssize_t n;

	if (strcmp(arg, "=") == 0)
		return 0;
	n = base64_decode(arg, out, outsz);
	if (n < 0) {
		reply(s, "501 5.5.2 Error: cannot decode the initial response");
		return -2;
	}
	return n;
}

/* The secrets of one AUTH exchange, cleared on every way out. */
struct auth_secrets {
	unsigned char buf[3 * AUTH_FIELD_MAX + 3];
	char user[AUTH_FIELD_MAX + 1];
	char pass[AUTH_FIELD_MAX + 1];
};

/*
 * auth_plain - RFC 4616: [authzid] NUL authcid NUL passwd. Returns 0 with
 * user and password filled (password empty when the response is not
 * acceptable as credentials), or what auth_read returned (< 0).
 */
static ssize_t
auth_plain(struct session *s, const char *initial, struct auth_secrets *a)
{
	ssize_t n = *initial ? decode_initial(s, initial, a->buf, sizeof a->buf)
	    : auth_read(s, "", a->buf, sizeof a->buf);
	unsigned char *z1, *z2, *end;

	if (n < 0)
		return n;
	end = a->buf + n;
	z1 = memchr(a->buf, '\0', (size_t)n);
	z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(end - z1 - 1)) : NULL;
	if (!z2 || memchr(z2 + 1, '\0', (size_t)(end - z2 - 1))) {
		reply(s, "501 5.5.2 Error: malformed PLAIN response");
		return -2;
	}
	size_t zlen = (size_t)(z1 - a->buf), ulen = (size_t)(z2 - z1 - 1);
	size_t plen = (size_t)(end - z2 - 1);
	if (zlen > AUTH_FIELD_MAX || ulen > AUTH_FIELD_MAX || plen > AUTH_FIELD_MAX) {
		reply(s, "501 5.5.2 Error: response too long");
		return -2;
	}
	memcpy(a->user, z1 + 1, ulen);
	a->user[ulen] = '\0';
	memcpy(a->pass, z2 + 1, plen);
	a->pass[plen] = '\0';
	/* Acting for another user (an authzid other than authcid) is not offered. */
	if (zlen && (zlen != ulen || memcmp(a->buf, a->user, ulen)))
		a->pass[0] = '\0';
	return 0;
}

/* auth_login - the LOGIN exchange: user name, then password. */
static ssize_t
auth_login(struct session *s, const char *initial, struct auth_secrets *a)
{
	ssize_t n = *initial ? decode_initial(s, initial, a->buf, AUTH_FIELD_MAX)
	    : auth_read(s, "VXNlcm5hbWU6", a->buf, AUTH_FIELD_MAX);      /* Username: */
	int bad;

	if (n < 0)
		return n;
	bad = memchr(a->buf, '\0', (size_t)n) != NULL;
	memcpy(a->user, a->buf, (size_t)n);
	a->user[n] = '\0';
	n = auth_read(s, "UGFzc3dvcmQ6", a->buf, AUTH_FIELD_MAX);        /* Password: */
	if (n < 0)
		return n;
	bad |= memchr(a->buf, '\0', (size_t)n) != NULL;
	memcpy(a->pass, a->buf, (size_t)n);
	a->pass[bad ? 0 : n] = '\0';
	return 0;
}

/*
 * cmd_auth - AUTH PLAIN (RFC 4616) and LOGIN. A success grants relaying;
 * each failure costs AUTH_FAIL_DELAY_MS and the third ends the session.
 * Returns -1 when the session must end.
 */
static int
cmd_auth(struct session *s, char *arg)
{
	struct auth_secrets a;
	char mech[16], *initial;
	ssize_t n;
	int rc;

	s->mask_next = 1;       /* a response may follow even a refusal */
	if (!s->cf->auth_file[0]) {
		reply(s, "502 5.5.1 Error: authentication not enabled");
		return 0;
	}
	if (s->auth_user[0]) {
		reply(s, "503 5.5.1 Error: already authenticated");
		return 0;
	}
	if (s->in_mail) {
		reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return 0;
	}
	initial = arg + strcspn(arg, " ");
	if (*initial)
		*initial++ = '\0';
	while (*initial == ' ')
		initial++;
	if (strlcpy_ck(mech, arg, sizeof mech) < 0 || !mech[0]) {
		reply(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return 0;
	}
	memset(&a, 0, sizeof a);
	if (strcasecmp(mech, "PLAIN") == 0) {
		strcpy(mech, "PLAIN");
		n = auth_plain(s, initial, &a);
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		strcpy(mech, "LOGIN");
		n = auth_login(s, initial, &a);
	} else {
		reply(s, "504 5.5.4 Unrecognized authentication type");
		return 0;
	}
	s->mask_next = 0;       /* the responses were read above */
	if (n < 0) {
		explicit_bzero(&a, sizeof a);
		return n == -3 ? -1 : 0;
	}
	rc = a.user[0] && a.pass[0] ? auth_check(s->cf->auth_file, a.user, a.pass) : RES_PERM;
	explicit_bzero(a.buf, sizeof a.buf);
	explicit_bzero(a.pass, sizeof a.pass);
	sanitize_text(a.user);
	if (rc == RES_OK) {
		strlcpy_ck(s->auth_user, a.user, sizeof s->auth_user);
		log_msg(LOG_INFO, "auth: client=[%s], method=%s, user=<%s>", s->peer, mech, a.user);
		reply(s, "235 2.7.0 Authentication successful");
		return 0;
	}
	if (rc == RES_TEMP) {
		log_msg(LOG_ERR, "cannot read auth_file %s", s->cf->auth_file);
		reply(s, "454 4.7.0 Temporary authentication failure");
		return 0;
	}
	log_msg(LOG_WARNING, "auth failed: client=[%s], method=%s, user=<%s>", s->peer, mech, a.user);
	out_flush(s);
	sleep_ms(AUTH_FAIL_DELAY_MS);
	reply(s, "535 5.7.8 Error: authentication failed");
	if (++s->auth_failures >= AUTH_FAILURES_MAX && !s->closing) {
		reply(s, "421 4.7.0 %s Error: too many failed authentications", s->cf->hostname);
		s->closing = 1;
	}
	return 0;
}

/* ------------------------------------------------------------- dispatch */

enum need { N_ANY, N_HELO, N_MAIL_CLOSED, N_MAIL_OPEN };

struct command {
	const char *verb;
	size_t max;             /* longest line, octets with CRLF */
	enum need need;         /* the order check, in one place */
};

static const struct command commands[] = {
	{ "HELO", SMTP_CMD_MAX, N_ANY },
	{ "EHLO", SMTP_CMD_MAX, N_ANY },
	{ "MAIL", SMTP_MAILRCPT_MAX, N_MAIL_CLOSED },
	{ "RCPT", SMTP_MAILRCPT_MAX, N_MAIL_OPEN },
	{ "DATA", SMTP_CMD_MAX, N_ANY },    /* its own 503s name what is missing */
	{ "RSET", SMTP_CMD_MAX, N_ANY },
	{ "NOOP", SMTP_CMD_MAX, N_ANY },
	{ "QUIT", SMTP_CMD_MAX, N_ANY },
	{ "VRFY", SMTP_CMD_MAX, N_ANY },
	{ "HELP", SMTP_CMD_MAX, N_ANY },
	{ "EXPN", SMTP_CMD_MAX, N_ANY },
	{ "AUTH", SMTP_AUTH_MAX, N_HELO },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* order_ok - the 503 check for every command. */
static int
order_ok(struct session *s, const struct command *c)
{
	if (c->need == N_ANY)
		return 1;
	if (!s->greeted && c->need != N_MAIL_OPEN) {
		reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return 0;
	}
	if (c->need == N_MAIL_CLOSED && s->in_mail) {
		reply(s, "503 5.5.1 Error: nested MAIL command");
		return 0;
	}
	if (c->need == N_MAIL_OPEN && !s->in_mail) {
		reply(s, "503 5.5.1 Error: need MAIL command");
		return 0;
	}
	return 1;
}

/* command - answer one command line (CR and LF removed). -1: end session. */
static int
command(struct session *s, char *line, size_t len)
{
	const struct command *c = NULL;
	char *arg;
	size_t vlen;

	s->n_commands++;
	if (memchr(line, '\r', len) || memchr(line, '\0', len)) {
		s->verb = "command";
		reply(s, "500 5.5.2 Error: bare CR or NUL in command");
		return 0;
	}
	if (s->cf->log_transcript) {
		if (strncasecmp(line, "AUTH", 4) == 0 || s->mask_next)
			log_msg(LOG_INFO, "< %s***", strncasecmp(line, "AUTH", 4) ? "" : "AUTH ");
		else
			log_msg(LOG_INFO, "< %s", line);
	}
	s->mask_next = 0;
	vlen = strcspn(line, " ");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (vlen == 4 && strncasecmp(line, commands[i].verb, 4) == 0)
			c = &commands[i];
	if (!c) {
		s->n_other++;
		s->verb = "command";
		reply(s, "500 5.5.2 Error: command not recognized");
		return 0;
	}
	s->verb = c->verb;
	if (len + 2 > c->max) {
		if (c->max == SMTP_AUTH_MAX)    /* RFC 4954 4 */
			reply(s, "500 5.5.6 Error: authentication line too long");
		else
			reply(s, "500 5.5.2 Error: line too long");
		return 0;
	}
	arg = line + vlen;
	while (*arg == ' ')
		arg++;
	for (size_t n = strlen(arg); n > 0 && arg[n - 1] == ' '; n--)
		arg[n - 1] = '\0';
	if (!order_ok(s, c))
		return 0;

	switch (c->verb[0]) {
	case 'H':
		if (c->verb[1] == 'E' && c->verb[2] == 'L' && c->verb[3] == 'O') {
			s->n_helo++;
			cmd_helo(s, arg, 0);
		} else
			reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP%s",
			    s->cf->auth_file[0] ? " AUTH" : "");
		break;
	case 'E':
		if (c->verb[1] == 'H') {
			s->n_ehlo++;
			cmd_helo(s, arg, 1);
		} else
			reply(s, "502 5.5.1 EXPN not supported");
		break;
	case 'M':
		s->n_mail++;
		cmd_mail(s, arg);
		break;
	case 'R':
		if (c->verb[1] == 'C') {
			s->n_rcpt++;
			cmd_rcpt(s, arg);
		} else if (arg[0]) {
			reply(s, "501 5.5.4 Syntax: RSET");
		} else {
			s->n_rset++;
			txn_reset(s);
			reply(s, "250 2.0.0 Ok");
		}
		break;
	case 'D':
		return cmd_data(s, arg);
	case 'N':
		s->n_noop++;
		reply(s, "250 2.0.0 Ok");
		break;
	case 'Q':
		if (arg[0]) {
			reply(s, "501 5.5.4 Syntax: QUIT");
			break;
		}
		s->n_quit++;
		reply(s, "221 2.0.0 Bye");
		return -1;
	case 'V':
		s->n_vrfy++;
		if (arg[0] == '\0')
			reply(s, "501 5.5.4 Syntax: VRFY address");
		else
			reply(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
		break;
	case 'A':
		return cmd_auth(s, arg);
	}
	return 0;
}

/* --------------------------------------------------------------- the peer */

/* peer_from_env - an address from the launcher's environment, if valid. */
static int
peer_from_env(const char *name, struct sockaddr_storage *ss)
{
	const char *v = getenv(name);
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	if (!v || !*v)
		return 0;
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, v, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, v, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return 1;
	}
	return 0;
}

/* is_loopback - 127.0.0.0/8, ::1 or a v4-mapped 127/8. */
static int
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

/*
 * peer_find - who the client is (SPEC "Where the peer address comes
 * from"): the socket's peer; else REMOTE_ADDR, TCPREMOTEIP, REMOTE_HOST;
 * else a local session (127.0.0.1). Behind stunnel (tls_wrapped) a
 * loopback socket peer gives way to REMOTE_HOST.
 */
static void
peer_find(struct session *s)
{
	socklen_t len = sizeof s->peer_sa;
	struct sockaddr_storage *ss = &s->peer_sa;
	int found = 0, unknown_behind_tls = 0;

	memset(ss, 0, sizeof *ss);
	if (getpeername(0, (struct sockaddr *)ss, &len) == 0 &&
	    (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)) {
		found = 1;
		if (s->cf->tls_wrapped && is_loopback(ss)) {
			struct sockaddr_storage env;
			if (peer_from_env("REMOTE_HOST", &env))
				*ss = env;
			else
				unknown_behind_tls = 1;
		}
	}
	if (!found)
		found = peer_from_env("REMOTE_ADDR", ss) || peer_from_env("TCPREMOTEIP", ss) ||
		    peer_from_env("REMOTE_HOST", ss);
	if (!found) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		memset(ss, 0, sizeof *ss);
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	if (ss->ss_family == AF_INET6) {
		struct in6_addr *a = &((struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			struct sockaddr_in s4 = { .sin_family = AF_INET };
			memcpy(&s4.sin_addr, a->s6_addr + 12, 4);
			memset(ss, 0, sizeof *ss);
			memcpy(ss, &s4, sizeof s4);
		}
	}
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, s->peer, sizeof s->peer);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, s->peer, sizeof s->peer);
	s->relay_ok = config_relay_allowed(s->cf, (struct sockaddr *)ss);
	if (unknown_behind_tls) {
		/* The TLS front end did not say who the client is: never let
		 * its loopback address grant relaying. */
		log_msg(LOG_WARNING, "tls_wrapped: no valid REMOTE_HOST from the TLS front end; "
		    "relaying only after AUTH");
		s->relay_ok = 0;
	}
}

/* ------------------------------------------------------------------- main */

static void
on_alarm(int sig)
{
	(void)sig;
	_exit(0);       /* a client that stopped reading our replies */
}

/* config_failed - report a broken configuration everywhere allowed. */
static void
config_failed(const struct config *cf, const char *err)
{
	struct stat st;
	const char *host = cf->hostname[0] ? cf->hostname : "localhost";
	char line[SMTP_REPLY_MAX];

	syslog(LOG_ERR, "configuration error: %s", err);
	if (strcmp(cf->log, "syslog") != 0 && log_open(cf->log) == 0)
		log_msg(LOG_ERR, "configuration error: %s", err);
	if (fstat(2, &st) == 0 && !S_ISSOCK(st.st_mode) && !log_target_is_stderr())
		fprintf(stderr, "smtp-session: configuration error: %s\n", err);
	snprintf(line, sizeof line, "421 4.3.0 %s Configuration error, try again later\r\n", host);
	(void)write_all(1, line, strlen(line));
	exit(EXIT_CONFIG);
}

static void
usage(void)
{
	fprintf(stderr, "usage: smtp-session [-c FILE] [-d] [-V]\n");
	exit(EXIT_USAGE);
}

int
main(int argc, char **argv)
{
	static struct config cf;
	static struct session s;
	const char *file = DEFAULT_CONFIG;
	char err[9000], line[LINE_BUF_MAX + 1];
	int opt, debug = 0;

	memset(&s, 0, sizeof s);    /* main runs more than once when fuzzed */

	while ((opt = getopt(argc, argv, "c:dV")) != -1) {
		switch (opt) {
		case 'c': file = optarg; break;
		case 'd': debug = 1; break;
		case 'V':
			printf("smtp-session %s\n", VERSION);
			return 0;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);   /* a file-size limit is EFBIG, a 4xx */
	/* One message may hold every mailbox open at once. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < RCPT_EXPAND_MAX + 64) {
		rl.rlim_cur = rl.rlim_max < RCPT_EXPAND_MAX + 64 ? rl.rlim_max : RCPT_EXPAND_MAX + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGALRM, on_alarm);
	log_init("smtp-session");
	if (config_load(&cf, file, debug ? CONFIG_DEBUG : CONFIG_FULL, err, sizeof err) < 0)
		config_failed(&cf, err);
	if (log_open(cf.log) < 0) {
		snprintf(err, sizeof err, "%s: log file %s: %s", file, cf.log, strerror(errno));
		config_failed(&cf, err);
	}

	s.cf = &cf;
	s.debug = debug;
	s.rcpts = calloc((size_t)cf.max_recipients, sizeof *s.rcpts);
	if (!s.rcpts) {
		log_msg(LOG_ERR, "out of memory");
		return EXIT_TEMPFAIL;
	}
	txn_reset(&s);
	lr_init(&s.lr, 0, cf.timeout);
	s.lr.before_block = flush_hook;
	s.lr.arg = &s;
	peer_find(&s);
	log_msg(LOG_INFO, "connect from [%s]%s%s", s.peer, cf.tls_wrapped ? " tls=yes" : "",
	    debug ? " (debug sink)" : "");

	reply(&s, "220 %s ESMTP ready", cf.hostname);
	while (!s.closing) {
		size_t len;
		enum lr_status st = lr_getline(&s.lr, line, LINE_BUF_MAX, &len);
		if (st == LR_EOF || st == LR_ERROR) {
			log_msg(LOG_INFO, "lost connection from [%s]", s.peer);
			break;
		}
		if (st == LR_TIMEOUT) {
			s.verb = NULL;
			reply(&s, "421 4.4.2 %s Error: timeout exceeded", cf.hostname);
			log_msg(LOG_INFO, "timeout from [%s]", s.peer);
			break;
		}
		if (st == LR_TOOLONG) {
			s.n_commands++;
			s.verb = "command";
			reply(&s, "500 5.5.2 Error: line too long");
			continue;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		int end = command(&s, line, len) < 0;
		if (strncasecmp(line, "AUTH", 4) == 0)
			explicit_bzero(line, len);      /* an initial response */
		if (end)
			break;
	}
	out_flush(&s);
	log_msg(LOG_INFO, "disconnect from [%s] ehlo=%d helo=%d mail=%d rcpt=%d data=%d "
	    "rset=%d noop=%d vrfy=%d quit=%d unknown=%d commands=%d errors=%d",
	    s.peer, s.n_ehlo, s.n_helo, s.n_mail, s.n_rcpt, s.n_data, s.n_rset,
	    s.n_noop, s.n_vrfy, s.n_quit, s.n_other, s.n_commands, s.errors);
	free(s.rcpts);
	config_free(&cf);
	return 0;
}
