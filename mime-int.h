/*
 * mime-int.h - what the files of the debug sink's reader share.
 *
 * mime.c walks a message's structure and mime-leaf.c reads each leaf
 * part: they share the walk's state. The other files each do one job
 * for them and know nothing of the walk:
 *	mime-out.c	the report's lines, safe to log (mime.h's promises)
 *	mime-header.c	header field values: types, parameters, RFC 2047
 *	mime-charset.c	charsets to UTF-8, whole strings or streaming
 *	mime-transfer.c	quoted-printable and base64 undone, streaming
 *	html-text.c	HTML to plain text, streaming
 * The streaming stages hand their output on through a mime_put_fn.
 */
#ifndef MIME_INT_H
#define MIME_INT_H

#include <iconv.h>
#include <stddef.h>

#include "base64.h"
#include "bounds.h"

#define MIME_INDENT_MAX  (2 * MIME_DEPTH_MAX)   /* octets of indent */
#define MIME_FMT_MAX     (4 * MIME_HEADER_MAX)  /* octets of one formatted
                                                   report line before it
                                                   is split */
#define CONV_CHUNK       4096    /* octets handed to iconv at once */
#define CONV_CARRY       16      /* octets of an incomplete character kept */
#define DECODE_BUF       4096    /* decoded octets gathered before use */

#define UTF8_REPLACEMENT "\xEF\xBF\xBD"        /* U+FFFD, 3 octets */

/* mime_put_fn - the next stage of a stream takes N octets at P. */
typedef void mime_put_fn(void *ctx, const unsigned char *p, size_t n);

/* hexval - the value of the hex digit C, or -1. */
static inline int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* is_wsp - a space or a tab. */
static inline int is_wsp(int c) { return c == ' ' || c == '\t'; }

/* lower - ASCII C lower-cased. */
static inline int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* copy_lower - NUL-terminated, lower-cased, truncated copy. */
static inline void copy_lower(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < dstsz && src[i]; i++)
		dst[i] = (char)lower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* ---- mime-out.c: the report's lines ---- */

struct mime_out {
	void (*emit)(void *ctx, const char *line);
	void *ctx;
	int quiet;              /* say nothing (the first pass) */
	char indent[MIME_INDENT_MAX + 1];
	size_t indent_len;
	char out[MIME_OUT_LINE_MAX + 1];
	char fmt[MIME_FMT_MAX];
	unsigned char line[MIME_OUT_LINE_MAX];  /* text line being gathered */
	size_t linelen;
	int cont;               /* the text line is a continuation */
};

/* out_indent - N spaces before every line from now on. */
void out_indent(struct mime_out *o, size_t n);
/* out_text - LEAD and TEXT, made safe and split, the later lines led by
 * CONTLEAD. */
void out_text(struct mime_out *o, const char *lead, const char *contlead,
              const char *text, size_t len);
/* out_say - one formatted line, made safe and split. */
void out_say(struct mime_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* out_quote - S escaped for name="..." into OUT; OUT. */
const char *out_quote(char *out, size_t outsz, const char *s);
/* out_line_put - one octet of a part's text, gathered into "| " lines. */
void out_line_put(struct mime_out *o, unsigned char c);
/* out_line_end - the text ends: report the line left without its end. */
void out_line_end(struct mime_out *o);

/* ---- mime-charset.c: charsets to UTF-8 ---- */

/* A bounded string being built; cut records a truncation. */
struct sbuf {
	char *p;
	size_t len, size;
	int cut;
};

/* The streaming converter of one text part. */
struct charset_conv {
	iconv_t cd;
	int open;
	size_t ncarry;
	unsigned long long bad;         /* octets not valid in the charset */
	unsigned char work[CONV_CHUNK]; /* carried octets, then new ones */
};

/* sbuf_put - append N octets to B, truncated to fit. */
void sbuf_put(struct sbuf *b, const void *s, size_t n);
/* charset_convert - IN from charset CS to UTF-8, appended to OUT; an
 * unknown charset's name left in BAD_CS (MIME_CHARSET_MAX octets). */
void charset_convert(char *bad_cs, const char *cs, const unsigned char *in,
                     size_t n, struct sbuf *out);
/* charset_conv_init - a converter not open, nothing counted. */
void charset_conv_init(struct charset_conv *c);
/* charset_conv_open - open C from CS; *UNKNOWN when read as UTF-8. */
void charset_conv_open(struct charset_conv *c, const char *cs, int *unknown);
/* charset_conv_feed - N octets through C, the UTF-8 to PUT. */
void charset_conv_feed(struct charset_conv *c, const unsigned char *p,
                       size_t n, mime_put_fn *put, void *ctx);
/* charset_conv_end - the stream ends: the last UTF-8 to PUT, C closed. */
void charset_conv_end(struct charset_conv *c, mime_put_fn *put, void *ctx);
/* charset_conv_close - close C without a word more. */
void charset_conv_close(struct charset_conv *c);

/* ---- mime-header.c: header field values ---- */

/* header_words - IN with its RFC 2047 words decoded, UTF-8, into OUT. */
void header_words(char *bad_cs, const char *in, size_t len, struct sbuf *out);
/* header_skip_cfws - S past white space and comments. */
const char *header_skip_cfws(const char *s);
/* header_ctype - "type/subtype" of a Content-Type; -1 when it has none. */
int header_ctype(const char *v, char *type, size_t typesz);
/* header_token - the first token of V, lower-cased. */
void header_token(const char *v, char *out, size_t outsz);
/* header_param_raw - parameter NAME as written: 1, 0 absent, -1 too long. */
int header_param_raw(const char *v, const char *name, char *out,
                     size_t outsz);
/* header_param - parameter NAME as UTF-8 text (RFC 2231, RFC 2047); 1 if
 * present. */
int header_param(char *bad_cs, const char *v, const char *name, char *out,
                 size_t outsz);

/* ---- mime-transfer.c: transfer encodings undone ---- */

enum cte { CTE_IDENTITY, CTE_QP, CTE_BASE64 };
enum qp_state { Q_NORMAL, Q_EQ, Q_EQ1, Q_EQWS };

struct transfer {
	enum cte cte;
	mime_put_fn *put;
	void *ctx;
	struct base64_dec b64;          /* its bad: octets ignored */
	enum qp_state qstate;
	unsigned char qh;               /* first hex digit after '=' */
	size_t nws;
	unsigned long long qp_bad;      /* sequences kept as received */
	size_t dlen;
	unsigned char ws[MIME_QP_WS_MAX];
	unsigned char dbuf[DECODE_BUF]; /* decoded, not yet put */
};

/* transfer_begin - ready T for a body in encoding CTE, decoded to PUT. */
void transfer_begin(struct transfer *t, enum cte cte, mime_put_fn *put,
                    void *ctx);
/* transfer_feed - N octets of the body. */
void transfer_feed(struct transfer *t, const char *p, size_t n);
/* transfer_end - the body ends: what is left decoded and put on. */
void transfer_end(struct transfer *t);

/* ---- html-text.c: HTML to text ---- */

enum html_state { H_TEXT, H_LT, H_TAG, H_TAGQ, H_DECL, H_COMMENT, H_ENT };

struct html_text {
	mime_put_fn *put;
	void *ctx;
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

/* html_text_begin - ready H for a new part, its text to PUT. */
void html_text_begin(struct html_text *h, mime_put_fn *put, void *ctx);
/* html_text_feed - one octet of UTF-8 HTML. */
void html_text_feed(struct html_text *h, unsigned char c);
/* html_text_end - the part ends. */
void html_text_end(struct html_text *h);

/* ---- mime.c and mime-leaf.c: the walk ---- */

#define NUMBER_MAX       (MIME_DEPTH_MAX * 11 + 4) /* "1.2.3" part numbers */

/* The header fields the walk keeps of each entity. */
enum field_id {
	FLD_FROM, FLD_TO, FLD_CC, FLD_DATE, FLD_SUBJECT,
	FLD_CTYPE, FLD_CTE, FLD_CDISP, FLD_COUNT
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
	char type[MIME_TYPE_MAX];
	char number[NUMBER_MAX];
	char boundary[MIME_BOUNDARY_MAX + 1];
	size_t blen;
};

/* Where the walk is: in a header block, a multipart's preamble or
 * epilogue, or a leaf part's body. */
enum state { ST_HEADER, ST_PREAMBLE, ST_EPILOGUE, ST_LEAF };
enum leaf_kind { LEAF_TEXT, LEAF_HTML, LEAF_HIDDEN, LEAF_ATTACH, LEAF_OPAQUE };
enum leaf_mode { MODE_NORMAL, MODE_RAWTEXT, MODE_OPAQUE };

/* The leaf part being read; its body's stages after the small fields. */
struct leaf {
	enum leaf_kind kind;
	int listed;             /* within MIME_PARTS_MAX */
	int show;               /* its text is shown */
	char number[NUMBER_MAX];
	char type[MIME_TYPE_MAX];
	char charset[MIME_CHARSET_MAX];
	char name[MIME_PARAM_MAX + 1];
	unsigned long long size;        /* decoded octets */
	unsigned long long shown;       /* octets of text shown */
	int cut;                        /* MIME_TEXT_MAX reached */

	struct transfer tr;
	struct charset_conv conv;
	struct html_text h;
};

/* The whole state of one mime_report() call, allocated once. */
struct mime_state {
	int pass1;              /* first pass: learn, say nothing */
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

	struct mime_out out;
	char hbuf[3 * MIME_HEADER_MAX + 16];    /* a decoded header */
	char bad_cs[MIME_CHARSET_MAX];  /* unknown charset met in a header */
};

/* say - report one formatted line (mime-out.c makes it safe). */
#define say(st, ...) out_say(&(st)->out, __VA_ARGS__)

/* scope_has_plain - the current part's scope holds a text/plain part. */
int scope_has_plain(const struct mime_state *st);
/* scope_mark_plain - a text/plain part: its scopes hold one. */
void scope_mark_plain(struct mime_state *st);
/* leaf_begin - a leaf part begins (mime-leaf.c from here to leaf_end). */
void leaf_begin(struct mime_state *st, const char *number, const char *type,
                const char *ct, enum leaf_mode mode);
/* leaf_piece - a piece of a line of the leaf's body; EOL: the line ends. */
void leaf_piece(struct mime_state *st, const char *p, size_t n, int eol);
/* leaf_end - the leaf part ends: its summary and notes. */
void leaf_end(struct mime_state *st);

#endif
