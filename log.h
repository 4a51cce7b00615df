/*
 * log.h - one line per event to syslog (facility mail), a file or stderr.
 *
 * Under inetd fd 1 and fd 2 are the client's socket: nothing is written
 * there unless the target is "stderr".
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

/* log_init - set the program name; until log_open, lines go to syslog. */
void log_init(const char *progname);

/* log_open - TARGET is "syslog", "stderr" or a file path; 0 or -1. */
int log_open(const char *target);

/* log_msg - one line at priority PRIO (LOG_INFO, LOG_WARNING, LOG_ERR). */
void log_msg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* log_narrate - PREFIX and the formatted text as one line on stderr, in a
 * single write (parallel workers share stderr): relay-agent -v. */
void log_narrate(const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/*
 * Text the client chose never reaches a log line raw, so that no
 * "key=value" can be made to appear in it:
 * log_quote - S as "..." with '"' and '\' escaped and every octet
 * outside printable ASCII as \xHH (free text: replies, values);
 * log_token - S with every octet outside printable ASCII, the space and
 * < > " \ , as \xHH (a word inside <...>: addresses, HELO names).
 * Both return OUT, cut to OUTSZ.
 */
const char *log_quote(char *out, size_t outsz, const char *s);
const char *log_token(char *out, size_t outsz, const char *s);

/* log_to_stderr_too - also copy every line to stderr (relay-agent -v). */
void log_to_stderr_too(int on);

/* log_target_is_stderr - whether lines already go to stderr. */
int log_target_is_stderr(void);

/* log_later - log TEXT at PRIO; before log_open it is kept (up to
 * LOG_LATER_MAX lines) and written once the target is open. The
 * configuration's reporter (config_set_reporter) in the programs. */
void log_later(int prio, const char *text);
#define LOG_LATER_MAX 32

#endif
