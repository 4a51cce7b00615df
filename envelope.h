/*
 * envelope.h - a queued message's envelope: who sent it, and for each
 * recipient its state, attempts, next attempt and last reply.
 *
 * The text format is in envelope.c; where envelopes live is spool.h's.
 */
#ifndef ENVELOPE_H
#define ENVELOPE_H

#include <stddef.h>
#include <time.h>

#include "bounds.h"

/* The newest version envelope_read takes (every earlier one too);
 * envelope_write writes the oldest that holds what the envelope says. */
#define ENVELOPE_VERSION 3

/* RS_FAILED: refused for good, its bounce not sent yet (version 3). */
enum rcpt_state { RS_PENDING, RS_SENT, RS_BOUNCED, RS_FAILED };

struct spool_rcpt {
	char orig[ADDR_MAX + 1];        /* as the client gave it */
	char addr[ADDR_MAX + 1];        /* after alias expansion */
	char mailbox[USER_NAME_MAX + 1];/* "" for an address; else a local
	                                   mailbox that was busy when the
	                                   message came: delivered there,
	                                   never expanded again */
	enum rcpt_state state;
	int attempts;
	time_t next_attempt;            /* 0: as soon as possible */
	time_t last_attempt;            /* 0: never */
	char last_reply[SPOOL_REPLY_MAX + 1]; /* "" when none */
};

struct envelope {
	int version;
	char id[QUEUE_ID_MAX];
	time_t arrival;
	char sender[ADDR_MAX + 1];      /* "" for <> */
	char body[16];                  /* "7BIT" or "8BITMIME" */
	char auth[256];                 /* authenticated user, "" if none */
	char client[64];                /* peer address */
	char helo[HELO_MAX + 1];
	time_t hold;                    /* held since (relay-agent -h); 0: not */
	long held;                      /* seconds held before, which do not
	                                   count toward queue_lifetime */
	struct spool_rcpt *rcpts;       /* malloc'ed */
	int nrcpts;
};

/* envelope_write - ENV as text to FD; 0, or -1 with errno. */
int envelope_write(int fd, const struct envelope *env);

/* envelope_read - read the envelope file PATH into ENV; 0, or -1 when it
 * cannot be read (errno) or is malformed (errno EINVAL). */
int envelope_read(const char *path, struct envelope *env);

/* envelope_free - release env->rcpts. */
void envelope_free(struct envelope *env);

/* envelope_add_rcpt - append a pending recipient (MAILBOX NULL or "" for
 * an address); 0, or -1 when it does not fit. */
int envelope_add_rcpt(struct envelope *env, const char *orig, const char *addr,
                      const char *mailbox);

/* envelope_size_max - the most octets envelope_write can write for ENV's
 * recipients, whatever their replies (room reserved for updates). */
size_t envelope_size_max(const struct envelope *env);

#endif
