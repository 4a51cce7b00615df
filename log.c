/*
 * log.c - one line per event, to syslog (facility mail), a file, or stderr.
 *
 * A file line is "Mon DD HH:MM:SS host prog[pid]: text", written with a
 * single write(2) on an O_APPEND descriptor so that concurrent sessions
 * never interleave inside a line.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LOG_LINE_MAX 2048       /* octets of one log line */

enum { TO_SYSLOG, TO_FILE, TO_STDERR };

static const char *log_prog = "smtp-session";
static int log_kind = TO_SYSLOG;
static int log_fd = -1;
static int log_copy_stderr;
static char log_host[256];
static int log_opened;
static pid_t log_pid;
static struct { int prio; char *text; } later[LOG_LATER_MAX];
static int nlater;

static void later_flush(void);

/* log_forked - a child of fork(): its own pid on its lines. */
static void
log_forked(void)
{
	log_pid = getpid();
}

/*
 * log_init - set the program name; until log_open, lines go to syslog.
 * No LOG_NDELAY: the syslog socket is connected by the first line that
 * goes there, so a program logging to a file never opens it. The pid is
 * read once (and again in a forked child), not for every line.
 */
void
log_init(const char *progname)
{
	static int registered;

	log_prog = progname;
	log_pid = getpid();
	if (!registered && pthread_atfork(NULL, NULL, log_forked) == 0)
		registered = 1;
	openlog(progname, LOG_PID, LOG_MAIL);
	if (gethostname(log_host, sizeof log_host) < 0)
		strcpy(log_host, "localhost");
	log_host[sizeof log_host - 1] = '\0';
	{
		char *dot = strchr(log_host, '.');
		if (dot)
			*dot = '\0';
	}
}

/* log_open - TARGET is "syslog", "stderr" or a file path (a plain file
 * or a character device, never reached through a symbolic link); 0 or -1. */
int
log_open(const char *target)
{
	if (strcmp(target, "syslog") == 0) {
		log_kind = TO_SYSLOG;
		later_flush();
		return 0;
	}
	if (strcmp(target, "stderr") == 0) {
		log_kind = TO_STDERR;
		later_flush();
		return 0;
	}
	/* The log directory belongs to the service account: no symbolic
	 * link is followed, and only a plain file is written to, or a
	 * character device such as /dev/null, which only root can make
	 * (O_NONBLOCK: a FIFO must not hang the open). */
	int fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
	    O_NONBLOCK, 0600);
	struct stat st;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) ||
	    fcntl(fd, F_SETFL, O_APPEND) < 0) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	log_kind = TO_FILE;
	later_flush();
	return 0;
}

/* log_narrate - one narration line on stderr, written whole. */
void
log_narrate(const char *prefix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX * 8];
	int n = snprintf(line, sizeof line, "%s", prefix), m;

	if (n < 0 || (size_t)n >= sizeof line - 1)
		n = 0;
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	if (m > 0)
		n += (size_t)m < sizeof line - (size_t)n - 1 ? m : (int)(sizeof line - (size_t)n - 2);
	line[n++] = '\n';
	(void)write_all(2, line, (size_t)n);
}

/* log_escape - S into OUT, octets for which ESC(c) holds as \xHH. */
static void
log_escape(char *out, size_t outsz, const char *s, int (*esc)(unsigned char))
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (esc(c)) {
			if (n + 5 > outsz)
				break;
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		} else {
			if (n + 2 > outsz)
				break;
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
}

/* esc_text - what log_quote escapes inside its quotes. */
static int
esc_text(unsigned char c)
{
	return c < 0x20 || c > 0x7e || c == '"' || c == '\\';
}

/* esc_word - what log_token escapes. */
static int
esc_word(unsigned char c)
{
	return c <= 0x20 || c > 0x7e || c == '<' || c == '>' || c == '"' || c == '\\' ||
	    c == ',';
}

/* log_quote - S as a quoted, escaped string. */
const char *
log_quote(char *out, size_t outsz, const char *s)
{
	if (outsz < 3) {
		if (outsz)
			out[0] = '\0';
		return out;
	}
	out[0] = '"';
	log_escape(out + 1, outsz - 2, s, esc_text);
	strcat(out, "\"");
	return out;
}

/* log_token - S as one escaped word. */
const char *
log_token(char *out, size_t outsz, const char *s)
{
	if (outsz == 0)
		return out;
	log_escape(out, outsz, s, esc_word);
	return out;
}

/* log_to_stderr_too - also copy every line to stderr (relay-agent -v). */
void
log_to_stderr_too(int on)
{
	log_copy_stderr = on;
}

/* log_target_is_stderr - whether lines already go to stderr. */
int
log_target_is_stderr(void)
{
	return log_kind == TO_STDERR;
}

/* log_msg - format one line and send it to the target. */
void
log_msg(int prio, const char *fmt, ...)
{
	char text[LOG_LINE_MAX], line[LOG_LINE_MAX + 320], stamp[32];
	va_list ap;
	int saved = errno, n;
	time_t now = time(NULL);
	struct tm tm;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	/* Text from the network may hold anything: keep lines one line. */
	text_scrub(text, SCRUB_CTL, '?');

	if (log_kind == TO_SYSLOG)
		syslog(prio, "%s", text);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
	n = snprintf(line, sizeof line, "%s %s %s[%d]: %s\n", stamp, log_host,
	    log_prog, (int)log_pid, text);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof line) {
		n = sizeof line - 1;
		line[n - 1] = '\n';
	}
	if (log_kind == TO_FILE && log_fd >= 0)
		(void)write_all(log_fd, line, (size_t)n);
	if (log_kind == TO_STDERR || log_copy_stderr)
		(void)write_all(2, line, (size_t)n);
	errno = saved;
}

/* later_flush - the target is open: write what log_later kept. */
static void
later_flush(void)
{
	log_opened = 1;
	for (int i = 0; i < nlater; i++) {
		log_msg(later[i].prio, "%s", later[i].text);
		free(later[i].text);
	}
	nlater = 0;
}

/* log_later - log now, or keep the line until log_open. */
void
log_later(int prio, const char *text)
{
	if (log_opened) {
		log_msg(prio, "%s", text);
		return;
	}
	if (nlater < LOG_LATER_MAX && (later[nlater].text = strdup(text)) != NULL)
		later[nlater++].prio = prio;
}
