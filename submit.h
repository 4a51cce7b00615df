/*
 * submit.h - the message sendmail reads on its standard input: its header
 * section (held, bounded by SENDMAIL_HEADER_MAX, for -t and for the
 * headers sendmail adds), and its text streamed out as SMTP DATA.
 */
#ifndef SUBMIT_H
#define SUBMIT_H

#include <stddef.h>

#include "bounds.h"
#include "bufout.h"

/* Standard input, buffered so that the start of a line can be looked at. */
struct submit_in {
	int fd;
	char buf[IO_BUF_SIZE];
	size_t r, w;            /* unread octets are buf[r..w) */
	int eof;
	int err;                /* errno of a failed read */
};

struct message {
	struct submit_in in;
	char *hdr;              /* the header section, LF line ends, without a
	                           leading mbox "From " line (Bcc kept for -t;
	                           message_write leaves it out) */
	size_t hlen, hcap;
	int have_from, have_date, have_msgid;
	int dot_ends;           /* a line holding only "." ends the message
	                           (no -i) */
	int nul;                /* a NUL octet was met */
	int ended;              /* the lone dot was met: the rest of the input
	                           is not read */
};

/* message_init - ready to read FD. DOT_ENDS: without -i. */
void message_init(struct message *m, int fd, int dot_ends);

/*
 * message_read_header - read the header section: a leading mbox "From "
 * line is dropped; field lines and their continuations are kept (Bcc
 * among them, for -t) up to the first empty line (consumed) or the first
 * line that is no header field (left for the body). 0, or -1 with the
 * reason in WHY (too long, a NUL octet, a read error).
 */
int message_read_header(struct message *m, char *why, size_t whysz);

/*
 * message_header_addrs - each address of the To:, Cc: and Bcc: fields
 * (RFC 5322 address lists: display names, comments, groups), passed to
 * FN(ARG, ADDR). 0, or -1 when FN returned -1 or an address is too long.
 */
int message_header_addrs(const struct message *m, int (*fn)(void *arg, const char *addr),
                         void *arg);

/*
 * addrlist_next - the next address of the RFC 5322 address list at *P
 * into OUT (the part in angle brackets, or the addr-spec without its
 * comments); *P advances. 1 found, 0 at the end, -1 too long.
 */
int addrlist_next(const char **p, char *out, size_t outsz);

/*
 * message_write - the message as SMTP DATA text to O: the header section
 * without Bcc, then ADDED (LF lines), an empty line, the body read now;
 * CRLF line ends, dot-stuffed, a bare CR made a space, the final ".".
 * Memory does not grow with the input. 0; -1 on a NUL octet (m->nul) or
 * a read error (m->in.err): the final dot is then not written.
 */
int message_write(struct message *m, struct bufout *o, const char *added);

/* message_free - release the header section. */
void message_free(struct message *m);

#endif
