/*
 * session.h - one SMTP session of smtp-session: its state, shared by the
 * files that answer its commands (smtp-session.c: the loop, the command
 * table, HELO, MAIL, RCPT and the small commands; smtp-data.c: DATA;
 * smtp-auth.c: AUTH; peer.c: who the client is).
 */
#ifndef SESSION_H
#define SESSION_H

#include <stddef.h>

#include "addr.h"
#include "bounds.h"
#include "bufout.h"
#include "config.h"
#include "inject.h"
#include "linereader.h"
#include "peer.h"

/* One accepted RCPT of the open transaction. */
struct rcpt {
	struct addr a;
	int local;              /* a local domain or bare Postmaster */
};

struct session {
	const struct config *cf;
	int debug;                      /* -d: the debug sink */
	struct linereader lr;
	struct bufout out;              /* replies not yet sent */
	int out_nosock;                 /* fd 1 is no socket (a pipe) */
	int closing;                    /* 421 sent: end after flushing */

	struct peer peer;               /* who the client is (peer.c) */

	int greeted;                    /* HELO or EHLO seen */
	int esmtp;
	char helo[HELO_MAX + 1];
	char auth_user[256];            /* "" unless authenticated */
	int auth_failures;
	int mask_next;                  /* the next line may be an AUTH secret */

	int in_mail;
	struct addr sender;
	char body[16];
	struct rcpt *rcpts;             /* grown as RCPTs come, up to max_rcpts */
	int nrcpts;
	int rcpts_cap;                  /* entries allocated */
	int overshoot;                  /* RCPTs refused past the limit in
	                                   this transaction */
	int max_rcpts;                  /* max_recipients; RCPT_EXPAND_MAX for
	                                   this host's own users (one message
	                                   streamed by sendmail) */
	struct inject inj;              /* the open transaction's targets */
	int max_boxes;                  /* mailboxes per message (fd_budget) */
	long lock_wait_ms;              /* a mailbox's lock wait; 0: the 30 s
	                                   (LOCK_WAIT_MAX_MS) */

	const char *verb;               /* command being answered */
	int errors;
	int junk;                       /* junk commands since the last
	                                   accepted message */
	long long deadline;             /* now_ms() value session_limit ends at */
	int *counts;                    /* per entry of the command table */
	int n_unknown, n_commands;
};

/*
 * reply - the one reply function: "CODE X.Y.Z text" (CRLF added). Every
 * 5xx counts as an error (and so does a RCPT more than RCPT_OVERSHOOT_MAX
 * past the recipient limit); at SESSION_ERRORS_MAX the session answers
 * 421 and ends. Refusals are logged with the peer.
 */
void reply(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* reply_line - queue one reply line as it is (multi-line replies, 334). */
void reply_line(struct session *s, const char *line);

/* reply_flush - send what is queued; the session ends if the client is gone. */
void reply_flush(struct session *s);

/* reply_timeout - the 421 for a wait that ended (idle timeout, or the
 * session's limit) and its log line; WHERE says what we waited for. */
void reply_timeout(struct session *s, const char *where);

/* txn_reset - forget the open transaction (RSET, HELO, after DATA). */
void txn_reset(struct session *s);

/* cmd_data - DATA (smtp-data.c); -1 when the session must end. */
int cmd_data(struct session *s, char *arg);

/* cmd_auth - AUTH (smtp-auth.c); -1 when the session must end. */
int cmd_auth(struct session *s, char *arg);

/* data_on_signal - remove the staging files of a DATA under way (async-
 * signal-safe): the session is being ended by a signal. */
void data_on_signal(void);

/* session_signals_init - the session's signal handling and exit cleanup
 * (smtp-signals.c): SIGTERM, SIGHUP, SIGINT, the alarm and every exit()
 * leave no staging file, dotlock, partial append or filter behind. */
void session_signals_init(void);

#endif
