/*
 * smtp-data.c - smtp-session's DATA: the message is streamed through the
 * DATA state machine (dataread.c) into its stage (stage.c: memory while
 * it is small, else an unnamed file in the spool), then stored for every
 * recipient through inject.c, or summarised to the log by the debug sink
 * (mime.c).
 *
 * With a content filter configured (filter.c), the text is staged in a
 * file, which is the filter's stdin; what it prints, into a second file,
 * replaces the staged text.
 *
 * 250 is sent only when every copy is fsynced, in its mbox or in the
 * spool; any failure before that is a 4xx and leaves no part of the
 * message anywhere (staged text has no name in the spool until the
 * spool takes it, or is removed, also when a signal ends the session).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataread.h"
#include "filter.h"
#include "log.h"
#include "mime.h"
#include "session.h"
#include "stage.h"
#include "util.h"

/* stage_sink - the DATA reader's output into the stage. */
static int
stage_sink(void *arg, const char *buf, size_t n)
{
	return stage_write(arg, buf, n);
}

/* data_on_signal - remove the named staging files of a DATA under way. */
void
data_on_signal(void)
{
	stage_on_signal();
}

/* received_header - our trace header (RFC 5321 4.4), first in the text.
 * Returns its size as received would count it (CRLF line ends), or -1. */
static long long
received_header(struct session *s, struct stage *st, const char *id)
{
	char hdr[1024 + HELO_MAX + ADDR_MAX], date[64], forpart[ADDR_MAX + 16] = "";
	char from[USER_NAME_MAX + 64];
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
	/* The address as an RFC 5321 address literal ([192.0.2.1],
	 * [IPv6:...]), or the local user, or "unknown". */
	peer_describe(&s->peer, from, sizeof from);
	n = snprintf(hdr, sizeof hdr, "Received: from %s (%s)\n\tby %s with %s id %s%s;\n\t%s\n",
	    s->helo, from, s->cf->hostname, proto, id, forpart, date);
	if (n < 0 || (size_t)n >= sizeof hdr || stage_write(st, hdr, (size_t)n) < 0)
		return -1;
	return n + (s->nrcpts == 1 ? 4 : 3);    /* one more octet per line end */
}

/* debug_emit - the debug sink's lines go to the log. */
static void
debug_emit(void *arg, const char *line)
{
	log_msg(LOG_INFO, "%s: debug: %s", (const char *)arg, line);
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

/* store_message - every copy to disk, all or nothing (inject.c); replies. */
static void
store_message(struct session *s, const struct stage *st, long long size, long long t0)
{
	struct msgtext text;
	char why[SMTP_REPLY_MAX];

	stage_text(st, &text);
	strlcpy_ck(s->inj.env.body, s->body, sizeof s->inj.env.body);
	strlcpy_ck(s->inj.env.auth, s->auth_user, sizeof s->inj.env.auth);
	strlcpy_ck(s->inj.env.client, s->peer.addr, sizeof s->inj.env.client);
	strlcpy_ck(s->inj.env.helo, s->helo, sizeof s->inj.env.helo);
	if (inject_store(&s->inj, &text, why, sizeof why) != RES_OK) {
		reply(s, "%s", why);
		return;
	}
	char from[4 * ADDR_MAX + 1];
	log_msg(LOG_INFO, "%s: from=<%s>, size=%lld, nrcpt=%d", st->id,
	    log_token(from, sizeof from, s->sender.null ? "" : s->sender.full), size, s->nrcpts);
	inject_log(&s->inj, st->id, (double)(now_ms() - t0) / 1000.0);
	s->junk = 0;            /* the junk count restarts with each message */
	reply(s, "250 2.0.0 Ok: queued as %s", st->id);
}

/* recipient_lines - the recipients as accepted, one per line (malloc'ed). */
static char *
recipient_lines(const struct session *s)
{
	size_t n = 1;
	char *r, *p;

	for (int i = 0; i < s->nrcpts; i++)
		n += strlen(s->rcpts[i].a.full) + 1;
	if (!(p = r = malloc(n)))
		return NULL;
	for (int i = 0; i < s->nrcpts; i++) {
		size_t l = strlen(s->rcpts[i].a.full);
		memcpy(p, s->rcpts[i].a.full, l);
		p += l;
		*p++ = i + 1 < s->nrcpts ? '\n' : '\0';
	}
	*p = '\0';
	return r;
}

/*
 * run_filter - the content filter on the staged text (a file): passed,
 * its output replaces the staged text and 0 is returned; otherwise the
 * reply is sent, nothing is stored, and -1. ALLOWANCE is our Received
 * header's size, which the filter was given.
 */
static int
run_filter(struct session *s, struct stage *st, long long allowance)
{
	struct filter_info fi;
	struct stage out;
	char text[SMTP_REPLY_MAX], q[2 * SMTP_REPLY_MAX];
	const char *id = st->id;
	long long size;
	enum filter_verdict v;

	if (!(fi.recipients = recipient_lines(s))) {
		log_msg(LOG_ERR, "%s: filter: out of memory", id);
		reply(s, "451 4.7.1 Content filter failed, try again later");
		return -1;
	}
	fi.sender = s->sender.null ? "" : s->sender.full;
	fi.client = s->peer.addr;
	fi.helo = s->helo;
	fi.auth_user = s->auth_user;
	fi.queue_id = id;
	fi.local_uid = s->peer.local && s->peer.uid >= 0 ? s->peer.uid : -1;
	if (stage_filtered(st, &out) < 0) {
		log_msg(LOG_ERR, "%s: filter: cannot create its output file: %s", id, strerror(errno));
		free((char *)fi.recipients);
		storage_reply(s, errno);
		return -1;
	}
	v = filter_run(s->cf, &fi, st->fd, out.fd, allowance, &size, text, sizeof text);
	free((char *)fi.recipients);
	log_msg(v == FILTER_PASS ? LOG_INFO : LOG_NOTICE, "%s: filter: %s, size=%lld",
	    id, log_quote(q, sizeof q, text), size);
	if (v == FILTER_PASS) {
		if (stage_adopt(st, &out) == 0)
			return 0;
		log_msg(LOG_ERR, "%s: filter: cannot take its output: %s", id, strerror(errno));
		v = FILTER_TEMP;
	} else {
		stage_discard(&out);
	}
	switch (v) {
	case FILTER_PASS:
		break;
	case FILTER_REFUSE:
		reply(s, "554 5.7.1 %s", text);
		break;
	case FILTER_TOOBIG:
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
		break;
	case FILTER_TEMP:
		reply(s, "451 4.7.1 Content filter failed, try again later");
		break;
	}
	return -1;
}

/* debug_report - the debug sink's summary of one message. */
static void
debug_report(struct session *s, int fd, const char *id, long long size)
{
	char from[4 * ADDR_MAX + 1];
	log_msg(LOG_INFO, "%s: debug: client=[%s], helo=<%s>, from=<%s>, size=%lld",
	    id, s->peer.addr, s->helo,
	    log_token(from, sizeof from, s->sender.null ? "" : s->sender.full), size);
	for (int i = 0; i < s->nrcpts; i++)
		log_msg(LOG_INFO, "%s: debug: to=<%s>", id,
		    log_token(from, sizeof from, s->rcpts[i].a.full));
	if (mime_report(fd, debug_emit, (void *)id) < 0)
		log_msg(LOG_WARNING, "%s: debug: message could not be read back", id);
	reply(s, "250 2.0.0 Ok: queued as %s", id);
}

/*
 * cmd_data - stream the message into its stage through the DATA state
 * machine, then store it. Returns -1 when the session must end (EOF or
 * timeout inside DATA).
 */
int
cmd_data(struct session *s, char *arg)
{
	char id[QUEUE_ID_MAX];
	struct dataread *d;
	struct stage st;
	long long t0 = now_ms(), deadline, last_lines = 0, since = 0, rsize, size;
	int result = 0, failed, toobig, nul, hops;

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
	/* A file from the start when a program will read it: the content
	 * filter, or the debug sink's MIME walker. */
	queue_id_new(id, sizeof id);
	if (stage_open(&st, s->debug ? NULL : s->cf->spool_dir, id,
	    s->debug || s->cf->filter_argv[0]) < 0) {
		log_msg(LOG_ERR, "cannot stage a message in %s/tmp: %s",
		    s->debug ? "$TMPDIR" : s->cf->spool_dir, strerror(errno));
		storage_reply(s, errno);
		stage_discard(&st);
		return 0;
	}
	if ((rsize = received_header(s, &st, id)) < 0) {
		storage_reply(s, st.err);
		goto discard;
	}
	char who[USER_NAME_MAX + 64];
	peer_describe(&s->peer, who, sizeof who);
	log_msg(LOG_INFO, "%s: client=%s, helo=<%s>", id, who, s->helo);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	reply_flush(s);

	if (!(d = malloc(sizeof *d))) {
		log_msg(LOG_ERR, "out of memory");
		exit(EXIT_TEMPFAIL);
	}
	dr_init(d, s->cf->max_message_size, stage_sink, &st);
	/* Idle timeout: no complete line for `timeout` (a long line counts
	 * as progress every IO_BUF_SIZE octets). */
	deadline = now_ms() + (long long)s->cf->timeout * 1000;
	while (!d->done) {
		/* lr_peek also stops at the session's limit (lr.limit_ms). */
		const char *p;
		ssize_t n = lr_peek(&s->lr, &p, deadline);
		if (n <= 0) {
			if (n == -2)
				reply_timeout(s, "after DATA ");
			else
				log_msg(LOG_INFO, "lost connection after DATA from [%s]", s->peer.addr);
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
	/* The reader's buffers go before the text is stored: their memory
	 * is what delivery's buffers take next. */
	failed = dr_finish(d) < 0 || stage_done(&st) < 0;
	size = d->size;
	toobig = d->toobig;
	nul = d->nul;
	hops = d->hops;
	free(d);
	if (failed) {
		log_msg(LOG_ERR, "%s: staging write failed: %s", id, strerror(st.err));
		storage_reply(s, st.err);
	} else if (toobig)
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
	else if (nul)
		reply(s, "554 5.6.0 Message contains NUL characters");
	else if (hops > HOPS_MAX)
		reply(s, "554 5.4.6 Too many hops (mail loop?)");
	else if (s->debug)
		debug_report(s, st.fd, id, size);
	else if (!s->cf->filter_argv[0] || run_filter(s, &st, rsize) == 0)
		store_message(s, &st, size, t0);
discard:
	stage_discard(&st);     /* a named file is gone already if the spool took it */
	txn_reset(s);
	return result;
}
