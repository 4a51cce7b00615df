/*
 * mboxrd.c - one message appended to an mbox in mboxrd format (see
 * mboxrd.h).
 *
 * The output is gathered, not copied: pieces of the text itself (read in
 * place when it is in memory, through one IO_BUF_SIZE buffer when it is
 * a file), the header lines and the '>' that quoting adds go out with
 * writev. Only a line that starts with >*"From " splits the text, so a
 * message without one is written in one call, and no output buffer is
 * needed at all.
 *
 * Quoting looks at the start of each line octet by octet until it knows
 * the answer: a run of '>', then "From " matched whole (one more '>' goes
 * before the line) or not. A line start that spans two reads of a file
 * is carried as those two counts, and its octets are written from them
 * once the answer is known.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bounds.h"
#include "mboxrd.h"
#include "util.h"

#define MBOXRD_IOV 64           /* pieces gathered per writev */

static const char from_[] = "From ";
static const char gts_run[] = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";

/* Pieces waiting to be written to FD, and the first error. */
struct gather {
	int fd;
	int n;
	int err;
	struct iovec iov[MBOXRD_IOV];
};

/* Where quoting stands at a line start. */
struct quote {
	int bol;                /* at a line start whose prefix is not known */
	int quoting;            /* past its '>' run, matching "From " */
	size_t gts, matched;    /* '>' seen, octets of "From " matched */
	size_t carry_gts;       /* of those, what earlier reads held (not */
	size_t carry_matched;   /* written yet) */
};

/* g_flush - write every piece gathered (retrying short writes). */
static void
g_flush(struct gather *g)
{
	struct iovec *v = g->iov;
	int n = g->n;

	while (n > 0 && !g->err) {
		ssize_t w = writev(g->fd, v, n);
		if (w < 0) {
			if (errno != EINTR)
				g->err = errno ? errno : EIO;
			continue;
		}
		while (n > 0 && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	g->n = 0;
}

/* g_put - one more piece: N octets at P, which must stay until written;
 * it joins the last piece when it follows it in memory. */
static void
g_put(struct gather *g, const char *p, size_t n)
{
	struct iovec *last = g->n ? &g->iov[g->n - 1] : NULL;

	if (n == 0 || g->err)
		return;
	if (last && (const char *)last->iov_base + last->iov_len == p) {
		last->iov_len += n;
		return;
	}
	if (g->n == MBOXRD_IOV)
		g_flush(g);
	g->iov[g->n].iov_base = (void *)p;
	g->iov[g->n].iov_len = n;
	g->n++;
}

/* g_prefix - a line start's octets rebuilt from their counts: GTS '>'
 * and the first MATCHED octets of "From ". */
static void
g_prefix(struct gather *g, size_t gts, size_t matched)
{
	while (gts > 0) {
		size_t k = gts < sizeof gts_run - 1 ? gts : sizeof gts_run - 1;
		g_put(g, gts_run, k);
		gts -= k;
	}
	g_put(g, from_, matched);
}

/* quote_chunk - the N octets at P, the next part of the text: gathered
 * with quoting; a line start not known at their end is carried. */
static void
quote_chunk(struct gather *g, struct quote *q, const char *p, size_t n)
{
	size_t i = 0, run = 0, linestart = 0;

	while (i < n) {
		if (q->bol) {   /* octet by octet, until the prefix is known */
			char c = p[i];
			if (!q->quoting && c == '>') {
				q->gts++;
				i++;
				continue;
			}
			q->quoting = 1;
			if (c == from_[q->matched]) {
				i++;
				if (++q->matched < sizeof from_ - 1)
					continue;
				/* >*From : one more '>' before the line. */
				g_put(g, p + run, linestart - run);
				g_put(g, ">", 1);
				run = linestart;
			}
			/* Known: octets carried from an earlier read come first
			 * (the line began there, so nothing of P precedes). */
			g_prefix(g, q->carry_gts, q->carry_matched);
			q->carry_gts = q->carry_matched = 0;
			q->bol = 0;
			continue;
		}
		/* The rest of the line goes as it is. */
		const char *nl = memchr(p + i, '\n', n - i);
		if (!nl)
			break;
		i = (size_t)(nl - p) + 1;
		q->bol = 1;
		q->quoting = 0;
		q->gts = q->matched = 0;
		linestart = i;
	}
	if (q->bol && (q->gts || q->matched)) {
		/* A line start still unknown: its octets wait for the answer. */
		g_put(g, p + run, linestart - run);
		q->carry_gts = q->gts;
		q->carry_matched = q->matched;
	} else {
		g_put(g, p + run, n - run);
	}
}

/* mboxrd_write - append TEXT to the mbox FD (see mboxrd.h). */
int
mboxrd_write(int fd, off_t oldsize, const struct msgtext *text, const char *sender,
             const char *delivered_to, time_t when)
{
	struct gather g = { .fd = fd };
	struct quote q = { .bol = 1 };
	char head[3 * ADDR_MAX + 128], stamp[32], envfrom[ADDR_MAX + 1], last = '\n';
	const char *sep = "";
	char *rbuf = NULL;
	struct tm tm;
	off_t off = 0;
	int n;

	/* A crash may have left a partial copy (never acknowledged): start
	 * on a fresh line after an empty one so the new From line counts. */
	if (oldsize > 0) {
		char tail[2] = { '\n', '\n' };
		off_t at = oldsize >= 2 ? oldsize - 2 : 0;
		if (pread(fd, tail + (oldsize >= 2 ? 0 : 1), oldsize >= 2 ? 2 : 1, at) < 0)
			return errno ? errno : EIO;
		sep = tail[1] != '\n' ? "\n\n" : tail[0] != '\n' ? "\n" : "";
	}
	strlcpy_ck(envfrom, sender[0] ? sender : "MAILER-DAEMON", sizeof envfrom);
	text_scrub(envfrom, SCRUB_CTL | SCRUB_SPACE, '_');
	gmtime_r(&when, &tm);
	strftime(stamp, sizeof stamp, "%a %b %e %H:%M:%S %Y", &tm);
	n = snprintf(head, sizeof head, "%sFrom %s %s\nReturn-Path: <%s>\nDelivered-To: %s\n",
	    sep, envfrom, stamp, sender, delivered_to);
	if (n < 0 || (size_t)n >= sizeof head)
		return ENAMETOOLONG;
	g_put(&g, head, (size_t)n);

	/* A text in memory is quoted in place; a file through one buffer,
	 * whose pieces are written before it is filled again. */
	if (text->fd >= 0 && !(rbuf = malloc(IO_BUF_SIZE)))
		return ENOMEM;
	for (;;) {
		const char *chunk;
		ssize_t got = msgtext_chunk(text, rbuf, IO_BUF_SIZE, off, &chunk);
		if (got < 0) {
			int err = errno ? errno : EIO;
			free(rbuf);
			return err;
		}
		if (got == 0)
			break;
		off += got;
		quote_chunk(&g, &q, chunk, (size_t)got);
		last = chunk[got - 1];
		if (rbuf)
			g_flush(&g);
	}
	if (q.carry_gts || q.carry_matched) {   /* the text ended in a prefix */
		g_prefix(&g, q.carry_gts, q.carry_matched);
		last = '>';
	}
	g_put(&g, "\n\n", last == '\n' ? 1 : 2);      /* end the line, then an empty one */
	g_flush(&g);
	free(rbuf);
	return g.err;
}
