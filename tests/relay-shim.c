/*
 * relay-shim.c - an LD_PRELOAD shim for the relay-agent tests.
 *
 *   cc -shared -fPIC -o shim.so relay-shim.c -ldl
 *   SNDBUF=1 CLOCK_SHIFT=7200 LD_PRELOAD=./shim.so relay-agent ...
 *
 * SNDBUF: every TCP socket that connects gets SO_SNDBUF set to that many
 * octets first, so what the kernel buffers cannot hide a server that
 * reads slowly. CLOCK_SHIFT: time() runs that many seconds ahead, so
 * files made now look that old (st_ctime cannot be set back by hand).
 * PWFAIL: getpwnam() of that name fails with EIO, as when the password
 * database cannot be reached (NSS down). SLOW_WRITE=PATH: each write() to
 * the file PATH first sleeps SLOW_WRITE_MS milliseconds (default 20), so
 * an append takes long enough for a signal, or another append, to come
 * in the middle of it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

time_t
time(time_t *t)
{
	static time_t (*real_time)(time_t *);
	const char *v = getenv("CLOCK_SHIFT");
	time_t now;

	if (!real_time)
		real_time = (time_t (*)(time_t *))dlsym(RTLD_NEXT, "time");
	now = real_time(NULL) + (v ? atol(v) : 0);
	if (t)
		*t = now;
	return now;
}

struct passwd *
getpwnam(const char *name)
{
	static struct passwd *(*real_getpwnam)(const char *);
	const char *v = getenv("PWFAIL");

	if (!real_getpwnam)
		real_getpwnam = (struct passwd *(*)(const char *))dlsym(RTLD_NEXT, "getpwnam");
	if (v && strcmp(v, name) == 0) {
		errno = EIO;
		return NULL;
	}
	return real_getpwnam(name);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real_write)(int, const void *, size_t);
	const char *v = getenv("SLOW_WRITE");

	if (!real_write)
		real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (v && fd > 2) {
		char link[64], path[4096];
		ssize_t l;
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		if ((l = readlink(link, path, sizeof path - 1)) > 0) {
			path[l] = '\0';
			if (strcmp(path, v) == 0)
				usleep(1000 * (getenv("SLOW_WRITE_MS") ? atoi(getenv("SLOW_WRITE_MS")) : 20));
		}
	}
	return real_write(fd, buf, n);
}
