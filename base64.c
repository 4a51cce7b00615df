/*
 * base64.c - RFC 4648 base64, strict on input.
 */
#include <string.h>

#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64_encode - encode IN into OUT; -1 if it does not fit. */
int
base64_encode(const unsigned char *in, size_t len, char *out, size_t outsz)
{
	size_t need = (len + 2) / 3 * 4 + 1, o = 0;

	if (outsz < need)
		return -1;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

/* value - the 6-bit value of C, or -1. */
static int
value(int c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/* base64_decode - strict decoding; the length, or -1 (OUT then cleared:
 * it may have held part of a secret). */
ssize_t
base64_decode(const char *in, unsigned char *out, size_t outsz)
{
	size_t len = strlen(in), o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int a = value(in[i]), b = value(in[i + 1]);
		int c = value(in[i + 2]), d = value(in[i + 3]);
		int last = i + 4 == len;
		if (a < 0 || b < 0 ||
		    (c < 0 && !(last && in[i + 2] == '=' && in[i + 3] == '=')) ||
		    (d < 0 && !(last && in[i + 3] == '=')))
			goto bad;
		unsigned v = (unsigned)a << 18 | (unsigned)b << 12 |
		    (unsigned)(c < 0 ? 0 : c) << 6 | (unsigned)(d < 0 ? 0 : d);
		size_t n = c < 0 ? 1 : d < 0 ? 2 : 3;
		/* Bits past the last octet must be zero (canonical form). */
		if ((n == 1 && (v & 0xffff)) || (n == 2 && (v & 0xff)) || o + n > outsz)
			goto bad;
		out[o++] = (unsigned char)(v >> 16);
		if (n > 1)
			out[o++] = (unsigned char)(v >> 8);
		if (n > 2)
			out[o++] = (unsigned char)v;
	}
	return (ssize_t)o;
bad:
	explicit_bzero(out, o);
	return -1;
}
