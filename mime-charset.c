/*
 * mime-charset.c - the debug sink's charset conversion to UTF-8.
 *
 * Conversion is iconv(3)'s, in two forms: a whole string at once into a
 * bounded buffer (header values, parameters), and a stream (a text
 * part's body, arriving in pieces that may split a character: up to
 * CONV_CARRY octets of an incomplete character wait for the next
 * piece). Octets that do not convert become U+FFFD. A charset iconv does
 * not know, or a name that could make it do more than convert
 * ("//TRANSLIT"), is read as UTF-8, so the text still shows where it is
 * UTF-8 or ASCII, and the caller is told to say so.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mime-int.h"

/* sbuf_put - append N octets, keeping room for the NUL. */
void sbuf_put(struct sbuf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->size) {
		n = b->size - 1 - b->len;
		b->cut = 1;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

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

	if (!cs[0] || strlen(cs) >= MIME_CHARSET_MAX - 1)
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

/* charset_open - a descriptor from CS to UTF-8; *UNKNOWN set when CS is
 * not known and UTF-8 (replacing what is not UTF-8) is used instead. */
static iconv_t charset_open(const char *cs, int *unknown)
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

/* charset_convert - IN from charset CS to UTF-8, appended to OUT; octets
 * that do not convert become U+FFFD. An unknown charset's name is put in
 * BAD_CS (MIME_CHARSET_MAX octets) for the caller's note. */
void charset_convert(char *bad_cs, const char *cs, const unsigned char *in,
                     size_t n, struct sbuf *out)
{
	char tmp[1024];
	char *ip = (char *)in;
	size_t il = n;
	int unknown;
	iconv_t cd = charset_open(cs, &unknown);

	if (unknown)
		snprintf(bad_cs, MIME_CHARSET_MAX, "%s", cs);
	if (cd == (iconv_t)-1) {
		sbuf_put(out, in, n);
		return;
	}
	while (il > 0 && !out->cut) {
		char *op = tmp;
		size_t ol = sizeof tmp;
		size_t r = iconv(cd, &ip, &il, &op, &ol);

		sbuf_put(out, tmp, (size_t)(op - tmp));
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		sbuf_put(out, UTF8_REPLACEMENT, 3);
		if (errno != EILSEQ)
			break;          /* EINVAL: incomplete at the end */
		ip++;
		il--;
	}
	{
		char *op = tmp;
		size_t ol = sizeof tmp;
		iconv(cd, NULL, NULL, &op, &ol);
		sbuf_put(out, tmp, (size_t)(op - tmp));
	}
	iconv_close(cd);
}

/* charset_conv_init - a converter with no descriptor and nothing counted. */
void charset_conv_init(struct charset_conv *c)
{
	c->open = 0;
	c->ncarry = 0;
	c->bad = 0;
}

/* charset_conv_open - open the converter from CS; *UNKNOWN as for
 * charset_open. Without a descriptor the octets pass unconverted. */
void charset_conv_open(struct charset_conv *c, const char *cs, int *unknown)
{
	c->cd = charset_open(cs, unknown);
	c->open = c->cd != (iconv_t)-1;
}

/* charset_conv_feed - N octets through the converter, the UTF-8 to PUT.
 * An incomplete character at the end waits for the next octets. */
void charset_conv_feed(struct charset_conv *c, const unsigned char *p,
                       size_t n, mime_put_fn *put, void *ctx)
{
	char obuf[4096];

	if (!c->open) {
		put(ctx, p, n);
		return;
	}
	while (n > 0) {
		size_t take = n < CONV_CHUNK - c->ncarry ? n : CONV_CHUNK - c->ncarry;
		char *in = (char *)c->work;
		size_t inleft;

		memcpy(c->work + c->ncarry, p, take);
		inleft = c->ncarry + take;
		p += take;
		n -= take;
		c->ncarry = 0;
		while (inleft > 0) {
			char *o = obuf;
			size_t ol = sizeof obuf;
			size_t r = iconv(c->cd, &in, &inleft, &o, &ol);

			put(ctx, (unsigned char *)obuf, (size_t)(o - obuf));
			if (r != (size_t)-1)
				break;
			if (errno == E2BIG)
				continue;
			if (errno == EINVAL && inleft <= CONV_CARRY) {
				memmove(c->work, in, inleft);
				c->ncarry = inleft;
				break;
			}
			c->bad++;
			put(ctx, (const unsigned char *)UTF8_REPLACEMENT, 3);
			in++;
			inleft--;
		}
	}
}

/* charset_conv_end - the stream ends: an incomplete character becomes
 * U+FFFD, a stateful charset's final octets go to PUT; then close. */
void charset_conv_end(struct charset_conv *c, mime_put_fn *put, void *ctx)
{
	char obuf[256], *o = obuf;
	size_t ol = sizeof obuf;

	if (!c->open)
		return;
	if (c->ncarry) {
		c->bad += c->ncarry;
		c->ncarry = 0;
		put(ctx, (const unsigned char *)UTF8_REPLACEMENT, 3);
	}
	iconv(c->cd, NULL, NULL, &o, &ol);
	put(ctx, (unsigned char *)obuf, (size_t)(o - obuf));
	charset_conv_close(c);
}

/* charset_conv_close - release the descriptor, if any, and say no more. */
void charset_conv_close(struct charset_conv *c)
{
	if (c->open)
		iconv_close(c->cd);
	c->open = 0;
}
