/*
 * mime7.h - a message with 8-bit octets made 7-bit for a server that does
 * not offer 8BITMIME (RFC 6152 section 3): each body part holding 8-bit
 * text is sent quoted-printable instead.
 */
#ifndef MIME7_H
#define MIME7_H

#include <sys/types.h>

#include "bounds.h"

/* What the first pass learns and the second uses. */
struct mime7 {
	unsigned char need[MIME7_LEAVES_MAX / 8]; /* leaf N holds 8-bit text */
	int leaves;
	char why[128];                  /* why it cannot be converted */
};

/*
 * mime7_check - read the message in MSGFD (SIZE octets, LF line ends) and
 * decide whether it can be made 7-bit safely: 8-bit octets only in the
 * bodies of leaf parts whose encoding is 7bit, 8bit, binary or none
 * (those become quoted-printable), never in a header, a preamble or an
 * epilogue, nor in a base64 or quoted-printable part. 0, or -1 with the
 * reason in M->why (errno EINVAL), or -1 with errno when reading fails.
 */
int mime7_check(struct mime7 *m, int msgfd, off_t size);

/*
 * mime7_write - the message rewritten after mime7_check, LF line ends,
 * through EMIT: the parts that hold 8-bit text quoted-printable, with
 * their Content-Transfer-Encoding changed (and MIME-Version, Content-Type
 * text/plain; charset=unknown-8bit added to a message without them, RFC
 * 1428). 0, or -1 when reading or EMIT fails.
 */
int mime7_write(struct mime7 *m, int msgfd, off_t size,
                int (*emit)(void *arg, const char *buf, size_t len), void *arg);

#endif
