/*
 * bufout.h - the one buffered writer: output to a file descriptor in
 * IO_BUF_SIZE pieces, with the first write error kept for the end.
 *
 * Used for mbox appends (deliver.c), delivery reports (bounce.c) and the
 * replies of smtp-session. A writer never allocates and never grows.
 */
#ifndef BUFOUT_H
#define BUFOUT_H

#include <stddef.h>

#include "bounds.h"

struct bufout {
	int fd;
	int err;                /* errno of the first failed write; 0 */
	size_t len;             /* octets buffered */
	char buf[IO_BUF_SIZE];
};

/* bufout_init - an empty writer on FD. */
void bufout_init(struct bufout *o, int fd);

/* bufout_put - append N octets, writing out each full buffer. */
void bufout_put(struct bufout *o, const void *s, size_t n);

/* bufout_str - append a string. */
void bufout_str(struct bufout *o, const char *s);

/* bufout_printf - append formatted text, at most BUFOUT_LINE_MAX octets. */
void bufout_printf(struct bufout *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define BUFOUT_LINE_MAX 2048

/* bufout_flush - write what is buffered; 0, or -1 with errno (o->err). */
int bufout_flush(struct bufout *o);

/*
 * bufout_flush_nowait - send what is buffered to a socket FD as far as
 * it takes it without blocking: 1 all sent, 0 some left (the socket is
 * full), -1 with errno (ENOTSOCK: FD is no socket, nothing happened;
 * else a write error, kept in o->err).
 */
int bufout_flush_nowait(struct bufout *o);

#endif
