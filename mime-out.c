/*
 * mime-out.c - the debug sink's report lines, made safe to log.
 *
 * Every line the reader reports passes through out_text(), so that the
 * promises of mime.h are kept in this one place whatever the message
 * holds: octets that are not UTF-8 become U+FFFD, a tab a space, a
 * control character or a character that reorders or breaks a line '?',
 * and a line longer than MIME_OUT_LINE_MAX octets goes on in lines led
 * by "+ ". A part's text arrives an octet at a time (out_line_put) and
 * is gathered into lines led by "| ", cut at a character boundary.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mime-int.h"

/* utf8_len - length of the valid UTF-8 character at S, 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned lo = 0x80, hi = 0xBF;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		need = 1;
	else if (s[0] == 0xE0)
		need = 2, lo = 0xA0;
	else if (s[0] == 0xED)
		need = 2, hi = 0x9F;
	else if (s[0] >= 0xE1 && s[0] <= 0xEF)
		need = 2;
	else if (s[0] == 0xF0)
		need = 3, lo = 0x90;
	else if (s[0] == 0xF4)
		need = 3, hi = 0x8F;
	else if (s[0] >= 0xF1 && s[0] <= 0xF3)
		need = 3;
	else
		return 0;
	if (n < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i <= need; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return need + 1;
}

/* cp_unsafe - characters that would disturb a log or a terminal: C1
 * controls, line and paragraph separators, bidirectional marks and
 * overrides. */
static int cp_unsafe(const unsigned char *s, size_t n)
{
	unsigned long cp;

	if (n == 2)
		cp = (unsigned long)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
	else if (n == 3)
		cp = (unsigned long)(s[0] & 0x0F) << 12 |
		     (unsigned long)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
	else
		return 0;
	return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C ||
	       cp == 0x200E || cp == 0x200F || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

/* out_indent - N spaces before every line from now on (nested messages). */
void out_indent(struct mime_out *o, size_t n)
{
	if (n > MIME_INDENT_MAX)
		n = MIME_INDENT_MAX;
	memset(o->indent, ' ', n);
	o->indent[n] = '\0';
	o->indent_len = n;
}

/* out_start - begin an output line with the indent and LEAD. */
static size_t out_start(struct mime_out *o, const char *lead)
{
	size_t i = o->indent_len, l = strlen(lead);

	memcpy(o->out, o->indent, i);
	memcpy(o->out + i, lead, l);
	return i + l;
}

/* out_text - report LEAD and TEXT made safe, split into lines of at most
 * MIME_OUT_LINE_MAX octets, the later ones led by CONTLEAD. */
void out_text(struct mime_out *o, const char *lead, const char *contlead,
              const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t pos, i = 0;

	if (o->quiet)
		return;
	pos = out_start(o, lead);
	while (i < len) {
		unsigned char rep[4];
		size_t rn, n = utf8_len(s + i, len - i);

		if (n == 0) {
			memcpy(rep, UTF8_REPLACEMENT, 3);
			rn = 3;
			n = 1;
		} else if (n == 1) {
			rep[0] = s[i] == '\t' ? ' ' :
			         s[i] < 0x20 || s[i] == 0x7F ? '?' : s[i];
			rn = 1;
		} else if (cp_unsafe(s + i, n)) {
			rep[0] = '?';
			rn = 1;
		} else {
			memcpy(rep, s + i, n);
			rn = n;
		}
		if (pos + rn > MIME_OUT_LINE_MAX) {
			o->out[pos] = '\0';
			o->emit(o->ctx, o->out);
			pos = out_start(o, contlead);
		}
		memcpy(o->out + pos, rep, rn);
		pos += rn;
		i += n;
	}
	o->out[pos] = '\0';
	o->emit(o->ctx, o->out);
}

/* out_say - report one formatted line. */
void out_say(struct mime_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->quiet)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->fmt, sizeof o->fmt, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof o->fmt)
		n = (int)sizeof o->fmt - 1;
	out_text(o, "", "+ ", o->fmt, (size_t)n);
}

/* out_quote - S with '"' and '\' escaped, for name="..." (truncated). */
const char *out_quote(char *out, size_t outsz, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < outsz; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
	return out;
}

/* line_emit - report the text line gathered so far. */
static void line_emit(struct mime_out *o)
{
	if (o->linelen == 0 && !o->cont)
		out_text(o, "|", "+ ", "", 0);
	else
		out_text(o, o->cont ? "+ " : "| ", "+ ",
		         (const char *)o->line, o->linelen);
	o->linelen = 0;
	o->cont = 0;
}

/* out_line_put - one octet of UTF-8 text; a line too long for one report
 * line is cut at a character boundary and continued. */
void out_line_put(struct mime_out *o, unsigned char c)
{
	size_t cap = MIME_OUT_LINE_MAX - o->indent_len - 2;   /* "| " */

	if (c == '\n') {
		if (o->linelen > 0 && o->line[o->linelen - 1] == '\r')
			o->linelen--;
		line_emit(o);
		return;
	}
	if (o->linelen >= cap) {
		size_t cut = o->linelen, j = o->linelen;

		if ((c & 0xC0) == 0x80) {       /* inside a character */
			while (j > 0 && o->linelen - j < 3 &&
			       (o->line[j - 1] & 0xC0) == 0x80)
				j--;
			if (j > 0 && o->line[j - 1] >= 0xC0)
				cut = j - 1;
		}
		out_text(o, o->cont ? "+ " : "| ", "+ ",
		         (const char *)o->line, cut);
		memmove(o->line, o->line + cut, o->linelen - cut);
		o->linelen -= cut;
		o->cont = 1;
	}
	o->line[o->linelen++] = c;
}

/* out_line_end - the text ends: report a line left without its end. */
void out_line_end(struct mime_out *o)
{
	if (o->linelen > 0)
		line_emit(o);
	o->linelen = 0;
	o->cont = 0;
}
