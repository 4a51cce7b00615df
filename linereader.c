/*
 * linereader.c - a bounded line reader with a timeout.
 *
 * Octets are read into a fixed buffer; a line longer than the caller's
 * limit is consumed through its LF and reported as too long, so memory
 * never grows with what the peer sends. Before blocking for more input
 * the before_block hook runs: smtp-session flushes pipelined replies there
 * (RFC 2920: reply whenever the input buffer is empty).
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "linereader.h"
#include "util.h"

/* lr_init - read FD, allowing TIMEOUT_S seconds per line. */
void
lr_init(struct linereader *lr, int fd, int timeout_s)
{
	/* Not the buffer: its pages are touched only as input comes. */
	memset(lr, 0, offsetof(struct linereader, buf));
	lr->fd = fd;
	lr->timeout_ms = timeout_s * 1000;
}

/* lr_buffered - how many octets are buffered and unread. */
size_t
lr_buffered(const struct linereader *lr)
{
	return lr->w - lr->r;
}

/* lr_wipe - clear what was read and any stale copy past the unread part. */
void
lr_wipe(struct linereader *lr)
{
	explicit_bzero(lr->buf, lr->r);
	explicit_bzero(lr->buf + lr->w, sizeof lr->buf - lr->w);
}

/* lr_fill - read more into the buffer before DEADLINE: 1, 0 EOF, -1, -2. */
static int
lr_fill(struct linereader *lr, long long deadline)
{
	if (lr->eof)
		return 0;
	if (lr->limit_ms && deadline > lr->limit_ms)
		deadline = lr->limit_ms;
	if (lr->r > 0) {        /* keep unread octets at the front */
		memmove(lr->buf, lr->buf + lr->r, lr->w - lr->r);
		lr->w -= lr->r;
		lr->r = 0;
	}
	if (lr->w == sizeof lr->buf)
		return 1;
	if (lr->before_block)
		lr->before_block(lr->arg);
	for (;;) {
		struct pollfd p = { .fd = lr->fd, .events = POLLIN };
		long long left = deadline - now_ms();
		int n;

		if (left <= 0)
			return -2;
		n = poll(&p, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return -2;
		ssize_t got = read(lr->fd, lr->buf + lr->w, sizeof lr->buf - lr->w);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return -1;
		if (got == 0) {
			lr->eof = 1;
			return 0;
		}
		lr->w += (size_t)got;
		return 1;
	}
}

/* lr_getline - the next line, at most MAX octets counting the LF. */
enum lr_status
lr_getline(struct linereader *lr, char *line, size_t max, size_t *len)
{
	long long deadline = now_ms() + lr->timeout_ms;
	size_t got = 0;
	int toolong = 0;

	for (;;) {
		char *start = lr->buf + lr->r;
		size_t avail = lr->w - lr->r;
		char *lf = memchr(start, '\n', avail);
		size_t take = lf ? (size_t)(lf - start) : avail;

		if (!toolong) {
			if (got + take + 1 > max)   /* +1: the LF counts */
				toolong = 1;
			else {
				memcpy(line + got, start, take);
				got += take;
			}
		}
		lr->r += take;
		if (lf) {
			lr->r++;
			line[toolong ? 0 : got] = '\0';
			*len = toolong ? 0 : got;
			return toolong ? LR_TOOLONG : LR_LINE;
		}
		int rc = lr_fill(lr, deadline);
		if (rc == 0)
			return LR_EOF;
		if (rc == -1)
			return LR_ERROR;
		if (rc == -2)
			return LR_TIMEOUT;
	}
}

/* lr_read - raw octets from the buffer, or one read before DEADLINE. */
ssize_t
lr_read(struct linereader *lr, char *buf, size_t n, long long deadline)
{
	if (lr->w == lr->r) {
		int rc = lr_fill(lr, deadline ? deadline : now_ms() + lr->timeout_ms);
		if (rc <= 0)
			return rc;
	}
	size_t avail = lr->w - lr->r;
	if (n > avail)
		n = avail;
	memcpy(buf, lr->buf + lr->r, n);
	lr->r += n;
	return (ssize_t)n;
}

/* lr_peek - the buffered octets, reading once if there are none. */
ssize_t
lr_peek(struct linereader *lr, const char **p, long long deadline)
{
	if (lr->w == lr->r) {
		int rc = lr_fill(lr, deadline ? deadline : now_ms() + lr->timeout_ms);
		if (rc <= 0)
			return rc;
	}
	*p = lr->buf + lr->r;
	return (ssize_t)(lr->w - lr->r);
}

/* lr_consume - drop N octets returned by lr_peek. */
void
lr_consume(struct linereader *lr, size_t n)
{
	if (n > lr->w - lr->r)
		n = lr->w - lr->r;
	lr->r += n;
}
