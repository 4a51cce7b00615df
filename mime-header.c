/*
 * mime-header.c - the debug sink's reading of header field values.
 *
 * What the walk needs from a header value: the media type of a
 * Content-Type (RFC 2045 5.1), the first token of a Content-Disposition
 * or Content-Transfer-Encoding, a parameter as written (boundary,
 * charset), a parameter as text (file names: RFC 2231 sections, charsets
 * and %-escapes, or RFC 2047 words inside a plain value), and the text
 * of an unstructured field with its RFC 2047 encoded words decoded
 * (RFC 2047 B words through base64.c's lenient decoder). Every result
 * is bounded by its caller's buffer; an unknown charset's name is left
 * in BAD_CS for the caller's note.
 */
#include <string.h>

#include "mime-int.h"

/* ---- RFC 2047 encoded words ---- */

struct eword {
	char charset[MIME_CHARSET_MAX];
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
	       i - c0 < MIME_CHARSET_MAX - 1)
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

/* word_b - the octets of a B word appended to RAW at *RAWLEN. */
static void word_b(const struct eword *w, unsigned char *raw, size_t *rawlen)
{
	struct base64_dec d;
	unsigned char q[3];
	size_t i, o = *rawlen;
	int j, k;

	base64_dec_init(&d, 1);
	for (i = 0; i < w->tlen && o < MIME_HEADER_MAX; i++) {
		k = base64_dec_feed(&d, (unsigned char)w->text[i], q);
		for (j = 0; j < k && o < MIME_HEADER_MAX; j++)
			raw[o++] = q[j];
	}
	k = base64_dec_end(&d, q);
	for (j = 0; j < k && o < MIME_HEADER_MAX; j++)
		raw[o++] = q[j];
	*rawlen = o;
}

/* word_q - the octets of a Q word appended to RAW at *RAWLEN. */
static void word_q(const struct eword *w, unsigned char *raw, size_t *rawlen)
{
	size_t i, o = *rawlen;

	for (i = 0; i < w->tlen && o < MIME_HEADER_MAX; i++) {
		unsigned char c = (unsigned char)w->text[i];
		if (c == '_')
			raw[o++] = ' ';
		else if (c == '=' && i + 2 < w->tlen &&
		         hexval(w->text[i + 1]) >= 0 &&
		         hexval(w->text[i + 2]) >= 0) {
			raw[o++] = (unsigned char)(hexval(w->text[i + 1]) * 16 +
			                           hexval(w->text[i + 2]));
			i += 2;
		} else
			raw[o++] = c;
	}
	*rawlen = o;
}

/* header_words - header text IN with its encoded words decoded, UTF-8,
 * appended to OUT. White space between two encoded words is dropped;
 * adjacent words in one charset are converted together, so a character
 * split between them survives. */
void header_words(char *bad_cs, const char *in, size_t len, struct sbuf *out)
{
	unsigned char raw[MIME_HEADER_MAX + 1];
	char cs[MIME_CHARSET_MAX] = "";
	size_t rawlen = 0, i = 0;
	int after_word = 0;
	struct eword w;

	while (i < len) {
		if (in[i] == '=' && parse_word(in + i, len - i, &w)) {
			if (rawlen && strcmp(cs, w.charset)) {
				charset_convert(bad_cs, cs, raw, rawlen, out);
				rawlen = 0;
			}
			memcpy(cs, w.charset, sizeof cs);
			if (w.enc == 'b')
				word_b(&w, raw, &rawlen);
			else
				word_q(&w, raw, &rawlen);
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
			charset_convert(bad_cs, cs, raw, rawlen, out);
			rawlen = 0;
		}
		after_word = 0;
		sbuf_put(out, in + i, 1);
		i++;
	}
	if (rawlen)
		charset_convert(bad_cs, cs, raw, rawlen, out);
}

/* ---- types and parameters ---- */

/* is_tspecial - a character of RFC 2045's tspecials. */
static int is_tspecial(int c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* is_token - a character allowed in an RFC 2045 token. */
static int is_token(int c)
{
	return c > 32 && c < 127 && !is_tspecial(c);
}

/* header_skip_cfws - past white space and (nested) comments. */
const char *header_skip_cfws(const char *s)
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

/* header_ctype - "type/subtype" of V, lower-cased; -1 when V has none. */
int header_ctype(const char *v, char *type, size_t typesz)
{
	const char *s = header_skip_cfws(v), *t0 = s;
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
	s = header_skip_cfws(s);
	return *s == '\0' || *s == ';' ? 0 : -1;
}

/* header_token - the first token of V (a disposition), lower-cased. */
void header_token(const char *v, char *out, size_t outsz)
{
	const char *s = header_skip_cfws(v), *t0 = s;

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
		s = header_skip_cfws(s + 1);
		while (*s && *s != '=' && *s != ';' && !is_wsp((unsigned char)*s)) {
			if (a + 1 < asz)
				attr[a++] = (char)lower((unsigned char)*s);
			s++;
		}
		attr[a] = '\0';
		s = header_skip_cfws(s);
		if (*s != '=' || a == 0)
			continue;
		s = header_skip_cfws(s + 1);
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

/* header_param_raw - parameter NAME of V as written (boundary, charset):
 * 1, 0 when absent, -1 when longer than OUTSZ allows. */
int header_param_raw(const char *v, const char *name, char *out,
                     size_t outsz)
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

/* header_param - parameter NAME of V in UTF-8: RFC 2231 sections,
 * charsets and %-escapes, or RFC 2047 words inside a plain value. 1 if
 * present. */
int header_param(char *bad_cs, const char *v, const char *name, char *out,
                 size_t outsz)
{
	char attr[64], val[MIME_PARAM_MAX + 1], plain[MIME_PARAM_MAX + 1];
	unsigned char raw[MIME_PARAM_MAX + 1];
	char cs[MIME_CHARSET_MAX] = "";
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
			charset_convert(bad_cs, cs, raw, rawlen, &b);
		else
			sbuf_put(&b, raw, rawlen);
		return 1;
	}
	if (have_plain) {
		header_words(bad_cs, plain, strlen(plain), &b);
		return 1;
	}
	return 0;
}
