/*
 * submit.c - the message sendmail reads (see submit.h).
 *
 * Input may have CRLF or LF line ends, 8-bit octets, lines of any length
 * and a last line without a line end; the output is SMTP DATA text:
 * CRLF only, dot-stuffed, with no bare CR (made a space, as relay-agent
 * does). Only the header section is held in memory, up to
 * SENDMAIL_HEADER_MAX octets; the body streams through one IO_BUF_SIZE
 * buffer. Without -i a line holding a single "." ends the message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "submit.h"

/* message_init - ready to read FD. */
void
message_init(struct message *m, int fd, int dot_ends)
{
	memset(m, 0, sizeof *m);
	m->in.fd = fd;
	m->dot_ends = dot_ends;
}

/* in_fill - read more into the buffer (moving what is unread to its
 * start); 1 got some, 0 at EOF or full, -1 on error. */
static int
in_fill(struct submit_in *in)
{
	ssize_t n;

	if (in->eof)
		return 0;
	if (in->r > 0) {
		memmove(in->buf, in->buf + in->r, in->w - in->r);
		in->w -= in->r;
		in->r = 0;
	}
	if (in->w == sizeof in->buf)
		return 0;
	while ((n = read(in->fd, in->buf + in->w, sizeof in->buf - in->w)) < 0 && errno == EINTR)
		;
	if (n < 0) {
		in->err = errno ? errno : EIO;
		in->eof = 1;
		return -1;
	}
	if (n == 0) {
		in->eof = 1;
		return 0;
	}
	in->w += (size_t)n;
	return 1;
}

/* in_peek - the next octet, not taken; -1 at the end. */
static int
in_peek(struct submit_in *in)
{
	if (in->r == in->w && in_fill(in) <= 0)
		return -1;
	return (unsigned char)in->buf[in->r];
}

/* in_line - make the current line (through its LF) buffered if it fits;
 * returns its buffered length (with the LF when seen). */
static size_t
in_line(struct submit_in *in)
{
	for (;;) {
		char *nl = memchr(in->buf + in->r, '\n', in->w - in->r);
		if (nl)
			return (size_t)(nl - (in->buf + in->r)) + 1;
		if (in_fill(in) <= 0)
			return in->w - in->r;
	}
}

/* hdr_put - append N octets to the header section. */
static int
hdr_put(struct message *m, const char *s, size_t n)
{
	if (m->hlen + n + 1 > SENDMAIL_HEADER_MAX)
		return -1;
	if (m->hlen + n + 1 > m->hcap) {
		size_t cap = m->hcap ? m->hcap : 4096;
		while (cap < m->hlen + n + 1)
			cap *= 2;
		if (cap > SENDMAIL_HEADER_MAX)
			cap = SENDMAIL_HEADER_MAX;
		char *h = realloc(m->hdr, cap);
		if (!h)
			return -1;
		m->hdr = h;
		m->hcap = cap;
	}
	memcpy(m->hdr + m->hlen, s, n);
	m->hlen += n;
	m->hdr[m->hlen] = '\0';
	return 0;
}

/* field_name_len - the length of "NAME:" at S (printable ASCII without
 * ':' then ':'), or 0 when the line is no header field. */
static size_t
field_name_len(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 && s[i] != ':'; i++)
		;
	return i > 0 && i < n && s[i] == ':' ? i + 1 : 0;
}

/* is_field - whether the field line at S (length N) is NAME. */
static int
is_field(const char *s, size_t n, const char *name)
{
	size_t k = field_name_len(s, n), len = strlen(name);

	return k == len + 1 && strncasecmp(s, name, len) == 0;
}

/* note_field - remember which of the fields sendmail adds are present. */
static void
note_field(struct message *m, const char *s, size_t n)
{
	if (is_field(s, n, "From"))
		m->have_from = 1;
	else if (is_field(s, n, "Date"))
		m->have_date = 1;
	else if (is_field(s, n, "Message-ID"))
		m->have_msgid = 1;
}

/* hdr_line - take the current line (length N, its LF included if seen)
 * into the header section, LF-ended, without the CR before the LF. */
static int
hdr_line(struct message *m, size_t n, char *why, size_t whysz)
{
	struct submit_in *in = &m->in;
	char *s = in->buf + in->r;
	size_t body = n;

	if (memchr(s, '\0', n)) {
		m->nul = 1;
		snprintf(why, whysz, "the message contains a NUL octet");
		return -1;
	}
	if (body > 0 && s[body - 1] == '\n')
		body--;
	if (body > 0 && s[body - 1] == '\r')
		body--;
	if (hdr_put(m, s, body) < 0 || hdr_put(m, "\n", 1) < 0) {
		snprintf(why, whysz, "the header section is longer than %d octets",
		    SENDMAIL_HEADER_MAX);
		return -1;
	}
	in->r += n;
	return 0;
}

/* message_read_header - read the header section (see submit.h). */
int
message_read_header(struct message *m, char *why, size_t whysz)
{
	struct submit_in *in = &m->in;
	int first = 1;

	for (;;) {
		size_t n = in_line(in);
		const char *s = in->buf + in->r;
		int has_nl = n > 0 && s[n - 1] == '\n';

		if (in->err) {
			snprintf(why, whysz, "read error: %s", strerror(in->err));
			return -1;
		}
		if (n == 0)
			return 0;                       /* no body */
		if (!has_nl && n == sizeof in->buf)
			return 0;                       /* too long for a field */
		if (first && n >= 5 && memcmp(s, "From ", 5) == 0) {
			in->r += n;                     /* an mbox separator */
			first = 0;
			continue;
		}
		first = 0;
		if ((n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' && s[1] == '\n')) {
			in->r += n;                     /* the empty line */
			return 0;
		}
		if ((s[0] == ' ' || s[0] == '\t') && m->hlen > 0) {
			if (hdr_line(m, n, why, whysz) < 0)
				return -1;
			continue;
		}
		if (!field_name_len(s, n))
			return 0;                       /* the body starts here */
		note_field(m, s, n);
		if (hdr_line(m, n, why, whysz) < 0)
			return -1;
	}
}

/* addrlist_next - the next address of an RFC 5322 address list. */
int
addrlist_next(const char **pp, char *out, size_t outsz)
{
	const char *p = *pp;
	char plain[ADDR_MAX * 2 + 2], angled[ADDR_MAX * 2 + 2];
	size_t pl = 0, al = 0;
	int depth = 0, inq = 0, angle = 0, got_angle = 0, over = 0;

	for (;;) {
		char c = *p;
		int end = c == '\0' || (!inq && !depth && !angle && (c == ',' || c == ';'));
		if (end) {
			const char *a = got_angle ? angled : plain;
			size_t n = got_angle ? al : pl;
			if (c)
				p++;
			if (n == 0 && !over) {
				if (!c) {
					*pp = p;
					return 0;
				}
				pl = al = 0;
				got_angle = 0;
				continue;       /* an empty member, or a group's end */
			}
			*pp = p;
			if (over || n >= outsz)
				return -1;
			memcpy(out, a, n);
			out[n] = '\0';
			/* A source route "@a,@b:x@y" gives x@y. */
			char *colon = strrchr(out, ':');
			if (got_angle && out[0] == '@' && colon)
				memmove(out, colon + 1, strlen(colon + 1) + 1);
			return 1;
		}
		p++;
		if (depth) {
			if (c == '\\' && *p)
				p++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (!inq && c == '(') {
			depth = 1;
			continue;
		}
		if (!inq && c == '<') {
			angle = 1;
			got_angle = 1;
			al = 0;
			continue;
		}
		if (!inq && c == '>') {
			angle = 0;
			continue;
		}
		if (!inq && !angle && c == ':') {
			pl = 0;         /* a group: what came before is its name */
			continue;
		}
		if (!inq && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
			continue;
		if (c == '"')
			inq = !inq;
		char *dst = angle ? angled : plain;
		size_t *len = angle ? &al : &pl;
		if (*len + 2 >= sizeof plain) {
			over = 1;
			continue;
		}
		dst[(*len)++] = c;
		if (inq && c == '\\' && *p)
			dst[(*len)++] = *p++;
	}
}

/* message_header_addrs - the addresses of To:, Cc: and Bcc:. */
int
message_header_addrs(const struct message *m, int (*fn)(void *arg, const char *addr), void *arg)
{
	char addr[ADDR_MAX * 2 + 2];
	size_t i = 0;

	while (i < m->hlen) {
		const char *s = m->hdr + i;
		size_t k = field_name_len(s, m->hlen - i), n;
		const char *e = s;
		/* The field: its line and the continuation lines after it. */
		do {
			e = memchr(e, '\n', (size_t)(m->hdr + m->hlen - e));
			e = e ? e + 1 : m->hdr + m->hlen;
		} while (e < m->hdr + m->hlen && (*e == ' ' || *e == '\t'));
		n = (size_t)(e - s);
		i += n;
		if (!(is_field(s, n, "To") || is_field(s, n, "Cc") || is_field(s, n, "Bcc")))
			continue;
		char *val = malloc(n - k + 1);
		if (!val)
			return -1;
		memcpy(val, s + k, n - k);
		val[n - k] = '\0';
		const char *p = val;
		int rc;
		while ((rc = addrlist_next(&p, addr, sizeof addr)) == 1)
			if (fn(arg, addr) < 0) {
				rc = -1;
				break;
			}
		free(val);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* put_line_end - CRLF. */
static void
put_crlf(struct bufout *o)
{
	bufout_put(o, "\r\n", 2);
}

/* write_header - the held header section without Bcc, CRLF line ends. */
static void
write_header(const struct message *m, struct bufout *o)
{
	size_t i = 0;
	int skipping = 0;

	while (i < m->hlen) {
		const char *s = m->hdr + i, *nl = memchr(s, '\n', m->hlen - i);
		size_t n = nl ? (size_t)(nl - s) : m->hlen - i;
		if (s[0] != ' ' && s[0] != '\t')
			skipping = is_field(s, n, "Bcc");
		if (!skipping) {
			if (s[0] == '.')
				bufout_put(o, ".", 1);
			for (size_t j = 0; j < n; j++)
				bufout_put(o, s[j] == '\r' ? " " : &s[j], 1);
			put_crlf(o);
		}
		i += n + 1;
	}
}

/* message_write - the message as SMTP DATA text (see submit.h). */
int
message_write(struct message *m, struct bufout *o, const char *added)
{
	struct submit_in *in = &m->in;
	int bol = 1, cr = 0, dot = 0;

	write_header(m, o);
	for (const char *a = added; *a; a++) {
		if (*a == '\n')
			put_crlf(o);
		else
			bufout_put(o, a, 1);
	}
	put_crlf(o);
	/* The body: one octet at a time through the states "at a line's
	 * start", "after a CR", "after a dot at a line's start". */
	for (;;) {
		if (in->r == in->w && in_fill(in) <= 0)
			break;
		char c = in->buf[in->r++];
		if (cr) {
			cr = 0;
			if (c == '\n') {
				put_crlf(o);
				bol = 1;
				continue;
			}
			bufout_put(o, " ", 1);  /* a bare CR */
			bol = 0;
		}
		if (dot) {
			dot = 0;
			if (m->dot_ends && (c == '\n' || (c == '\r' && in_peek(in) == '\n'))) {
				m->ended = 1;   /* a line holding only "." */
				break;
			}
			bufout_put(o, "..", 2);
			bol = 0;
		}
		if (c == '\0') {
			m->nul = 1;
			return -1;
		}
		if (c == '\r') {
			cr = 1;
			continue;
		}
		if (c == '\n') {
			put_crlf(o);
			bol = 1;
			continue;
		}
		if (bol && c == '.') {
			dot = 1;
			continue;
		}
		bufout_put(o, &c, 1);
		bol = 0;
	}
	if (in->err)
		return -1;
	if (dot && !m->ended) {
		if (m->dot_ends)
			m->ended = 1;   /* "." as the last line, without its LF */
		else {
			bufout_put(o, "..", 2);
			bol = 0;
		}
	}
	if (cr || !bol)
		put_crlf(o);
	bufout_put(o, ".\r\n", 3);
	return 0;
}

/* message_free - release the header section. */
void
message_free(struct message *m)
{
	free(m->hdr);
	m->hdr = NULL;
	m->hlen = m->hcap = 0;
}
