/*
 * peer.c - who the client of a session is.
 *
 * The socket's peer when fd 0 is an AF_INET or AF_INET6 socket; else the
 * first of REMOTE_ADDR (systemd), TCPREMOTEIP (tcpserver), REMOTE_HOST
 * (xinetd, stunnel) that holds an address; else a local session on a
 * pipe (127.0.0.1). Behind stunnel (tls_wrapped) a loopback socket peer
 * gives way to REMOTE_HOST. smtp-session never asks DNS.
 */
#include <arpa/inet.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "log.h"
#include "peer.h"
#include "util.h"

/* peer_from_env - an address from the launcher's environment, if valid. */
static int
peer_from_env(const char *name, struct sockaddr_storage *ss)
{
	const char *v = getenv(name);
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	if (!v || !*v)
		return 0;
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, v, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, v, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return 1;
	}
	return 0;
}

/* is_loopback - 127.0.0.0/8, ::1 or a v4-mapped 127/8. */
static int
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

/* peer_find - identify the client on fd 0. */
void
peer_find(struct peer *p, const struct config *cf)
{
	socklen_t len = sizeof p->sa;
	struct sockaddr_storage *ss = &p->sa;
	int found = 0, unknown_behind_tls = 0;

	memset(p, 0, sizeof *p);
	p->uid = -1;
	if (getpeername(0, (struct sockaddr *)ss, &len) == 0 &&
	    (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)) {
		found = 1;
		if (cf->tls_wrapped && is_loopback(ss)) {
			struct sockaddr_storage env;
			if (peer_from_env("REMOTE_HOST", &env))
				*ss = env;
			else
				unknown_behind_tls = 1;
		}
	}
	if (!found)
		found = peer_from_env("REMOTE_ADDR", ss) || peer_from_env("TCPREMOTEIP", ss) ||
		    peer_from_env("REMOTE_HOST", ss);
	if (!found) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		p->local = 1;
		memset(ss, 0, sizeof *ss);
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	if (ss->ss_family == AF_INET6) {
		struct in6_addr *a = &((struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			struct sockaddr_in s4 = { .sin_family = AF_INET };
			memcpy(&s4.sin_addr, a->s6_addr + 12, 4);
			memset(ss, 0, sizeof *ss);
			memcpy(ss, &s4, sizeof s4);
		}
	}
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, p->addr, sizeof p->addr);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, p->addr, sizeof p->addr);
	p->relay_ok = config_relay_allowed(cf, (struct sockaddr *)ss);
	if (unknown_behind_tls) {
		/* The TLS front end did not say who the client is: never let
		 * its loopback address grant relaying. */
		log_msg(LOG_WARNING, "tls_wrapped: no valid REMOTE_HOST from the TLS front end; "
		    "relaying only after AUTH");
		p->relay_ok = 0;
	}
}

/* peer_set_local_uid - the client is a program of this host's user UID
 * (SO_PEERCRED, or the pickup's -U): local, named by uid and user in
 * Received and the log, and it may relay, as Postfix's local submission. */
void
peer_set_local_uid(struct peer *p, long uid)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&p->sa;
	struct passwd *pw = getpwuid((uid_t)uid);

	memset(&p->sa, 0, sizeof p->sa);
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	inet_ntop(AF_INET, &s4->sin_addr, p->addr, sizeof p->addr);
	p->local = 1;
	p->uid = uid;
	p->relay_ok = 1;
	p->user[0] = '\0';
	if (pw && strlen(pw->pw_name) < sizeof p->user) {
		strcpy(p->user, pw->pw_name);
		text_scrub(p->user, SCRUB_TEXT | SCRUB_SPACE, '_');
	}
}

/* peer_from_unix_socket - fd 0 is an AF_UNIX socket (the submission
 * socket): its client's uid by SO_PEERCRED. 1 when found. */
int
peer_from_unix_socket(struct peer *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct ucred cred;
	socklen_t clen = sizeof cred;

	/* A socket bound to a path (a listening socket's connection), not a
	 * socketpair: socat hands one to the program it runs for a TCP
	 * client, whose credentials would be socat's own. */
	if (getsockname(0, (struct sockaddr *)&ss, &len) < 0 || ss.ss_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) ||
	    ((struct sockaddr_un *)&ss)->sun_path[0] == '\0' ||
	    getsockopt(0, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return 0;
	peer_set_local_uid(p, (long)cred.uid);
	return 1;
}
