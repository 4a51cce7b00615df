/*
 * relay.h - the parts of relay-agent and what they say to each other:
 * the scheduler (relay-sched.c, with the message side in relay-msg.c)
 * hands deliveries to worker processes (relay-worker.c) as struct task
 * records over a SOCK_SEQPACKET socket pair and reads back struct
 * wresult records; queue administration is relay-admin.c; the program's
 * edge is relay-agent.c.
 */
#ifndef RELAY_H
#define RELAY_H

#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "bounds.h"
#include "config.h"
#include "envelope.h"
#include "smtp-client.h"

#define RELAY_TEXT_MAX (DOMAIN_MAX + 80)   /* "host[ip]:port" */

/* A host of a delivery, with the addresses not down in this pass. */
struct task_host {
	char name[DOMAIN_MAX + 1];
	int naddrs;
	struct sockaddr_storage addr[DNS_ADDRS_MAX];
};

/* One delivery: some recipients of one message to one destination (the
 * hosts, in the order to try them), or to local mailboxes. */
struct task {
	int unit;                       /* the scheduler's number for it */
	int local;                      /* 1: local mailboxes (inject.c) */
	char id[QUEUE_ID_MAX];
	char sender[ADDR_MAX + 1];
	int body8bit;
	off_t size;
	char domain[DOMAIN_MAX + 1];    /* the destination, for the log */
	int nhosts;
	struct task_host hosts[DNS_MX_MAX];
	int nrcpts;
	int rcpt[RELAY_TXN_RCPTS_MAX];  /* indexes in the envelope */
	char addr[RELAY_TXN_RCPTS_MAX][ADDR_MAX + 1];
};

/* What a worker reports, as soon as it knows. */
enum wr_type {
	WR_RCPT,        /* a recipient's outcome for this pass */
	WR_DOWN,        /* ADDR failed at connect, greeting or EHLO */
	WR_DONE         /* the task is over; ADDR: the connection kept open */
};

struct wresult {
	int type;
	int unit;
	int rcpt;                       /* WR_RCPT: index in the envelope */
	char kind;                      /* 'S'ent, 'D'eferred, 'B'ounced */
	char relay[RELAY_TEXT_MAX];
	char reply[SMTP_REPLY_MAX + 1];
	struct sockaddr_storage addr;   /* family 0: none */
	int worked;                     /* WR_DONE: a server answered a whole
	                                   transaction */
};

/* relay_verbose - -v was given: narrate each step on stderr. */
extern int relay_verbose;

/* relay_narrate - one step on stderr under -v. */
void relay_narrate(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* relay_expiry - when ENV's pending recipients expire: arrival plus
 * queue_lifetime plus the time it was held (until NOW if still held). */
time_t relay_expiry(const struct config *cf, const struct envelope *env, time_t now);

/*
 * relay_pass - one pass over the spool (FORCE: every pending recipient,
 * not only those due). Returns 0, or EXIT_TEMPFAIL when the spool cannot
 * be read.
 */
int relay_pass(const struct config *cf, const struct smtp_options *opt, int force);

/* relay_worker_main - a worker: tasks from FD until it closes, each
 * recipient's outcome back as it comes. Never returns. */
void relay_worker_main(const struct config *cf, const struct smtp_options *opt, int fd)
	__attribute__((noreturn));

/* Queue administration (relay-admin.c); each returns the exit status. */
int relay_list(const struct config *cf);                        /* -l */
int relay_show(const struct config *cf, const char *id);        /* -s */
int relay_delete(const struct config *cf, const char *id);      /* -d, "ALL" */
int relay_hold(const struct config *cf, const char *id, int hold); /* -h, -H */
int relay_requeue(const struct config *cf, const char *id);     /* -r */

#endif
