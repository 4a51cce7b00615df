/*
 * util.c - small helpers shared by smtp-session and relay-agent.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* write_all - write every octet, retrying short writes and EINTR. */
int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync_dir - make a rename or create inside DIR durable. */
int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* path_join - DIR/NAME into OUT; -1 if it does not fit. */
int
path_join(char *out, size_t outsz, const char *dir, const char *name)
{
	int n = snprintf(out, outsz, "%s/%s", dir, name);

	return (n < 0 || (size_t)n >= outsz) ? -1 : 0;
}

/* fd_room - the descriptor limit less the descriptors open now. */
long
fd_room(void)
{
	struct rlimit rl;
	struct dirent *de;
	long open_fds = 0;
	DIR *d;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 0x7fffffffL)
		return 0x7fffffffL;
	if (!(d = opendir("/proc/self/fd"))) {
		if (errno == EMFILE || errno == ENFILE)
			return 0;
		for (long fd = 0; fd < (long)rl.rlim_cur; fd++)
			if (fcntl((int)fd, F_GETFD) >= 0)
				open_fds++;
		return (long)rl.rlim_cur - open_fds;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			open_fds++;
	closedir(d);
	/* The listing counted the directory's own descriptor. */
	return (long)rl.rlim_cur - (open_fds - 1);
}

/* now_ms - monotonic milliseconds. */
long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sleep_ms - sleep MS milliseconds (restarting after signals). */
void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* rfc5322_date - a Date/Received time with a numeric zone. */
void
rfc5322_date(char *out, size_t outsz, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	if (strftime(out, outsz, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 && outsz)
		out[0] = '\0';
}

/* random_seed - seed once from time and pid, good enough for back-off. */
static void
random_seed(void)
{
	static int seeded;
	struct timeval tv;

	if (seeded)
		return;
	gettimeofday(&tv, NULL);
	srandom((unsigned)tv.tv_sec ^ (unsigned)tv.tv_usec ^ ((unsigned)getpid() << 16));
	seeded = 1;
}

/* random_between - a pseudo-random number in [LO, HI]. */
long
random_between(long lo, long hi)
{
	random_seed();
	if (hi <= lo)
		return lo;
	return lo + random() % (hi - lo + 1);
}

/*
 * queue_id_new - seconds, microseconds, pid and a counter, in hex: unique
 * on this host as long as pids are not reused within one microsecond.
 */
void
queue_id_new(char *out, size_t outsz)
{
	static unsigned counter;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	/* Fixed widths, so that no two field values read as one id. */
	snprintf(out, outsz, "%08lX%05lX%06X%02X", (unsigned long)tv.tv_sec,
	    (unsigned long)tv.tv_usec, (unsigned)getpid() & 0xffffff, counter++ & 0xff);
}

/* strlcpy_ck - copy with truncation check: 0, or -1 when it did not fit. */
int
strlcpy_ck(char *dst, const char *src, size_t dstsz)
{
	size_t n = strlen(src);

	if (dstsz == 0)
		return -1;
	if (n >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

/* str_lower - lower-case ASCII in place. */
void
str_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* parse_duration - "30s", "15m", "4h", "5d" into seconds; -1 when bad. */
long
parse_duration(const char *s)
{
	char *end;
	long n, unit;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end[0] == '\0' || end[1] != '\0')
		return -1;
	switch (end[0]) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	if (n > 100L * 365 * 86400 / unit)     /* a century is enough */
		return -1;
	return n * unit;
}

/* text_scrub - scrub S in place. */
void
text_scrub(char *s, unsigned what, char with)
{
	for (; *s; s++)
		*s = scrub_octet(*s, what, with);
}

/* sanitize_text - control and non-ASCII octets become '_'. */
void
sanitize_text(char *s)
{
	text_scrub(s, SCRUB_TEXT, '_');
}

/* rename_noreplace - rename FROM to TO unless TO exists (EEXIST). */
int
rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: link fails on EEXIST too. */
	if (link(from, to) < 0)
		return -1;
	unlink(from);
	return 0;
}

/* child_reap - wait at most WAIT_MS for the child PID (<= 0: none) to
 * end, then kill it and wait: a child that hangs (a hung NFS home, a
 * stuck session) must not hold its parent. */
void
child_reap(pid_t pid, long wait_ms)
{
	int status;

	if (pid <= 0)
		return;
	for (long i = 0; i < wait_ms / 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}
