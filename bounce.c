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
 *     text/rfc822-headers        the original message's header (declared
 *                                8bit when it holds such octets)
 *
 * A reply a server sent is reported with Remote-MTA and "Diagnostic-Code:
 * smtp"; an error relay-agent found itself (DNS, a refused connection, a
 * message that cannot be made 7-bit, the expired lifetime) without
 * Remote-MTA and as "Diagnostic-Code: X-relay-agent" (RFC 3464 2.3.6).
 * Field names and layout follow Postfix's bounce daemon. The bounce goes
 * into the queue, whoever the sender is; relay-agent delivers it from
 * there (a local sender's mailbox by its local workers). The original
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
#include "bufout.h"
#include "inject.h"
#include "stage.h"
#include "util.h"

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
static int copy_headers(struct bufout *o, int msgfd)
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
				bufout_put(o, "\n", 1);
				total++;
				continue;
			}
			if (total >= BOUNCE_HEADERS_MAX - 1) {
				cut = 1;
				break;
			}
			ch = scrub_octet(ch, SCRUB_CTL | SCRUB_KEEP_TAB, ' ');
			bol = 0;
			bufout_put(o, &ch, 1);
			total++;
		}
	}
	if (!bol)
		bufout_put(o, "\n", 1);
	return 0;
}

/* headers_8bit - whether the original header (what copy_headers copies)
 * holds an octet over 127: its part is then declared 8bit (RFC 2045). */
static int headers_8bit(int msgfd)
{
	char buf[IO_BUF_SIZE];
	off_t off = 0;
	int bol = 1;

	while (off < BOUNCE_HEADERS_MAX) {
		ssize_t n = pread(msgfd, buf, sizeof buf, off), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		for (i = 0; i < n && off + i < BOUNCE_HEADERS_MAX; i++) {
			if (buf[i] == '\n' && bol)
				return 0;
			if ((unsigned char)buf[i] > 127)
				return 1;
			bol = buf[i] == '\n';
		}
		off += n;
	}
	return 0;
}

/* bounce_write - the whole DSN, LF line ends, to FD. */
int bounce_write(int fd, const struct config *cf, const struct envelope *env,
                 int msgfd, const struct bounce_item *items, int n, time_t now)
{
	struct bufout *o = malloc(sizeof *o);
	char date[64], arrival[64], boundary[128], a[ADDR_MAX + 1], b[ADDR_MAX + 1];
	char d[SMTP_REPLY_MAX + 1], h[DOMAIN_MAX + 1], sender[ADDR_MAX + 1];
	int i, err, eight = headers_8bit(msgfd);

	if (!o)
		return -1;
	bufout_init(o, fd);
	rfc5322_date(date, sizeof date, now);
	rfc5322_date(arrival, sizeof arrival, env->arrival);
	/* "=_" never occurs in base64 or quoted-printable text; at most
	 * 70 octets (RFC 2046). */
	snprintf(boundary, sizeof boundary, "=_%s.%lld", env->id, (long long)now);
	clean(sender, sizeof sender, env->sender);

	bufout_printf(o, "Date: %s\n", date);
	bufout_printf(o, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", cf->hostname);
	bufout_printf(o, "To: <%s>\n", sender);
	bufout_printf(o, "Subject: Undelivered Mail Returned to Sender\n");
	bufout_printf(o, "Message-ID: <%s.%lld.bounce@%s>\n", env->id, (long long)now,
	           cf->hostname);
	bufout_printf(o, "Auto-Submitted: auto-replied\n");
	bufout_printf(o, "MIME-Version: 1.0\n");
	bufout_printf(o, "Content-Type: multipart/report; report-type=delivery-status;\n"
	              "\tboundary=\"%s\"\n", boundary);
	if (eight)
		bufout_printf(o, "Content-Transfer-Encoding: 8bit\n");
	bufout_printf(o, "\nThis is a MIME-encapsulated message.\n\n");

	/* Part 1: for a human. */
	bufout_printf(o, "--%s\n", boundary);
	bufout_printf(o, "Content-Description: Notification\n"
	              "Content-Type: text/plain; charset=us-ascii\n\n");
	bufout_printf(o, "This is the mail system at host %s.\n\n", cf->hostname);
	bufout_printf(o, "I'm sorry to have to inform you that your message could not\n"
	              "be delivered to one or more recipients. It's attached below.\n\n"
	              "For further assistance, please send mail to postmaster.\n\n");
	/* As Postfix words it: "<rcpt>: host mx.example said: 550 ...". */
	for (i = 0; i < n; i++) {
		bufout_printf(o, "<%s>: ", clean(a, sizeof a, items[i].rcpt->addr));
		if (items[i].remote_mta)
			bufout_printf(o, "host %s said: ", clean(h, sizeof h, items[i].remote_mta));
		bufout_printf(o, "%s\n", clean(d, sizeof d, items[i].diagnostic));
	}
	bufout_printf(o, "\n");

	/* Part 2: for a program. */
	bufout_printf(o, "--%s\n", boundary);
	bufout_printf(o, "Content-Description: Delivery report\n"
	              "Content-Type: message/delivery-status\n\n");
	bufout_printf(o, "Reporting-MTA: dns; %s\n", cf->hostname);
	bufout_printf(o, "X-Queue-ID: %s\n", env->id);
	bufout_printf(o, "X-Original-Sender: rfc822; %s\n", sender);
	bufout_printf(o, "Arrival-Date: %s\n", arrival);
	for (i = 0; i < n; i++) {
		const struct bounce_item *it = &items[i];
		char when[64];

		clean(a, sizeof a, it->rcpt->addr);
		clean(b, sizeof b, it->rcpt->orig);
		bufout_printf(o, "\nFinal-Recipient: rfc822; %s\n", a);
		if (b[0] && strcasecmp(a, b) != 0)
			bufout_printf(o, "Original-Recipient: rfc822; %s\n", b);
		bufout_printf(o, "Action: failed\n");
		bufout_printf(o, "Status: %s\n", it->status);
		if (it->remote_mta)
			bufout_printf(o, "Remote-MTA: dns; %s\n", clean(h, sizeof h, it->remote_mta));
		bufout_printf(o, "Diagnostic-Code: %s; %s\n", it->remote_mta ? "smtp" : "X-relay-agent",
		           clean(d, sizeof d, it->diagnostic));
		if (it->when > 0) {
			rfc5322_date(when, sizeof when, it->when);
			bufout_printf(o, "Last-Attempt-Date: %s\n", when);
		}
	}
	bufout_printf(o, "\n");

	/* Part 3: what the sender sent, header only. */
	bufout_printf(o, "--%s\n", boundary);
	bufout_printf(o, "Content-Description: Undelivered Message Headers\n"
	              "Content-Type: text/rfc822-headers\n%s\n",
	              eight ? "Content-Transfer-Encoding: 8bit\n" : "");
	if (copy_headers(o, msgfd) < 0 && !o->err)
		o->err = errno ? errno : EIO;
	bufout_printf(o, "\n--%s--\n", boundary);
	err = bufout_flush(o);
	free(o);
	return err;
}

/* bounce_send - write the DSN and queue it from <> through inject.c. */
int bounce_send(const struct config *cf, const struct envelope *env, int msgfd,
                const struct bounce_item *items, int n, char *bid, size_t bidsz,
                char *why, size_t whysz)
{
	struct inject in;
	struct stage st;
	struct msgtext text;
	char id[QUEUE_ID_MAX];
	int rc;

	bid[0] = '\0';
	/* Is there anyone to tell? A local sender that is no local name (or
	 * an alias beyond the limits) gets nothing: no mailbox is touched. */
	inject_begin(&in, cf, "");
	rc = inject_add(&in, env->sender, env->sender, why, whysz);
	inject_end(&in);
	if (rc == RES_PERM)
		return RES_OK;  /* no such local sender: nobody to tell (WHY says so) */
	if (rc != RES_OK)
		return rc;
	queue_id_new(id, sizeof id);
	if (stage_open(&st, cf->spool_dir, id, 1) < 0) {
		snprintf(why, whysz, "cannot create a bounce in the spool: %s", strerror(errno));
		stage_discard(&st);
		return RES_TEMP;
	}
	if (bounce_write(st.fd, cf, env, msgfd, items, n, time(NULL)) < 0 || stage_done(&st) < 0) {
		snprintf(why, whysz, "cannot write a bounce: %s", strerror(errno));
		stage_discard(&st);
		return RES_TEMP;
	}
	stage_text(&st, &text);
	/* From <>, to the sender, always through the queue, local or not:
	 * relay-agent delivers it like any queued mail, and the caller never
	 * waits for a mailbox's lock. */
	inject_begin(&in, cf, "");
	snprintf(in.env.body, sizeof in.env.body, "8BITMIME");
	snprintf(in.env.client, sizeof in.env.client, "127.0.0.1");
	snprintf(in.env.helo, sizeof in.env.helo, "%s", cf->hostname);
	if (envelope_add_rcpt(&in.env, env->sender, env->sender, NULL) < 0) {
		snprintf(why, whysz, "451 4.3.0 Error: out of memory");
		rc = RES_TEMP;
	} else {
		rc = inject_store(&in, &text, why, whysz);
	}
	if (rc == RES_OK)
		snprintf(bid, bidsz, "%s", id);
	inject_end(&in);
	stage_discard(&st);     /* a named file is gone already when queued */
	return rc;
}
