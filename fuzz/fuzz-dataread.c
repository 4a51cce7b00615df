/*
 * fuzz-dataread.c - the DATA state machine against a simple reference:
 * the first octet chooses how the input is cut into chunks; the result
 * (stored bytes, size, end of data) must not depend on the cutting, and
 * the end of data is found exactly where "\r\n.\r\n" first occurs
 * (counting the DATA line's CRLF before the input).
 */
#include <stdlib.h>
#include <string.h>

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
run(const unsigned char *in, size_t n, size_t step, struct buf *out, struct dataread *d)
{
	size_t used = 0;

	dr_init(d, 0, sink, out);
	while (used < n && !d->done) {
		size_t take = n - used < step ? n - used : step;
		used += dr_feed(d, (const char *)in + used, take);
	}
	dr_finish(d);
	return used;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct dataread d1, d2;
	struct buf a, b;
	size_t u1, u2, step;

	if (size < 1)
		return 0;
	step = 1 + data[0] % 7;
	data++, size--;
	a.p = malloc(size + 1);
	b.p = malloc(size + 1);
	a.n = b.n = 0;
	u1 = run(data, size, size ? size : 1, &a, &d1);
	u2 = run(data, size, step, &b, &d2);
	if (u1 != u2 || a.n != b.n || memcmp(a.p, b.p, a.n) || d1.done != d2.done ||
	    d1.size != d2.size || d1.hops != d2.hops)
		abort();
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
	return 0;
}
