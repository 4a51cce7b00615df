/*
 * mime-transfer.c - the debug sink's transfer decoding of a body part.
 *
 * A part's body arrives in pieces and leaves decoded through a
 * mime_put_fn: 7bit, 8bit and binary as they are; quoted-printable by
 * the state machine here (RFC 2045 6.7); base64 by base64.c's decoder in
 * its lenient mode. Mail in the wild is often not what RFC 2045 asks
 * for, so neither decoder gives up: what cannot be decoded is counted
 * (struct transfer's qp_bad, b64.bad) for the reader's note, and the
 * rest is shown. Decoded octets are gathered in DECODE_BUF octets before
 * they are put on, so that the later stages see few, large pieces.
 */
#include "mime-int.h"

/* transfer_begin - ready T for a body in encoding CTE, decoded to PUT. */
void transfer_begin(struct transfer *t, enum cte cte, mime_put_fn *put,
                    void *ctx)
{
	t->cte = cte;
	t->put = put;
	t->ctx = ctx;
	base64_dec_init(&t->b64, 1);
	t->qstate = Q_NORMAL;
	t->nws = 0;
	t->qp_bad = 0;
	t->dlen = 0;
}

/* dflush - put on what has been decoded. */
static void dflush(struct transfer *t)
{
	t->put(t->ctx, t->dbuf, t->dlen);
	t->dlen = 0;
}

/* dput - one decoded octet. */
static void dput(struct transfer *t, unsigned char c)
{
	t->dbuf[t->dlen++] = c;
	if (t->dlen == sizeof t->dbuf)
		dflush(t);
}

/* qp_ws_flush - held-back white space turns out to be text. */
static void qp_ws_flush(struct transfer *t)
{
	size_t i;

	for (i = 0; i < t->nws; i++)
		dput(t, t->ws[i]);
	t->nws = 0;
}

/* qp_byte - quoted-printable, one octet at a time (RFC 2045 6.7): white
 * space before a line end is dropped, "=" before it joins the lines, an
 * "=" not followed by two hex digits is kept as it is. */
static void qp_byte(struct transfer *t, unsigned char c)
{
	switch (t->qstate) {
	case Q_NORMAL:
		if (c == '=') {
			qp_ws_flush(t);
			t->qstate = Q_EQ;
		} else if (c == ' ' || c == '\t') {
			if (t->nws == MIME_QP_WS_MAX)
				qp_ws_flush(t);
			t->ws[t->nws++] = c;
		} else if (c == '\n') {
			t->nws = 0;
			dput(t, c);
		} else {
			qp_ws_flush(t);
			dput(t, c);
		}
		break;
	case Q_EQ:
		if (hexval(c) >= 0) {
			t->qh = c;
			t->qstate = Q_EQ1;
		} else if (c == '\n') {
			t->qstate = Q_NORMAL;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			t->qstate = Q_EQWS;
		} else {
			t->qp_bad++;
			dput(t, '=');
			t->qstate = Q_NORMAL;
			qp_byte(t, c);
		}
		break;
	case Q_EQ1:
		t->qstate = Q_NORMAL;
		if (hexval(c) >= 0) {
			dput(t, (unsigned char)(hexval(t->qh) * 16 + hexval(c)));
		} else {
			t->qp_bad++;
			dput(t, '=');
			dput(t, t->qh);
			qp_byte(t, c);
		}
		break;
	case Q_EQWS:
		if (c == '\n')
			t->qstate = Q_NORMAL;
		else if (c != ' ' && c != '\t' && c != '\r') {
			t->qp_bad++;
			dput(t, '=');
			t->qstate = Q_NORMAL;
			qp_byte(t, c);
		}
		break;
	}
}

/* b64_byte - base64, one character at a time. */
static void b64_byte(struct transfer *t, unsigned char c)
{
	unsigned char q[3];
	int i, k = base64_dec_feed(&t->b64, c, q);

	for (i = 0; i < k; i++)
		dput(t, q[i]);
}

/* transfer_feed - N octets of the body (line ends as LF). */
void transfer_feed(struct transfer *t, const char *p, size_t n)
{
	size_t i;

	switch (t->cte) {
	case CTE_IDENTITY:
		t->put(t->ctx, (const unsigned char *)p, n);
		break;
	case CTE_QP:
		for (i = 0; i < n; i++)
			qp_byte(t, (unsigned char)p[i]);
		dflush(t);
		break;
	case CTE_BASE64:
		for (i = 0; i < n; i++)
			b64_byte(t, (unsigned char)p[i]);
		dflush(t);
		break;
	}
}

/* transfer_end - the body ends: a quantum or an escape left open is
 * decoded or counted, and the rest put on. */
void transfer_end(struct transfer *t)
{
	unsigned char q[2];
	int i, k;

	if (t->cte == CTE_BASE64) {
		k = base64_dec_end(&t->b64, q);
		for (i = 0; i < k; i++)
			dput(t, q[i]);
	} else if (t->cte == CTE_QP && t->qstate == Q_EQ1) {
		t->qp_bad++;
		dput(t, '=');
		dput(t, t->qh);
	}
	dflush(t);
}
