/*
 * peer.h - who the client of a session is (SPEC "Where the peer address
 * comes from"): the socket's peer, or what the launcher says.
 */
#ifndef PEER_H
#define PEER_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "bounds.h"
#include "config.h"

struct peer {
	struct sockaddr_storage sa;     /* the client's address */
	char addr[INET6_ADDRSTRLEN];    /* as text, for Received and the log */
	int relay_ok;                   /* may send to foreign domains without AUTH */
	int local;                      /* one of this host's own programs (a pipe,
	                                   the submission socket, the pickup) */
	long uid;                       /* that program's user id; -1: unknown */
	char user[USER_NAME_MAX + 1];   /* its user name; "" when unknown */
};

/* peer_find - identify the client on fd 0 under configuration CF. */
void peer_find(struct peer *p, const struct config *cf);

/* peer_set_local_uid - the client is a program of user UID (the pickup's
 * -U, SO_PEERCRED): local, uid and user set, may relay. */
void peer_set_local_uid(struct peer *p, long uid);

/* peer_from_unix_socket - an AF_UNIX client on fd 0 named by SO_PEERCRED;
 * 1 when found. */
int peer_from_unix_socket(struct peer *p);

#endif
