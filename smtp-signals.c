/*
 * smtp-signals.c - how an smtp-session ends when it does not end at QUIT
 * or the end of input: the stopping signals (SIGTERM, SIGHUP, SIGINT),
 * the alarm of a client that stopped reading, and any exit().
 *
 * Each of them must leave nothing behind: the content filter's process
 * group is killed (filter.c), an append not yet complete is truncated
 * back and our dotlocks removed (deliver.c), named staging files removed
 * (stage.c). Each of those keeps what it needs in static storage and
 * undoes it with async-signal-safe calls only, so the same function
 * serves the handlers and atexit. A stopping signal never lets a 250 out
 * for a message whose storage did not finish: the session dies of it.
 * SIGPIPE is ignored (a client gone is a failed write), and SIGXFSZ too
 * (a file-size limit is EFBIG, a 4xx).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"
#include "filter.h"
#include "session.h"
#include "util.h"

/* session_leave - what a session must never leave behind when it ends
 * anywhere but at its normal end: the content filter's process group,
 * the half of a delivery (an unfinished append is truncated back, our
 * dotlocks removed) and named staging files. Async-signal-safe; also run
 * at exit(), so that every exit path leaves nothing. */
static void
session_leave(void)
{
	filter_on_signal();
	deliver_on_signal();
	data_on_signal();
}

/* on_alarm - a client that stopped reading our replies. */
static void
on_alarm(int sig)
{
	(void)sig;
	session_leave();
	_exit(0);
}

/* on_terminate - SIGTERM, SIGHUP, SIGINT (the launcher stops us): leave
 * nothing behind, and no reply (a message whose storage did not finish
 * never gets its 250); then die of the signal, as the launcher expects. */
static void
on_terminate(int sig)
{
	sigset_t set;

	session_leave();
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	raise(sig);             /* blocked in here: due once unblocked */
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	_exit(EXIT_TEMPFAIL);
}

/* session_signals_init - SIGPIPE and SIGXFSZ ignored (errors instead),
 * the alarm and the stopping signals handled, every exit cleaned up. */
void
session_signals_init(void)
{
	static int registered;
	struct sigaction sa;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);   /* a file-size limit is EFBIG, a 4xx */
	memset(&sa, 0, sizeof sa);
	sigfillset(&sa.sa_mask);    /* one handler at a time */
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_terminate;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (!registered++)
		atexit(session_leave);
}
