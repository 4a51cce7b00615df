/*
 * smtp-session - one SMTP session on stdin/stdout.
 *
 * SYNOPSIS
 *	smtp-session [-c FILE] [-d] [-U UID] [-V]
 *
 * DESCRIPTION
 *	Started by a super-server (xinetd, systemd socket activation with
 *	Accept=yes, tcpserver) once per connection, or fed a scripted
 *	dialogue on a pipe. Mail for a local domain is appended to each
 *	recipient's mbox; mail for any other domain is written to the spool
 *	for relay-agent (inject.c does both). A 250 after DATA means every
 *	copy is fsynced; any failure before that is a 4xx and leaves no part
 *	of the message anywhere.
 *
 *	With -d it is a debug sink: every recipient is accepted, nothing is
 *	delivered, and each message is summarised to the log (mime.c).
 *
 *	With -U UID the session is a local submission on behalf of user UID:
 *	relay-agent's pickup feeds it a file from the maildrop. Only root and
 *	the owner of spool_dir may give -U (else exit 77), so nobody else can
 *	store mail under another user's name. Its mailboxes' lock wait is
 *	relay-agent's short one: a busy mailbox's copy waits in the queue.
 *
 *	fd 0 is read, fd 1 written; fd 2 is never written (under inetd it
 *	is the client) unless the configuration says "log stderr".
 *
 *	This file holds the session loop, the command table (each verb with
 *	its handler, line limit, order rule and counter) and the handlers of
 *	HELO, EHLO, MAIL, RCPT and the small commands; DATA is smtp-data.c
 *	(and the content filter, filter.c), AUTH smtp-auth.c, the client's
 *	identity peer.c, what a signal or an exit() must leave undone
 *	smtp-signals.c. The limits on a noisy or slow client live here:
 *	junk commands, the idle timeout, session_limit.
 *
 * EXIT STATUS
 *	0 the session ended (QUIT, EOF, timeout, error limit); 64 bad
 *	command line; 77 -U not allowed; 78 bad configuration (the client
 *	gets 421 4.3.0). SIGTERM, SIGHUP and SIGINT end it at once, leaving
 *	nothing behind (session_leave), and it dies of the signal.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "session.h"
#include "spool.h"
#include "util.h"

/* ---------------------------------------------------------------- replies */

/* reply_flush - send buffered replies; the session ends if the client is gone. */
void
reply_flush(struct session *s)
{
	if (s->out.len == 0)
		return;
	/* On a socket, first without waiting: the replies nearly always fit
	 * its buffer, and then no alarm need be set and cleared. */
	if (!s->out_nosock) {
		int rc = bufout_flush_nowait(&s->out);
		if (rc == 1)
			return;
		if (rc < 0 && errno == ENOTSOCK)
			s->out_nosock = 1;
	}
	/* A client that never reads: the idle timeout, or what is left of
	 * the session's limit. */
	long long left = (s->deadline - now_ms() + 999) / 1000;
	alarm((unsigned)(left < 1 ? 1 : left < s->cf->timeout ? left : s->cf->timeout));
	if (bufout_flush(&s->out) < 0) {
		log_msg(LOG_INFO, "lost connection writing to [%s]: %s", s->peer.addr,
		    strerror(errno));
		exit(0);
	}
	alarm(0);
}

/* flush_hook - the line reader is about to wait: answer what is pending. */
static void
flush_hook(void *arg)
{
	reply_flush(arg);
}

/* reply_line - queue one reply line (CRLF added). */
void
reply_line(struct session *s, const char *line)
{
	size_t n = strlen(line);

	if (n > SMTP_REPLY_MAX - 2)
		n = SMTP_REPLY_MAX - 2;
	if (s->out.len + n + 2 > sizeof s->out.buf)
		reply_flush(s);
	bufout_put(&s->out, line, n);
	bufout_put(&s->out, "\r\n", 2);
	if (s->cf->log_transcript)
		log_msg(LOG_INFO, "> %.*s", (int)n, line);
}

/* count_error - one more error; at SESSION_ERRORS_MAX the session says
 * 421 and ends. */
static void
count_error(struct session *s)
{
	if (++s->errors >= SESSION_ERRORS_MAX && !s->closing) {
		char bye[SMTP_REPLY_MAX];
		snprintf(bye, sizeof bye, "421 4.7.0 %s Error: too many errors",
		    s->cf->hostname);
		reply_line(s, bye);
		log_msg(LOG_INFO, "too many errors from [%s]", s->peer.addr);
		s->closing = 1;
	}
}

/* reply - the one reply function (see session.h). */
void
reply(struct session *s, const char *fmt, ...)
{
	char line[SMTP_REPLY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	reply_line(s, line);
	if (line[0] == '4' || line[0] == '5') {
		/* The reply may echo client text: quoted, like every client word. */
		char q[2 * SMTP_REPLY_MAX], from[4 * ADDR_MAX + 1], helo[4 * HELO_MAX + 1];
		log_msg(LOG_INFO, "reject: %s from [%s]; from=<%s> helo=<%s> reply=%s",
		    s->verb ? s->verb : "CONNECT", s->peer.addr,
		    log_token(from, sizeof from, s->in_mail ? s->sender.full : ""),
		    log_token(helo, sizeof helo, s->helo), log_quote(q, sizeof q, line));
	}
	if (line[0] == '5')
		count_error(s);
}

/* reply_timeout - 421 for an idle client or the end of session_limit. */
void
reply_timeout(struct session *s, const char *where)
{
	if (now_ms() >= s->deadline) {
		reply(s, "421 4.4.2 %s Error: session time limit exceeded", s->cf->hostname);
		log_msg(LOG_INFO, "session limit (%ds) reached %sfrom [%s]", s->cf->session_limit,
		    where, s->peer.addr);
	} else {
		reply(s, "421 4.4.2 %s Error: timeout exceeded", s->cf->hostname);
		log_msg(LOG_INFO, "timeout %sfrom [%s]", where, s->peer.addr);
	}
	s->closing = 1;
}

/* ------------------------------------------------------------ transaction */

/* txn_reset - forget the open transaction (RSET, HELO, after DATA). */
void
txn_reset(struct session *s)
{
	s->in_mail = 0;
	s->nrcpts = 0;
	s->overshoot = 0;
	memset(&s->sender, 0, sizeof s->sender);
	strcpy(s->body, "7BIT");
	inject_end(&s->inj);
}

/* ---------------------------------------------------------------- commands */

/*
 * helo_valid - one word of printable ASCII without ( ) < > , ; " and at
 * most HELO_MAX octets: it goes into our Received header and the log, so
 * it must not be able to forge a comment, an address or a field there.
 * '_' stays accepted (Windows host names).
 */
static int
helo_valid(const char *arg)
{
	size_t n = strlen(arg);

	if (n == 0 || n > HELO_MAX)
		return 0;
	for (; *arg; arg++)
		if ((unsigned char)*arg <= 0x20 || (unsigned char)*arg > 0x7e ||
		    strchr("()<>,;\"", *arg))
			return 0;
	return 1;
}

/* cmd_helo_any - HELO and EHLO: a new start, like RSET. */
static int
cmd_helo_any(struct session *s, char *arg, int esmtp)
{
	if (!helo_valid(arg)) {
		reply(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return 0;
	}
	txn_reset(s);
	strlcpy_ck(s->helo, arg, sizeof s->helo);
	s->greeted = 1;
	s->esmtp = esmtp;
	if (!esmtp) {
		reply(s, "250 %s", s->cf->hostname);
		return 0;
	}
	char line[SMTP_REPLY_MAX];
	snprintf(line, sizeof line, "250-%s", s->cf->hostname);
	reply_line(s, line);
	reply_line(s, "250-PIPELINING");
	snprintf(line, sizeof line, "250-SIZE %ld", s->cf->max_message_size);
	reply_line(s, line);
	reply_line(s, "250-8BITMIME");
	if (s->cf->auth_file[0])
		reply_line(s, "250-AUTH PLAIN LOGIN");
	reply_line(s, "250 ENHANCEDSTATUSCODES");
	return 0;
}

/* cmd_helo - HELO: SMTP without extensions. */
static int
cmd_helo(struct session *s, char *arg)
{
	return cmd_helo_any(s, arg, 0);
}

/* cmd_ehlo - EHLO: the extensions we offer. */
static int
cmd_ehlo(struct session *s, char *arg)
{
	return cmd_helo_any(s, arg, 1);
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

/* cmd_mail - MAIL FROM: the sender and its parameters SIZE=, BODY=. */
static int
cmd_mail(struct session *s, char *arg)
{
	const char *end;
	char *p = path_after(arg, "FROM:");
	struct addr a;
	long long size = -1;
	char body[16] = "7BIT";

	if (s->cf->require_auth && !s->auth_user[0]) {
		/* A submission service (RFC 6409 4.3). */
		reply(s, "530 5.7.0 Authentication required");
		return 0;
	}
	if (!p) {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return 0;
	}
	if (addr_refusal(s, addr_parse_path(p, &end, 1, &a), "Sender"))
		return 0;
	if (!a.null && a.domain[0] == '\0') {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return 0;
	}
	/* Parameters: SIZE= and BODY= (RFC 1870, RFC 6152). */
	if (*end && *end != ' ') {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]");
		return 0;
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
				return 0;
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
				return 0;
			}
		} else if (strcasecmp(kw, "AUTH") == 0 && val && s->cf->auth_file[0]) {
			;   /* RFC 4954 5: accepted; we trust only our own AUTH */
		} else {
			unsupported_param(s, kw);
			return 0;
		}
	}
	if (size >= 0 && s->cf->max_message_size && size > s->cf->max_message_size) {
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return 0;
	}
	/* Room for it and the reserve (queue_minfree, Postfix's rule): a full
	 * spool refuses at MAIL, before the client sends anything big. */
	long long need = config_minfree(s->cf) + (size > 0 ? size : 0);
	if (!s->debug && !spool_room(s->cf->spool_dir, need)) {
		log_msg(LOG_WARNING, "less than %lld octets free in %s: MAIL refused for now", need,
		    s->cf->spool_dir);
		reply(s, "452 4.3.1 Insufficient system storage");
		return 0;
	}
	s->sender = a;
	strcpy(s->body, body);
	s->in_mail = 1;
	s->nrcpts = 0;
	s->overshoot = 0;
	inject_end(&s->inj);
	inject_begin(&s->inj, s->cf, a.null ? "" : a.full);
	s->inj.may_wait = 1;
	s->inj.max_boxes = s->max_boxes;
	s->inj.txn.lock_wait_ms = s->lock_wait_ms;
	reply(s, "250 2.1.0 Ok");
	return 0;
}

/* rcpts_grow - room for more recipients (at most max_rcpts); 0 or -1. */
static int
rcpts_grow(struct session *s)
{
	int cap = s->rcpts_cap ? s->rcpts_cap * 2 : 8;
	struct rcpt *r;

	if (cap > s->max_rcpts)
		cap = s->max_rcpts;
	if (!(r = realloc(s->rcpts, (size_t)cap * sizeof *r)))
		return -1;
	s->rcpts = r;
	s->rcpts_cap = cap;
	return 0;
}

/*
 * too_many - the 452 for a RCPT past the limit. Postfix's
 * smtpd_recipient_overshoot_limit: a client may go past it by
 * RCPT_OVERSHOOT_MAX recipients in one transaction (a pipelined list,
 * sent again in the next transaction); each RCPT beyond that counts as
 * an error, so a client that keeps going is disconnected at the error
 * limit.
 */
static void
too_many(struct session *s)
{
	reply(s, "452 4.5.3 Error: too many recipients");
	if (++s->overshoot > RCPT_OVERSHOOT_MAX)
		count_error(s);
}

/*
 * cmd_rcpt - RCPT TO: a local address must name a user or alias (its
 * mailboxes and targets are counted now, inject.c, so that whatever is
 * accepted can be delivered); a foreign one needs the relay right.
 */
static int
cmd_rcpt(struct session *s, char *arg)
{
	const char *end;
	char *p = path_after(arg, "TO:");
	char why[SMTP_REPLY_MAX];
	struct addr a;
	int local;

	if (!p) {
		reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return 0;
	}
	/* Already full: refused before any work (parsing, expansion). */
	if (s->nrcpts >= s->max_rcpts ||
	    (!s->debug && inject_targets(&s->inj) >= INJECT_TARGETS_MAX)) {
		too_many(s);
		return 0;
	}
	if (addr_refusal(s, addr_parse_path(p, &end, 0, &a), "Recipient"))
		return 0;
	if (*end && *end != ' ') {
		reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return 0;
	}
	while (*end == ' ')
		end++;
	if (*end) {
		unsupported_param(s, end);
		return 0;
	}
	if (s->nrcpts == s->rcpts_cap && rcpts_grow(s) < 0) {
		reply(s, "451 4.3.0 Error: out of memory");
		return 0;
	}
	local = a.domain[0] == '\0' || config_is_local_domain(s->cf, a.domain);
	if (!local && !s->debug && !s->peer.relay_ok && !s->auth_user[0]) {
		reply(s, "554 5.7.1 <%s>: Relay access denied", a.full);
		return 0;
	}
	/* The debug sink takes every recipient and stores nothing. */
	if (!s->debug && inject_add(&s->inj, a.full, a.full, why, sizeof why) != RES_OK) {
		if (strncmp(why, "452 4.5.3", 9) == 0)
			too_many(s);    /* its expansion went past the limit */
		else
			reply(s, "%s", why);
		return 0;
	}
	s->rcpts[s->nrcpts].a = a;
	s->rcpts[s->nrcpts].local = local;
	s->nrcpts++;
	reply(s, "250 2.1.5 Ok");
	return 0;
}

/* cmd_rset - RSET: the transaction is forgotten. */
static int
cmd_rset(struct session *s, char *arg)
{
	if (arg[0]) {
		reply(s, "501 5.5.4 Syntax: RSET");
		return 0;
	}
	txn_reset(s);
	reply(s, "250 2.0.0 Ok");
	return 0;
}

/* cmd_noop - NOOP. */
static int
cmd_noop(struct session *s, char *arg)
{
	(void)arg;
	reply(s, "250 2.0.0 Ok");
	return 0;
}

/* cmd_quit - QUIT: the session ends. */
static int
cmd_quit(struct session *s, char *arg)
{
	if (arg[0]) {
		reply(s, "501 5.5.4 Syntax: QUIT");
		return 0;
	}
	reply(s, "221 2.0.0 Bye");
	return -1;
}

/* cmd_vrfy - VRFY: 252, never telling which users exist. */
static int
cmd_vrfy(struct session *s, char *arg)
{
	if (arg[0] == '\0')
		reply(s, "501 5.5.4 Syntax: VRFY address");
	else
		reply(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
	return 0;
}

/* cmd_help - HELP: the commands. */
static int
cmd_help(struct session *s, char *arg)
{
	(void)arg;
	reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP%s",
	    s->cf->auth_file[0] ? " AUTH" : "");
	return 0;
}

/* cmd_expn - EXPN: never expands a list. */
static int
cmd_expn(struct session *s, char *arg)
{
	(void)arg;
	reply(s, "502 5.5.1 EXPN not supported");
	return 0;
}

/* ------------------------------------------------------------- dispatch */

/* The order rule of a command, checked in one place (order_ok). */
enum need { N_ANY, N_HELO, N_MAIL_CLOSED, N_MAIL_OPEN };

/*
 * The command table: verb, handler, longest line (octets with CRLF),
 * order rule, and the name of its counter in the disconnect line. A
 * handler returns -1 when the session must end.
 */
struct command {
	const char *verb;
	int (*handler)(struct session *s, char *arg);
	size_t max;
	enum need need;
	const char *counter;
	int junk;               /* counts toward JUNK_COMMANDS_MAX (HELO and
	                           EHLO only when repeated) */
};

static const struct command commands[] = {
	{ "HELO", cmd_helo, SMTP_CMD_MAX, N_ANY, "helo", 1 },
	{ "EHLO", cmd_ehlo, SMTP_CMD_MAX, N_ANY, "ehlo", 1 },
	{ "AUTH", cmd_auth, SMTP_AUTH_MAX, N_HELO, "auth", 0 },
	{ "MAIL", cmd_mail, SMTP_MAILRCPT_MAX, N_MAIL_CLOSED, "mail", 0 },
	{ "RCPT", cmd_rcpt, SMTP_MAILRCPT_MAX, N_MAIL_OPEN, "rcpt", 0 },
	{ "DATA", cmd_data, SMTP_CMD_MAX, N_ANY, "data", 0 },  /* its 503s name what is missing */
	{ "RSET", cmd_rset, SMTP_CMD_MAX, N_ANY, "rset", 1 },
	{ "NOOP", cmd_noop, SMTP_CMD_MAX, N_ANY, "noop", 1 },
	{ "VRFY", cmd_vrfy, SMTP_CMD_MAX, N_ANY, "vrfy", 1 },
	{ "HELP", cmd_help, SMTP_CMD_MAX, N_ANY, "help", 1 },
	{ "EXPN", cmd_expn, SMTP_CMD_MAX, N_ANY, "expn", 0 },
	{ "QUIT", cmd_quit, SMTP_CMD_MAX, N_ANY, "quit", 0 },
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
	for (size_t i = 0; i < NCOMMANDS && vlen == 4; i++)
		if (strncasecmp(line, commands[i].verb, 4) == 0) {
			c = &commands[i];
			s->counts[i]++;
		}
	if (!c) {
		s->n_unknown++;
		s->verb = "command";
		reply(s, "500 5.5.2 Error: command not recognized");
		return 0;
	}
	s->verb = c->verb;
	/* Postfix's smtpd_junk_command_limit: a client that only talks. */
	if (c->junk && ((c->handler != cmd_helo && c->handler != cmd_ehlo) || s->greeted) &&
	    ++s->junk > JUNK_COMMANDS_MAX) {
		reply(s, "421 4.7.0 %s Error: too many junk commands", s->cf->hostname);
		log_msg(LOG_INFO, "too many junk commands from [%s]", s->peer.addr);
		s->closing = 1;
		return -1;
	}
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
	return c->handler(s, arg);
}

/* log_disconnect - the last line of a session: every command counted. */
static void
log_disconnect(const struct session *s)
{
	char counts[NCOMMANDS * 16 + 64];
	size_t n = 0;

	counts[0] = '\0';
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (s->counts[i])
			n += (size_t)snprintf(counts + n, sizeof counts - n, " %s=%d",
			    commands[i].counter, s->counts[i]);
	if (s->n_unknown)
		snprintf(counts + n, sizeof counts - n, " unknown=%d", s->n_unknown);
	log_msg(LOG_INFO, "disconnect from [%s]%s commands=%d errors=%d", s->peer.addr,
	    counts, s->n_commands, s->errors);
}

/* ------------------------------------------------------------------- main */

/*
 * fd_budget - one message may hold every one of its mailboxes open at
 * once: raise the soft descriptor limit to fit INJECT_TARGETS_MAX of them
 * and FD_SPARE more. With a hard limit too low for that, this session
 * takes fewer mailboxes per message (RCPT answers 452 past them) and
 * says so. Returns the mailboxes a message may have.
 */
static int
fd_budget(void)
{
	const rlim_t want = INJECT_TARGETS_MAX + FD_SPARE;
	struct rlimit rl;
	long n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return INJECT_TARGETS_MAX;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || getrlimit(RLIMIT_NOFILE, &rl) < 0)
			return 1;
	}
	if (rl.rlim_cur >= want)
		return INJECT_TARGETS_MAX;
	n = (long)rl.rlim_cur - FD_SPARE;
	if (n < 1)
		n = 1;
	log_msg(LOG_WARNING, "descriptor limit %lu is below %lu: at most %ld mailboxes per "
	    "message in this session", (unsigned long)rl.rlim_cur, (unsigned long)want, n);
	return (int)n;
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

/* usage - a bad command line: logged, 421 4.3.0 to the client (under
 * inetd stderr is the client: the usage line goes there only when it is
 * not a socket), exit 64. */
static void
usage(const char *what)
{
	struct stat st;
	char host[DOMAIN_MAX + 1], q[256], line[SMTP_REPLY_MAX];

	if (gethostname(host, sizeof host) < 0 || !host[0])
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	sanitize_text(host);
	log_msg(LOG_ERR, "bad command line: %s", log_quote(q, sizeof q, what));
	if (fstat(2, &st) == 0 && !S_ISSOCK(st.st_mode))
		fprintf(stderr, "usage: smtp-session [-c FILE] [-d] [-U UID] [-V]\n");
	snprintf(line, sizeof line, "421 4.3.0 %s Bad command line, try again later\r\n", host);
	(void)write_all(1, line, strlen(line));
	exit(EXIT_USAGE);
}

/* pickup_allowed - whether this process may speak for another user (-U):
 * its real uid is root or the owner of spool_dir (relay-agent's pickup). */
static int
pickup_allowed(const struct config *cf)
{
	struct stat st;

	return getuid() == 0 || (stat(cf->spool_dir, &st) == 0 && st.st_uid == getuid());
}

int
main(int argc, char **argv)
{
	static struct config cf_storage;
	static struct session *session_pages;
	static int counts[NCOMMANDS], runs;
	struct config *cf;
	struct session *s;
	const char *file = CONFIG_DEFAULT;
	char err[9000], line[LINE_BUF_MAX + 1];
	int opt, debug = 0;
	long as_uid = -1;

	memset(counts, 0, sizeof counts);  /* main runs more than once when fuzzed */

	log_init("smtp-session");
	opterr = 0;             /* getopt's messages would go to the client */
	while ((opt = getopt(argc, argv, "c:dU:V")) != -1) {
		char what[64];
		switch (opt) {
		case 'c': file = optarg; break;
		case 'd': debug = 1; break;
		case 'U': {
			char *end;
			errno = 0;
			as_uid = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || as_uid < 0 || as_uid > 0x7fffffffL)
				usage("bad -U value");
			break;
		}
		case 'V':
			printf("smtp-session %s\n", VERSION);
			return 0;
		default:
			snprintf(what, sizeof what, optopt == 'c' ? "-%c needs an argument" :
			    "unknown option -%c", optopt);
			usage(what);
		}
	}
	if (optind != argc)
		usage(argv[optind]);
	session_signals_init();
	config_set_reporter(log_later);
	/* Static storage is all zeros, its pages untouched until a setting
	 * is written; only a second run of main (the fuzzer) clears it. */
	cf = &cf_storage;
	if (runs++ > 0)
		memset(cf, 0, sizeof *cf);
	if (config_load_fresh(cf, file, debug ? CONFIG_DEBUG : CONFIG_FULL, err, sizeof err) < 0)
		config_failed(cf, err);
	if (as_uid >= 0 && !pickup_allowed(cf)) {
		log_msg(LOG_ERR, "-U refused: uid %ld is neither root nor the owner of %s",
		    (long)getuid(), cf->spool_dir);
		fprintf(stderr, "smtp-session: -U is for relay-agent's pickup only\n");
		return EXIT_NOPERM;
	}
	if (log_open(cf->log) < 0) {
		/* Cut to fit: a message, not a path to be used. */
		if (snprintf(err, sizeof err, "%.4000s: log file %.4000s: %s", file, cf->log,
		    strerror(errno)) < 0)
			strcpy(err, "log file cannot be opened");
		config_failed(cf, err);
	}

	/* Zero pages straight from the kernel: only what is used gets
	 * touched, so a session faults in only the parts of its buffers that
	 * it fills (calloc would clear it all when the heap has room). It
	 * goes with the process: unmapping costs more than it saves. */
	if (!session_pages) {
		session_pages = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (session_pages == MAP_FAILED) {
			session_pages = NULL;
			log_msg(LOG_ERR, "out of memory");
			return EXIT_TEMPFAIL;
		}
	} else {
		memset(session_pages, 0, sizeof *s);    /* main run again (the fuzzer) */
	}
	s = session_pages;
	s->cf = cf;
	s->debug = debug;
	s->max_boxes = fd_budget();
	/* The pickup's: a busy mailbox's copy waits in the queue after a
	 * short wait, as relay-agent's own local deliveries do, so one file
	 * of the maildrop never holds back the next for 30 s. */
	s->lock_wait_ms = as_uid >= 0 ? RELAY_LOCAL_LOCK_WAIT_MS : 0;
	s->deadline = now_ms() + (long long)cf->session_limit * 1000;
	s->counts = counts;
	bufout_init(&s->out, 1);
	peer_find(&s->peer, cf);
	if (as_uid >= 0)
		peer_set_local_uid(&s->peer, as_uid);
	s->max_rcpts = s->peer.uid >= 0 && cf->max_recipients < RCPT_EXPAND_MAX ? RCPT_EXPAND_MAX :
	    cf->max_recipients;
	inject_begin(&s->inj, cf, "");
	txn_reset(s);
	lr_init(&s->lr, 0, cf->timeout);
	s->lr.limit_ms = s->deadline;
	s->lr.before_block = flush_hook;
	s->lr.arg = s;
	if (s->peer.uid >= 0)
		log_msg(LOG_INFO, "connect from [%s] uid=%ld user=<%s>%s", s->peer.addr, s->peer.uid,
		    s->peer.user, as_uid >= 0 ? " (pickup)" : "");
	else
		log_msg(LOG_INFO, "connect from [%s]%s%s%s", s->peer.addr,
		    s->peer.unidentified ? " unidentified" : "", cf->tls_wrapped ? " tls=yes" : "",
		    debug ? " (debug sink)" : "");

	reply(s, "220 %s ESMTP ready", cf->hostname);
	while (!s->closing) {
		size_t len;
		enum lr_status st = lr_getline(&s->lr, line, LINE_BUF_MAX, &len);
		if (st == LR_EOF || st == LR_ERROR) {
			log_msg(LOG_INFO, "lost connection from [%s]", s->peer.addr);
			break;
		}
		if (st == LR_TIMEOUT) {
			s->verb = NULL;
			reply_timeout(s, "");
			break;
		}
		if (st == LR_TOOLONG) {
			s->n_commands++;
			s->verb = "command";
			reply(s, "500 5.5.2 Error: line too long");
			continue;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		int end = command(s, line, len) < 0;
		if (strncasecmp(line, "AUTH", 4) == 0) {
			explicit_bzero(line, len);      /* an initial response */
			lr_wipe(&s->lr);                /* and its raw copy */
		}
		if (end)
			break;
	}
	reply_flush(s);
	log_disconnect(s);
	txn_reset(s);
	free(s->rcpts);
	config_free(cf);
	return 0;
}
