/*
 * linereader.h - one bounded line reader with a timeout, shared by the
 * SMTP commands and DATA of smtp-session and relay-agent's reply parsing.
 */
#ifndef LINEREADER_H
#define LINEREADER_H

#include <stddef.h>
#include <sys/types.h>

#include "bounds.h"

enum lr_status {
	LR_LINE,        /* a whole line (LF seen) */
	LR_TOOLONG,     /* longer than asked: discarded through its LF */
	LR_EOF,         /* end of input (a partial last line is dropped) */
	LR_TIMEOUT,     /* no complete line within the timeout */
	LR_ERROR        /* read error */
};

struct linereader {
	int fd;
	int timeout_ms;                 /* per line (per refill for lr_read) */
	long long limit_ms;             /* now_ms() value no wait goes past
	                                   (the session's limit); 0: none */
	void (*before_block)(void *);   /* called before waiting for input */
	void *arg;
	size_t r, w;                    /* unread octets are buf[r..w) */
	int eof;
	char buf[LR_BUF_SIZE];          /* last: lr_init leaves it untouched */
};

/* lr_init - read FD, allowing TIMEOUT_S seconds per line. */
void lr_init(struct linereader *lr, int fd, int timeout_s);

/*
 * lr_getline - the next line into LINE (at most MAX octets kept, LF
 * included in the count but not stored; a CR before the LF is kept for
 * the caller to judge). *LEN is the stored length. LINE is NUL-terminated
 * (so MAX + 1 octets must fit); it may itself contain NUL octets.
 */
enum lr_status lr_getline(struct linereader *lr, char *line, size_t max,
                          size_t *len);

/*
 * lr_read - up to N raw octets: what is buffered, or one read of FD
 * waiting at most DEADLINE (now_ms() value; 0 = the per-line timeout).
 * Returns the count, 0 at EOF, -1 on error, -2 on timeout.
 */
ssize_t lr_read(struct linereader *lr, char *buf, size_t n, long long deadline);

/*
 * lr_peek - make input available without copying: *P points at the
 * buffered octets; returns their count, 0 at EOF, -1 on error, -2 when
 * nothing came before DEADLINE. lr_consume then drops N of them, so
 * octets past the end of DATA stay for the next command (pipelining).
 */
ssize_t lr_peek(struct linereader *lr, const char **p, long long deadline);
void lr_consume(struct linereader *lr, size_t n);

/* lr_wipe - clear every octet of the buffer that is not waiting to be
 * read (lines already taken, stale copies): after a secret was read. */
void lr_wipe(struct linereader *lr);

/* lr_buffered - how many octets are buffered and unread. */
size_t lr_buffered(const struct linereader *lr);

#endif
