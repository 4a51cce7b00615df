/*
 * smtp-client.h - relay-agent's SMTP client: one connection to one host,
 * any number of transactions over it.
 */
#ifndef SMTP_CLIENT_H
#define SMTP_CLIENT_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "bounds.h"
#include "linereader.h"

/*
 * A reply as relay-agent keeps it: CODE is 200..599, TEXT the whole reply
 * on one line ("250 2.0.0 Ok", continuation lines joined by a space).
 * Failures of our own (refused connection, timeout, garbage) are replies
 * too, written in the same form with a 4xx code.
 */
struct smtp_reply {
	int code;
	char text[SMTP_REPLY_MAX + 1];
};

/* What every connection of a pass shares. */
struct smtp_options {
	const char *helo;               /* our name for EHLO/HELO */
	int connect_timeout;            /* seconds */
	int timeout;                    /* seconds per reply (x2 after the dot) */
	const char *auth_user;          /* NULL: no AUTH */
	const char *auth_password;
	int verbose;                    /* transcript on stderr */
};

struct smtp_client {
	int fd;                         /* -1 when closed */
	const struct smtp_options *opt;
	char host[DOMAIN_MAX + 1];
	char ip[64];
	int port;
	int esmtp, pipelining, size, eightbitmime, auth_plain, auth_login;
	int dirty;                      /* a transaction is open: RSET first */
	int messages;                   /* transactions sent over it */
	long long data_deadline;        /* now_ms() by which the message text
	                                   must be written; 0: none */
	int too_slow;                   /* a write missed data_deadline */
	struct linereader lr;
	char out[IO_BUF_SIZE];          /* commands and data not yet written */
	size_t outlen;
};

/* One message to send: the recipients get one reply each. */
struct smtp_txn {
	const char *sender;             /* "" for <> */
	int body8bit;                   /* BODY=8BITMIME when offered */
	int msgfd;                      /* message text, LF line ends, read with pread */
	off_t size;                     /* octets of the file */
	const char **rcpts;
	int nrcpts;
	struct smtp_reply *replies;     /* NRCPTS of them, filled in */
};

/* smtp_format_relay - "host[ip]:port" of C into OUT. */
void smtp_format_relay(const struct smtp_client *c, char *out, size_t outsz);

/*
 * smtp_open - connect to SA (host NAME), read the greeting, EHLO (HELO
 * when EHLO is refused), AUTH when the options ask for it. RES_OK, or
 * RES_TEMP with the reason in ERR and the connection closed: any failure
 * here means "try the next address or host"; RES_PERM ("554 5.4.6" in
 * ERR, connection closed) when the greeting or the EHLO reply names our
 * own host name: a mail loop.
 */
int smtp_open(struct smtp_client *c, const struct smtp_options *opt,
              const struct sockaddr_storage *sa, const char *name,
              struct smtp_reply *err);

/*
 * smtp_send - one transaction: (RSET,) MAIL, RCPT per recipient, DATA with
 * the message dot-stuffed, CRLF line ends, bare CRs sent as spaces and
 * lines over 998 octets folded; pipelined when the server offers it;
 * 8-bit text made 7-bit for a server without 8BITMIME (554 5.6.3 to every
 * recipient when that cannot be done). At most RELAY_TXN_RCPTS_MAX
 * recipients. Every recipient's reply is set: 2xx sent, 5xx bounced, 4xx
 * try again (a 552 to RCPT is given as code 452, its text unchanged).
 * Returns RES_OK when the connection can carry another transaction,
 * RES_TEMP when it broke or the server said 421 (it is then closed) with
 * the reason, always a 4xx about the connection and never a recipient's
 * own reply, in ERR.
 */
int smtp_send(struct smtp_client *c, const struct smtp_txn *t, struct smtp_reply *err);

/* smtp_close - QUIT (waiting briefly for its reply) and close. */
void smtp_close(struct smtp_client *c);

/*
 * smtp_write_body - the DATA encoder alone: the message in MSGFD (SIZE
 * octets) as it goes on the wire, with the final ".", through EMIT.
 * Returns 0, or -1 when reading or EMIT fails.
 */
int smtp_write_body(int msgfd, off_t size,
                    int (*emit)(void *arg, const char *buf, size_t len), void *arg);

#endif
