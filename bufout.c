/*
 * bufout.c - the one buffered writer (see bufout.h).
 *
 * After the first failed write nothing more is written and the error is
 * kept in o->err: callers check once, at bufout_flush, instead of after
 * every piece.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bufout.h"
#include "util.h"

/* bufout_init - an empty writer on FD. */
void
bufout_init(struct bufout *o, int fd)
{
	o->fd = fd;
	o->err = 0;
	o->len = 0;
}

/* bufout_flush - write what is buffered. */
int
bufout_flush(struct bufout *o)
{
	if (o->len && !o->err && write_all(o->fd, o->buf, o->len) < 0)
		o->err = errno ? errno : EIO;
	o->len = 0;
	if (o->err) {
		errno = o->err;
		return -1;
	}
	return 0;
}

/* bufout_flush_nowait - send what is buffered to a socket without
 * waiting (MSG_DONTWAIT); what the socket cannot take now stays. */
int
bufout_flush_nowait(struct bufout *o)
{
	ssize_t n;

	if (o->err) {
		errno = o->err;
		return -1;
	}
	if (o->len == 0)
		return 1;
	while ((n = send(o->fd, o->buf, o->len, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 &&
	    errno == EINTR)
		;
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != ENOTSOCK)
			o->err = errno;
		return -1;
	}
	memmove(o->buf, o->buf + n, o->len - (size_t)n);
	o->len -= (size_t)n;
	return o->len == 0;
}

/* bufout_put - append N octets. */
void
bufout_put(struct bufout *o, const void *s, size_t n)
{
	const char *p = s;

	while (n > 0) {
		size_t room = sizeof o->buf - o->len, take = n < room ? n : room;
		memcpy(o->buf + o->len, p, take);
		o->len += take;
		p += take;
		n -= take;
		if (o->len == sizeof o->buf)
			(void)bufout_flush(o);
	}
}

/* bufout_str - append a string. */
void
bufout_str(struct bufout *o, const char *s)
{
	bufout_put(o, s, strlen(s));
}

/* bufout_printf - append formatted text (cut at BUFOUT_LINE_MAX). */
void
bufout_printf(struct bufout *o, const char *fmt, ...)
{
	char line[BUFOUT_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	bufout_put(o, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
