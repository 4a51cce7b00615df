/*
 * smtp-body.h - a stored message encoded for DATA (smtp-body.c).
 */
#ifndef SMTP_BODY_H
#define SMTP_BODY_H

#include <stddef.h>
#include <sys/types.h>

#include "mime7.h"

/*
 * smtp_body_write - the message in MSGFD (SIZE octets, LF line ends) as it
 * goes on the wire through EMIT, made 7-bit through M first when M is not
 * NULL (after mime7_check), ending with the final ".". 0, or -1 when
 * reading or EMIT fails.
 */
int smtp_body_write(int msgfd, off_t size, struct mime7 *m,
                    int (*emit)(void *arg, const char *buf, size_t len), void *arg);

/* smtp_body_size - the octets the message takes on the wire, for SIZE=
 * (each LF becomes CRLF; stuffing and folding, rare, are left out); *EIGHT
 * is set when it holds an octet over 0x7f. */
off_t smtp_body_size(int msgfd, off_t size, int *eight);

#endif
