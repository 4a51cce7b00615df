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
 *	UTF-8 U+FFFD: every line is UTF-8 and safe to log.
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
 *	Charsets are converted with iconv(3); a charset iconv does not know
 *	is shown as received (UTF-8 where it is valid).
 *
 * DIAGNOSTICS
 *	Returns 0, or -1 when FD could not be read or memory was short.
 */
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bounds.h"
#include "mime.h"

#define NUMBER_MAX   (MIME_DEPTH_MAX * 11 + 4) /* "1.2.3" part numbers */
#define TYPE_MAX     128     /* octets of "type/subtype" */
#define CHARSET_MAX  48      /* octets of a charset name */
#define CONV_CHUNK   4096    /* octets handed to iconv at once */
#define CONV_CARRY   16      /* octets of an incomplete character kept */
#define DECODE_BUF   4096    /* decoded octets gathered before use */
#define QP_WS_MAX    64      /* trailing white space held back by the QP
                                decoder before it is taken as text */
#define INDENT_MAX   (2 * MIME_DEPTH_MAX)
#define FMT_MAX      (4 * MIME_HEADER_MAX)

static const char REPLACEMENT[] = "\xEF\xBF\xBD";      /* U+FFFD */

enum field_id {
	FLD_FROM, FLD_TO, FLD_CC, FLD_DATE, FLD_SUBJECT,
	FLD_CTYPE, FLD_CTE, FLD_CDISP, FLD_COUNT
};

static const char *const field_names[FLD_COUNT] = {
	"From", "To", "Cc", "Date", "Subject",
	"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"
};

struct field {
	char v[MIME_HEADER_MAX + 1];
	size_t len;
	int seen;
	int cut;                /* longer than MIME_HEADER_MAX */
};

enum frame_kind { FR_MESSAGE, FR_MULTIPART };

/* One open container: the message itself, a nested message, a multipart. */
struct frame {
	enum frame_kind kind;
	int serial;             /* order of creation; -1 past MIME_SERIALS_MAX */
	int scope;              /* a place where text/plain beats text/html */
	int digest;             /* multipart/digest: parts default to messages */
	int parts;              /* body parts begun so far */
	int found;              /* a delimiter line was seen */
	unsigned long long skipped;     /* octets of preamble */
	char type[TYPE_MAX];
	char number[NUMBER_MAX];
	char boundary[MIME_BOUNDARY_MAX + 1];
	size_t blen;
};

enum state { ST_HEADER, ST_PREAMBLE, ST_EPILOGUE, ST_LEAF };
enum cte { CTE_IDENTITY, CTE_QP, CTE_BASE64 };
enum leaf_kind { LEAF_TEXT, LEAF_HTML, LEAF_HIDDEN, LEAF_ATTACH, LEAF_OPAQUE };
enum leaf_mode { MODE_NORMAL, MODE_RAWTEXT, MODE_OPAQUE };
enum qp_state { Q_NORMAL, Q_EQ, Q_EQ1, Q_EQWS };
enum html_state { H_TEXT, H_LT, H_TAG, H_TAGQ, H_DECL, H_COMMENT, H_ENT };

struct html {
	enum html_state state;
	char tag[16];
	size_t taglen;
	int closing, tagdone, declen, dashes;
	char quote;
	char ent[12];
	size_t entlen;
	char skip[8];           /* inside <script>, <style>, <title> */
	int space;              /* white space seen since the last text */
	int nl;                 /* 1: line break wanted, 2: blank line */
	int started;            /* some text was shown */
};

/* The leaf part being read. */
struct leaf {
	enum leaf_kind kind;
	enum cte cte;
	int listed;             /* within MIME_PARTS_MAX */
	int show;               /* its text is shown */
	char number[NUMBER_MAX];
	char type[TYPE_MAX];
	char charset[CHARSET_MAX];
	char name[MIME_PARAM_MAX + 1];
	unsigned long long size;        /* decoded octets */
	unsigned long long shown;       /* octets of text shown */
	int cut;                        /* MIME_TEXT_MAX reached */

	unsigned char dbuf[DECODE_BUF]; /* decoded, not yet used */
	size_t dlen;
	unsigned char q[4];             /* base64 quantum */
	int qn;
	unsigned long long b64_bad;
	enum qp_state qstate;
	unsigned char qh;
	unsigned char ws[QP_WS_MAX];
	size_t nws;
	unsigned long long qp_bad;

	iconv_t cd;
	int cd_open;
	unsigned char work[CONV_CHUNK]; /* carried octets, then new ones */
	size_t ncarry;
	unsigned long long conv_bad;

	struct html h;
	unsigned char line[MIME_OUT_LINE_MAX];
	size_t linelen;
	int cont;               /* the line is a continuation */
};

struct mime_state {
	void (*emit)(void *ctx, const char *line);
	void *ctx;
	int quiet;              /* first pass: learn, say nothing */
	int pass1;
	int two_pass;           /* the first pass's bits are known */

	int fd;
	unsigned char buf[IO_BUF_SIZE];
	size_t pos, len;
	int eof;

	enum state state;
	struct frame fr[MIME_DEPTH_MAX];
	int nframes;
	int serial_next;
	unsigned char has_plain[MIME_SERIALS_MAX / 8];
	unsigned char found[MIME_SERIALS_MAX / 8];

	struct field fld[FLD_COUNT];
	int cur_field;          /* field being continued, -1 none */
	int hdr_is_message;     /* the header block is a message's */
	int hdr_digest;         /* missing Content-Type means message/rfc822 */

	struct leaf lf;
	int pending_nl;         /* a line end not yet given to the decoder */
	unsigned long leaves;
	int parts_note;
	unsigned long long text_total;

	char indent[INDENT_MAX + 1];
	size_t indent_len;
	char out[MIME_OUT_LINE_MAX + 1];
	char fmt[FMT_MAX];
	char hbuf[3 * MIME_HEADER_MAX + 16];    /* a decoded header */
	unsigned char raw[MIME_HEADER_MAX + 1]; /* RFC 2047 octets pending */
	char bad_cs[CHARSET_MAX];       /* unknown charset met in a header */
};

/* A bounded string being built; cut records a truncation. */
struct sbuf {
	char *p;
	size_t len, size;
	int cut;
};

static void state_piece(struct mime_state *st, const char *p, size_t n,
                        int bol, int eol);

/* ---- small helpers ---- */

/* sb_put - append N octets, keeping room for the NUL. */
static void sb_put(struct sbuf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->size) {
		n = b->size - 1 - b->len;
		b->cut = 1;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static int is_wsp(int c) { return c == ' ' || c == '\t'; }

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* copy_lower - NUL-terminated, lower-cased, truncated copy. */
static void copy_lower(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < dstsz && src[i]; i++)
		dst[i] = (char)lower((unsigned char)src[i]);
	dst[i] = '\0';
}

static int bit_get(const unsigned char *bits, int i)
{
	return i >= 0 && i < MIME_SERIALS_MAX && (bits[i / 8] >> (i % 8) & 1);
}

static void bit_set(unsigned char *bits, int i)
{
	if (i >= 0 && i < MIME_SERIALS_MAX)
		bits[i / 8] |= (unsigned char)(1 << (i % 8));
}

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
 * controls, line and paragraph separators, bidirectional overrides. */
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

/* utf8_put - encode CP (U+FFFD when it is no character) into OUT. */
static size_t utf8_put(unsigned long cp, unsigned char *out)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		memcpy(out, REPLACEMENT, 3);
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

/* ---- output ---- */

/* out_start - begin an output line with the indent and LEAD. */
static size_t out_start(struct mime_state *st, const char *lead)
{
	size_t i = st->indent_len, l = strlen(lead);

	memcpy(st->out, st->indent, i);
	memcpy(st->out + i, lead, l);
	return i + l;
}

/* emit_text - report LEAD and TEXT made safe, split into lines of at
 * most MIME_OUT_LINE_MAX octets, the later ones led by CONTLEAD. */
static void emit_text(struct mime_state *st, const char *lead,
                      const char *contlead, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t pos, i = 0;

	if (st->quiet)
		return;
	pos = out_start(st, lead);
	while (i < len) {
		unsigned char rep[4];
		size_t rn, n = utf8_len(s + i, len - i);

		if (n == 0) {
			memcpy(rep, REPLACEMENT, 3);
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
			st->out[pos] = '\0';
			st->emit(st->ctx, st->out);
			pos = out_start(st, contlead);
		}
		memcpy(st->out + pos, rep, rn);
		pos += rn;
		i += n;
	}
	st->out[pos] = '\0';
	st->emit(st->ctx, st->out);
}

/* say - report one formatted line. */
static void say(struct mime_state *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct mime_state *st, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (st->quiet)
		return;
	va_start(ap, fmt);
	n = vsnprintf(st->fmt, sizeof st->fmt, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof st->fmt)
		n = (int)sizeof st->fmt - 1;
	emit_text(st, "", "+ ", st->fmt, (size_t)n);
}

/* quote - S with '"' and '\' escaped, for name="..." (truncated). */
static const char *quote(char *out, size_t outsz, const char *s)
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

/* set_indent - two spaces per nested message. */
static void set_indent(struct mime_state *st)
{
	int k, n = 0;

	for (k = 1; k < st->nframes; k++)
		if (st->fr[k].kind == FR_MESSAGE)
			n += 2;
	if (n > INDENT_MAX)
		n = INDENT_MAX;
	memset(st->indent, ' ', (size_t)n);
	st->indent[n] = '\0';
	st->indent_len = (size_t)n;
}

/* ---- charsets ---- */

/* charset_name - CS fit to hand to iconv_open, or NULL. Names with a
 * slash ("//TRANSLIT") or odd characters are refused outright; a few
 * names mailers use and glibc does not know are mapped to its names. */
static const char *charset_name(const char *cs)
{
	static const char *const alias[][2] = {
		{ "ks_c_5601-1987", "CP949" },
		{ "unicode-1-1-utf-7", "UTF-7" },
		{ "x-mac-cyrillic", "MAC-CYRILLIC" },
		{ "iso-8859-8-i", "ISO-8859-8" },
		{ "iso-8859-6-i", "ISO-8859-6" },
		{ "x-unicode20utf8", "UTF-8" },
	};
	size_t i;

	for (i = 0; i < sizeof alias / sizeof alias[0]; i++)
		if (!strcasecmp(cs, alias[i][0]))
			return alias[i][1];

	if (!cs[0] || strlen(cs) >= CHARSET_MAX - 1)
		return NULL;
	for (i = 0; cs[i]; i++) {
		unsigned char c = (unsigned char)cs[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == ':'))
			return NULL;
	}
	return cs;
}

/* conv_open_cs - a descriptor from CS to UTF-8; *UNKNOWN set when CS is
 * not known and UTF-8 (replacing what is not UTF-8) is used instead. */
static iconv_t conv_open_cs(const char *cs, int *unknown)
{
	const char *name = charset_name(cs);
	iconv_t cd = (iconv_t)-1;

	*unknown = 0;
	if (name)
		cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1) {
		*unknown = 1;
		cd = iconv_open("UTF-8", "UTF-8");
	}
	return cd;
}

/* conv_buf - convert IN from charset CS to UTF-8, appended to OUT;
 * octets that do not convert become U+FFFD. An unknown charset is
 * remembered in st->bad_cs for the caller's note. */
static void conv_buf(struct mime_state *st, const char *cs,
                     const unsigned char *in, size_t n, struct sbuf *out)
{
	char tmp[1024];
	char *ip = (char *)in;
	size_t il = n;
	int unknown;
	iconv_t cd = conv_open_cs(cs, &unknown);

	if (unknown)
		snprintf(st->bad_cs, sizeof st->bad_cs, "%s", cs);
	if (cd == (iconv_t)-1) {
		sb_put(out, in, n);
		return;
	}
	while (il > 0 && !out->cut) {
		char *op = tmp;
		size_t ol = sizeof tmp;
		size_t r = iconv(cd, &ip, &il, &op, &ol);

		sb_put(out, tmp, (size_t)(op - tmp));
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		sb_put(out, REPLACEMENT, 3);
		if (errno != EILSEQ)
			break;          /* EINVAL: incomplete at the end */
		ip++;
		il--;
	}
	{
		char *op = tmp;
		size_t ol = sizeof tmp;
		iconv(cd, NULL, NULL, &op, &ol);
		sb_put(out, tmp, (size_t)(op - tmp));
	}
	iconv_close(cd);
}

/* ---- RFC 2047 encoded words ---- */

struct eword {
	char charset[CHARSET_MAX];
	int enc;                /* 'b' or 'q' */
	const char *text;
	size_t tlen;
	size_t len;             /* of the whole word */
};

/* parse_word - an encoded word "=?cs?B?text?=" at S (N octets); 1 if so. */
static int parse_word(const char *s, size_t n, struct eword *w)
{
	size_t i = 2, c0, t0;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	c0 = i;
	while (i < n && s[i] != '?' && !is_wsp((unsigned char)s[i]) &&
	       i - c0 < CHARSET_MAX - 1)
		i++;
	if (i >= n || s[i] != '?' || i == c0)
		return 0;
	copy_lower(w->charset, i - c0 + 1 < sizeof w->charset ?
	           i - c0 + 1 : sizeof w->charset, s + c0);
	{
		char *star = strchr(w->charset, '*');     /* RFC 2231 language */
		if (star)
			*star = '\0';
	}
	i++;
	if (i + 1 >= n || s[i + 1] != '?')
		return 0;
	w->enc = lower((unsigned char)s[i]);
	if (w->enc != 'b' && w->enc != 'q')
		return 0;
	i += 2;
	t0 = i;
	while (i < n && s[i] != '?' && s[i] != ' ' && s[i] != '\t')
		i++;
	if (i + 1 >= n || s[i] != '?' || s[i + 1] != '=')
		return 0;
	w->text = s + t0;
	w->tlen = i - t0;
	w->len = i + 2;
	return 1;
}

/* word_decode - the octets of W appended to st->raw at *RAWLEN. */
static void word_decode(struct mime_state *st, const struct eword *w,
                        size_t *rawlen)
{
	size_t i, o = *rawlen;
	unsigned acc = 0;
	int bits = 0;

	for (i = 0; i < w->tlen && o < MIME_HEADER_MAX; i++) {
		unsigned char c = (unsigned char)w->text[i];
		if (w->enc == 'q') {
			if (c == '_')
				st->raw[o++] = ' ';
			else if (c == '=' && i + 2 < w->tlen &&
			         hexval(w->text[i + 1]) >= 0 &&
			         hexval(w->text[i + 2]) >= 0) {
				st->raw[o++] = (unsigned char)(hexval(w->text[i + 1]) * 16 +
				                               hexval(w->text[i + 2]));
				i += 2;
			} else
				st->raw[o++] = c;
		} else {
			int v = b64val(c);
			if (v < 0)
				continue;
			acc = (acc << 6 | (unsigned)v) & 0xFFFFFF;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				st->raw[o++] = (unsigned char)(acc >> bits & 0xFF);
			}
		}
	}
	*rawlen = o;
}

/* decode_words - header text IN with its encoded words decoded, UTF-8,
 * appended to OUT. White space between two encoded words is dropped;
 * adjacent words in one charset are converted together, so a character
 * split between them survives. */
static void decode_words(struct mime_state *st, const char *in, size_t len,
                         struct sbuf *out)
{
	char cs[CHARSET_MAX] = "";
	size_t rawlen = 0, i = 0;
	int after_word = 0;
	struct eword w;

	while (i < len) {
		if (in[i] == '=' && parse_word(in + i, len - i, &w)) {
			if (rawlen && strcmp(cs, w.charset)) {
				conv_buf(st, cs, st->raw, rawlen, out);
				rawlen = 0;
			}
			memcpy(cs, w.charset, sizeof cs);
			word_decode(st, &w, &rawlen);
			i += w.len;
			after_word = 1;
			continue;
		}
		if (after_word && is_wsp((unsigned char)in[i])) {
			size_t j = i;
			while (j < len && is_wsp((unsigned char)in[j]))
				j++;
			if (j < len && parse_word(in + j, len - j, &w)) {
				i = j;
				continue;
			}
		}
		if (rawlen) {
			conv_buf(st, cs, st->raw, rawlen, out);
			rawlen = 0;
		}
		after_word = 0;
		sb_put(out, in + i, 1);
		i++;
	}
	if (rawlen)
		conv_buf(st, cs, st->raw, rawlen, out);
}

/* ---- header values: types and parameters ---- */

static int is_tspecial(int c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static int is_token(int c)
{
	return c > 32 && c < 127 && !is_tspecial(c);
}

/* skip_cfws - past white space and (nested) comments. */
static const char *skip_cfws(const char *s)
{
	int depth = 0;

	for (; *s; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')' && depth > 0)
			depth--;
		else if (*s == '\\' && depth > 0 && s[1])
			s++;
		else if (depth == 0 && !is_wsp((unsigned char)*s) &&
		         *s != '\r' && *s != '\n')
			break;
	}
	return s;
}

/* ctype_parse - "type/subtype" of V, lower-cased; -1 when V has none. */
static int ctype_parse(const char *v, char *type, size_t typesz)
{
	const char *s = skip_cfws(v), *t0 = s;
	size_t n;

	while (is_token((unsigned char)*s))
		s++;
	if (s == t0 || *s != '/')
		return -1;
	s++;
	if (!is_token((unsigned char)*s))
		return -1;
	while (is_token((unsigned char)*s))
		s++;
	n = (size_t)(s - t0);
	if (n >= typesz)
		return -1;
	copy_lower(type, n + 1, t0);
	s = skip_cfws(s);
	return *s == '\0' || *s == ';' ? 0 : -1;
}

/* first_token - the first token of V (a disposition), lower-cased. */
static void first_token(const char *v, char *out, size_t outsz)
{
	const char *s = skip_cfws(v), *t0 = s;

	while (is_token((unsigned char)*s))
		s++;
	if ((size_t)(s - t0) >= outsz)
		s = t0 + outsz - 1;
	copy_lower(out, (size_t)(s - t0) + 1, t0);
}

/* param_next - the next "; attr=value" of a header value at *SP; the
 * attribute lower-cased, a quoted value unquoted. 0 when none is left. */
static int param_next(const char **sp, char *attr, size_t asz,
                      char *val, size_t vsz)
{
	const char *s = *sp;

	for (;;) {
		size_t a = 0, v = 0;

		while (*s && *s != ';') {
			if (*s == '"') {        /* a stray quoted string */
				for (s++; *s && *s != '"'; s++)
					if (*s == '\\' && s[1])
						s++;
				if (!*s)
					break;
			}
			s++;
		}
		if (!*s) {
			*sp = s;
			return 0;
		}
		s = skip_cfws(s + 1);
		while (*s && *s != '=' && *s != ';' && !is_wsp((unsigned char)*s)) {
			if (a + 1 < asz)
				attr[a++] = (char)lower((unsigned char)*s);
			s++;
		}
		attr[a] = '\0';
		s = skip_cfws(s);
		if (*s != '=' || a == 0)
			continue;
		s = skip_cfws(s + 1);
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1])
					s++;
				if (v + 1 < vsz)
					val[v++] = *s;
			}
			if (*s == '"')
				s++;
		} else {
			while (*s && *s != ';' && !is_wsp((unsigned char)*s)) {
				if (v + 1 < vsz)
					val[v++] = *s;
				s++;
			}
		}
		val[v] = '\0';
		*sp = s;
		return 1;
	}
}

/* param_raw - parameter NAME of V as written (boundary, charset). */
static int param_raw(const char *v, const char *name, char *out, size_t outsz)
{
	char attr[64], val[MIME_PARAM_MAX + 1];
	const char *s = v;

	while (param_next(&s, attr, sizeof attr, val, sizeof val))
		if (!strcmp(attr, name)) {
			if (strlen(val) >= outsz)
				return -1;
			strcpy(out, val);
			return 1;
		}
	return 0;
}

/* param_get - parameter NAME of V in UTF-8: RFC 2231 sections, charsets
 * and %-escapes, or RFC 2047 words inside a plain value. 1 if present. */
static int param_get(struct mime_state *st, const char *v, const char *name,
                     char *out, size_t outsz)
{
	char attr[64], val[MIME_PARAM_MAX + 1], plain[MIME_PARAM_MAX + 1];
	unsigned char raw[MIME_PARAM_MAX + 1];
	char cs[CHARSET_MAX] = "";
	size_t rawlen = 0, nl = strlen(name);
	int have_plain = 0, have_ext = 0;
	const char *s = v;
	struct sbuf b = { out, 0, outsz, 0 };

	out[0] = '\0';
	while (param_next(&s, attr, sizeof attr, val, sizeof val)) {
		const char *rest, *data = val;
		int ext = 0, first = 0;

		if (!strcmp(attr, name)) {
			if (!have_plain)
				memcpy(plain, val, sizeof plain);
			have_plain = 1;
			continue;
		}
		if (strncmp(attr, name, nl) || attr[nl] != '*')
			continue;
		rest = attr + nl + 1;
		if (*rest == '\0') {
			ext = first = 1;
		} else {
			const char *d = rest;
			while (*d >= '0' && *d <= '9')
				d++;
			if (d == rest)
				continue;
			first = d - rest == 1 && *rest == '0';
			if (*d == '*')
				ext = 1, d++;
			if (*d)
				continue;
		}
		if (ext && first) {
			char *q1 = strchr(val, '\'');
			if (q1) {
				char *q2 = strchr(q1 + 1, '\'');
				*q1 = '\0';
				copy_lower(cs, sizeof cs, val);
				data = q2 ? q2 + 1 : q1 + 1;
			}
		}
		for (; *data && rawlen < MIME_PARAM_MAX; data++) {
			if (ext && *data == '%' && hexval(data[1]) >= 0 &&
			    hexval(data[2]) >= 0) {
				raw[rawlen++] = (unsigned char)(hexval(data[1]) * 16 +
				                                hexval(data[2]));
				data += 2;
			} else
				raw[rawlen++] = (unsigned char)*data;
		}
		have_ext = 1;
	}
	if (have_ext) {
		if (cs[0])
			conv_buf(st, cs, raw, rawlen, &b);
		else
			sb_put(&b, raw, rawlen);
		return 1;
	}
	if (have_plain) {
		decode_words(st, plain, strlen(plain), &b);
		return 1;
	}
	return 0;
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

static int serial_new(struct mime_state *st)
{
	int s = st->serial_next++;

	return s < MIME_SERIALS_MAX ? s : -1;
}

/* scope_has_plain - whether the nearest multipart/alternative or message
 * around the current part holds a text/plain part. */
static int scope_has_plain(const struct mime_state *st)
{
	int k;

	for (k = st->nframes - 1; k >= 0; k--)
		if (st->fr[k].scope)
			return bit_get(st->has_plain, st->fr[k].serial);
	return 0;
}

/* mark_plain - a text/plain part counts for every scope up to its message. */
static void mark_plain(struct mime_state *st)
{
	int k;

	for (k = st->nframes - 1; k >= 0; k--) {
		if (st->fr[k].scope)
			bit_set(st->has_plain, st->fr[k].serial);
		if (st->fr[k].kind == FR_MESSAGE)
			break;
	}
}

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

static void field_append(struct mime_state *st, int id, const char *p, size_t n)
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
			sb_put(&b, f->v + s, e - s);
		else
			decode_words(st, f->v + s, e - s, &b);
		snprintf(lead, sizeof lead, "%s: ", field_names[order[k]]);
		if (b.len == 0)
			emit_text(st, lead, "+ ", "(empty)", 7);
		else
			emit_text(st, lead, "+ ", b.p, b.len);
		if (st->bad_cs[0])
			say(st, "[unknown charset \"%s\" in %s: shown as received]",
			    st->bad_cs, field_names[order[k]]);
		if (f->cut)
			say(st, "[%s cut short at %d octets]",
			    field_names[order[k]], MIME_HEADER_MAX);
	}
}

/* ---- the leaf's text: lines, HTML, charset ---- */

static size_t line_cap(const struct mime_state *st)
{
	return MIME_OUT_LINE_MAX - st->indent_len - 2;
}

/* line_emit - report the text line gathered so far. */
static void line_emit(struct mime_state *st)
{
	struct leaf *l = &st->lf;

	if (l->linelen == 0 && !l->cont)
		emit_text(st, "|", "+ ", "", 0);
	else
		emit_text(st, l->cont ? "+ " : "| ", "+ ",
		          (const char *)l->line, l->linelen);
	l->linelen = 0;
	l->cont = 0;
}

/* line_add - one octet of UTF-8 text; a line too long for one report
 * line is cut at a character boundary and continued. */
static void line_add(struct mime_state *st, unsigned char c)
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
	if (c == '\n') {
		if (l->linelen > 0 && l->line[l->linelen - 1] == '\r')
			l->linelen--;
		line_emit(st);
		return;
	}
	if (l->linelen >= line_cap(st)) {
		size_t cut = l->linelen, j = l->linelen;

		if ((c & 0xC0) == 0x80) {       /* inside a character */
			while (j > 0 && l->linelen - j < 3 &&
			       (l->line[j - 1] & 0xC0) == 0x80)
				j--;
			if (j > 0 && l->line[j - 1] >= 0xC0)
				cut = j - 1;
		}
		emit_text(st, l->cont ? "+ " : "| ", "+ ",
		          (const char *)l->line, cut);
		memmove(l->line, l->line + cut, l->linelen - cut);
		l->linelen -= cut;
		l->cont = 1;
	}
	l->line[l->linelen++] = c;
}

/* html_char - one octet of HTML text, white space collapsed. */
static void html_char(struct mime_state *st, unsigned char c)
{
	struct html *h = &st->lf.h;

	if (h->skip[0])
		return;
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
		h->space = 1;
		return;
	}
	if (h->nl) {
		if (h->started) {
			line_add(st, '\n');
			if (h->nl == 2)
				line_add(st, '\n');
		}
	} else if (h->space && h->started)
		line_add(st, ' ');
	h->nl = 0;
	h->space = 0;
	h->started = 1;
	line_add(st, c);
}

static void html_break(struct html *h, int kind)
{
	if (h->nl < kind)
		h->nl = kind;
}

/* html_tag_end - act on a complete tag: line breaks, hidden content. */
static void html_tag_end(struct mime_state *st)
{
	static const char *const para[] = { "p", "h1", "h2", "h3", "h4", "h5",
		"h6", "table", "blockquote", "ul", "ol", "hr", "pre", NULL };
	static const char *const line[] = { "div", "tr", "li", "dt", "dd",
		"section", "article", "header", "footer", "center", "address",
		"form", "caption", NULL };
	struct html *h = &st->lf.h;
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
static void html_entity_end(struct mime_state *st, int terminated)
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
	struct html *h = &st->lf.h;
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
		html_char(st, '&');
		for (i = 0; i < h->entlen; i++)
			html_char(st, (unsigned char)h->ent[i]);
		if (terminated)
			html_char(st, ';');
	} else if (cp == ' ') {
		h->space = 1;
	} else {
		unsigned char u[4];
		size_t n = utf8_put(cp, u);
		for (i = 0; i < n; i++)
			html_char(st, u[i]);
	}
}

/* html_feed - one octet of UTF-8 HTML: tags dropped, text kept. */
static void html_feed(struct mime_state *st, unsigned char c)
{
	struct html *h = &st->lf.h;

	switch (h->state) {
	case H_TEXT:
		if (c == '<')
			h->state = H_LT;
		else if (c == '&' && !h->skip[0]) {
			h->state = H_ENT;
			h->entlen = 0;
		} else
			html_char(st, c);
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
			html_char(st, '<');
			html_feed(st, c);
		}
		break;
	case H_TAG:
		if (c == '>') {
			html_tag_end(st);
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
			html_entity_end(st, 1);
		} else if ((((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		            (c >= '0' && c <= '9') || (c == '#' && h->entlen == 0)) &&
		           h->entlen < sizeof h->ent - 1) {
			h->ent[h->entlen++] = (char)c;
		} else {
			h->state = H_TEXT;
			html_entity_end(st, 0);
			html_feed(st, c);
		}
		break;
	}
}

static void html_end(struct mime_state *st)
{
	struct html *h = &st->lf.h;

	if (h->state == H_ENT)
		html_entity_end(st, 0);
	else if (h->state == H_LT)
		html_char(st, '<');
	h->state = H_TEXT;
}

/* text_out - converted UTF-8 text of the leaf. */
static void text_out(struct mime_state *st, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (st->lf.cut)
			return;
		if (st->lf.kind == LEAF_HTML)
			html_feed(st, s[i]);
		else
			line_add(st, s[i]);
	}
}

/* conv_feed - decoded octets of the leaf through its iconv descriptor.
 * An incomplete character at the end waits for the next octets. */
static void conv_feed(struct mime_state *st, const unsigned char *p, size_t n)
{
	struct leaf *l = &st->lf;
	char obuf[4096];

	if (!l->cd_open) {
		text_out(st, p, n);
		return;
	}
	while (n > 0) {
		size_t take = n < CONV_CHUNK - l->ncarry ? n : CONV_CHUNK - l->ncarry;
		char *in = (char *)l->work;
		size_t inleft;

		memcpy(l->work + l->ncarry, p, take);
		inleft = l->ncarry + take;
		p += take;
		n -= take;
		l->ncarry = 0;
		while (inleft > 0) {
			char *o = obuf;
			size_t ol = sizeof obuf;
			size_t r = iconv(l->cd, &in, &inleft, &o, &ol);

			text_out(st, obuf, (size_t)(o - obuf));
			if (r != (size_t)-1)
				break;
			if (errno == E2BIG)
				continue;
			if (errno == EINVAL && inleft <= CONV_CARRY) {
				memmove(l->work, in, inleft);
				l->ncarry = inleft;
				break;
			}
			l->conv_bad++;
			text_out(st, REPLACEMENT, 3);
			in++;
			inleft--;
		}
	}
}

static void conv_end(struct mime_state *st)
{
	struct leaf *l = &st->lf;
	char obuf[256], *o = obuf;
	size_t ol = sizeof obuf;

	if (!l->cd_open)
		return;
	if (l->ncarry) {
		l->conv_bad += l->ncarry;
		l->ncarry = 0;
		text_out(st, REPLACEMENT, 3);
	}
	iconv(l->cd, NULL, NULL, &o, &ol);
	text_out(st, obuf, (size_t)(o - obuf));
	iconv_close(l->cd);
	l->cd_open = 0;
}

/* ---- the leaf's transfer encoding ---- */

/* decoded - octets after the transfer encoding: counted, and shown. */
static void decoded(struct mime_state *st, const unsigned char *p, size_t n)
{
	st->lf.size += n;
	if (st->lf.show)
		conv_feed(st, p, n);
}

static void dflush(struct mime_state *st)
{
	decoded(st, st->lf.dbuf, st->lf.dlen);
	st->lf.dlen = 0;
}

static void dput(struct mime_state *st, unsigned char c)
{
	st->lf.dbuf[st->lf.dlen++] = c;
	if (st->lf.dlen == sizeof st->lf.dbuf)
		dflush(st);
}

static void qp_ws_flush(struct mime_state *st)
{
	size_t i;

	for (i = 0; i < st->lf.nws; i++)
		dput(st, st->lf.ws[i]);
	st->lf.nws = 0;
}

/* qp_byte - quoted-printable, one octet at a time (RFC 2045 6.7): white
 * space before a line end is dropped, "=" before it joins the lines, an
 * "=" not followed by two hex digits is kept as it is. */
static void qp_byte(struct mime_state *st, unsigned char c)
{
	struct leaf *l = &st->lf;

	switch (l->qstate) {
	case Q_NORMAL:
		if (c == '=') {
			qp_ws_flush(st);
			l->qstate = Q_EQ;
		} else if (c == ' ' || c == '\t') {
			if (l->nws == QP_WS_MAX)
				qp_ws_flush(st);
			l->ws[l->nws++] = c;
		} else if (c == '\n') {
			l->nws = 0;
			dput(st, c);
		} else {
			qp_ws_flush(st);
			dput(st, c);
		}
		break;
	case Q_EQ:
		if (hexval(c) >= 0) {
			l->qh = c;
			l->qstate = Q_EQ1;
		} else if (c == '\n') {
			l->qstate = Q_NORMAL;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			l->qstate = Q_EQWS;
		} else {
			l->qp_bad++;
			dput(st, '=');
			l->qstate = Q_NORMAL;
			qp_byte(st, c);
		}
		break;
	case Q_EQ1:
		l->qstate = Q_NORMAL;
		if (hexval(c) >= 0) {
			dput(st, (unsigned char)(hexval(l->qh) * 16 + hexval(c)));
		} else {
			l->qp_bad++;
			dput(st, '=');
			dput(st, l->qh);
			qp_byte(st, c);
		}
		break;
	case Q_EQWS:
		if (c == '\n')
			l->qstate = Q_NORMAL;
		else if (c != ' ' && c != '\t' && c != '\r') {
			l->qp_bad++;
			dput(st, '=');
			l->qstate = Q_NORMAL;
			qp_byte(st, c);
		}
		break;
	}
}

static void b64_byte(struct mime_state *st, unsigned char c)
{
	struct leaf *l = &st->lf;
	int v = b64val(c);

	if (v >= 0) {
		l->q[l->qn++] = (unsigned char)v;
		if (l->qn == 4) {
			dput(st, (unsigned char)(l->q[0] << 2 | l->q[1] >> 4));
			dput(st, (unsigned char)(l->q[1] << 4 | l->q[2] >> 2));
			dput(st, (unsigned char)(l->q[2] << 6 | l->q[3]));
			l->qn = 0;
		}
	} else if (c == '=') {
		if (l->qn >= 2)
			dput(st, (unsigned char)(l->q[0] << 2 | l->q[1] >> 4));
		if (l->qn == 3)
			dput(st, (unsigned char)(l->q[1] << 4 | l->q[2] >> 2));
		if (l->qn == 1)
			l->b64_bad++;
		l->qn = 0;
	} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
		l->b64_bad++;
	}
}

/* leaf_bytes - body octets of the leaf, through its transfer encoding. */
static void leaf_bytes(struct mime_state *st, const char *p, size_t n)
{
	size_t i;

	switch (st->lf.cte) {
	case CTE_IDENTITY:
		decoded(st, (const unsigned char *)p, n);
		break;
	case CTE_QP:
		for (i = 0; i < n; i++)
			qp_byte(st, (unsigned char)p[i]);
		dflush(st);
		break;
	case CTE_BASE64:
		for (i = 0; i < n; i++)
			b64_byte(st, (unsigned char)p[i]);
		dflush(st);
		break;
	}
}

/* leaf_piece - a piece of a body line. The line end before a delimiter
 * belongs to the delimiter (RFC 2046 5.1.1), so each line end is held
 * back until the next line shows it is still body. */
static void leaf_piece(struct mime_state *st, const char *p, size_t n, int eol)
{
	if (st->pass1)
		return;
	if (st->pending_nl) {
		leaf_bytes(st, "\n", 1);
		st->pending_nl = 0;
	}
	leaf_bytes(st, p, n);
	if (eol)
		st->pending_nl = 1;
}

/* leaf_begin - a body part that is not a container: text or attachment. */
static void leaf_begin(struct mime_state *st, const char *number,
                       const char *type, const char *ct, enum leaf_mode mode)
{
	struct leaf *l = &st->lf;
	const char *cd = st->fld[FLD_CDISP].seen ? st->fld[FLD_CDISP].v : "";
	char disp[32], cte[64], q[2 * MIME_PARAM_MAX + 4];
	int attach;

	/* The buffers need no clearing, only their lengths. */
	memset(l, 0, offsetof(struct leaf, dbuf));
	l->dlen = 0;
	l->qn = 0;
	l->qstate = Q_NORMAL;
	l->nws = l->ncarry = l->linelen = 0;
	l->b64_bad = l->qp_bad = l->conv_bad = 0;
	l->cd_open = l->cont = 0;
	memset(&l->h, 0, sizeof l->h);
	st->state = ST_LEAF;
	st->pending_nl = 0;
	snprintf(l->number, sizeof l->number, "%s", number);
	snprintf(l->type, sizeof l->type, "%s", type);
	l->listed = st->leaves < MIME_PARTS_MAX;
	st->leaves++;

	first_token(cd, disp, sizeof disp);
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
		mark_plain(st);
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
		char cs[CHARSET_MAX];
		if (param_raw(ct, "charset", cs, sizeof cs) > 0)
			copy_lower(l->charset, sizeof l->charset, cs);
	}
	st->bad_cs[0] = '\0';
	if (!param_get(st, cd, "filename", l->name, sizeof l->name) && ct)
		param_get(st, ct, "name", l->name, sizeof l->name);

	first_token(st->fld[FLD_CTE].seen ? st->fld[FLD_CTE].v : "", cte,
	            sizeof cte);
	if (!strcmp(cte, "quoted-printable"))
		l->cte = CTE_QP;
	else if (!strcmp(cte, "base64"))
		l->cte = CTE_BASE64;
	else
		l->cte = CTE_IDENTITY;
	if (!l->listed)
		return;
	if (cte[0] && l->cte == CTE_IDENTITY && strcmp(cte, "7bit") &&
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
	} else {
		int unknown;
		const char *cs = l->charset[0] ? l->charset : "us-ascii";
		say(st, "Text (part %s, %s; charset=%s%s%s%s%s):", number, type, cs,
		    l->name[0] ? "; name=\"" : "",
		    l->name[0] ? quote(q, sizeof q, l->name) : "",
		    l->name[0] ? "\"" : "",
		    l->kind == LEAF_HTML ? "; tags stripped" : "");
		l->cd = conv_open_cs(cs, &unknown);
		if (unknown)
			say(st, "[part %s: unknown charset \"%s\": shown as received]",
			    number, cs);
		l->cd_open = l->cd != (iconv_t)-1;
		return;
	}
	{
		int unknown;             /* UTF-8 is always known */
		l->cd = conv_open_cs("utf-8", &unknown);
		l->cd_open = l->cd != (iconv_t)-1;
	}
}

/* leaf_end - the leaf's last octets, its summary line and its notes. */
static void leaf_end(struct mime_state *st)
{
	struct leaf *l = &st->lf;
	char q[2 * MIME_PARAM_MAX + 4];

	st->state = ST_EPILOGUE;
	st->pending_nl = 0;
	if (st->pass1)
		return;
	if (l->cte == CTE_BASE64) {
		if (l->qn == 1)
			l->b64_bad++;
		else
			b64_byte(st, '=');
	} else if (l->cte == CTE_QP) {
		if (l->qstate == Q_EQ1) {
			l->qp_bad++;
			dput(st, '=');
			dput(st, l->qh);
		}
	}
	dflush(st);
	if (l->show) {
		conv_end(st);
		if (l->kind == LEAF_HTML)
			html_end(st);
		if (l->linelen > 0)
			line_emit(st);
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
			    l->number, quote(q, sizeof q, l->name), l->type, l->size);
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
	if (l->b64_bad)
		say(st, "[bad base64 in part %s: %llu octets ignored]",
		    l->number, l->b64_bad);
	if (l->qp_bad)
		say(st, "[bad quoted-printable in part %s: %llu sequences kept as "
		    "received]", l->number, l->qp_bad);
	if (l->conv_bad)
		say(st, "[part %s: %llu octets not valid in charset %s: shown as "
		    "U+FFFD]", l->number, l->conv_bad,
		    l->charset[0] ? l->charset : "us-ascii");
}

/* ---- containers ---- */

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
	r = ct ? param_raw(ct, "boundary", b, sizeof b) : 0;
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
		if (!param_get(st, st->fld[FLD_CDISP].v, "filename", name,
		               sizeof name) && ct)
			param_get(st, ct, "name", name, sizeof name);
		if (name[0])
			say(st, "Nested message (part %s, %s; name=\"%s\"):", number,
			    type, quote(q, sizeof q, name));
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
	char number[NUMBER_MAX], type[TYPE_MAX], cte[32];
	const char *ct = st->fld[FLD_CTYPE].seen ? st->fld[FLD_CTYPE].v : NULL;

	part_number(st, number, sizeof number);
	st->cur_field = -1;
	if (st->hdr_is_message && !st->pass1)
		message_headers(st);
	if (ct && ctype_parse(ct, type, sizeof type) < 0) {
		say(st, "[part %s: bad Content-Type \"%.100s\": taken as %s]", number,
		    skip_cfws(ct), st->hdr_digest ? "message/rfc822" : "text/plain");
		ct = NULL;
	}
	if (!ct)
		strcpy(type, st->hdr_digest ? "message/rfc822" : "text/plain");
	if (!strncmp(type, "multipart/", 10)) {
		multipart_begin(st, number, type, ct);
		return;
	}
	first_token(st->fld[FLD_CTE].seen ? st->fld[FLD_CTE].v : "", cte,
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
	st->lf.cd_open = 0;
	set_indent(st);
	fields_reset(st);

	while ((r = read_piece(st, &p, &n, &eol)) > 0) {
		on_piece(st, p, n, bol, eol);
		bol = eol;
	}
	entity_end(st);
	while (st->nframes > 1)
		frame_pop(st, 0);
	if (st->lf.cd_open) {
		iconv_close(st->lf.cd);
		st->lf.cd_open = 0;
	}
	if (r < 0)
		say(st, "[read error: the message is not shown whole]");
	return r;
}

int mime_report(int fd, void (*emit)(void *ctx, const char *line), void *ctx)
{
	struct mime_state *st = calloc(1, sizeof *st);
	int r;

	if (!st)
		return -1;
	st->emit = emit;
	st->ctx = ctx;
	st->fd = fd;
	if (lseek(fd, 0, SEEK_SET) == 0) {
		st->quiet = st->pass1 = 1;
		if (walk(st) < 0 || lseek(fd, 0, SEEK_SET) != 0) {
			free(st);
			return -1;
		}
		st->quiet = st->pass1 = 0;
		st->two_pass = 1;
	}
	r = walk(st);
	free(st);
	return r < 0 ? -1 : 0;
}
