/*
 * bounce.h - delivery status notifications (RFC 3464).
 */
#ifndef BOUNCE_H
#define BOUNCE_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "envelope.h"

/* One failed recipient to report. */
struct bounce_item {
	const struct spool_rcpt *rcpt;
	const char *status;             /* "5.1.1" */
	const char *remote_mta;         /* the host whose own reply DIAGNOSTIC
	                                   is; NULL: an error of relay-agent's */
	const char *diagnostic;         /* the reply, "550 5.1.1 ..." */
	time_t when;                    /* last attempt */
};

/* bounce_status - the RFC 3463 status of REPLY ("550 5.1.1 x" gives
 * "5.1.1"; without one, "5.0.0" or "4.0.0" by the reply's class). */
void bounce_status(const char *reply, char *out, size_t outsz);

/*
 * bounce_write - the DSN about ITEMS (N of them) of the message ENV whose
 * text is in MSGFD, as a message with LF line ends, to FD: multipart/report
 * with a human part, message/delivery-status and text/rfc822-headers.
 * Returns 0 or -1.
 */
int bounce_write(int fd, const struct config *cf, const struct envelope *env,
                 int msgfd, const struct bounce_item *items, int n, time_t now);

/*
 * bounce_send - queue that DSN from <> to env->sender through inject.c:
 * always into the spool (relay-agent delivers it, locally or not), so the
 * caller never waits for a mailbox. The new message's queue id goes to
 * BID ("" when it was dropped: unknown local sender, the reason in WHY).
 * RES_OK or RES_TEMP with WHY.
 */
int bounce_send(const struct config *cf, const struct envelope *env, int msgfd,
                const struct bounce_item *items, int n, char *bid, size_t bidsz,
                char *why, size_t whysz);

#endif
