/*
 * util.h - small helpers shared by the programs: results, exits, I/O.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Results inside the programs (R_OK would clash with unistd.h);
 * sysexits and SMTP codes only at the edges. */
enum result { RES_OK = 0, RES_TEMP = 1, RES_PERM = 2 };

/* sysexits.h values used by both programs. */
#define EXIT_USAGE    64
#define EXIT_DATAERR  65    /* sendmail: bad input */
#define EXIT_NOUSER   67    /* sendmail: no such local user */
#define EXIT_TEMPFAIL 75
#define EXIT_NOPERM   77    /* not allowed for this user */
#define EXIT_CONFIG   78

/* The version -V prints; the Debian package takes its version from here. */
#define VERSION "1.0"

/* write_all - write every octet, retrying short writes and EINTR. */
int write_all(int fd, const void *buf, size_t len);

/* fsync_dir - make a rename or create in DIR durable. */
int fsync_dir(const char *dir);

/* rename_noreplace - rename FROM to TO unless TO exists (-1, EEXIST). */
int rename_noreplace(const char *from, const char *to);

/* path_join - DIR/NAME into out; -1 if it does not fit. */
int path_join(char *out, size_t outsz, const char *dir, const char *name);

/* fd_room - how many more descriptors this process may open now; -1
 * when it cannot tell. */
long fd_room(void);

/* now_ms - monotonic milliseconds. */
long long now_ms(void);

/* sleep_ms - sleep this many milliseconds. */
void sleep_ms(long ms);

/* child_reap - wait at most WAIT_MS for the child PID (<= 0: none), then
 * kill it (SIGKILL) and wait. */
void child_reap(pid_t pid, long wait_ms);

/* rfc5322_date - "Sat, 22 Nov 2025 01:23:45 +0000" for T in local time. */
void rfc5322_date(char *out, size_t outsz, time_t t);

/* queue_id_new - a fresh queue id: upper-case hex letters and digits. */
void queue_id_new(char *out, size_t outsz);

/* random_between - a pseudo-random number in [lo, hi]. */
long random_between(long lo, long hi);

/* strlcpy_ck - copy with truncation check: 0, or -1 when it did not fit. */
int strlcpy_ck(char *dst, const char *src, size_t dstsz);

/* str_lower - lower-case ASCII in place. */
void str_lower(char *s);

/* parse_duration - "30s", "15m", "4h", "5d" into seconds; -1 when bad. */
long parse_duration(const char *s);

/*
 * The one scrubber: text from the network or a file, made safe for a
 * header, a log line, an envelope field or a result line. SCRUB_CTL
 * replaces control octets (0x00-0x1f and 0x7f; TAB too unless
 * SCRUB_KEEP_TAB), SCRUB_SPACE the space, SCRUB_8BIT octets over 0x7f.
 */
#define SCRUB_CTL      1u
#define SCRUB_SPACE    2u
#define SCRUB_8BIT     4u
#define SCRUB_KEEP_TAB 8u
#define SCRUB_TEXT     (SCRUB_CTL | SCRUB_8BIT)   /* printable ASCII only */

/* scrub_octet - C, or WITH when WHAT forbids it. */
static inline char
scrub_octet(char c, unsigned what, char with)
{
	unsigned char u = (unsigned char)c;

	if ((what & SCRUB_CTL) && (u < 0x20 || u == 0x7f) &&
	    !(u == '\t' && (what & SCRUB_KEEP_TAB)))
		return with;
	if ((what & SCRUB_SPACE) && u == ' ')
		return with;
	if ((what & SCRUB_8BIT) && u > 0x7f)
		return with;
	return c;
}

/* text_scrub - scrub S in place (see scrub_octet). */
void text_scrub(char *s, unsigned what, char with);

/* sanitize_text - printable ASCII only, others '_' (headers, replies). */
void sanitize_text(char *s);

#endif
