/*
 * base64.h - RFC 4648 base64: the product's one encoder and one decoder.
 */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* base64_encode - encode IN into OUT (NUL-terminated); -1 if it does not fit. */
int base64_encode(const unsigned char *in, size_t len, char *out, size_t outsz);

/*
 * base64_decode - decode the NUL-terminated IN into OUT: only the
 * alphabet, '=' padding at the end, a length that is a multiple of 4,
 * zero bits after the last octet. Returns the decoded length, or -1
 * when IN is not strict base64 or the result does not fit (OUT then
 * holds no decoded octet: it may have held part of a secret).
 */
ssize_t base64_decode(const char *in, unsigned char *out, size_t outsz);

/*
 * The decoder as a state machine fed one character at a time, for text
 * that streams by. Strict, it accepts what base64_decode() accepts.
 * Lenient (message bodies, RFC 2047 words), it skips white space, skips
 * and counts in BAD any other character outside the alphabet, and takes
 * '=' as the end of a quantum wherever it comes, so that concatenated
 * encodings decode; it never fails.
 */
struct base64_dec {
	unsigned long v;        /* the sextets of the quantum so far */
	int n;                  /* characters in the quantum ('=' included) */
	int pad;                /* strict: '=' in the quantum */
	int done;               /* strict: a padded quantum ended the text */
	int lenient;
	unsigned long long bad; /* lenient: characters and sextets dropped */
};

/* base64_dec_init - a decoder at the start of a text, strict or LENIENT. */
void base64_dec_init(struct base64_dec *d, int lenient);

/*
 * base64_dec_feed - take the character C; the octets it completes (0 to
 * 3) are put in OUT and counted in the result, -1 when strict and C
 * cannot come here.
 */
int base64_dec_feed(struct base64_dec *d, int c, unsigned char out[3]);

/*
 * base64_dec_end - the text ends: the octets of a quantum left open (0
 * to 2, lenient only) in OUT and counted in the result, -1 when strict
 * and the text stopped inside a quantum.
 */
int base64_dec_end(struct base64_dec *d, unsigned char out[2]);

#endif
