/*
 * html-text.c - the debug sink's HTML to plain text, streaming.
 *
 * A text/html part shown for want of a text/plain one arrives as UTF-8,
 * an octet at a time, and leaves as text through a mime_put_fn. The
 * state machine knows just enough HTML to show what a reader would
 * read: tags and comments are dropped, the content of <script>, <style>
 * and <title> too; white space collapses to one space; block elements
 * (p, div, br, li, ...) break lines; character references (&amp;,
 * &#233;, &#x20ac;) become their characters, and an unknown one stays
 * as written. Its state is fixed in size: a long tag name or reference
 * is cut, never stored.
 */
#include <string.h>

#include "mime-int.h"

/* utf8_put - encode CP (U+FFFD when it is no character) into OUT. */
static size_t utf8_put(unsigned long cp, unsigned char *out)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		memcpy(out, UTF8_REPLACEMENT, 3);
		return 3;
	}
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* html_text_begin - ready H for a new part, its text to PUT. */
void html_text_begin(struct html_text *h, mime_put_fn *put, void *ctx)
{
	memset(h, 0, sizeof *h);
	h->put = put;
	h->ctx = ctx;
}

/* text_put - one octet of text on to the next stage. */
static void text_put(struct html_text *h, unsigned char c)
{
	h->put(h->ctx, &c, 1);
}

/* html_char - one octet of HTML text, white space collapsed. */
static void html_char(struct html_text *h, unsigned char c)
{
	if (h->skip[0])
		return;
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
		h->space = 1;
		return;
	}
	if (h->nl) {
		if (h->started) {
			text_put(h, '\n');
			if (h->nl == 2)
				text_put(h, '\n');
		}
	} else if (h->space && h->started)
		text_put(h, ' ');
	h->nl = 0;
	h->space = 0;
	h->started = 1;
	text_put(h, c);
}

/* html_break - a line break (1) or a blank line (2) before the next text. */
static void html_break(struct html_text *h, int kind)
{
	if (h->nl < kind)
		h->nl = kind;
}

/* html_tag_end - act on a complete tag: line breaks, hidden content. */
static void html_tag_end(struct html_text *h)
{
	static const char *const para[] = { "p", "h1", "h2", "h3", "h4", "h5",
		"h6", "table", "blockquote", "ul", "ol", "hr", "pre", NULL };
	static const char *const line[] = { "div", "tr", "li", "dt", "dd",
		"section", "article", "header", "footer", "center", "address",
		"form", "caption", NULL };
	int i;

	h->tag[h->taglen] = '\0';
	if (h->skip[0]) {
		if (h->closing && !strcmp(h->tag, h->skip))
			h->skip[0] = '\0';
		return;
	}
	if (!h->closing && (!strcmp(h->tag, "script") ||
	    !strcmp(h->tag, "style") || !strcmp(h->tag, "title"))) {
		strcpy(h->skip, h->tag);
		return;
	}
	if (!strcmp(h->tag, "br")) {
		h->nl = h->nl ? 2 : 1;
		return;
	}
	if (!strcmp(h->tag, "td") || !strcmp(h->tag, "th")) {
		h->space = 1;
		return;
	}
	for (i = 0; para[i]; i++)
		if (!strcmp(h->tag, para[i]))
			html_break(h, 2);
	for (i = 0; line[i]; i++)
		if (!strcmp(h->tag, line[i]))
			html_break(h, 1);
}

/* html_entity_end - a character reference, or its text when unknown. */
static void html_entity_end(struct html_text *h, int terminated)
{
	static const struct { const char *name; unsigned long cp; } names[] = {
		{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
		{ "apos", '\'' }, { "nbsp", ' ' }, { "copy", 0xA9 },
		{ "reg", 0xAE }, { "hellip", 0x2026 }, { "mdash", 0x2014 },
		{ "ndash", 0x2013 }, { "laquo", 0xAB }, { "raquo", 0xBB },
		{ "euro", 0x20AC }, { "ldquo", 0x201C }, { "rdquo", 0x201D },
		{ "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "middot", 0xB7 },
		{ "bull", 0x2022 }, { "trade", 0x2122 }, { "deg", 0xB0 },
		{ "times", 0xD7 }, { NULL, 0 }
	};
	unsigned long cp = 0;
	int known = 0;
	size_t i;

	h->ent[h->entlen] = '\0';
	if (terminated && h->ent[0] == '#') {
		const char *d = h->ent + 1;
		int base = 10;
		if (*d == 'x' || *d == 'X')
			base = 16, d++;
		if (*d) {
			known = 1;
			for (; *d; d++) {
				int v = base == 16 ? hexval(*d) :
				        *d >= '0' && *d <= '9' ? *d - '0' : -1;
				if (v < 0) {
					known = 0;
					break;
				}
				if (cp <= 0x10FFFF)
					cp = cp * (unsigned long)base + (unsigned long)v;
			}
		}
	} else if (terminated) {
		for (i = 0; names[i].name; i++)
			if (!strcmp(h->ent, names[i].name)) {
				cp = names[i].cp;
				known = 1;
			}
	}
	if (!known) {
		html_char(h, '&');
		for (i = 0; i < h->entlen; i++)
			html_char(h, (unsigned char)h->ent[i]);
		if (terminated)
			html_char(h, ';');
	} else if (cp == ' ') {
		h->space = 1;
	} else {
		unsigned char u[4];
		size_t n = utf8_put(cp, u);
		for (i = 0; i < n; i++)
			html_char(h, u[i]);
	}
}

/* html_text_feed - one octet of UTF-8 HTML: tags dropped, text kept. */
void html_text_feed(struct html_text *h, unsigned char c)
{
	switch (h->state) {
	case H_TEXT:
		if (c == '<')
			h->state = H_LT;
		else if (c == '&' && !h->skip[0]) {
			h->state = H_ENT;
			h->entlen = 0;
		} else
			html_char(h, c);
		break;
	case H_LT:
		h->taglen = 0;
		h->tagdone = 0;
		h->closing = 0;
		if (c == '/') {
			h->closing = 1;
			h->state = H_TAG;
		} else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
			h->tag[h->taglen++] = (char)lower(c);
			h->state = H_TAG;
		} else if (c == '!') {
			h->declen = 0;
			h->state = H_DECL;
		} else if (c == '?') {
			h->declen = 2;
			h->state = H_DECL;
		} else {
			h->state = H_TEXT;
			html_char(h, '<');
			html_text_feed(h, c);
		}
		break;
	case H_TAG:
		if (c == '>') {
			html_tag_end(h);
			h->state = H_TEXT;
		} else if ((c == '"' || c == '\'') && h->tagdone) {
			h->quote = (char)c;
			h->state = H_TAGQ;
		} else if (!h->tagdone && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'
		           ? 1 : c >= '0' && c <= '9')) {
			if (h->taglen < sizeof h->tag - 1)
				h->tag[h->taglen++] = (char)lower(c);
		} else
			h->tagdone = 1;
		break;
	case H_TAGQ:
		if (c == (unsigned char)h->quote)
			h->state = H_TAG;
		break;
	case H_DECL:
		if (h->declen < 2 && c == '-') {
			if (++h->declen == 2) {
				h->dashes = 0;
				h->state = H_COMMENT;
			}
			break;
		}
		h->declen = 2;
		if (c == '>')
			h->state = H_TEXT;
		break;
	case H_COMMENT:
		if (c == '-')
			h->dashes++;
		else if (c == '>' && h->dashes >= 2)
			h->state = H_TEXT;
		else
			h->dashes = 0;
		break;
	case H_ENT:
		if (c == ';') {
			h->state = H_TEXT;
			html_entity_end(h, 1);
		} else if ((((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		            (c >= '0' && c <= '9') || (c == '#' && h->entlen == 0)) &&
		           h->entlen < sizeof h->ent - 1) {
			h->ent[h->entlen++] = (char)c;
		} else {
			h->state = H_TEXT;
			html_entity_end(h, 0);
			html_text_feed(h, c);
		}
		break;
	}
}

/* html_text_end - the part ends: a reference or a '<' left open is text. */
void html_text_end(struct html_text *h)
{
	if (h->state == H_ENT)
		html_entity_end(h, 0);
	else if (h->state == H_LT)
		html_char(h, '<');
	h->state = H_TEXT;
}
