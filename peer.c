/*
 * peer.c - who the client of a session is.
 *
 * An AF_INET or AF_INET6 socket on fd 0: its peer (getpeername). Behind
 * stunnel (tls_wrapped) a loopback socket peer gives way to REMOTE_HOST,
 * where stunnel names the real client. Such a socket whose peer cannot
 * be read (a connection already reset, an unconnected socket) leaves the
 * client unidentified: it is no local process.
 *
 * Anything else (a socketpair from socat, an AF_UNIX socket, a pipe):
 * the first of REMOTE_ADDR (systemd), TCPREMOTEIP (tcpserver),
 * REMOTE_HOST (xinetd, stunnel) and SOCAT_PEERADDR (socat) that is set
 * names the client; an IPv6 zone ("%eth0") is stripped. The session
 * fails closed: a variable that is set but holds no valid address (empty
 * included) leaves the client unidentified, which may deliver to local
 * mailboxes but never relays without AUTH. With none of them set, an
 * AF_UNIX socket is a local process, named by its uid (SO_PEERCRED) and
 * allowed to relay; a pipe is a local dialogue and counts as 127.0.0.1.
 * smtp-session never asks DNS.
 */
#include <arpa/inet.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "util.h"

/* The launchers' variables, in the order they are believed. */
static const char *const peer_vars[] = {
	"REMOTE_ADDR", "TCPREMOTEIP", "REMOTE_HOST", "SOCAT_PEERADDR",
};

/* parse_addr - V as an IPv4 or IPv6 address ("[v6]" and a "%zone"
 * accepted, the zone dropped) into SS; 1 when valid. */
static int
parse_addr(const char *v, struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN + 2];
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	size_t n = strlen(v);
	char *pct;

	if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
		v++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof buf)
		return 0;
	memcpy(buf, v, n);
	buf[n] = '\0';
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return 1;
	}
	if ((pct = strchr(buf, '%')) != NULL) {
		if (pct[1] == '\0')
			return 0;
		*pct = '\0';
	}
	if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
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

/* warn_var - a launcher variable that is set but names no address. */
static void
warn_var(const char *name, const char *val)
{
	char shown[80];

	log_quote(shown, sizeof shown, val);
	log_msg(LOG_WARNING, "%s=%s holds no valid address: client unidentified, "
	    "local delivery only, relaying only after AUTH", name, shown);
}

/* set_unidentified - the client could not be named: it never relays
 * without AUTH. */
static void
set_unidentified(struct peer *p)
{
	memset(&p->sa, 0, sizeof p->sa);
	p->sa.ss_family = AF_UNSPEC;
	p->unidentified = 1;
	p->relay_ok = 0;
	strcpy(p->addr, "unknown");
}

/* set_loopback - 127.0.0.1, as a local dialogue counts. */
static void
set_loopback(struct peer *p)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&p->sa;

	memset(&p->sa, 0, sizeof p->sa);
	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* from_env - the first launcher variable that is set: 1 with its address
 * in SS, -1 when set but invalid (warned), 0 when none is set. */
static int
from_env(struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < sizeof peer_vars / sizeof peer_vars[0]; i++) {
		const char *v = getenv(peer_vars[i]);
		if (!v)
			continue;
		if (parse_addr(v, ss))
			return 1;
		warn_var(peer_vars[i], v);
		return -1;
	}
	return 0;
}

/* peer_set_local_uid - a process of this host running as UID. */
void
peer_set_local_uid(struct peer *p, long uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	set_loopback(p);
	strcpy(p->addr, "127.0.0.1");
	p->unidentified = 0;
	p->local = 1;
	p->relay_ok = 1;        /* the host's own programs, like Postfix's sendmail */
	p->uid = uid;
	p->user[0] = '\0';
	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof buf, &res) == 0 && res &&
	    strlcpy_ck(p->user, res->pw_name, sizeof p->user) == 0) {
		/* A name goes into a header comment and the log: letters,
		 * digits and . _ - only. */
		for (char *c = p->user; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
				*c = '_';
	} else
		p->user[0] = '\0';
}

/* peer_describe - the client as Received and the log name it. */
void
peer_describe(const struct peer *p, char *out, size_t outsz)
{
	if (p->unidentified)
		snprintf(out, outsz, "unknown");
	else if (p->uid >= 0 && p->user[0])
		snprintf(out, outsz, "userid %ld (%s)", p->uid, p->user);
	else if (p->uid >= 0)
		snprintf(out, outsz, "userid %ld", p->uid);
	else
		snprintf(out, outsz, "[%s%s]", strchr(p->addr, ':') ? "IPv6:" : "", p->addr);
}

/* inet_socket - whether fd 0 is an AF_INET or AF_INET6 socket. */
static int
inet_socket(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	return getsockname(0, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

/* peer_find - identify the client on fd 0. */
void
peer_find(struct peer *p, const struct config *cf)
{
	socklen_t len = sizeof p->sa;
	struct sockaddr_storage *ss = &p->sa;
	struct stat st;
	int rc;

	memset(p, 0, sizeof *p);
	p->uid = -1;
	if (getpeername(0, (struct sockaddr *)ss, &len) == 0 &&
	    (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)) {
		if (cf->tls_wrapped && is_loopback(ss)) {
			/* stunnel's loopback pair: the client is in REMOTE_HOST. */
			const char *v = getenv("REMOTE_HOST");
			if (v && parse_addr(v, ss))
				;
			else {
				if (v)
					warn_var("REMOTE_HOST", v);
				else
					log_msg(LOG_WARNING, "tls_wrapped: no valid REMOTE_HOST from "
					    "the TLS front end; client unidentified, relaying only "
					    "after AUTH");
				set_unidentified(p);
				return;
			}
		}
	} else if (inet_socket()) {
		/* A TCP connection whose peer cannot be read (reset before we
		 * looked, or no connection at all): never a local process. */
		log_msg(LOG_WARNING, "socket on fd 0 has no readable peer address: client "
		    "unidentified, local delivery only, relaying only after AUTH");
		set_unidentified(p);
		return;
	} else if ((rc = from_env(ss)) < 0) {
		set_unidentified(p);
		return;
	} else if (rc == 0) {
		struct ucred cred;
		socklen_t clen = sizeof cred;
		len = sizeof p->sa;
		if (fstat(0, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    getsockname(0, (struct sockaddr *)ss, &len) == 0 && ss->ss_family == AF_UNIX) {
			/* Only a connection to a socket bound to a path is a
			 * local process: a socketpair is what socat hands the
			 * program it runs for a TCP client, and its credentials
			 * would be socat's own. */
			if (len > offsetof(struct sockaddr_un, sun_path) &&
			    ((struct sockaddr_un *)ss)->sun_path[0] != '\0' &&
			    getsockopt(0, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
			    clen == sizeof cred) {
				peer_set_local_uid(p, (long)cred.uid);
				return;
			}
			log_msg(LOG_WARNING, "AF_UNIX client that is no connection to a named socket, "
			    "or without SO_PEERCRED: client unidentified");
			set_unidentified(p);
			return;
		}
		/* A pipe (or any other descriptor): a local dialogue. */
		p->local = 1;
		set_loopback(p);
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
}
