/*
 * relay-sndbuf.c - an LD_PRELOAD shim for the relay-agent tests: every TCP
 * socket that connects gets SO_SNDBUF set to $SNDBUF octets first, so
 * what the kernel buffers cannot hide a server that reads slowly.
 *
 *   cc -shared -fPIC -o sndbuf.so relay-sndbuf.c -ldl
 *   SNDBUF=1 LD_PRELOAD=./sndbuf.so relay-agent ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>

int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real_connect)(int, const struct sockaddr *, socklen_t);
	const char *v = getenv("SNDBUF");
	int type = 0, size;
	socklen_t tl = sizeof type;

	if (!real_connect)
		real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT,
		                                                                      "connect");
	if (v && sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) &&
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM) {
		size = atoi(v);
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	}
	return real_connect(fd, sa, len);
}
