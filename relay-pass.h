/*
 * relay-pass.h - the state of one relay-agent pass, shared by the
 * scheduler (relay-sched.c: destinations, units, workers, the loop) and
 * the message side (relay-msg.c: taking messages, outcomes, envelopes,
 * bounces). Nothing else includes it.
 */
#ifndef RELAY_PASS_H
#define RELAY_PASS_H

#include <signal.h>
#include <time.h>

#include "dns.h"
#include "relay.h"

/* One message the pass holds. */
struct qmsg {
	int used;
	char id[QUEUE_ID_MAX];
	int fd;                         /* msg/ID, flock held */
	int envfd;                      /* reserved tmp/ID.env; -1: none */
	off_t size;
	struct envelope env;
	char (*relay)[RELAY_TEXT_MAX];  /* per recipient: who answered */
	int open;                       /* units queued or in flight */
	int dirty;                      /* outcomes not written yet */
	int changed;                    /* any outcome in this pass */
	time_t expiry;
};

struct route;

/* Recipients of one message for one destination. */
struct unit {
	int id;                         /* index in p->units */
	int msg;
	struct route *rt;
	int nrcpts;
	int rcpt[RELAY_TXN_RCPTS_MAX];
	char got[RELAY_TXN_RCPTS_MAX];  /* outcome received */
	int worker;                     /* -1: queued */
	struct unit *next;              /* the route's queue */
};

/* A destination: a domain, the smarthost, or the local mailboxes. */
struct route {
	struct dns_route dr;
	int local;
	int ready;                      /* resolved (or local) */
	int *aidx;                      /* address table index per host and
	                                   address: [h * DNS_ADDRS_MAX + a] */
	double window;
	int start;                      /* the host to try first: a backup that
	                                   worked when those before it did not */
	int inflight;
	struct unit *qhead, *qtail;
	int nqueued;
	int listed;                     /* on the ready list */
	char lasterr[SMTP_REPLY_MAX + 1];
};

/* An address and port of a mail host. */
struct addrent {
	struct sockaddr_storage sa;
	int down;
	int ok;                         /* a delivery over it worked */
	int nconn;                      /* workers connected (or about to be) */
};

/* A worker process. */
struct worker {
	pid_t pid;
	int fd;                         /* -1: gone */
	int unit;                       /* -1: idle */
	int local;                      /* the local mailboxes' worker */
	int conn;                       /* address table index; -1: none */
	long long idle_since;
};

/* Everything of one pass. */
struct pass {
	const struct config *cf;
	const struct smtp_options *opt;
	int force;
	char **ids;
	int nids, nextid;
	struct qmsg *msgs;
	int capmsgs, nactive;
	struct route **routes;
	int nroutes, caproutes;
	struct route local;
	struct route **ready;           /* routes with queued units */
	int nready, capready, rr;
	struct unit **units;            /* by id; NULL: free */
	int nunits;
	int *freeids, nfree;
	struct addrent *addrs;
	int naddrs, capaddrs;
	struct worker *workers;
	int nworkers, nremote;
	long long flush_at;             /* 0: nothing to write */
	int need_sync;                  /* env/ changed since the last fsync */
	char (*unlinks)[QUEUE_ID_MAX];  /* msg/ files to remove after it */
	int nunlinks, capunlinks;
	int update_failed;
	int stopping;
	long long stop_deadline;
	struct task *task;              /* scratch */
};

/* relay-sched.c */
struct route *sched_route(struct pass *p, const struct spool_rcpt *r);
struct unit *sched_unit_new(struct pass *p, int m, struct route *rt);
void sched_unit_queue(struct pass *p, struct unit *u);

/* relay-msg.c */
void msg_outcome(struct pass *p, struct unit *u, int i, char kind, const char *relay,
                 const char *reply);
void msg_unit_done(struct pass *p, struct unit *u);
void msg_finish(struct pass *p, int mi);
void msg_flush(struct pass *p);
void msg_take_more(struct pass *p);

#endif
