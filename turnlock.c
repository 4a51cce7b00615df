/*
 * turnlock.c - our own deliveries to one mailbox take turns (see
 * turnlock.h).
 *
 * The turn on mailbox NAME is a write lock on one byte of spool_dir/turns
 * at an offset hashed from NAME (62 bits of FNV-1a: two names sharing a
 * byte would only share turns). Open file description locks
 * (F_OFD_SETLKW) belong to the descriptor, not the process, and are
 * released when it is closed.
 *
 * The wait is a blocking F_OFD_SETLKW, so the kernel wakes the next
 * writer as soon as the turn is free. It is bounded by a timer: a
 * process timer sends TURN_SIGNAL at the deadline, and again every
 * TURN_REARM_MS after it (should the first one come just before the
 * call, the next one still ends the wait), to a handler that does
 * nothing but interrupt the call (no SA_RESTART). An uncontended turn
 * costs one fcntl; the timer is set up only when the turn is taken.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"
#include "turnlock.h"
#include "util.h"

#define TURN_SIGNAL   SIGRTMIN

/* turnlock_open - spool_dir/turns, opened for locking. */
int
turnlock_open(const char *spool_dir)
{
	return spool_turns_open(spool_dir);
}

/* turn_range - the lock of mailbox NAME's byte, of type TYPE. */
static struct flock
turn_range(const char *name, short type)
{
	uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */
	struct flock fl;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)(h >> 2);
	fl.l_len = 1;
	return fl;
}

/* on_turn_timer - interrupt the wait; nothing else. */
static void
on_turn_timer(int sig)
{
	(void)sig;
}

/* wait_turn - take FL on FD, waiting until DEADLINE: 0, -2 at the
 * deadline, -1 with errno. */
static int
wait_turn(int fd, struct flock *fl, long long deadline)
{
	static int handler_set;
	struct sigevent sev;
	struct itimerspec its;
	timer_t timer;
	long long left = deadline - now_ms();
	int rc = -1, err = 0;

	if (left <= 0)
		return -2;
	/* The handler stays: a signal of the timer still pending after it is
	 * deleted must find it, and nothing else uses this signal. */
	if (!handler_set) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_turn_timer;  /* no SA_RESTART: fcntl returns */
		sigemptyset(&sa.sa_mask);
		if (sigaction(TURN_SIGNAL, &sa, NULL) < 0)
			return -1;
		handler_set = 1;
	}
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = TURN_SIGNAL;
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0)
		return -1;
	memset(&its, 0, sizeof its);
	its.it_value.tv_sec = left / 1000;
	its.it_value.tv_nsec = (left % 1000) * 1000000L;
	its.it_interval.tv_nsec = TURN_REARM_MS * 1000000L;
	if (timer_settime(timer, 0, &its, NULL) == 0) {
		for (;;) {
			if (fcntl(fd, F_OFD_SETLKW, fl) == 0) {
				rc = 0;
				break;
			}
			if (errno != EINTR) {
				err = errno;
				break;
			}
			if (now_ms() >= deadline) {
				rc = -2;
				break;
			}
		}
	} else {
		err = errno;
	}
	timer_delete(timer);
	errno = err;
	return rc;
}

/* turnlock_take - the turn on mailbox NAME, waited for until DEADLINE. */
int
turnlock_take(int fd, const char *name, long long deadline)
{
	struct flock fl = turn_range(name, F_WRLCK);

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES)
		return -1;
	return wait_turn(fd, &fl, deadline);
}
