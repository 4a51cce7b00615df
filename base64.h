/*
 * base64.h - RFC 4648 base64, strict on input (AUTH responses).
 */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* base64_encode - encode IN into OUT (NUL-terminated); -1 if it does not fit. */
int base64_encode(const unsigned char *in, size_t len, char *out, size_t outsz);

/*
 * base64_decode - decode the NUL-terminated IN into OUT: only the
 * alphabet, '=' padding at the end, a length that is a multiple of 4.
 * Returns the decoded length, or -1 when IN is not strict base64 or the
 * result does not fit.
 */
ssize_t base64_decode(const char *in, unsigned char *out, size_t outsz);

#endif
