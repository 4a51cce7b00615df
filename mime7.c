/*
 * mime7.c - 8-bit text made quoted-printable for a server without
 * 8BITMIME (RFC 6152 section 3, RFC 2045, RFC 2046).
 *
 * Two passes over the stored message, both streaming with fixed-size
 * state. The first (mime7_check) walks the MIME structure: headers,
 * multipart boundaries (nested up to MIME_DEPTH_MAX), message/rfc822
 * parts, and notes which leaf parts hold 8-bit octets; it refuses what
 * cannot be converted without changing its meaning: 8-bit octets in a
 * header (RFC 2047 encoding would be a guess), a preamble or an
 * epilogue, or a part already declared base64 or quoted-printable. The
 * second (mime7_write) copies everything as it is, except that each
 * noted leaf gets "Content-Transfer-Encoding: quoted-printable" and its
 * body encoded; a container declared 8bit or binary is declared 7bit.
 * A message without MIME headers gets MIME-Version and a Content-Type
 * of text/plain; charset=unknown-8bit (RFC 1428).
 *
 * The input comes in pieces of at most MIME7_PIECE_MAX octets: a longer
 * line is handled piece by piece (a boundary line is never that long).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mime7.h"

enum m7_state { ST_HEADER, ST_LEAF, ST_OPAQUE };

/* The state of one pass. */
struct m7 {
	struct mime7 *m;
	int write;                      /* 0: the checking pass */
	int (*emit)(void *arg, const char *buf, size_t len);
	void *arg;
	int failed;
	char out[IO_BUF_SIZE];
	size_t outlen;

	char bnd[MIME_DEPTH_MAX][MIME_BOUNDARY_MAX + 1];
	int nb;                         /* open multiparts */
	enum m7_state st;

	/* The header being read. */
	int top;                        /* the message's own header */
	char field[MIME_HEADER_MAX + 1];/* the current field, unfolded */
	size_t flen;
	int fhold;                      /* the current field is held back */
	char held[MIME_HEADER_MAX + 1]; /* the Content-Transfer-Encoding field */
	size_t heldlen;
	int have_mimever, have_ctype;
	char ctype[MIME_PARAM_MAX + 1];
	char boundary[MIME_BOUNDARY_MAX + 1];
	char cte[64];

	/* The leaf being read. */
	int leaf;                       /* leaves seen so far */
	int encodable;                  /* its encoding allows re-encoding */
	int encode;                     /* it is being encoded */
	int col;                        /* octets on the encoded line */
	char ws;                        /* a blank waiting: literal unless the
	                                   line ends after it */
};

/* fail - the message cannot be converted, for WHY. */
static void fail(struct m7 *s, const char *why)
{
	if (!s->failed)
		snprintf(s->m->why, sizeof s->m->why, "%s", why);
	s->failed = 1;
}

/* out - queue octets of the rewritten message (write pass only). */
static void out(struct m7 *s, const char *buf, size_t len)
{
	if (!s->write || s->failed)
		return;
	while (len > 0) {
		size_t room = sizeof s->out - s->outlen, n = len < room ? len : room;
		memcpy(s->out + s->outlen, buf, n);
		s->outlen += n;
		buf += n;
		len -= n;
		if (s->outlen == sizeof s->out) {
			if (s->emit(s->arg, s->out, s->outlen) < 0) {
				s->failed = 1;
				s->m->why[0] = '\0';
			}
			s->outlen = 0;
		}
	}
}

/* has8bit - whether BUF holds an octet over 0x7f. */
static int has8bit(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] > 0x7f)
			return 1;
	return 0;
}

/* header_reset - a new entity's header begins. */
static void header_reset(struct m7 *s, int top)
{
	s->top = top;
	s->flen = s->heldlen = 0;
	s->fhold = 0;
	s->have_mimever = s->have_ctype = 0;
	s->ctype[0] = s->boundary[0] = s->cte[0] = '\0';
	s->st = ST_HEADER;
}

/* param - the value of parameter NAME in a Content-Type value V. */
static void param(const char *v, const char *name, char *outv, size_t outsz)
{
	size_t nl = strlen(name), k = 0;
	const char *p = v;

	outv[0] = '\0';
	while ((p = strchr(p, ';'))) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, name, nl) != 0 || p[nl] != '=')
			continue;
		p += nl + 1;
		if (*p == '"') {
			for (p++; *p && *p != '"' && k + 1 < outsz; p++) {
				if (*p == '\\' && p[1])
					p++;
				outv[k++] = *p;
			}
		} else {
			for (; *p && !strchr(" \t;()<>@,:\\\"/[]?=", *p) && k + 1 < outsz; p++)
				outv[k++] = *p;
		}
		outv[k] = '\0';
		return;
	}
}

/* field_done - parse the finished field: Content-Type, -Transfer-Encoding,
 * MIME-Version. */
static void field_done(struct m7 *s)
{
	char *v, *e;
	size_t n;

	s->field[s->flen] = '\0';
	s->flen = 0;
	v = strchr(s->field, ':');
	if (!v)
		return;
	*v++ = '\0';
	while (*v == ' ' || *v == '\t')
		v++;
	if (strcasecmp(s->field, "MIME-Version") == 0) {
		s->have_mimever = 1;
	} else if (strcasecmp(s->field, "Content-Type") == 0) {
		s->have_ctype = 1;
		n = strcspn(v, "; \t");
		snprintf(s->ctype, sizeof s->ctype, "%.*s", (int)n, v);
		for (e = s->ctype; *e; e++)
			*e = (char)(*e >= 'A' && *e <= 'Z' ? *e + 32 : *e);
		param(v, "boundary", s->boundary, sizeof s->boundary);
	} else if (strcasecmp(s->field, "Content-Transfer-Encoding") == 0) {
		n = strcspn(v, "; \t(");
		snprintf(s->cte, sizeof s->cte, "%.*s", (int)n, v);
		for (e = s->cte; *e; e++)
			*e = (char)(*e >= 'A' && *e <= 'Z' ? *e + 32 : *e);
	}
}

/* header_piece - one piece of a header line (FIRST: it starts a line). */
static void header_piece(struct m7 *s, const char *buf, size_t len, int first, int eol)
{
	if (has8bit(buf, len))
		fail(s, "8-bit octets in a header");
	if (first && buf[0] != ' ' && buf[0] != '\t') {
		if (s->flen > 0 || s->fhold)
			field_done(s);
		/* The encoding field is held back: the end of the header
		 * decides whether it is written as it was. */
		s->fhold = len >= 26 && strncasecmp(buf, "Content-Transfer-Encoding:", 26) == 0;
	}
	if (s->flen + len <= MIME_HEADER_MAX) {
		memcpy(s->field + s->flen, buf, len);
		s->flen += len;
	}
	if (!s->fhold) {
		out(s, buf, len);
		if (eol)
			out(s, "\n", 1);
		return;
	}
	if (s->heldlen + len + 1 > MIME_HEADER_MAX) {
		fail(s, "Content-Transfer-Encoding field too long");
		return;
	}
	memcpy(s->held + s->heldlen, buf, len);
	s->heldlen += len;
	if (eol)
		s->held[s->heldlen++] = '\n';
}

/* plain_cte - an encoding a part may be re-encoded from. */
static int plain_cte(const char *cte)
{
	return !cte[0] || strcmp(cte, "7bit") == 0 || strcmp(cte, "8bit") == 0 ||
	       strcmp(cte, "binary") == 0;
}

/* header_end - the empty line: decide what the entity's body is. */
static void header_end(struct m7 *s)
{
	int multi, message;

	if (s->flen > 0)
		field_done(s);
	multi = strncmp(s->ctype, "multipart/", 10) == 0;
	message = strcmp(s->ctype, "message/rfc822") == 0;
	if (multi && !s->boundary[0]) {
		fail(s, "a multipart without a boundary");
		return;
	}
	if ((multi || message) && !plain_cte(s->cte)) {
		fail(s, "a multipart or message part with an encoding");
		return;
	}
	if (multi || message) {
		if (multi && s->nb >= MIME_DEPTH_MAX) {
			fail(s, "multiparts nested too deep");
			return;
		}
		if (s->heldlen && s->write && strcmp(s->cte, "7bit") != 0)
			out(s, "Content-Transfer-Encoding: 7bit\n", 32);
		else
			out(s, s->held, s->heldlen);
		out(s, "\n", 1);
		if (multi) {
			snprintf(s->bnd[s->nb++], sizeof s->bnd[0], "%s", s->boundary);
			s->st = ST_OPAQUE;      /* the preamble */
		} else {
			header_reset(s, 0);
		}
		return;
	}
	if (s->leaf >= MIME7_LEAVES_MAX) {
		fail(s, "too many MIME parts");
		return;
	}
	s->encodable = plain_cte(s->cte);
	s->encode = s->write && (s->m->need[s->leaf / 8] >> (s->leaf % 8) & 1);
	if (s->encode) {
		if (s->top && !s->have_mimever)
			out(s, "MIME-Version: 1.0\n", 18);
		if (!s->have_ctype)
			out(s, "Content-Type: text/plain; charset=unknown-8bit\n", 47);
		out(s, "Content-Transfer-Encoding: quoted-printable\n", 44);
	} else {
		out(s, s->held, s->heldlen);
	}
	out(s, "\n", 1);
	s->leaf++;
	s->col = 0;
	s->ws = 0;
	s->st = ST_LEAF;
}

/* qp_octet - one octet encoded, with a soft line break when the line is
 * full (76 octets with the "="). */
static void qp_octet(struct m7 *s, unsigned char c, int literal)
{
	char hex[4];
	int w = literal ? 1 : 3;

	if (s->col + w > 75) {
		out(s, "=\n", 2);
		s->col = 0;
	}
	if (literal) {
		out(s, (const char *)&c, 1);
	} else {
		snprintf(hex, sizeof hex, "=%02X", c);
		out(s, hex, 3);
	}
	s->col += w;
}

/* qp_piece - one piece of a body line, quoted-printable. */
static void qp_piece(struct m7 *s, const char *buf, size_t len, int eol)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (s->ws) {
			qp_octet(s, (unsigned char)s->ws, 1);
			s->ws = 0;
		}
		if (c == ' ' || c == '\t')
			s->ws = (char)c;
		else
			qp_octet(s, c, c >= 33 && c <= 126 && c != '=');
	}
	if (eol) {
		/* A blank at the end of a line is encoded: transports may
		 * strip it (RFC 2045 6.7 rule 3). */
		if (s->ws)
			qp_octet(s, (unsigned char)s->ws, 0);
		s->ws = 0;
		out(s, "\n", 1);
		s->col = 0;
	}
}

/* boundary_of - the open multipart whose boundary line BUF is, or -1;
 * *CLOSE set for the closing "--boundary--". */
static int boundary_of(struct m7 *s, const char *buf, size_t len, int *close)
{
	int k;

	if (len < 3 || buf[0] != '-' || buf[1] != '-')
		return -1;
	for (k = s->nb - 1; k >= 0; k--) {
		size_t bl = strlen(s->bnd[k]), i;

		if (len < 2 + bl || memcmp(buf + 2, s->bnd[k], bl) != 0)
			continue;
		i = 2 + bl;
		*close = len >= i + 2 && buf[i] == '-' && buf[i + 1] == '-';
		if (*close)
			i += 2;
		for (; i < len && (buf[i] == ' ' || buf[i] == '\t'); i++)
			;
		if (i == len)
			return k;
	}
	return -1;
}

/* piece - one piece of input in the current state. */
static void piece(struct m7 *s, const char *buf, size_t len, int first, int eol)
{
	int k, close;

	if (s->failed)
		return;
	if (s->st == ST_HEADER) {
		if (first && len == 0 && eol)
			header_end(s);
		else
			header_piece(s, buf, len, first, eol);
		return;
	}
	if (first && eol && (k = boundary_of(s, buf, len, &close)) >= 0) {
		if (s->st == ST_LEAF && s->ws) {
			qp_octet(s, (unsigned char)s->ws, 0);
			s->ws = 0;
		}
		s->nb = k + 1;
		out(s, buf, len);
		out(s, "\n", 1);
		if (close) {
			s->nb = k;
			s->st = ST_OPAQUE;      /* the epilogue */
		} else {
			header_reset(s, 0);
		}
		return;
	}
	if (s->st == ST_OPAQUE || !s->encode) {
		if (has8bit(buf, len)) {
			if (s->st == ST_OPAQUE)
				fail(s, "8-bit octets outside any body part");
			else if (!s->encodable)
				fail(s, "8-bit octets in a base64 or quoted-printable part");
			else
				s->m->need[(s->leaf - 1) / 8] |= (unsigned char)(1u << ((s->leaf - 1) % 8));
		}
		out(s, buf, len);
		if (eol)
			out(s, "\n", 1);
		return;
	}
	qp_piece(s, buf, len, eol);
}

/* run - one pass over the message. */
static int run(struct m7 *s, int msgfd, off_t size)
{
	char in[IO_BUF_SIZE], line[MIME7_PIECE_MAX];
	size_t ll = 0;
	int first = 1;
	off_t off = 0;

	header_reset(s, 1);
	while (off < size && !s->failed) {
		size_t want = size - off < (off_t)sizeof in ? (size_t)(size - off) : sizeof in;
		ssize_t n = pread(msgfd, in, want, off), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += n;
		for (i = 0; i < n; i++) {
			if (in[i] == '\n') {
				piece(s, line, ll, first, 1);
				ll = 0;
				first = 1;
				continue;
			}
			if (ll == sizeof line) {
				piece(s, line, ll, first, 0);
				ll = 0;
				first = 0;
			}
			line[ll++] = in[i];
		}
	}
	if (ll > 0 && !s->failed)
		piece(s, line, ll, first, 0);
	if (s->st == ST_HEADER && s->fhold)
		out(s, s->held, s->heldlen);    /* a header with no body */
	if (s->st == ST_LEAF && s->encode && s->ws)
		qp_octet(s, (unsigned char)s->ws, 0);
	if (s->failed) {
		errno = s->m->why[0] ? EINVAL : EIO;
		return -1;
	}
	if (s->write && s->outlen && s->emit(s->arg, s->out, s->outlen) < 0)
		return -1;
	return 0;
}

/* mime7_check - can the message be made 7-bit, and which parts need it. */
int mime7_check(struct mime7 *m, int msgfd, off_t size)
{
	struct m7 *s = calloc(1, sizeof *s);
	int rc;

	memset(m, 0, sizeof *m);
	if (!s)
		return -1;
	s->m = m;
	rc = run(s, msgfd, size);
	m->leaves = s->leaf;
	free(s);
	return rc;
}

/* mime7_write - the message with the noted parts quoted-printable. */
int mime7_write(struct mime7 *m, int msgfd, off_t size,
                int (*emit)(void *arg, const char *buf, size_t len), void *arg)
{
	struct m7 *s = calloc(1, sizeof *s);
	int rc;

	if (!s)
		return -1;
	s->m = m;
	s->write = 1;
	s->emit = emit;
	s->arg = arg;
	rc = run(s, msgfd, size);
	free(s);
	return rc;
}
