/*
 * mime.c - the debug sink's reader: a readable summary of one message.
 *
 * SYNOPSIS
 *	#include "mime.h"
 *
 *	int mime_report(int fd, void (*emit)(void *ctx, const char *line),
 *	                void *ctx);
 *
 * DESCRIPTION
 *	mime_report() reads the message staged in FD (LF line ends; a CR
 *	before an LF is ignored) and reports it one line at a time:
 *
 *	From: / To: / Cc: / Date: / Subject:
 *		the message's headers, unfolded, RFC 2047 words decoded;
 *	Text (part N, TYPE; charset=CS):
 *		followed by the text, each line led by "| "; text/plain
 *		parts, and text/html (tags stripped) where the enclosing
 *		multipart/alternative or message has no text/plain part;
 *	Attachment (part N): name="F" type=T size=S
 *		any other leaf part, S its decoded size in octets;
 *	Skipped (part N): type=text/html size=S (text/plain shown instead)
 *	Nested message (part N, message/rfc822):
 *		then the nested message's lines indented by two spaces,
 *		and "End of nested message (part N)";
 *	[...]	a note on what could not be shown, and why.
 *
 *	Part numbers are IMAP section numbers (1, 2.1, ...). A line longer
 *	than MIME_OUT_LINE_MAX octets goes on in lines led by "+ ".
 *	Control characters become '?', a tab a space, octets that are not
 *	UTF-8 U+FFFD: every line is UTF-8 and safe to log (mime.h says
 *	exactly what that means; mime-out.c keeps the promise).
 *
 *	This file is the structure walk: it reads the message a piece of a
 *	line at a time, keeps the header fields of each entity, reports a
 *	message's headers, opens and closes containers at their delimiters
 *	and numbers the parts. Each leaf part goes to mime-leaf.c, which
 *	runs its body through streaming stages, each in its own file:
 *	transfer decoding (mime-transfer.c), charset conversion to UTF-8
 *	(mime-charset.c), HTML to text (html-text.c) and the report's text
 *	lines (mime-out.c). Header values are read by mime-header.c.
 *
 *	The walk streams: a line is looked at in pieces of at most
 *	MIME_LINE_MAX octets, a header field keeps MIME_HEADER_MAX, nesting
 *	stops at MIME_DEPTH_MAX, at most MIME_TEXT_MAX octets of text are
 *	shown per message and MIME_PARTS_MAX parts listed. The state is one
 *	struct of fixed size, allocated once per call.
 *
 *	When FD can seek, the message is read twice. The first pass only
 *	learns the structure: which multipart/alternative (or message) holds
 *	a text/plain part, so that an HTML alternative placed before it is
 *	not shown, and which multipart never shows its boundary, so that its
 *	body is shown as text instead of vanishing. The second pass reports.
 *
 * DIAGNOSTICS
 *	Returns 0, or -1 when FD could not be read or memory was short.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mime.h"
#include "mime-int.h"

static const char *const field_names[FLD_COUNT] = {
	"From", "To", "Cc", "Date", "Subject",
	"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"
};

static void state_piece(struct mime_state *st, const char *p, size_t n,
                        int bol, int eol);

/* bit_get - bit I of BITS; 0 past MIME_SERIALS_MAX. */
static int bit_get(const unsigned char *bits, int i)
{
	return i >= 0 && i < MIME_SERIALS_MAX && (bits[i / 8] >> (i % 8) & 1);
}

/* bit_set - set bit I of BITS, unless past MIME_SERIALS_MAX. */
static void bit_set(unsigned char *bits, int i)
{
	if (i >= 0 && i < MIME_SERIALS_MAX)
		bits[i / 8] |= (unsigned char)(1 << (i % 8));
}

/* set_indent - two spaces per nested message. */
static void set_indent(struct mime_state *st)
{
	size_t n = 0;
	int k;

	for (k = 1; k < st->nframes; k++)
		if (st->fr[k].kind == FR_MESSAGE)
			n += 2;
	out_indent(&st->out, n);
}

/* ---- structure ---- */

/* part_number - the IMAP section number of the entity about to begin. */
static void part_number(const struct mime_state *st, char *out, size_t outsz)
{
	size_t o = 0;
	int k;

	out[0] = '\0';
	for (k = 0; k < st->nframes && o < outsz; k++) {
		if (st->fr[k].kind == FR_MULTIPART)
			o += (size_t)snprintf(out + o, outsz - o, "%s%d",
			                      o ? "." : "", st->fr[k].parts);
		else if (k > 0 && st->fr[k - 1].kind == FR_MESSAGE)
			/* a message that is the body of a message is its part 1 */
			o += (size_t)snprintf(out + o, outsz - o, "%s1", o ? "." : "");
	}
	if (o >= outsz)
		return;
	if (st->fr[st->nframes - 1].kind == FR_MESSAGE)
		snprintf(out + o, outsz - o, "%s1", o ? "." : "");
}

/* serial_new - the serial of a new container, -1 past MIME_SERIALS_MAX. */
static int serial_new(struct mime_state *st)
{
	int s = st->serial_next++;

	return s < MIME_SERIALS_MAX ? s : -1;
}

/* scope_has_plain - whether the nearest multipart/alternative or message
 * around the current part holds a text/plain part. */
int scope_has_plain(const struct mime_state *st)
{
	int k;

	for (k = st->nframes - 1; k >= 0; k--)
		if (st->fr[k].scope)
			return bit_get(st->has_plain, st->fr[k].serial);
	return 0;
}

/* scope_mark_plain - a text/plain part counts for every scope up to its
 * message. */
void scope_mark_plain(struct mime_state *st)
{
	int k;

	for (k = st->nframes - 1; k >= 0; k--) {
		if (st->fr[k].scope)
			bit_set(st->has_plain, st->fr[k].serial);
		if (st->fr[k].kind == FR_MESSAGE)
			break;
	}
}

/* fields_reset - forget the fields kept: a new header block begins. */
static void fields_reset(struct mime_state *st)
{
	int i;

	for (i = 0; i < FLD_COUNT; i++) {
		st->fld[i].len = 0;
		st->fld[i].seen = 0;
		st->fld[i].cut = 0;
		st->fld[i].v[0] = '\0';
	}
	st->cur_field = -1;
}

/* field_append - more of field ID, kept up to MIME_HEADER_MAX octets. */
static void field_append(struct mime_state *st, int id, const char *p,
                         size_t n)
{
	struct field *f = &st->fld[id];

	if (f->len + n > MIME_HEADER_MAX) {
		n = MIME_HEADER_MAX - f->len;
		f->cut = 1;
	}
	memcpy(f->v + f->len, p, n);
	f->len += n;
	f->v[f->len] = '\0';
}

/* message_headers - report From, To, Cc, Date, Subject of a message. */
static void message_headers(struct mime_state *st)
{
	static const int order[] = { FLD_FROM, FLD_TO, FLD_CC, FLD_DATE,
	                             FLD_SUBJECT };
	size_t k;

	for (k = 0; k < sizeof order / sizeof order[0]; k++) {
		struct field *f = &st->fld[order[k]];
		struct sbuf b = { st->hbuf, 0, sizeof st->hbuf, 0 };
		char lead[16];
		size_t s = 0, e = f->len;

		if (!f->seen)
			continue;
		while (s < e && (is_wsp((unsigned char)f->v[s]) || f->v[s] == '\r'))
			s++;
		while (e > s && (is_wsp((unsigned char)f->v[e - 1]) || f->v[e - 1] == '\r'))
			e--;
		st->bad_cs[0] = '\0';
		st->hbuf[0] = '\0';
		if (order[k] == FLD_DATE)
			sbuf_put(&b, f->v + s, e - s);
		else
			header_words(st->bad_cs, f->v + s, e - s, &b);
		snprintf(lead, sizeof lead, "%s: ", field_names[order[k]]);
		if (b.len == 0)
			out_text(&st->out, lead, "+ ", "(empty)", 7);
		else
			out_text(&st->out, lead, "+ ", b.p, b.len);
		if (st->bad_cs[0])
			say(st, "[unknown charset \"%s\" in %s: shown as received]",
			    st->bad_cs, field_names[order[k]]);
		if (f->cut)
			say(st, "[%s cut short at %d octets]",
			    field_names[order[k]], MIME_HEADER_MAX);
	}
}

/* ---- containers ---- */

/* multipart_begin - open a multipart, or show it as text when its
 * boundary is missing or was never met, or list it when too deep. */
static void multipart_begin(struct mime_state *st, const char *number,
                            const char *type, const char *ct)
{
	char b[MIME_BOUNDARY_MAX + 1];
	int serial = serial_new(st), r;
	struct frame *f;

	if (st->nframes >= MIME_DEPTH_MAX) {
		leaf_begin(st, number, type, ct, MODE_OPAQUE);
		return;
	}
	r = ct ? header_param_raw(ct, "boundary", b, sizeof b) : 0;
	if (r <= 0 || b[0] == '\0') {
		say(st, "[part %s: %s without a usable boundary: shown as text]",
		    number, type);
		leaf_begin(st, number, type, ct, MODE_RAWTEXT);
		return;
	}
	if (st->two_pass && serial >= 0 && !bit_get(st->found, serial)) {
		say(st, "[part %s: boundary \"%s\" of %s not found: shown as text]",
		    number, b, type);
		leaf_begin(st, number, type, ct, MODE_RAWTEXT);
		return;
	}
	f = &st->fr[st->nframes++];
	memset(f, 0, offsetof(struct frame, boundary));
	f->kind = FR_MULTIPART;
	f->serial = serial;
	f->scope = !strcmp(type, "multipart/alternative");
	f->digest = !strcmp(type, "multipart/digest");
	snprintf(f->type, sizeof f->type, "%s", type);
	snprintf(f->number, sizeof f->number, "%s", number);
	strcpy(f->boundary, b);
	f->blen = strlen(b);
	st->state = ST_PREAMBLE;
}

/* message_begin - open a nested message: its header block comes next. */
static void message_begin(struct mime_state *st, const char *number,
                          const char *type, const char *ct)
{
	char name[MIME_PARAM_MAX + 1] = "", q[2 * MIME_PARAM_MAX + 4];
	int serial = serial_new(st);
	struct frame *f;

	if (st->nframes >= MIME_DEPTH_MAX) {
		leaf_begin(st, number, type, ct, MODE_OPAQUE);
		return;
	}
	if (!st->pass1) {
		if (!header_param(st->bad_cs, st->fld[FLD_CDISP].v, "filename",
		                  name, sizeof name) && ct)
			header_param(st->bad_cs, ct, "name", name, sizeof name);
		if (name[0])
			say(st, "Nested message (part %s, %s; name=\"%s\"):", number,
			    type, out_quote(q, sizeof q, name));
		else
			say(st, "Nested message (part %s, %s):", number, type);
	}
	f = &st->fr[st->nframes++];
	memset(f, 0, offsetof(struct frame, boundary));
	f->kind = FR_MESSAGE;
	f->serial = serial;
	f->scope = 1;
	snprintf(f->type, sizeof f->type, "%s", type);
	snprintf(f->number, sizeof f->number, "%s", number);
	set_indent(st);
	st->state = ST_HEADER;
	st->hdr_is_message = 1;
	st->hdr_digest = 0;
	fields_reset(st);
}

/* headers_done - the header block of an entity is complete: report a
 * message's headers, then open a container or begin a leaf. */
static void headers_done(struct mime_state *st)
{
	char number[NUMBER_MAX], type[MIME_TYPE_MAX], cte[32];
	const char *ct = st->fld[FLD_CTYPE].seen ? st->fld[FLD_CTYPE].v : NULL;

	part_number(st, number, sizeof number);
	st->cur_field = -1;
	if (st->hdr_is_message && !st->pass1)
		message_headers(st);
	if (ct && header_ctype(ct, type, sizeof type) < 0) {
		say(st, "[part %s: bad Content-Type \"%.100s\": taken as %s]",
		    number, header_skip_cfws(ct),
		    st->hdr_digest ? "message/rfc822" : "text/plain");
		ct = NULL;
	}
	if (!ct)
		strcpy(type, st->hdr_digest ? "message/rfc822" : "text/plain");
	if (!strncmp(type, "multipart/", 10)) {
		multipart_begin(st, number, type, ct);
		return;
	}
	header_token(st->fld[FLD_CTE].seen ? st->fld[FLD_CTE].v : "", cte,
	             sizeof cte);
	if ((!strcmp(type, "message/rfc822") || !strcmp(type, "message/global")) &&
	    strcmp(cte, "base64") && strcmp(cte, "quoted-printable")) {
		message_begin(st, number, type, ct);
		return;
	}
	leaf_begin(st, number, type, ct, MODE_NORMAL);
}

/* entity_end - whatever entity is open ends here. */
static void entity_end(struct mime_state *st)
{
	if (st->state == ST_HEADER)
		headers_done(st);
	if (st->state == ST_LEAF)
		leaf_end(st);
}

/* frame_pop - close the innermost container, saying what was wrong. */
static void frame_pop(struct mime_state *st, int closed)
{
	struct frame *f = &st->fr[--st->nframes];

	if (f->kind == FR_MESSAGE) {
		set_indent(st);
		say(st, "End of nested message (part %s)", f->number);
		return;
	}
	if (f->found)
		bit_set(st->found, f->serial);
	if (closed)
		return;
	if (!f->found)
		say(st, "[boundary \"%s\" of %s not found: %llu octets not shown]",
		    f->boundary, f->type, f->skipped);
	else
		say(st, "[closing boundary \"%s\" of %s missing]", f->boundary,
		    f->type);
}

/* boundary_match - if the line is a delimiter of an open multipart, end
 * what is open inside it and begin its next part (or its epilogue). */
static int boundary_match(struct mime_state *st, const char *p, size_t n)
{
	int k;

	if (n < 2 || p[0] != '-' || p[1] != '-')
		return 0;
	for (k = st->nframes - 1; k >= 1; k--) {
		struct frame *f = &st->fr[k];
		size_t i;
		int close = 0;

		if (f->kind != FR_MULTIPART || n < 2 + f->blen ||
		    memcmp(p + 2, f->boundary, f->blen))
			continue;
		i = 2 + f->blen;
		if (n - i >= 2 && p[i] == '-' && p[i + 1] == '-') {
			close = 1;
			i += 2;
		}
		while (i < n && is_wsp((unsigned char)p[i]))
			i++;
		if (i != n)
			continue;

		entity_end(st);
		while (st->nframes - 1 > k)
			frame_pop(st, 0);
		f->found = 1;
		if (close) {
			frame_pop(st, 1);
			st->state = ST_EPILOGUE;
		} else {
			f->parts++;
			st->state = ST_HEADER;
			st->hdr_is_message = 0;
			st->hdr_digest = f->digest;
			fields_reset(st);
		}
		return 1;
	}
	return 0;
}

/* header_piece - a piece of a header line: a field, its continuation,
 * the empty line that ends the block, or body text met too early. */
static void header_piece(struct mime_state *st, const char *p, size_t n,
                         int bol, int eol)
{
	size_t i = 0;
	int id;

	if (!bol) {
		if (st->cur_field >= 0)
			field_append(st, st->cur_field, p, n);
		return;
	}
	if (n == 0) {
		headers_done(st);
		return;
	}
	if (is_wsp((unsigned char)p[0])) {
		if (st->cur_field >= 0)
			field_append(st, st->cur_field, p, n);
		return;
	}
	while (i < n && p[i] != ':' && p[i] > 32 && p[i] < 127)
		i++;
	if (i == 0 || i == n || p[i] != ':') {
		say(st, "[header section not ended by an empty line: the rest is "
		    "taken as body]");
		headers_done(st);
		state_piece(st, p, n, 1, eol);   /* not a delimiter: known */
		return;
	}
	st->cur_field = -1;
	for (id = 0; id < FLD_COUNT; id++)
		if (strlen(field_names[id]) == i &&
		    !strncasecmp(p, field_names[id], i))
			break;
	if (id == FLD_COUNT)
		return;
	if (st->fld[id].seen) {
		if (id != FLD_TO && id != FLD_CC)
			return;                 /* the first one counts */
		field_append(st, id, ",", 1);
	}
	st->fld[id].seen = 1;
	st->cur_field = id;
	field_append(st, id, p + i + 1, n - i - 1);
}

/* state_piece - one piece of an input line, in the current state. BOL:
 * it begins a line; EOL: it ends one. */
static void state_piece(struct mime_state *st, const char *p, size_t n,
                        int bol, int eol)
{
	switch (st->state) {
	case ST_HEADER:
		header_piece(st, p, n, bol, eol);
		break;
	case ST_PREAMBLE:
		st->fr[st->nframes - 1].skipped += n + (eol ? 1 : 0);
		break;
	case ST_EPILOGUE:
		break;
	case ST_LEAF:
		leaf_piece(st, p, n, eol);
		break;
	}
}

/* on_piece - a whole line is first looked at as a delimiter. */
static void on_piece(struct mime_state *st, const char *p, size_t n,
                     int bol, int eol)
{
	if (bol && eol && boundary_match(st, p, n))
		return;
	state_piece(st, p, n, bol, eol);
}

/* ---- reading ---- */

/* read_piece - the next piece of a line: at most MIME_LINE_MAX octets,
 * without the LF and a CR before it. *EOL tells whether the line ends
 * there (a last line without LF ends at EOF). 1, 0 at EOF, -1 error. */
static int read_piece(struct mime_state *st, const char **p, size_t *n,
                      int *eol)
{
	for (;;) {
		size_t avail = st->len - st->pos;
		size_t look = avail < MIME_LINE_MAX + 2 ? avail : MIME_LINE_MAX + 2;
		unsigned char *b = st->buf + st->pos;
		unsigned char *nl = memchr(b, '\n', look);
		ssize_t r;

		if (nl) {
			size_t k = (size_t)(nl - b), m = k;
			if (m > 0 && b[m - 1] == '\r')
				m--;
			if (m <= MIME_LINE_MAX) {
				*p = (const char *)b;
				*n = m;
				*eol = 1;
				st->pos += k + 1;
				return 1;
			}
		}
		if (avail > MIME_LINE_MAX &&
		    (nl || avail >= MIME_LINE_MAX + 2 || st->eof)) {
			*p = (const char *)b;
			*n = MIME_LINE_MAX;
			*eol = 0;
			st->pos += MIME_LINE_MAX;
			return 1;
		}
		if (st->eof) {
			if (avail == 0)
				return 0;
			*p = (const char *)b;
			*n = avail;
			*eol = 1;
			st->pos = st->len;
			return 1;
		}
		memmove(st->buf, b, avail);
		st->pos = 0;
		st->len = avail;
		r = read(st->fd, st->buf + st->len, sizeof st->buf - st->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			st->eof = 1;
		st->len += (size_t)r;
	}
}

/* walk - one pass over the message. */
static int walk(struct mime_state *st)
{
	const char *p;
	size_t n;
	int eol, bol = 1, r;

	st->pos = st->len = 0;
	st->eof = 0;
	st->nframes = 1;
	memset(&st->fr[0], 0, offsetof(struct frame, boundary));
	st->fr[0].kind = FR_MESSAGE;
	st->fr[0].scope = 1;
	st->serial_next = 1;
	st->state = ST_HEADER;
	st->hdr_is_message = 1;
	st->hdr_digest = 0;
	st->pending_nl = 0;
	st->leaves = 0;
	st->parts_note = 0;
	st->text_total = 0;
	charset_conv_init(&st->lf.conv);
	set_indent(st);
	fields_reset(st);

	while ((r = read_piece(st, &p, &n, &eol)) > 0) {
		on_piece(st, p, n, bol, eol);
		bol = eol;
	}
	entity_end(st);
	while (st->nframes > 1)
		frame_pop(st, 0);
	charset_conv_close(&st->lf.conv);
	if (r < 0)
		say(st, "[read error: the message is not shown whole]");
	return r;
}

/* mime_report - report the message in FD through EMIT (see mime.h). */
int mime_report(int fd, void (*emit)(void *ctx, const char *line), void *ctx)
{
	struct mime_state *st = calloc(1, sizeof *st);
	int r;

	if (!st)
		return -1;
	st->out.emit = emit;
	st->out.ctx = ctx;
	st->fd = fd;
	if (lseek(fd, 0, SEEK_SET) == 0) {
		st->out.quiet = st->pass1 = 1;
		if (walk(st) < 0 || lseek(fd, 0, SEEK_SET) != 0) {
			free(st);
			return -1;
		}
		st->out.quiet = st->pass1 = 0;
		st->two_pass = 1;
	}
	r = walk(st);
	free(st);
	return r < 0 ? -1 : 0;
}
