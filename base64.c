/*
 * base64.c - RFC 4648 base64: the product's one encoder and one decoder.
 *
 * The encoder serves AUTH in relay-agent. The decoder is a state machine
 * that takes one character at a time, so that one piece of code decodes
 * both a whole AUTH response (base64_decode, strict: a client that sends
 * anything but canonical base64 is refused) and a message body or an
 * RFC 2047 word as it streams through the debug sink (lenient: mail in
 * the wild has line breaks, stray characters and padding in the middle,
 * and the reader shows what it can and counts the rest).
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

/* base64_dec_init - a decoder at the start of a text. */
void
base64_dec_init(struct base64_dec *d, int lenient)
{
	memset(d, 0, sizeof *d);
	d->lenient = lenient;
}

/* quantum_put - the octets of a quantum of S sextets (2 to 4) held in
 * D->v, into OUT; the quantum is then empty. */
static int
quantum_put(struct base64_dec *d, int s, unsigned char out[3])
{
	unsigned long v = d->v << 6 * (4 - s);
	int k = s - 1;

	out[0] = (unsigned char)(v >> 16);
	if (k > 1)
		out[1] = (unsigned char)(v >> 8);
	if (k > 2)
		out[2] = (unsigned char)v;
	d->v = 0;
	d->n = d->pad = 0;
	return k;
}

/* lenient_close - a lenient quantum ends early (at '=' or at the end):
 * its whole octets out; a lone sextet holds none and counts as bad. */
static int
lenient_close(struct base64_dec *d, unsigned char out[3])
{
	int s = d->n;

	if (s < 2) {
		if (s == 1)
			d->bad++;
		d->v = 0;
		d->n = 0;
		return 0;
	}
	return quantum_put(d, s, out);
}

/* base64_dec_feed - take one character; the octets it completes, or -1. */
int
base64_dec_feed(struct base64_dec *d, int c, unsigned char out[3])
{
	int v = value(c);

	if (d->lenient) {
		if (v >= 0) {
			d->v = d->v << 6 | (unsigned)v;
			return ++d->n == 4 ? quantum_put(d, 4, out) : 0;
		}
		if (c == '=')
			return lenient_close(d, out);
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			d->bad++;
		return 0;
	}

	/* Strict: "xxxx" quanta, the last one may be "xxx=" or "xx==". */
	if (d->done)
		return -1;
	if (v >= 0 && d->pad == 0)
		d->v = d->v << 6 | (unsigned)v;
	else if (c == '=' && d->n >= 2)
		d->pad++;
	else
		return -1;
	if (++d->n < 4)
		return 0;
	/* Bits past the last octet must be zero (canonical form). */
	if ((d->pad == 1 && (d->v & 0x3)) || (d->pad == 2 && (d->v & 0xf)))
		return -1;
	d->done = d->pad > 0;
	return quantum_put(d, 4 - d->pad, out);
}

/* base64_dec_end - the text ends; the octets left, or -1. */
int
base64_dec_end(struct base64_dec *d, unsigned char out[2])
{
	unsigned char q[3];
	int k;

	if (!d->lenient)
		return d->n ? -1 : 0;
	k = lenient_close(d, q);
	memcpy(out, q, (size_t)k);
	return k;
}

/* base64_decode - the strict decoder over a whole string; the length, or
 * -1 (OUT then cleared: it may have held part of a secret). */
ssize_t
base64_decode(const char *in, unsigned char *out, size_t outsz)
{
	struct base64_dec d;
	unsigned char q[3];
	size_t o = 0;
	int k = 0;

	base64_dec_init(&d, 0);
	for (; *in && k >= 0; in++) {
		k = base64_dec_feed(&d, (unsigned char)*in, q);
		if (k > 0 && o + (size_t)k > outsz)
			k = -1;
		else if (k > 0) {
			memcpy(out + o, q, (size_t)k);
			o += (size_t)k;
		}
	}
	if (k >= 0)
		k = base64_dec_end(&d, q);
	explicit_bzero(&d, sizeof d);
	explicit_bzero(q, sizeof q);
	if (k < 0) {
		explicit_bzero(out, o);
		return -1;
	}
	return (ssize_t)o;
}
