/*
 * smtp-body.c - a stored message as relay-agent puts it on the wire.
 *
 * The spooled text has LF line ends; on the wire each becomes CRLF, a CR
 * inside a line is sent as a space (never a bare CR), a line longer than
 * 998 octets is folded with CRLF and a space as Postfix does, and a line
 * starting with "." gets a second one, which counts toward the 998. The
 * text may first go through mime7.c (8-bit made quoted-printable for a
 * server without 8BITMIME). Memory is fixed: one IO_BUF_SIZE buffer in,
 * one out.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "smtp-body.h"
#include "smtp-client.h"

/* Octets of text on one line we send: 1000 minus the CRLF. */
#define TEXT_OCTETS_MAX (SMTP_TEXT_LINE_MAX - 2)

/* Body encoder state, carried across buffers. */
struct body_enc {
	int (*emit)(void *arg, const char *buf, size_t len);
	void *arg;
	char buf[IO_BUF_SIZE];
	size_t len;
	size_t col;                     /* octets on the current output line */
};

/* enc_put - add octets to the encoder's output, emitting when full. */
static int enc_put(struct body_enc *e, const char *s, size_t n)
{
	if (e->len + n > sizeof e->buf) {
		if (e->emit(e->arg, e->buf, e->len) < 0)
			return -1;
		e->len = 0;
	}
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	return 0;
}

/* enc_feed - N octets of stored text (LF line ends) as they go on the
 * wire: CRLF, no bare CR, folded at 998 octets, dot-stuffed. */
static int enc_feed(struct body_enc *e, const char *in, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = in[i];

		if (ch == '\n') {
			if (enc_put(e, "\r\n", 2) < 0)
				return -1;
			e->col = 0;
			continue;
		}
		if (ch == '\r')
			ch = ' ';       /* never a bare CR on the wire */
		if (e->col == TEXT_OCTETS_MAX) {
			/* Fold: the continuation starts with a space, so it
			 * can never be a lone "." line. */
			if (enc_put(e, "\r\n ", 3) < 0)
				return -1;
			e->col = 1;
		}
		if (e->col == 0 && ch == '.') {
			/* The stuffed dot is on the wire too: it counts. */
			if (enc_put(e, ".", 1) < 0)
				return -1;
			e->col++;
		}
		if (enc_put(e, &ch, 1) < 0)
			return -1;
		e->col++;
	}
	return 0;
}

/* enc_sink - mime7_write's output into the encoder. */
static int enc_sink(void *arg, const char *buf, size_t len)
{
	return enc_feed(arg, buf, len);
}

/* enc_end - the last line end, the final ".", everything emitted. */
static int enc_end(struct body_enc *e)
{
	if (e->col > 0 && enc_put(e, "\r\n", 2) < 0)
		return -1;
	if (enc_put(e, ".\r\n", 3) < 0)
		return -1;
	if (e->len && e->emit(e->arg, e->buf, e->len) < 0)
		return -1;
	return 0;
}

/* smtp_body_write - the message (made 7-bit through M when M is not
 * NULL) as it goes on the wire, ending in ".". */
int smtp_body_write(int msgfd, off_t size, struct mime7 *m,
                      int (*emit)(void *arg, const char *buf, size_t len), void *arg)
{
	static struct body_enc e;      /* large; one body at a time per process */
	char in[IO_BUF_SIZE];
	off_t off = 0;

	e.emit = emit;
	e.arg = arg;
	e.len = 0;
	e.col = 0;
	if (m)
		return mime7_write(m, msgfd, size, enc_sink, &e) < 0 ? -1 : enc_end(&e);
	while (off < size) {
		size_t want = size - off < (off_t)sizeof in ? (size_t)(size - off) : sizeof in;
		ssize_t n = pread(msgfd, in, want, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += n;
		if (enc_feed(&e, in, (size_t)n) < 0)
			return -1;
	}
	return enc_end(&e);
}

/* smtp_write_body - the message as it goes on the wire, ending in ".". */
int smtp_write_body(int msgfd, off_t size,
                    int (*emit)(void *arg, const char *buf, size_t len), void *arg)
{
	return smtp_body_write(msgfd, size, NULL, emit, arg);
}

/* smtp_body_size - the octets of the message in MSGFD (SIZE octets, LF line
 * ends) as it goes out: one more per line for its CR (RFC 1870 counts the
 * CRLFs; dot-stuffing and folding, rare, are left out of the estimate).
 * *EIGHT is set when the text holds an octet over 0x7f. */
off_t smtp_body_size(int msgfd, off_t size, int *eight)
{
	char in[IO_BUF_SIZE];
	off_t off = 0, lines = 0;

	while (off < size) {
		size_t want = size - off < (off_t)sizeof in ? (size_t)(size - off) : sizeof in;
		ssize_t n = pread(msgfd, in, want, off), i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			lines += in[i] == '\n';
			*eight |= (unsigned char)in[i] > 0x7f;
		}
		off += n;
	}
	return size + lines;
}

