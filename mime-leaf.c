/*
 * mime-leaf.c - the debug sink's reading of one leaf part.
 *
 * The walk (mime.c) finds a part that is no container and hands it
 * here: leaf_begin() decides what the part is (text shown, text/html
 * shown for want of text/plain or skipped in favour of it, attachment,
 * or a part nested too deep to walk) and says so; leaf_piece() takes
 * its body, a piece of a line at a time; leaf_end() finishes it with its
 * summary line and notes on what was wrong. The body runs through the
 * stages: transfer decoding (mime-transfer.c), counted as the part's
 * size, then for text, charset conversion (mime-charset.c), HTML to text
 * for text/html (html-text.c), and the report's lines (mime-out.c),
 * within MIME_TEXT_MAX octets of text per message.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mime-int.h"

/* text_octet - one octet of the leaf's text to the report, within the
 * MIME_TEXT_MAX octets shown per message. */
static void text_octet(struct mime_state *st, unsigned char c)
{
	struct leaf *l = &st->lf;

	if (l->cut)
		return;
	if (st->text_total >= MIME_TEXT_MAX) {
		l->cut = 1;
		return;
	}
	st->text_total++;
	l->shown++;
	out_line_put(&st->out, c);
}

/* html_put - text made from the leaf's HTML (mime_put_fn). */
static void html_put(void *ctx, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		text_octet(ctx, p[i]);
}

/* text_put - UTF-8 text of the leaf, HTML or not (mime_put_fn). */
static void text_put(void *ctx, const unsigned char *p, size_t n)
{
	struct mime_state *st = ctx;
	size_t i;

	for (i = 0; i < n; i++) {
		if (st->lf.cut)
			return;
		if (st->lf.kind == LEAF_HTML)
			html_text_feed(&st->lf.h, p[i]);
		else
			text_octet(st, p[i]);
	}
}

/* decoded - octets after the transfer encoding: counted, and shown
 * (mime_put_fn). */
static void decoded(void *ctx, const unsigned char *p, size_t n)
{
	struct mime_state *st = ctx;

	st->lf.size += n;
	if (st->lf.show)
		charset_conv_feed(&st->lf.conv, p, n, text_put, st);
}

/* leaf_piece - a piece of a body line. The line end before a delimiter
 * belongs to the delimiter (RFC 2046 5.1.1), so each line end is held
 * back until the next line shows it is still body. */
void leaf_piece(struct mime_state *st, const char *p, size_t n, int eol)
{
	if (st->pass1)
		return;
	if (st->pending_nl) {
		transfer_feed(&st->lf.tr, "\n", 1);
		st->pending_nl = 0;
	}
	transfer_feed(&st->lf.tr, p, n);
	if (eol)
		st->pending_nl = 1;
}

/* leaf_begin - a body part that is not a container: text or attachment. */
void leaf_begin(struct mime_state *st, const char *number,
                const char *type, const char *ct, enum leaf_mode mode)
{
	struct leaf *l = &st->lf;
	const char *cd = st->fld[FLD_CDISP].seen ? st->fld[FLD_CDISP].v : "";
	char disp[32], cte[64], q[2 * MIME_PARAM_MAX + 4];
	const char *cs;
	enum cte enc;
	int attach, unknown;

	/* The stages' buffers need no clearing: they begin empty. */
	memset(l, 0, offsetof(struct leaf, tr));
	transfer_begin(&l->tr, CTE_IDENTITY, decoded, st);
	charset_conv_init(&l->conv);
	html_text_begin(&l->h, html_put, st);
	st->state = ST_LEAF;
	st->pending_nl = 0;
	snprintf(l->number, sizeof l->number, "%s", number);
	snprintf(l->type, sizeof l->type, "%s", type);
	l->listed = st->leaves < MIME_PARTS_MAX;
	st->leaves++;

	header_token(cd, disp, sizeof disp);
	attach = !strcmp(disp, "attachment");
	if (mode == MODE_OPAQUE)
		l->kind = LEAF_OPAQUE;
	else if (mode == MODE_RAWTEXT)
		l->kind = LEAF_TEXT;
	else if (!strcmp(type, "text/plain") && !attach)
		l->kind = LEAF_TEXT;
	else if (!strcmp(type, "text/html") && !attach)
		l->kind = LEAF_HTML;
	else
		l->kind = LEAF_ATTACH;
	if (l->kind == LEAF_TEXT && mode == MODE_NORMAL)
		scope_mark_plain(st);
	if (l->kind == LEAF_HTML && scope_has_plain(st))
		l->kind = LEAF_HIDDEN;
	if (st->pass1)
		return;

	if (!l->listed) {
		if (!st->parts_note)
			say(st, "[more than %d parts: the rest are not listed]",
			    MIME_PARTS_MAX);
		st->parts_note = 1;
	}
	if (ct && mode == MODE_NORMAL) {
		char raw[MIME_CHARSET_MAX];
		if (header_param_raw(ct, "charset", raw, sizeof raw) > 0)
			copy_lower(l->charset, sizeof l->charset, raw);
	}
	st->bad_cs[0] = '\0';
	if (!header_param(st->bad_cs, cd, "filename", l->name, sizeof l->name) &&
	    ct)
		header_param(st->bad_cs, ct, "name", l->name, sizeof l->name);

	header_token(st->fld[FLD_CTE].seen ? st->fld[FLD_CTE].v : "", cte,
	             sizeof cte);
	if (!strcmp(cte, "quoted-printable"))
		enc = CTE_QP;
	else if (!strcmp(cte, "base64"))
		enc = CTE_BASE64;
	else
		enc = CTE_IDENTITY;
	transfer_begin(&l->tr, enc, decoded, st);
	if (!l->listed)
		return;
	if (cte[0] && enc == CTE_IDENTITY && strcmp(cte, "7bit") &&
	    strcmp(cte, "8bit") && strcmp(cte, "binary"))
		say(st, "[part %s: unknown Content-Transfer-Encoding \"%s\": "
		    "taken as 8bit]", number, cte);
	if (st->bad_cs[0])
		say(st, "[part %s: unknown charset \"%s\" in the file name: "
		    "shown as received]", number, st->bad_cs);

	l->show = l->kind == LEAF_TEXT || l->kind == LEAF_HTML;
	if (!l->show)
		return;
	if (mode == MODE_RAWTEXT) {
		say(st, "Text (part %s, %s shown as received):", number, type);
		charset_conv_open(&l->conv, "utf-8", &unknown);  /* known */
		return;
	}
	cs = l->charset[0] ? l->charset : "us-ascii";
	say(st, "Text (part %s, %s; charset=%s%s%s%s%s):", number, type, cs,
	    l->name[0] ? "; name=\"" : "",
	    l->name[0] ? out_quote(q, sizeof q, l->name) : "",
	    l->name[0] ? "\"" : "",
	    l->kind == LEAF_HTML ? "; tags stripped" : "");
	charset_conv_open(&l->conv, cs, &unknown);
	if (unknown)
		say(st, "[part %s: unknown charset \"%s\": shown as received]",
		    number, cs);
}

/* leaf_end - the leaf's last octets, its summary line and its notes. */
void leaf_end(struct mime_state *st)
{
	struct leaf *l = &st->lf;
	char q[2 * MIME_PARAM_MAX + 4];

	st->state = ST_EPILOGUE;
	st->pending_nl = 0;
	if (st->pass1)
		return;
	transfer_end(&l->tr);
	if (l->show) {
		charset_conv_end(&l->conv, text_put, st);
		if (l->kind == LEAF_HTML)
			html_text_end(&l->h);
		out_line_end(&st->out);
	}
	if (!l->listed)
		return;
	switch (l->kind) {
	case LEAF_TEXT:
	case LEAF_HTML:
		if (l->cut)
			say(st, "[text of part %s cut short after %llu octets: at most "
			    "%d octets of text are shown per message]", l->number,
			    l->shown, MIME_TEXT_MAX);
		break;
	case LEAF_HIDDEN:
		say(st, "Skipped (part %s): type=%s size=%llu (text/plain shown "
		    "instead)", l->number, l->type, l->size);
		break;
	case LEAF_ATTACH:
		if (l->name[0])
			say(st, "Attachment (part %s): name=\"%s\" type=%s size=%llu",
			    l->number, out_quote(q, sizeof q, l->name), l->type, l->size);
		else
			say(st, "Attachment (part %s): type=%s size=%llu",
			    l->number, l->type, l->size);
		break;
	case LEAF_OPAQUE:
		say(st, "Not walked (part %s): type=%s size=%llu (nested deeper "
		    "than %d levels)", l->number, l->type, l->size,
		    MIME_DEPTH_MAX);
		break;
	}
	if (l->tr.b64.bad)
		say(st, "[bad base64 in part %s: %llu octets ignored]",
		    l->number, l->tr.b64.bad);
	if (l->tr.qp_bad)
		say(st, "[bad quoted-printable in part %s: %llu sequences kept as "
		    "received]", l->number, l->tr.qp_bad);
	if (l->conv.bad)
		say(st, "[part %s: %llu octets not valid in charset %s: shown as "
		    "U+FFFD]", l->number, l->conv.bad,
		    l->charset[0] ? l->charset : "us-ascii");
}
