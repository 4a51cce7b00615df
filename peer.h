/*
 * peer.h - who the client of a session is (SPEC "Where the peer address
 * comes from"): the socket's peer, what the launcher says, or the local
 * process at the other end of an AF_UNIX socket.
 */
#ifndef PEER_H
#define PEER_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "bounds.h"
#include "config.h"

struct peer {
	struct sockaddr_storage sa;     /* the client's address (AF_UNSPEC when
	                                   unidentified) */
	char addr[INET6_ADDRSTRLEN];    /* as text, for Received and the log;
	                                   "unknown" when unidentified */
	int relay_ok;                   /* may send to foreign domains without AUTH */
	int unidentified;               /* the launcher named no valid address:
	                                   local delivery only, unless AUTH */
	int local;                      /* one of this host's own programs (a pipe,
	                                   the submission socket, the pickup) */
	long uid;                       /* that program's user id; -1: unknown */
	char user[USER_NAME_MAX + 1];   /* its user name; "" when unknown */
};

/* peer_find - identify the client on fd 0 under configuration CF. */
void peer_find(struct peer *p, const struct config *cf);

/*
 * peer_set_local_uid - the client is a process of this host running as
 * UID (SO_PEERCRED of the submission socket, or the owner of a file the
 * maildrop pickup hands over): local, may relay, named by uid and user.
 */
void peer_set_local_uid(struct peer *p, long uid);

/* peer_describe - the client for Received and the log: "[192.0.2.1]",
 * "[IPv6:2001:db8::1]", "userid 1000 (alice)" or "unknown". */
void peer_describe(const struct peer *p, char *out, size_t outsz);

#endif
