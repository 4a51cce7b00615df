/*
 * dataread.c - the DATA state machine (see dataread.h for the policy).
 */
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "dataread.h"

enum {
	S_BOL,      /* at the start of a line */
	S_DOT,      /* a line started with '.' (not yet emitted) */
	S_DOTCR,    /* a line started with ".\r" */
	S_TEXT,     /* inside a line */
	S_CR        /* inside a line, a '\r' not yet emitted */
};

static const char received[] = "received:";

/* The header fields dropped from what the client sent. */
static const char *const dropped[] = {
	"return-path", "content-length", "bcc", "resent-bcc",
};

/* dr_init - ready for a new message. */
void
dr_init(struct dataread *d, long long max_size, dr_sink sink, void *arg)
{
	/* Not the output buffer: its pages are touched only as text comes. */
	memset(d, 0, offsetof(struct dataread, out));
	d->state = S_BOL;
	d->crlf_before = 1;     /* the DATA command line ended in CRLF */
	d->in_header = 1;
	d->hdr_match = 1;
	d->max_size = max_size;
	d->sink = sink;
	d->arg = arg;
}

/* dr_flush - hand the output buffer to the sink. */
static void
dr_flush(struct dataread *d)
{
	if (d->outlen && !d->write_error && d->sink(d->arg, d->out, d->outlen) < 0)
		d->write_error = 1;
	d->outlen = 0;
}

/* dr_out_run - N octets into the output buffer. */
static void
dr_out_run(struct dataread *d, const char *p, size_t n)
{
	if (d->toobig || d->write_error)
		return;
	while (n > 0) {
		size_t take = sizeof d->out - d->outlen < n ? sizeof d->out - d->outlen : n;
		memcpy(d->out + d->outlen, p, take);
		d->outlen += take;
		p += take;
		n -= take;
		if (d->outlen == sizeof d->out)
			dr_flush(d);
	}
}

/* text_run - how many of the N octets at P hold no CR, LF or NUL. */
static size_t
text_run(const char *p, size_t n)
{
	const char *e;

	if ((e = memchr(p, '\n', n)))
		n = (size_t)(e - p);
	if ((e = memchr(p, '\r', n)))
		n = (size_t)(e - p);
	if ((e = memchr(p, '\0', n)))
		n = (size_t)(e - p);
	return n;
}

/* dr_out - one octet into the output buffer. */
static void
dr_out(struct dataread *d, char c)
{
	if (d->toobig || d->write_error)
		return;
	d->out[d->outlen++] = c;
	if (d->outlen == sizeof d->out)
		dr_flush(d);
}

/* drop_name - whether the held field start "NAME:" (blanks allowed
 * before the colon) names a field that is dropped. */
static int
drop_name(const struct dataread *d)
{
	size_t n = d->held - 1;         /* without the colon */

	while (n > 0 && (d->hold[n - 1] == ' ' || d->hold[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
		if (strlen(dropped[i]) == n && strncasecmp(d->hold, dropped[i], n) == 0)
			return 1;
	return 0;
}

/* release - the held field start is kept: pass it on. */
static void
release(struct dataread *d)
{
	for (size_t i = 0; i < d->held; i++)
		dr_out(d, d->hold[i]);
	d->held = 0;
}

/*
 * header_octet - C in the header section: returns 1 when it is stored.
 * The start of each field is held until its name is known; a dropped
 * field and its continuation lines (starting with a blank) go nowhere.
 */
static int
header_octet(struct dataread *d, char c)
{
	if (d->line_pos == 0 && c != ' ' && c != '\t')
		d->dropping = 0;                /* a new field, or the end */
	if (d->dropping)
		return 0;
	if (d->held > 0 || (d->line_pos == 0 && c != ' ' && c != '\t' && c != '\n')) {
		d->hold[d->held++] = c;
		if (c == ':') {
			if (drop_name(d)) {
				d->held = 0;
				d->dropping = 1;
				return 0;
			}
			release(d);
		} else if (c == '\n' || d->held == sizeof d->hold)
			release(d);
		return 0;
	}
	return 1;
}

/* dr_emit - one octet of the stored message; tracks headers and hops. */
static void
dr_emit(struct dataread *d, char c)
{
	int store = 1;

	if (c == '\0')
		d->nul = 1;
	if (d->in_header) {
		if (!d->keep_headers)
			store = header_octet(d, c);
		if (c == '\n') {
			if (d->line_pos == 0)
				d->in_header = 0;   /* the empty line ends the header */
			d->line_pos = 0;
			d->hdr_match = 1;
		} else {
			if (d->hdr_match && d->line_pos < sizeof received - 1) {
				if (tolower((unsigned char)c) != received[d->line_pos])
					d->hdr_match = 0;
				else if (d->line_pos == sizeof received - 2)
					d->hops++;
			}
			d->line_pos++;
		}
	}
	if (store)
		dr_out(d, c);
}

/* dr_eol - a line ended; CRLF tells whether it was a real CRLF. */
static void
dr_eol(struct dataread *d, int crlf)
{
	dr_emit(d, '\n');
	d->crlf_before = crlf;
	d->lines++;
	d->state = S_BOL;
}

/* dr_feed - take up to N octets; stop right after <CRLF>.<CRLF>. */
size_t
dr_feed(struct dataread *d, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n && !d->done; i++) {
		char c = buf[i];

		/* Inside a body line, ordinary octets go through at once: they
		 * change nothing but the size (unless it passes the limit). */
		if (d->state == S_TEXT && !d->in_header) {
			size_t run = text_run(buf + i, n - i);
			if (run > 1 && !(d->max_size && d->size + (long long)run > d->max_size + 3)) {
				d->size += (long long)run;
				dr_out_run(d, buf + i, run);
				i += run - 1;
				continue;
			}
		}

		d->size += (c == '\n' && d->state != S_CR && d->state != S_DOTCR) ? 2 : 1;
		if (d->max_size && d->size > d->max_size + 3)
			d->toobig = 1;  /* +3: the ".\r\n" that may still end it */
		switch (d->state) {
		case S_BOL:
			if (c == '.')
				d->state = S_DOT;
			else if (c == '\r')
				d->state = S_CR;
			else if (c == '\n')
				dr_eol(d, 0);
			else {
				dr_emit(d, c);
				d->state = S_TEXT;
			}
			break;
		case S_DOT:
			if (c == '\r')
				d->state = S_DOTCR;
			else if (c == '\n') {
				/* "<LF>" after a lone dot is no end of data */
				dr_emit(d, '.');
				dr_eol(d, 0);
			} else {
				/* a stuffed dot: drop it, keep the rest; it is
				 * not part of the size (RFC 1870) */
				d->size--;
				dr_emit(d, c);
				d->state = S_TEXT;
			}
			break;
		case S_DOTCR:
			if (c == '\n') {
				if (d->crlf_before) {
					d->done = 1;
					d->size -= 3;   /* ".\r\n" is not message */
					if (!d->max_size || d->size <= d->max_size)
						d->toobig = 0;
					else
						d->toobig = 1;
				} else {
					/* "<LF>.<CRLF>": text, the dot kept */
					dr_emit(d, '.');
					dr_eol(d, 1);
				}
			} else {
				/* ".\r" then more: a stuffed dot and a bare CR */
				d->size--;
				if (c == '\r') {
					dr_emit(d, '\r');
					d->state = S_CR;
				} else {
					dr_emit(d, '\r');
					dr_emit(d, c);
					d->state = S_TEXT;
				}
			}
			break;
		case S_TEXT:
			if (c == '\r')
				d->state = S_CR;
			else if (c == '\n')
				dr_eol(d, 0);
			else
				dr_emit(d, c);
			break;
		case S_CR:
			if (c == '\n')
				dr_eol(d, 1);
			else if (c == '\r')
				dr_emit(d, '\r');   /* the earlier one was bare */
			else {
				dr_emit(d, '\r');
				dr_emit(d, c);
				d->state = S_TEXT;
			}
			break;
		}
	}
	return i;
}

/* dr_finish - flush buffered output; 0, or -1 if the sink failed. */
int
dr_finish(struct dataread *d)
{
	release(d);
	dr_flush(d);
	return d->write_error ? -1 : 0;
}
