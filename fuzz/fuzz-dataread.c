/*
 * fuzz-dataread.c - the DATA state machine against a simple reference:
 * the first octet chooses how the input is cut into chunks; the result
 * (stored bytes, size, end of data) must not depend on the cutting, and
 * the end of data is found exactly where "\r\n.\r\n" first occurs
 * (counting the DATA line's CRLF before the input). Two references
 * more: once the end is found, the size is the stored octets with each
 * LF counted as CRLF (stuffed dots and the final ".CRLF" left out, RFC
 * 1870); and the stored text equals the text kept with every header
 * (keep_headers) less the dropped fields and their continuation lines,
 * found line by line.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../dataread.h"

struct buf {
	unsigned char *p;
	size_t n;
};

static int
sink(void *arg, const char *data, size_t n)
{
	struct buf *b = arg;

	memcpy(b->p + b->n, data, n);
	b->n += n;
	return 0;
}

/* run - feed IN in chunks of STEP; returns octets used. */
static size_t
run(const unsigned char *in, size_t n, size_t step, struct buf *out, struct dataread *d,
    int keep)
{
	size_t used = 0;

	dr_init(d, 0, sink, out);
	d->keep_headers = keep;
	while (used < n && !d->done) {
		size_t take = n - used < step ? n - used : step;
		used += dr_feed(d, (const char *)in + used, take);
	}
	dr_finish(d);
	return used;
}

/* dropped_field - the line at P (N octets, no LF) starts a field that
 * is dropped: its name, blanks before the colon allowed, within the
 * first DR_NAME_MAX octets. */
static int
dropped_field(const unsigned char *p, size_t n)
{
	static const char *const names[] = { "return-path", "content-length", "bcc", "resent-bcc" };
	size_t c, k;

	for (c = 0; c < n && c < DR_NAME_MAX && p[c] != ':'; c++)
		;
	if (c == n || c == DR_NAME_MAX)
		return 0;
	for (k = c; k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'); k--)
		;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == k && strncasecmp((const char *)p, names[i], k) == 0)
			return 1;
	return 0;
}

/* ref_drop - IN (N octets, every header kept) with the dropped fields
 * and their continuation lines taken out, into OUT; returns its length. */
static size_t
ref_drop(const unsigned char *in, size_t n, unsigned char *out)
{
	size_t i = 0, o = 0;
	int header = 1, dropping = 0;

	while (i < n) {
		size_t e = i;
		while (e < n && in[e] != '\n')
			e++;
		size_t len = (e < n ? e + 1 : e) - i;
		if (header) {
			if (in[i] == '\n')
				header = dropping = 0;
			else if (in[i] != ' ' && in[i] != '\t')
				dropping = dropped_field(in + i, e - i);
			if (dropping) {
				i += len;
				continue;
			}
		}
		memcpy(out + o, in + i, len);
		o += len;
		i += len;
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct dataread d1, d2, d3;
	struct buf a, b, k;
	size_t u1, u2, u3, step;

	if (size < 1)
		return 0;
	step = 1 + data[0] % 7;
	data++, size--;
	a.p = malloc(size + 1);
	b.p = malloc(size + 1);
	k.p = malloc(size + 1);
	a.n = b.n = k.n = 0;
	u1 = run(data, size, size ? size : 1, &a, &d1, 0);
	u2 = run(data, size, step, &b, &d2, 0);
	u3 = run(data, size, step, &k, &d3, 1);
	if (u1 != u2 || a.n != b.n || memcmp(a.p, b.p, a.n) || d1.done != d2.done ||
	    d1.size != d2.size || d1.hops != d2.hops)
		abort();
	/* Dropping headers changes what is stored, never the size or the end. */
	if (u3 != u1 || d3.size != d1.size || d3.done != d1.done || d3.hops != d1.hops)
		abort();
	unsigned char *dropped = malloc(size + 1);
	if (ref_drop(k.p, k.n, dropped) != a.n || memcmp(dropped, a.p, a.n))
		abort();
	free(dropped);
	if (d3.done) {
		long long lf = 0;
		for (size_t i = 0; i < k.n; i++)
			lf += k.p[i] == '\n';
		if (d3.size != (long long)k.n + lf)
			abort();
	}
	/* The reference: "\r\n" + input, first "\r\n.\r\n". */
	unsigned char *ref = malloc(size + 2);
	memcpy(ref, "\r\n", 2);
	memcpy(ref + 2, data, size);
	size_t end = 0;
	int found = 0;
	for (size_t i = 0; i + 5 <= size + 2; i++)
		if (!memcmp(ref + i, "\r\n.\r\n", 5)) {
			end = i + 5 - 2;
			found = 1;
			break;
		}
	if (found != d1.done || (found && end != u1))
		abort();
	if (a.n > size)       /* unstuffing and CRLF to LF only shorten */
		abort();
	free(ref);
	free(a.p);
	free(b.p);
	free(k.p);
	return 0;
}
