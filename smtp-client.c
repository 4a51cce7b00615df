/*
 * smtp-client.c - the SMTP client of relay-agent (RFC 5321, RFC 2920
 * PIPELINING, RFC 4954 AUTH PLAIN/LOGIN).
 *
 * The remote server is not trusted: every reply line is read through the
 * bounded line reader (SMTP_REPLY_MAX octets), a reply has at most
 * SMTP_REPLY_LINES_MAX lines and must arrive whole within the timeout
 * (RFC 5321 4.5.3.2: one smtp_timeout per reply, twice that after the
 * final dot), and anything that is not "DDD", "DDD " or "DDD-" with one
 * code throughout is garbage. Any of those ends the connection with a
 * 4xx reply of our own, so the caller moves on to the next MX host.
 * Reply lines up to RELAY_REPLY_LINE_MAX octets are read (real servers
 * send lines over 512); the first SMTP_REPLY_MAX octets are kept. A 421
 * to any command means the server is closing: the connection is dropped
 * and the transaction counts as broken, so the caller reconnects. A 552
 * to RCPT counts as 452 (RFC 5321 4.5.3.1.10). A greeting or EHLO reply
 * that names our own host name is a mail loop (RES_PERM from smtp_open).
 *
 * What goes out never holds a bare CR or LF: the spooled message has LF
 * line ends, each becomes CRLF, any CR inside a line is sent as a space,
 * and a line longer than 998 octets is folded with CRLF and a space, as
 * Postfix does; the dot added to a line starting with "." counts toward
 * those 998. A message with 8-bit octets goes to a server without
 * 8BITMIME made 7-bit (mime7.c), or is refused with 554 5.6.3 when that
 * cannot be done safely (RFC 6152 section 3).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base64.h"
#include "mime7.h"
#include "smtp-body.h"
#include "smtp-client.h"
#include "log.h"
#include "util.h"


/* say - transcript line on stderr when verbose. */
static void say(const struct smtp_client *c, const char *dir, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(const struct smtp_client *c, const char *dir, const char *fmt, ...)
{
	char prefix[DOMAIN_MAX + INET6_ADDRSTRLEN + 64];
	va_list ap;

	if (!c->opt || !c->opt->verbose)
		return;
	snprintf(prefix, sizeof prefix, "relay-agent[%d]: %s[%s] %s ", (int)getpid(), c->host,
	         c->ip, dir);
	va_start(ap, fmt);
	log_narrate(prefix, fmt, ap);
	va_end(ap);
}

/* set_reply - a reply of our own: CODE and formatted text. */
static void set_reply(struct smtp_reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_reply(struct smtp_reply *r, int code, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof r->text, fmt, ap);
	va_end(ap);
	sanitize_text(r->text);
}

/* smtp_format_relay - "host[ip]:port" for the log. */
void smtp_format_relay(const struct smtp_client *c, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s[%s]:%d", c->host, c->ip, c->port);
}

/* drop - close the connection without QUIT (it is broken or hostile). */
static void drop(struct smtp_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->outlen = 0;
}

/*
 * flush - write every queued octet. The socket is written without
 * blocking; each wait for room is bounded by smtp_timeout (a server that
 * takes nothing for that long is gone) and, while the message text goes
 * out, by data_deadline too (a server that keeps taking a few octets at a
 * time could otherwise hold the transfer forever). 0, or -1 when the
 * connection broke or a limit passed (too_slow set for data_deadline).
 */
static int flush(struct smtp_client *c)
{
	size_t off = 0;

	while (off < c->outlen) {
		ssize_t n = send(c->fd, c->out + off, c->outlen - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		long long wait, now;
		int r;

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return -1;
		now = now_ms();
		wait = (long long)c->opt->timeout * 1000;
		if (c->data_deadline && c->data_deadline - now < wait) {
			wait = c->data_deadline - now;
			if (wait <= 0) {
				c->too_slow = 1;
				errno = ETIMEDOUT;
				return -1;
			}
		}
		r = poll(&p, 1, (int)wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			if (c->data_deadline && now_ms() >= c->data_deadline)
				c->too_slow = 1;
			errno = ETIMEDOUT;
			return -1;
		}
		if (r < 0)
			return -1;
	}
	c->outlen = 0;
	return 0;
}

/* queue_raw - append octets to the output buffer, flushing when full. */
static int queue_raw(struct smtp_client *c, const char *buf, size_t len)
{
	while (len > 0) {
		size_t room = sizeof c->out - c->outlen, n = len < room ? len : room;
		memcpy(c->out + c->outlen, buf, n);
		c->outlen += n;
		buf += n;
		len -= n;
		if (c->outlen == sizeof c->out && flush(c) < 0)
			return -1;
	}
	return 0;
}

/* queue_cmd - append one command line with CRLF. Control octets in it
 * (never expected: addresses come from the spool) become '?', so nothing
 * but the final CRLF can end the line. */
static int queue_cmd(struct smtp_client *c, const char *shown, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int queue_cmd(struct smtp_client *c, const char *shown, const char *fmt, ...)
{
	char line[SMTP_AUTH_MAX];
	va_list ap;
	int n, i;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 2)
		return -1;
	for (i = 0; i < n; i++)
		line[i] = scrub_octet(line[i], SCRUB_CTL, '?');
	say(c, ">", "%s", shown ? shown : line);
	line[n++] = '\r';
	line[n++] = '\n';
	return queue_raw(c, line, (size_t)n);
}

/* reply_syntax - the code of one reply line, or -1 when it is not one. */
static int reply_syntax(const char *line, size_t len, int *last)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9')
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	*last = len == 3 || line[3] == ' ';
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* ehlo_keyword - note one extension from an EHLO reply line's text. */
static void ehlo_keyword(struct smtp_client *c, const char *kw)
{
	if (strncasecmp(kw, "PIPELINING", 10) == 0 && (kw[10] == '\0' || kw[10] == ' '))
		c->pipelining = 1;
	else if (strncasecmp(kw, "SIZE", 4) == 0 && (kw[4] == '\0' || kw[4] == ' '))
		c->size = 1;
	else if (strncasecmp(kw, "8BITMIME", 8) == 0 && (kw[8] == '\0' || kw[8] == ' '))
		c->eightbitmime = 1;
	else if (strncasecmp(kw, "AUTH", 4) == 0 && (kw[4] == ' ' || kw[4] == '=')) {
		char mechs[SMTP_REPLY_MAX + 1], *tok, *save;
		snprintf(mechs, sizeof mechs, "%s", kw + 5);
		for (tok = strtok_r(mechs, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (strcasecmp(tok, "PLAIN") == 0)
				c->auth_plain = 1;
			else if (strcasecmp(tok, "LOGIN") == 0)
				c->auth_login = 1;
		}
	}
}

/*
 * read_reply - one whole reply within TIMEOUT_S seconds into R. With EHLO
 * set, extension keywords are noted. 0, or -1 with R holding our own 4xx
 * reason and the connection dropped.
 */
static int read_reply(struct smtp_client *c, int timeout_s, int ehlo,
                      const char *what, struct smtp_reply *r)
{
	long long deadline = now_ms() + (long long)timeout_s * 1000;
	char line[RELAY_REPLY_LINE_MAX + 1];
	size_t len, tl = 0;
	int lines = 0, code = -1, last = 0;

	if (c->fd < 0) {
		set_reply(r, 451, "451 4.4.2 connection to %s[%s] already lost", c->host, c->ip);
		return -1;
	}
	if (c->outlen && flush(c) < 0) {
		set_reply(r, 451, "451 4.4.2 lost connection with %s[%s] while sending %s",
		          c->host, c->ip, what);
		drop(c);
		return -1;
	}
	r->text[0] = '\0';
	/* "the greeting", or "the reply to EHLO": what was awaited. */
	char awaited[64];
	snprintf(awaited, sizeof awaited, "%s%s", strncmp(what, "the ", 4) ? "the reply to " : "", what);
	while (!last) {
		long long left = deadline - now_ms();
		enum lr_status st;
		int lc;

		if (left <= 0) {
			st = LR_TIMEOUT;
		} else {
			c->lr.timeout_ms = (int)left;
			st = lr_getline(&c->lr, line, RELAY_REPLY_LINE_MAX, &len);
		}
		switch (st) {
		case LR_LINE:
			break;
		case LR_TOOLONG:
			set_reply(r, 451, "451 4.5.0 %s[%s] sent a line over %d octets in %s",
			          c->host, c->ip, RELAY_REPLY_LINE_MAX, awaited);
			drop(c);
			return -1;
		case LR_TIMEOUT:
			set_reply(r, 451, "451 4.4.2 timeout waiting for %s[%s] to reply to %s",
			          c->host, c->ip, what);
			drop(c);
			return -1;
		default:
			set_reply(r, 451, "451 4.4.2 lost connection with %s[%s] while waiting for %s",
			          c->host, c->ip, awaited);
			drop(c);
			return -1;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		line[strnlen(line, len)] = '\0';        /* a NUL ends the text */
		if (strlen(line) > SMTP_REPLY_MAX)
			line[SMTP_REPLY_MAX] = '\0';   /* keep what fits */
		len = strlen(line);
		lc = reply_syntax(line, len, &last);
		if (lc < 0 || (code >= 0 && lc != code) || ++lines > SMTP_REPLY_LINES_MAX) {
			set_reply(r, 451, "451 4.5.0 %s[%s] sent %s instead of %s", c->host, c->ip,
			          lines > SMTP_REPLY_LINES_MAX ? "an endless reply" : "garbage",
			          awaited);
			drop(c);
			return -1;
		}
		code = lc;
		say(c, "<", "%s", line);
		if (ehlo && lines > 1)
			ehlo_keyword(c, len > 4 ? line + 4 : "");
		/* Keep the first line whole, then the text of later ones. */
		if (lines == 1)
			tl = (size_t)snprintf(r->text, sizeof r->text, "%s", line);
		else if (tl < sizeof r->text - 1 && len > 4)
			tl += (size_t)snprintf(r->text + tl, sizeof r->text - tl, " %s", line + 4);
		if (tl >= sizeof r->text)
			tl = sizeof r->text - 1;
	}
	r->code = code;
	sanitize_text(r->text);
	return 0;
}

/*
 * judge - is R an answer WHAT allows? Success is OK1 or OK2 (0: none)
 * only: 220 to the greeting, 250 to EHLO, HELO, RSET and the end of data,
 * 250 or 251 to MAIL and RCPT, 354 to DATA. 1 for those, 0 for a refusal
 * (4xx or 5xx), -1 for anything else (a 250 to DATA, a 220 to EHLO): the
 * server is out of step, so whatever we would conclude could be wrong. R
 * then holds our own 451 4.5.0 and the connection is dropped. A 421 is
 * -1 too, with R as the server sent it: it closes the connection.
 */
static int judge(struct smtp_client *c, struct smtp_reply *r, const char *what, int ok1,
                 int ok2)
{
	struct smtp_reply why;

	if (r->code == ok1 || (ok2 && r->code == ok2))
		return 1;
	if (r->code == 421) {
		/* The server is closing the connection (RFC 5321 3.8). */
		say(c, "!", "server closes the connection");
		drop(c);
		return -1;
	}
	if (r->code / 100 == 4 || r->code / 100 == 5)
		return 0;
	why = *r;
	set_reply(r, 451, "451 4.5.0 protocol error: %s[%s] answered %s with: %.300s", c->host,
	          c->ip, what, why.text);
	say(c, "!", "%s", r->text);
	drop(c);
	return -1;
}

/*
 * unsolicited - called before each command we write (before each batch
 * with PIPELINING): the server has nothing to say then, so input already
 * waiting is a reply nobody asked for and every reply after it would be
 * taken for the wrong command. 0, or -1 with R our 4xx and the connection
 * dropped (an end of input found here is reported as the lost connection
 * it is).
 */
static int unsolicited(struct smtp_client *c, struct smtp_reply *r)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char ch;
	ssize_t n;

	if (c->fd < 0)
		return 0;               /* the next read reports it */
	if (lr_buffered(&c->lr) == 0) {
		if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
			return 0;
		n = recv(c->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		if (n <= 0) {
			set_reply(r, 451, "451 4.4.2 connection closed by %s[%s]", c->host, c->ip);
			say(c, "!", "%s", r->text);
			drop(c);
			return -1;
		}
	}
	set_reply(r, 451, "451 4.5.0 protocol error: %s[%s] sent a reply nobody asked for",
	          c->host, c->ip);
	say(c, "!", "%s", r->text);
	drop(c);
	return -1;
}

/* connect_to - a TCP connection to SA within the connect timeout; the fd
 * (blocking, with a send timeout; flush writes it without blocking) or -1
 * with errno. */
static int connect_to(const struct sockaddr_storage *sa, int timeout_s, int send_timeout_s)
{
	socklen_t len = sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                          : sizeof(struct sockaddr_in);
	struct timeval tv = { .tv_sec = send_timeout_s };
	int fd, err = 0, flags;
	socklen_t elen = sizeof err;

	fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, len) < 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		long long deadline = now_ms() + (long long)timeout_s * 1000;
		int n;

		if (errno != EINPROGRESS)
			goto fail;
		do {
			long long left = deadline - now_ms();
			n = left > 0 ? poll(&p, 1, (int)left) : 0;
		} while (n < 0 && errno == EINTR);
		if (n == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			goto fail;
		if (err) {
			errno = err;
			goto fail;
		}
	}
	/* Blocking from here: the line reader polls before reading, and
	 * SO_SNDTIMEO bounds every write. */
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
		goto fail;
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* authenticate - AUTH PLAIN, or LOGIN when only that is offered. */
static int authenticate(struct smtp_client *c, struct smtp_reply *r)
{
	const char *user = c->opt->auth_user, *pass = c->opt->auth_password;
	size_t ul = strlen(user), pl = strlen(pass);
	char b64[SMTP_AUTH_MAX - 16];

	if (c->auth_plain) {
		unsigned char raw[2 + 256 + 1024];
		if (ul > 255 || pl > 1023)
			goto toolong;
		raw[0] = '\0';
		memcpy(raw + 1, user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, pass, pl);
		if (base64_encode(raw, 2 + ul + pl, b64, sizeof b64) < 0)
			goto toolong;
		if (unsolicited(c, r) < 0 ||
		    queue_cmd(c, "AUTH PLAIN ****", "AUTH PLAIN %s", b64) < 0 ||
		    read_reply(c, c->opt->timeout, 0, "AUTH", r) < 0)
			return RES_TEMP;
	} else if (c->auth_login) {
		if (unsolicited(c, r) < 0 || queue_cmd(c, NULL, "AUTH LOGIN") < 0 ||
		    read_reply(c, c->opt->timeout, 0, "AUTH", r) < 0)
			return RES_TEMP;
		/* Two 334 challenges: user name, then password. */
		const char *answer[2] = { user, pass };
		size_t len[2] = { ul, pl };
		for (int i = 0; i < 2; i++) {
			if (r->code != 334)
				goto refused;
			if (base64_encode((const unsigned char *)answer[i], len[i], b64,
			                  sizeof b64) < 0)
				goto toolong;
			if (unsolicited(c, r) < 0 || queue_cmd(c, "****", "%s", b64) < 0 ||
			    read_reply(c, c->opt->timeout, 0, "AUTH", r) < 0)
				return RES_TEMP;
		}
	} else {
		set_reply(r, 451, "451 4.7.0 %s[%s] offers no AUTH PLAIN or LOGIN",
		          c->host, c->ip);
		return RES_TEMP;
	}
	if (r->code == 235)
		return RES_OK;
refused:
	/* Bad credentials are our configuration's fault: defer, never bounce. */
	{
		struct smtp_reply why = *r;
		set_reply(r, 451, "451 4.7.0 authentication to %s[%s] failed: %s",
		          c->host, c->ip, why.text);
	}
	return RES_TEMP;
toolong:
	set_reply(r, 451, "451 4.7.0 smarthost_auth credentials too long");
	return RES_TEMP;
}

/* names_me - whether the greeting or EHLO reply R names our own host
 * (the first word after the code, as Postfix checks it). */
static int names_me(const struct smtp_client *c, const struct smtp_reply *r)
{
	const char *w = strlen(r->text) > 4 ? r->text + 4 : "";
	size_t n = strcspn(w, " \t"), me = strlen(c->opt->helo);

	if (n > 0 && w[n - 1] == '.')
		n--;
	return n == me && me > 0 && strncasecmp(w, c->opt->helo, n) == 0;
}

/* smtp_open - connect, greeting, EHLO or HELO, AUTH (see smtp-client.h). */
int smtp_open(struct smtp_client *c, const struct smtp_options *opt,
              const struct sockaddr_storage *sa, const char *name,
              struct smtp_reply *err)
{
	const void *a = sa->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	struct smtp_reply r;
	int v;

	memset(c, 0, offsetof(struct smtp_client, lr));
	c->fd = -1;
	c->opt = opt;
	c->outlen = 0;
	snprintf(c->host, sizeof c->host, "%s", name);
	if (!inet_ntop(sa->ss_family, a, c->ip, sizeof c->ip))
		snprintf(c->ip, sizeof c->ip, "?");
	c->port = ntohs(sa->ss_family == AF_INET6
	                ? ((const struct sockaddr_in6 *)sa)->sin6_port
	                : ((const struct sockaddr_in *)sa)->sin_port);

	set_reply(&r, 451, "451 4.4.2 lost connection with %s[%s]", c->host, c->ip);
	c->fd = connect_to(sa, opt->connect_timeout, opt->timeout);
	if (c->fd < 0) {
		set_reply(err, 451, "451 4.4.1 connect to %s[%s]:%d: %s", c->host, c->ip,
		          c->port, strerror(errno));
		say(c, "!", "%s", err->text);
		return RES_TEMP;
	}
	lr_init(&c->lr, c->fd, opt->timeout);
	say(c, "!", "connected to port %d", c->port);

	/* Greeting: 4xx or 5xx means "not here"; anything but 220, 4xx or
	 * 5xx is a protocol error. Then EHLO (HELO after a 5xx), 250 only. */
	if (read_reply(c, opt->timeout, 0, "the greeting", &r) < 0 ||
	    (v = judge(c, &r, "the connection", 220, 0)) < 0)
		goto fail;
	if (v == 0)
		goto refused;
	if (names_me(c, &r))
		goto loop;

	if (unsolicited(c, &r) < 0 || queue_cmd(c, NULL, "EHLO %s", opt->helo) < 0 ||
	    read_reply(c, opt->timeout, 1, "EHLO", &r) < 0)
		goto fail;
	if (r.code / 100 == 5) {
		/* EHLO refused: an old server; HELO and no extensions. */
		c->pipelining = c->size = c->eightbitmime = 0;
		c->auth_plain = c->auth_login = 0;
		if (unsolicited(c, &r) < 0 || queue_cmd(c, NULL, "HELO %s", opt->helo) < 0 ||
		    read_reply(c, opt->timeout, 0, "HELO", &r) < 0 ||
		    (v = judge(c, &r, "HELO", 250, 0)) < 0)
			goto fail;
	} else {
		if ((v = judge(c, &r, "EHLO", 250, 0)) < 0)
			goto fail;
		c->esmtp = 1;
	}
	if (v == 0)
		goto refused;
	if (names_me(c, &r))
		goto loop;
	if (opt->auth_user && opt->auth_user[0] && authenticate(c, &r) != RES_OK) {
		*err = r;
		smtp_close(c);
		return RES_TEMP;
	}
	return RES_OK;

loop:
	/* This is us under another name: every message would come back. */
	set_reply(err, 554, "554 5.4.6 %s[%s] greets me with my own name %s: mail loop",
	          c->host, c->ip, opt->helo);
	say(c, "!", "%s", err->text);
	smtp_close(c);
	return RES_PERM;
refused:
	/* A refusal at this stage is about this host, never the message: the
	 * next host may take it, so it counts as temporary (Postfix skips a
	 * 5xx greeting the same way). */
	set_reply(err, 451, "451 4.4.0 %s[%s] refused to talk to me: %s", c->host, c->ip,
	          r.text);
	say(c, "!", "%s", err->text);
	smtp_close(c);
	return RES_TEMP;
fail:
	*err = r;
	drop(c);
	return RES_TEMP;
}

/* emit_client - the body encoder's sink: the connection. */
static int emit_client(void *arg, const char *buf, size_t len)
{
	return queue_raw(arg, buf, len);
}

/* fail_open - give REASON to every recipient without a final reply: not
 * answered yet, or accepted at RCPT but the message never went through. */
static void fail_open(const struct smtp_txn *t, const int *done, const int *ok,
                      const struct smtp_reply *why)
{
	int i;

	for (i = 0; i < t->nrcpts; i++)
		if (!done[i] || ok[i])
			t->replies[i] = *why;
}

/* conn_error - ERR for a transaction that broke the connection: WHY when
 * it is a 4xx, else a 4xx of our own (a recipient's own refusal is never
 * the reason given to the recipients after it). */
static void conn_error(const struct smtp_client *c, struct smtp_reply *err,
                       const struct smtp_reply *why)
{
	if (why->code / 100 == 4)
		*err = *why;
	else
		set_reply(err, 451, "451 4.4.2 lost connection with %s[%s]", c->host, c->ip);
}

/* smtp_send - one transaction; each recipient gets its reply. */
int smtp_send(struct smtp_client *c, const struct smtp_txn *t, struct smtp_reply *err)
{
	struct smtp_reply r, mail;
	int *done, *ok, i, v, accepted = 0, rset = c->dirty, rc = RES_OK, eight = 0;
	char params[64] = "";
	off_t wire = smtp_body_size(t->msgfd, t->size, &eight);
	static struct mime7 m7;        /* one message at a time per process */
	struct mime7 *conv = NULL;

	if (t->nrcpts > RELAY_TXN_RCPTS_MAX) {
		set_reply(&r, 451, "451 4.5.3 more than %d recipients in one transaction",
		          RELAY_TXN_RCPTS_MAX);
		for (i = 0; i < t->nrcpts; i++)
			t->replies[i] = r;
		return RES_OK;
	}
	if (eight && !c->eightbitmime) {
		/* RFC 6152 section 3: convert, or refuse for good. */
		if (mime7_check(&m7, t->msgfd, t->size) < 0) {
			if (errno == EINVAL)
				set_reply(&r, 554, "554 5.6.3 %s[%s] does not take 8-bit mail (no "
				          "8BITMIME) and the message cannot be made 7-bit: %s", c->host,
				          c->ip, m7.why);
			else
				set_reply(&r, 451, "451 4.3.0 cannot read the message: %s",
				          strerror(errno));
			say(c, "!", "%s", r.text);
			for (i = 0; i < t->nrcpts; i++)
				t->replies[i] = r;
			return RES_OK;
		}
		conv = &m7;
		say(c, "!", "no 8BITMIME: %d part(s) sent quoted-printable", m7.leaves);
	}

	done = calloc(t->nrcpts ? t->nrcpts : 1, sizeof *done);
	ok = calloc(t->nrcpts ? t->nrcpts : 1, sizeof *ok);
	if (!done || !ok) {
		set_reply(&r, 451, "451 4.3.0 out of memory");
		free(done);
		free(ok);
		for (i = 0; i < t->nrcpts; i++)
			t->replies[i] = r;
		return RES_OK;
	}
	c->messages++;
	c->dirty = 1;
	if (c->size)
		snprintf(params, sizeof params, " SIZE=%lld", (long long)wire);
	if ((t->body8bit || eight) && c->eightbitmime)
		snprintf(params + strlen(params), sizeof params - strlen(params),
		         " BODY=8BITMIME");

	/* The envelope: with PIPELINING, RSET, MAIL, every RCPT and DATA go
	 * in one write (RFC 2920: DATA may only end a batch); otherwise one
	 * command per round trip. Before each write, nothing may be waiting
	 * from the server; every reply must be one its command allows. */
	if (unsolicited(c, &r) < 0)
		goto lost;
	if (rset && queue_cmd(c, NULL, "RSET") < 0)
		goto broken;
	if (rset && !c->pipelining) {
		if (read_reply(c, c->opt->timeout, 0, "RSET", &r) < 0)
			goto lost;
		if ((v = judge(c, &r, "RSET", 250, 0)) < 0)
			goto lost;
		if (v == 0)
			goto refused;
		rset = 0;
		if (unsolicited(c, &r) < 0)
			goto lost;
	}
	if (queue_cmd(c, NULL, "MAIL FROM:<%s>%s", t->sender, params) < 0)
		goto broken;
	if (c->pipelining) {
		for (i = 0; i < t->nrcpts; i++)
			if (queue_cmd(c, NULL, "RCPT TO:<%s>", t->rcpts[i]) < 0)
				goto broken;
		if (queue_cmd(c, NULL, "DATA") < 0)
			goto broken;
		if (rset) {
			if (read_reply(c, c->opt->timeout, 0, "RSET", &r) < 0)
				goto lost;
			if ((v = judge(c, &r, "RSET", 250, 0)) < 0)
				goto lost;
			if (v == 0)
				goto refused;
		}
	}
	if (read_reply(c, c->opt->timeout, 0, "MAIL FROM", &mail) < 0 ||
	    judge(c, &mail, "MAIL FROM", 250, 251) < 0) {
		r = mail;
		goto lost;
	}
	for (i = 0; i < t->nrcpts; i++) {
		if (!c->pipelining) {
			if (mail.code / 100 != 2)
				break;
			if (unsolicited(c, &r) < 0)
				goto lost;
			if (queue_cmd(c, NULL, "RCPT TO:<%s>", t->rcpts[i]) < 0)
				goto broken;
		}
		if (read_reply(c, c->opt->timeout, 0, "RCPT TO", &r) < 0 ||
		    (v = judge(c, &r, "RCPT TO", 250, 251)) < 0)
			goto lost;
		if (r.code == 552)
			r.code = 452;   /* RFC 5321 4.5.3.1.10: "too many recipients" */
		/* A refused MAIL decides for every recipient. */
		t->replies[i] = mail.code / 100 == 2 ? r : mail;
		done[i] = 1;
		if (mail.code / 100 == 2 && v == 1) {
			ok[i] = 1;
			accepted++;
		}
	}
	for (; i < t->nrcpts; i++) {
		t->replies[i] = mail;
		done[i] = 1;
	}
	if (!c->pipelining && accepted == 0) {
		free(done);
		free(ok);
		return RES_OK;          /* nothing to send; RSET before the next */
	}
	if (!c->pipelining) {
		if (unsolicited(c, &r) < 0)
			goto lost;
		if (queue_cmd(c, NULL, "DATA") < 0)
			goto broken;
	}
	/* Only 354 lets the text go; a 2xx here (or any reply but 354, 4xx
	 * or 5xx) is a server out of step: nothing was sent, defer. */
	if (read_reply(c, c->opt->timeout, 0, "DATA", &r) < 0 ||
	    (v = judge(c, &r, "DATA", 354, 0)) < 0)
		goto lost_accepted;
	if (v == 0) {
		for (i = 0; i < t->nrcpts; i++)
			if (ok[i])
				t->replies[i] = r;
		free(done);
		free(ok);
		return RES_OK;
	}
	if (unsolicited(c, &r) < 0)
		goto lost_accepted;
	if (accepted == 0) {
		/* RFC 2920: DATA went out with the batch and was accepted
		 * though no recipient was; end it with an empty message. */
		if (queue_cmd(c, NULL, ".") < 0 ||
		    read_reply(c, c->opt->timeout * 2, 0, "end of data", &r) < 0 ||
		    judge(c, &r, "end of data", 250, 0) < 0) {
			rc = RES_TEMP;
			conn_error(c, err, &r);
			drop(c);
		}
		free(done);
		free(ok);
		return rc;
	}
	say(c, ">", "(message text, %lld octets)", (long long)t->size);
	/*
	 * The whole text, final dot included, must be written within
	 * smtp_timeout plus one second per RELAY_DATA_RATE_MIN (1024) octets
	 * of it on the wire (CRLF line ends): a server may take it slowly,
	 * but not slower than that on average (and each wait for room is
	 * bounded by smtp_timeout as well).
	 */
	c->too_slow = 0;
	c->data_deadline = now_ms() + (long long)c->opt->timeout * 1000 +
		(long long)wire * 1000 / RELAY_DATA_RATE_MIN;
	v = smtp_body_write(t->msgfd, t->size, conv, emit_client, c) < 0 || flush(c) < 0;
	c->data_deadline = 0;
	if (v) {
		if (c->too_slow)
			set_reply(&r, 451, "451 4.4.2 %s[%s] took the message too slowly (under %d "
			          "octets/s after %d s): gave up", c->host, c->ip, RELAY_DATA_RATE_MIN,
			          c->opt->timeout);
		else
			set_reply(&r, 451, "451 4.4.2 lost connection with %s[%s] while sending the "
			          "message", c->host, c->ip);
		drop(c);
		goto lost_accepted;
	}
	if (read_reply(c, c->opt->timeout * 2, 0, "end of data", &r) < 0 ||
	    judge(c, &r, "end of data", 250, 0) < 0)
		goto lost_accepted;
	for (i = 0; i < t->nrcpts; i++)
		if (ok[i])
			t->replies[i] = r;
	c->dirty = 0;
	free(done);
	free(ok);
	return RES_OK;

refused:
	/* RSET refused: this connection is in no state to go on. */
	{
		struct smtp_reply why = r;
		set_reply(&r, 451, "451 4.4.0 %s[%s] refused RSET: %s", c->host, c->ip, why.text);
	}
	smtp_close(c);
	fail_open(t, done, ok, &r);
	conn_error(c, err, &r);
	free(done);
	free(ok);
	return RES_TEMP;
broken:
	set_reply(&r, 451, "451 4.4.2 lost connection with %s[%s] while sending a command",
	          c->host, c->ip);
	drop(c);
lost:
	fail_open(t, done, ok, &r);
	conn_error(c, err, &r);
	drop(c);
	free(done);
	free(ok);
	return RES_TEMP;
lost_accepted:
	/* The recipients the server accepted have no final answer. */
	for (i = 0; i < t->nrcpts; i++)
		if (ok[i])
			t->replies[i] = r;
	conn_error(c, err, &r);
	drop(c);
	free(done);
	free(ok);
	return RES_TEMP;
}

/* smtp_close - QUIT, a short wait for its reply, close. */
void smtp_close(struct smtp_client *c)
{
	struct smtp_reply r;

	if (c->fd < 0)
		return;
	c->outlen = 0;
	/* A server with replies nobody asked for gets no QUIT either. */
	if (unsolicited(c, &r) == 0 && queue_cmd(c, NULL, "QUIT") == 0)
		(void)read_reply(c, RELAY_QUIT_TIMEOUT, 0, "QUIT", &r);
	drop(c);
}
