/*
 * filter.h - the content filter hook: a program of the administrator's
 * (configuration key "filter") that sees each message before it is
 * stored and decides, with qmail's exit conventions, whether it is
 * stored as it printed it, refused for good, or refused for now.
 */
#ifndef FILTER_H
#define FILTER_H

#include <stddef.h>

#include "config.h"

/* What the filter is told about the message, in its environment. */
struct filter_info {
	const char *sender;     /* SMTP_SENDER ("" for <>) */
	const char *recipients; /* SMTP_RECIPIENTS, one per line (cut after
	                           FILTER_RCPTS_ENV_MAX octets, the number
	                           left out in SMTP_RECIPIENTS_TRUNCATED) */
	const char *client;     /* SMTP_CLIENT_ADDR */
	const char *helo;       /* SMTP_HELO */
	const char *auth_user;  /* SMTP_AUTH_USER ("" when none) */
	const char *queue_id;   /* SMTP_QUEUE_ID */
	long local_uid;         /* SMTP_LOCAL_UID; -1: not a local submission */
};

enum filter_verdict {
	FILTER_PASS,            /* store what it printed */
	FILTER_REFUSE,          /* 554 5.7.1, its first stderr line in TEXT */
	FILTER_TEMP,            /* 451 4.7.1: any other exit, signal, timeout,
	                           empty output, or a failure of ours */
	FILTER_TOOBIG           /* its output is over max_message_size: 552 */
};

/*
 * filter_run - run cf->filter_argv on the stored text in IN_FD (read from
 * its start), writing what it prints to OUT_FD as stored text (LF or
 * CRLF line ends become LF). Its output is measured with CRLF line ends,
 * less ALLOWANCE (our Received header, which it was given), against
 * cf->max_message_size; *SIZE is that measure. It runs at most
 * cf->filter_timeout, then its process group is killed. Memory does not
 * depend on the message size. Returns a verdict; TEXT holds the
 * refusal's text (FILTER_REFUSE) or what happened (for the log).
 */
enum filter_verdict filter_run(const struct config *cf, const struct filter_info *fi,
                               int in_fd, int out_fd, long long allowance,
                               long long *size, char *text, size_t textsz);

/* filter_on_signal - kill the running filter's process group (async-
 * signal-safe): the session is ending. */
void filter_on_signal(void);

#endif
