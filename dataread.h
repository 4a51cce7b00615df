/*
 * dataread.h - the DATA reader: a pure state machine from the octets a
 * client sends after 354 to the message as stored.
 *
 * It ends the data only at <CRLF>.<CRLF>; takes a bare LF as a line end
 * but never as part of the end of data (Postfix's "normalize" policy
 * against SMTP smuggling); removes one leading dot from a line that has
 * other octets (RFC 5321 4.5.2); stores lines with LF ends and bare CRs
 * as they came; counts the size as received (CRLF line ends) and the
 * Received headers. It never buffers more than DR_OUT_MAX octets: its
 * sink buffers for itself (stage.c).
 *
 * The size is that of RFC 1870: the octets as received with CRLF line
 * ends, less the dots removed by dot-unstuffing (and less the final
 * ".CRLF"). The client's Return-Path:, Content-Length:, Bcc: and
 * Resent-Bcc: header fields are dropped with their continuation lines
 * (Postfix's message_drop_headers), so that a reader sees one
 * Return-Path, ours, and no mbox reader trusts a length the client chose;
 * they still count in the size.
 */
#ifndef DATAREAD_H
#define DATAREAD_H

#include <stddef.h>

#include "bounds.h"

#define DR_NAME_MAX 32     /* octets of a field's start held back to
                              recognise a dropped header by its name */
#define DR_OUT_MAX  4096   /* octets of output handed to the sink at once */

typedef int (*dr_sink)(void *arg, const char *buf, size_t n);

struct dataread {
	int state;
	int crlf_before;        /* the previous line ended in CRLF */
	int done;               /* <CRLF>.<CRLF> seen */
	long long size;         /* octets as received, CRLF line ends */
	long long max_size;     /* 0: no limit */
	int toobig;             /* size passed max_size: output stopped */
	int nul;                /* a NUL octet was seen */
	int hops;               /* Received: header lines */
	int in_header;          /* still in the header section */
	size_t line_pos;        /* octets of the current output line */
	int hdr_match;          /* current line still matches "Received:" */
	int keep_headers;       /* 1: drop no header field (tests) */
	int dropping;           /* inside a dropped header field */
	size_t held;            /* octets of a field name held back */
	char hold[DR_NAME_MAX]; /* the start of a field, until its name is
	                           known to be one that stays */
	long long lines;        /* lines completed, for the idle timeout */
	int write_error;        /* the sink failed: output stopped */
	dr_sink sink;
	void *arg;
	size_t outlen;
	char out[DR_OUT_MAX];
};

/* dr_init - ready for a new message; output goes to SINK in chunks. */
void dr_init(struct dataread *d, long long max_size, dr_sink sink, void *arg);

/* dr_feed - take up to N octets; returns how many were used (fewer only
 * when the end of data was reached: the rest belongs to later commands). */
size_t dr_feed(struct dataread *d, const char *buf, size_t n);

/* dr_finish - flush buffered output to the sink; 0, or -1 on a sink error. */
int dr_finish(struct dataread *d);

#endif
