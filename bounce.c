/*
 * bounce.c - delivery status notifications for relay-agent.
 *
 * A bounce is an RFC 3464 report, sent from <> to the envelope sender:
 *
 *   multipart/report; report-type=delivery-status
 *     text/plain                 what happened, for a human
 *     message/delivery-status    Reporting-MTA, Arrival-Date, then per
 *                                recipient Final-Recipient, Action: failed,
 *                                Status, Remote-MTA, Diagnostic-Code
 *     text/rfc822-headers        the original message's header
 *
 * Field names and layout follow Postfix's bounce daemon. The original
 * header is copied with every control octet but TAB made a space and is
 * cut at BOUNCE_HEADERS_MAX octets, so a hostile message cannot make the
 * report unbounded or break its structure. Callers never bounce a message
 * from <> (a bounce never bounces).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"
#include "bounce.h"
#include "deliver.h"
#include "util.h"

/* Output buffer of one report. */
struct out {
	int fd;
	int err;
	size_t len;
	char buf[IO_BUF_SIZE];
};

/* out_flush - write what is buffered. */
static void out_flush(struct out *o)
{
	if (!o->err && o->len && write_all(o->fd, o->buf, o->len) < 0)
		o->err = 1;
	o->len = 0;
}

/* out_put - append LEN octets. */
static void out_put(struct out *o, const char *s, size_t len)
{
	while (len > 0) {
		size_t room = sizeof o->buf - o->len, n = len < room ? len : room;
		memcpy(o->buf + o->len, s, n);
		o->len += n;
		s += n;
		len -= n;
		if (o->len == sizeof o->buf)
			out_flush(o);
	}
}

/* out_printf - append formatted text (one line's worth at most). */
static void out_printf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	out_put(o, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* bounce_status - the enhanced status code of a reply. */
void bounce_status(const char *reply, char *out, size_t outsz)
{
	const char *p = reply;
	int a, b, c, n = 0;

	/* "550 5.1.1 ..." or "550-5.1.1 ..." */
	if (strlen(p) > 4 && (p[3] == ' ' || p[3] == '-') &&
	    sscanf(p + 4, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 && n > 0 &&
	    (p[4 + n] == ' ' || p[4 + n] == '\0') && a == p[0] - '0' && (a == 4 || a == 5)) {
		snprintf(out, outsz, "%d.%d.%d", a, b, c);
		return;
	}
	snprintf(out, outsz, "%s", reply[0] == '4' ? "4.0.0" : "5.0.0");
}

/* clean - copy S into OUT with control and non-ASCII octets as '_'. */
static const char *clean(char *out, size_t outsz, const char *s)
{
	snprintf(out, outsz, "%s", s);
	sanitize_text(out);
	return out;
}

/* copy_headers - the original header (up to the first empty line) from
 * MSGFD, bounded and with control octets made spaces. */
static int copy_headers(struct out *o, int msgfd)
{
	char buf[IO_BUF_SIZE];
	off_t off = 0;
	size_t total = 0;
	int bol = 1, cut = 0;

	while (!cut) {
		ssize_t n = pread(msgfd, buf, sizeof buf, off), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		off += n;
		for (i = 0; i < n; i++) {
			char ch = buf[i];

			if (ch == '\n') {
				if (bol) {      /* the empty line ends the header */
					cut = 1;
					break;
				}
				bol = 1;
				out_put(o, "\n", 1);
				total++;
				continue;
			}
			if (total >= BOUNCE_HEADERS_MAX - 1) {
				cut = 1;
				break;
			}
			if (((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7f)
				ch = ' ';
			bol = 0;
			out_put(o, &ch, 1);
			total++;
		}
	}
	if (!bol)
		out_put(o, "\n", 1);
	return 0;
}

/* bounce_write - the whole DSN, LF line ends, to FD. */
int bounce_write(int fd, const struct config *cf, const struct envelope *env,
                 int msgfd, const struct bounce_item *items, int n, time_t now)
{
	struct out *o = malloc(sizeof *o);
	char date[64], arrival[64], boundary[128], a[ADDR_MAX + 1], b[ADDR_MAX + 1];
	char d[SMTP_REPLY_MAX + 1], h[DOMAIN_MAX + 1], sender[ADDR_MAX + 1];
	int i, err;

	if (!o)
		return -1;
	o->fd = fd;
	o->err = 0;
	o->len = 0;
	rfc5322_date(date, sizeof date, now);
	rfc5322_date(arrival, sizeof arrival, env->arrival);
	/* "=_" never occurs in base64 or quoted-printable text; at most
	 * 70 octets (RFC 2046). */
	snprintf(boundary, sizeof boundary, "=_%s.%lld", env->id, (long long)now);
	clean(sender, sizeof sender, env->sender);

	out_printf(o, "Date: %s\n", date);
	out_printf(o, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", cf->hostname);
	out_printf(o, "To: <%s>\n", sender);
	out_printf(o, "Subject: Undelivered Mail Returned to Sender\n");
	out_printf(o, "Message-ID: <%s.%lld.bounce@%s>\n", env->id, (long long)now,
	           cf->hostname);
	out_printf(o, "Auto-Submitted: auto-replied\n");
	out_printf(o, "MIME-Version: 1.0\n");
	out_printf(o, "Content-Type: multipart/report; report-type=delivery-status;\n"
	              "\tboundary=\"%s\"\n", boundary);
	out_printf(o, "\nThis is a MIME-encapsulated message.\n\n");

	/* Part 1: for a human. */
	out_printf(o, "--%s\n", boundary);
	out_printf(o, "Content-Description: Notification\n"
	              "Content-Type: text/plain; charset=us-ascii\n\n");
	out_printf(o, "This is the mail system at host %s.\n\n", cf->hostname);
	out_printf(o, "I'm sorry to have to inform you that your message could not\n"
	              "be delivered to one or more recipients. It's attached below.\n\n"
	              "For further assistance, please send mail to postmaster.\n\n");
	for (i = 0; i < n; i++)
		out_printf(o, "<%s>: %s%s\n", clean(a, sizeof a, items[i].rcpt->addr),
		           items[i].remote_mta ? "host " : "",
		           clean(d, sizeof d, items[i].diagnostic));
	out_printf(o, "\n");

	/* Part 2: for a program. */
	out_printf(o, "--%s\n", boundary);
	out_printf(o, "Content-Description: Delivery report\n"
	              "Content-Type: message/delivery-status\n\n");
	out_printf(o, "Reporting-MTA: dns; %s\n", cf->hostname);
	out_printf(o, "X-Queue-ID: %s\n", env->id);
	out_printf(o, "X-Original-Sender: rfc822; %s\n", sender);
	out_printf(o, "Arrival-Date: %s\n", arrival);
	for (i = 0; i < n; i++) {
		const struct bounce_item *it = &items[i];
		char when[64];

		clean(a, sizeof a, it->rcpt->addr);
		clean(b, sizeof b, it->rcpt->orig);
		out_printf(o, "\nFinal-Recipient: rfc822; %s\n", a);
		if (b[0] && strcasecmp(a, b) != 0)
			out_printf(o, "Original-Recipient: rfc822; %s\n", b);
		out_printf(o, "Action: failed\n");
		out_printf(o, "Status: %s\n", it->status);
		if (it->remote_mta)
			out_printf(o, "Remote-MTA: dns; %s\n", clean(h, sizeof h, it->remote_mta));
		out_printf(o, "Diagnostic-Code: %s; %s\n", it->remote_mta ? "smtp" : "X-relay-agent",
		           clean(d, sizeof d, it->diagnostic));
		if (it->when > 0) {
			rfc5322_date(when, sizeof when, it->when);
			out_printf(o, "Last-Attempt-Date: %s\n", when);
		}
	}
	out_printf(o, "\n");

	/* Part 3: what the sender sent, header only. */
	out_printf(o, "--%s\n", boundary);
	out_printf(o, "Content-Description: Undelivered Message Headers\n"
	              "Content-Type: text/rfc822-headers\n\n");
	if (copy_headers(o, msgfd) < 0)
		o->err = 1;
	out_printf(o, "\n--%s--\n", boundary);
	out_flush(o);
	err = o->err;
	free(o);
	return err ? -1 : 0;
}

/*
 * local_deliver - expand local address ADDR (its local part unquoted, as
 * smtp-session does) and append the message in MSGFD to its mailboxes.
 * Its foreign targets (an alias that forwards elsewhere) are left in EX
 * for the caller, who frees EX. RES_OK (also when there is no mailbox,
 * only foreign targets); RES_PERM with "550 5.1.1" in WHY for an unknown
 * address; RES_TEMP with the reason.
 */
static int local_deliver(const struct config *cf, int msgfd, const char *sender,
                         const char *addr, struct expansion *ex, char *why, size_t whysz)
{
	struct mbox_txn t;
	char raw[ADDR_MAX + 1], local[LOCALPART_MAX + 1], dto[ADDR_MAX + 1];
	char domain[DOMAIN_MAX + 1];
	const char *at = strrchr(addr, '@');
	size_t ll = at ? (size_t)(at - addr) : strlen(addr);
	int rc, i;

	snprintf(domain, sizeof domain, "%s", at ? at + 1 : cf->domains[0]);
	str_lower(domain);
	if (ll >= sizeof raw) {
		snprintf(why, whysz, "550 5.1.1 <%s>: no such local mailbox", addr);
		return RES_PERM;
	}
	memcpy(raw, addr, ll);
	raw[ll] = '\0';
	rc = addr_local_unquoted(raw, local, sizeof local) < 0 ? 0
		: config_expand_local(cf, local, ex);
	if (rc < 0) {
		snprintf(why, whysz, "451 4.3.0 <%s>: alias expansion too large", addr);
		return RES_TEMP;
	}
	if (rc == 0 || (ex->nmailboxes == 0 && ex->nforeign == 0)) {
		snprintf(why, whysz, "550 5.1.1 <%s>: no such local mailbox", addr);
		return RES_PERM;
	}
	if (ex->nmailboxes == 0) {
		snprintf(why, whysz, "250 2.0.0 no local mailbox");
		return RES_OK;
	}
	deliver_init(&t, cf->mailbox_dir);
	for (i = 0; i < ex->nmailboxes; i++) {
		snprintf(dto, sizeof dto, "%s@%s", ex->mailboxes[i], domain);
		if (deliver_add(&t, ex->mailboxes[i], dto) < 0) {
			deliver_release(&t);
			snprintf(why, whysz, "451 4.3.0 out of memory");
			return RES_TEMP;
		}
	}
	rc = deliver_lock_all(&t, why, whysz);
	if (rc == RES_OK)
		rc = deliver_append_all(&t, msgfd, sender, time(NULL), why, whysz);
	deliver_release(&t);
	if (rc == RES_OK)
		snprintf(why, whysz, "250 2.0.0 delivered to mailbox");
	return rc == RES_OK ? RES_OK : RES_TEMP;
}

/*
 * queue_foreign - commit the staged message in FD (tmp/ID.msg, ID in
 * B->id) from SENDER to the foreign targets in EX, each with ORIG as the
 * address given. RES_OK, or RES_TEMP with errno (nothing queued).
 */
static int queue_foreign(const struct config *cf, int fd, struct envelope *b,
                         const char *sender, const char *orig, const struct expansion *ex)
{
	int i;

	b->version = SPOOL_VERSION;
	b->arrival = time(NULL);
	snprintf(b->sender, sizeof b->sender, "%s", sender);
	snprintf(b->body, sizeof b->body, "8BITMIME");
	snprintf(b->client, sizeof b->client, "127.0.0.1");
	snprintf(b->helo, sizeof b->helo, "%s", cf->hostname);
	for (i = 0; i < ex->nforeign; i++)
		if (spool_env_add_rcpt(b, orig, ex->foreign[i]) < 0) {
			errno = ENOMEM;
			return RES_TEMP;
		}
	return spool_commit(cf->spool_dir, fd, b);
}

/* bounce_deliver_local - a spooled message to a local address: its
 * mailboxes now, a copy through the spool to its foreign targets. */
int bounce_deliver_local(const struct config *cf, int msgfd, const char *sender,
                         const char *addr, char *why, size_t whysz)
{
	struct expansion *ex = calloc(1, sizeof *ex);
	struct envelope b;
	char in[IO_BUF_SIZE];
	off_t off = 0;
	ssize_t n;
	int rc, fd;

	if (!ex) {
		snprintf(why, whysz, "451 4.3.0 out of memory");
		return RES_TEMP;
	}
	rc = local_deliver(cf, msgfd, sender, addr, ex, why, whysz);
	if (rc != RES_OK || ex->nforeign == 0)
		goto out;
	/* The forward targets get their own copy, queued. Should that fail,
	 * the whole delivery is tried again: a mailbox may get the message
	 * twice, but nothing is lost. */
	memset(&b, 0, sizeof b);
	fd = spool_stage_open(cf->spool_dir, b.id, sizeof b.id);
	if (fd < 0)
		goto qfail;
	while ((n = pread(msgfd, in, sizeof in, off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_all(fd, in, (size_t)n) < 0)
			break;
		off += n;
	}
	if (n != 0 || queue_foreign(cf, fd, &b, sender, addr, ex) != RES_OK) {
		int err = errno;
		spool_env_free(&b);
		close(fd);
		spool_stage_discard(cf->spool_dir, b.id);
		errno = err;
		goto qfail;
	}
	spool_env_free(&b);
	close(fd);
	snprintf(why + strlen(why), whysz - strlen(why), ", forwarded as %s", b.id);
	goto out;
qfail:
	snprintf(why, whysz, "451 4.3.0 <%s>: cannot queue for its forward targets: %s", addr,
	         strerror(errno));
	rc = RES_TEMP;
out:
	expansion_free(ex);
	free(ex);
	return rc;
}

/* bounce_send - write the DSN and deliver or queue it from <>. */
int bounce_send(const struct config *cf, const struct envelope *env, int msgfd,
                const struct bounce_item *items, int n, char *bid, size_t bidsz,
                char *why, size_t whysz)
{
	struct envelope b;
	struct expansion *ex;
	time_t now = time(NULL);
	int fd, rc;

	bid[0] = '\0';
	memset(&b, 0, sizeof b);
	fd = spool_stage_open(cf->spool_dir, b.id, sizeof b.id);
	if (fd < 0) {
		snprintf(why, whysz, "cannot create a bounce in the spool: %s", strerror(errno));
		return RES_TEMP;
	}
	if (bounce_write(fd, cf, env, msgfd, items, n, now) < 0) {
		snprintf(why, whysz, "cannot write a bounce: %s", strerror(errno));
		close(fd);
		spool_stage_discard(cf->spool_dir, b.id);
		return RES_TEMP;
	}

	/* A local sender gets it in the mbox now and, when an alias forwards
	 * it elsewhere, through the spool to those targets; a busy mailbox or
	 * a foreign sender gets it through the spool. */
	if (config_is_local_domain(cf, addr_domain(env->sender))) {
		if (!(ex = calloc(1, sizeof *ex))) {
			snprintf(why, whysz, "out of memory");
			close(fd);
			spool_stage_discard(cf->spool_dir, b.id);
			return RES_TEMP;
		}
		rc = local_deliver(cf, fd, "", env->sender, ex, why, whysz);
		if (rc == RES_OK && ex->nforeign > 0) {
			rc = queue_foreign(cf, fd, &b, "", env->sender, ex);
			if (rc != RES_OK)
				snprintf(why, whysz, "cannot queue a bounce for the forward targets "
				         "of <%s>: %s", env->sender, strerror(errno));
			expansion_free(ex);
			free(ex);
			spool_env_free(&b);
			close(fd);
			if (rc != RES_OK) {
				spool_stage_discard(cf->spool_dir, b.id);
				return RES_TEMP;
			}
			snprintf(bid, bidsz, "%s", b.id);
			return RES_OK;
		}
		expansion_free(ex);
		free(ex);
		if (rc != RES_TEMP) {
			close(fd);
			spool_stage_discard(cf->spool_dir, b.id);
			if (rc == RES_OK)
				snprintf(bid, bidsz, "%s", b.id);
			return RES_OK;
		}
	}
	b.version = SPOOL_VERSION;
	b.arrival = now;
	snprintf(b.body, sizeof b.body, "8BITMIME");
	snprintf(b.client, sizeof b.client, "127.0.0.1");
	snprintf(b.helo, sizeof b.helo, "%s", cf->hostname);
	if (spool_env_add_rcpt(&b, env->sender, env->sender) < 0 ||
	    spool_commit(cf->spool_dir, fd, &b) != RES_OK) {
		snprintf(why, whysz, "cannot queue a bounce: %s", strerror(errno));
		spool_env_free(&b);
		close(fd);
		spool_stage_discard(cf->spool_dir, b.id);
		return RES_TEMP;
	}
	snprintf(bid, bidsz, "%s", b.id);
	spool_env_free(&b);
	close(fd);
	return RES_OK;
}
