/*
 * faultinject.c - an LD_PRELOAD shim that makes one file-system call fail.
 *
 *   cc -shared -fPIC -o fi.so faultinject.c -ldl
 *   FI_DIR=/some/dir FI_LOG=trace FI_FAIL=N FI_ERRNO=EIO LD_PRELOAD=./fi.so prog
 *
 * Only calls whose path (or whose file descriptor's path, read from
 * /proc/self/fd/N) lies under FI_DIR are counted: open, openat, write,
 * writev (counted as a write), pread, fsync, fdatasync, rename,
 * renameat2, link, linkat, unlink, ftruncate, close, fcntl, fstat and
 * mkdir. Each counted call appends "N<TAB>op<TAB>path" to the
 * file FI_LOG (with "<TAB>FAIL" for the failed one). With FI_FAIL=N the
 * Nth counted call fails with FI_ERRNO (EIO, ENOSPC, EDQUOT or a number;
 * default EIO) without being made, except close, which closes the file
 * first and then reports the error (Linux releases the descriptor).
 * Without FI_FAIL (or 0) nothing fails: the trace counts the calls.
 * With FI_QUOTA=PATH every write to the file PATH fails with EDQUOT, as
 * for a user over quota, and with FI_EIO=PATH with EIO, without being
 * counted.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int inited;
static char fi_dir[4096];
static size_t fi_dirlen;
static long fi_fail, fi_count;
static int fi_errno = EIO;
static int fi_logfd = -1;

static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_open)(const char *, int, ...);

#define REAL(name) \
	static __typeof__(&name) r_##name; \
	if (!r_##name) r_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

static void
fi_init(void)
{
	const char *d, *f, *e, *l;

	if (inited)
		return;
	if (!getenv("FI_DIR"))
		return;     /* too early (a sanitizer starting up): try later */
	inited = 1;
	real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	d = getenv("FI_DIR");
	if (d && *d && strlen(d) < sizeof fi_dir) {
		strcpy(fi_dir, d);
		fi_dirlen = strlen(fi_dir);
		while (fi_dirlen > 1 && fi_dir[fi_dirlen - 1] == '/')
			fi_dir[--fi_dirlen] = '\0';
	}
	f = getenv("FI_FAIL");
	fi_fail = f ? atol(f) : 0;
	e = getenv("FI_ERRNO");
	if (e && *e) {
		if (strcmp(e, "EIO") == 0)
			fi_errno = EIO;
		else if (strcmp(e, "ENOSPC") == 0)
			fi_errno = ENOSPC;
		else if (strcmp(e, "EDQUOT") == 0)
			fi_errno = EDQUOT;
		else if (atoi(e) > 0)
			fi_errno = atoi(e);
	}
	l = getenv("FI_LOG");
	if (l && *l)
		fi_logfd = real_open(l, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fi_logfd >= 0 && fi_logfd < 200) {   /* keep it out of the program's way */
		int (*rf)(int, int, ...) = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl");
		int hi = rf(fi_logfd, F_DUPFD_CLOEXEC, 200);
		if (hi >= 0) {
			int (*rc)(int) = (int (*)(int))dlsym(RTLD_NEXT, "close");
			rc(fi_logfd);
			fi_logfd = hi;
		}
	}
}

/* under - PATH names FI_DIR or something below it. */
static int
under(const char *path)
{
	if (!fi_dirlen || !path)
		return 0;
	return strncmp(path, fi_dir, fi_dirlen) == 0 &&
	    (path[fi_dirlen] == '\0' || path[fi_dirlen] == '/');
}

/* fd_path - the path of FD into BUF ("" when unknown). */
static const char *
fd_path(int fd, char *buf, size_t bufsz)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, buf, bufsz - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* hit - count a call of OP on PATH; 1 when this call must fail. */
static int
hit(const char *op, const char *path, const char *path2)
{
	char line[9000];
	int fail, n;

	fi_init();
	if (!under(path) && !(path2 && under(path2)))
		return 0;
	fi_count++;
	fail = fi_fail > 0 && fi_count == fi_fail;
	if (fi_logfd >= 0) {
		n = snprintf(line, sizeof line, "%ld\t%s\t%s%s%s%s\n", fi_count, op, path,
		    path2 ? " -> " : "", path2 ? path2 : "", fail ? "\tFAIL" : "");
		if (n > 0)
			real_write(fi_logfd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	}
	return fail;
}

static int
fd_hit(const char *op, int fd)
{
	char p[4096];

	fi_init();
	if (!fi_dirlen || fd == fi_logfd)
		return 0;
	return hit(op, fd_path(fd, p, sizeof p), NULL);
}

#define FAIL_WITH(ret) do { errno = fi_errno; return (ret); } while (0)

static mode_t
open_mode(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(open);

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (hit("open", path, NULL))
		FAIL_WITH(-1);
	return r_open(path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(open64);

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (hit("open", path, NULL))
		FAIL_WITH(-1);
	return r_open64(path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(openat);

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	if (path[0] == '/' && hit("openat", path, NULL))
		FAIL_WITH(-1);
	return r_openat(dirfd, path, flags, mode);
}

/* names - FD is the file the variable VAR names. */
static int
names(int fd, const char *var)
{
	const char *q = getenv(var);
	char p[4096];

	return q && *q && strcmp(fd_path(fd, p, sizeof p), q) == 0;
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	REAL(write);

	if (fd > 2 && names(fd, "FI_QUOTA")) {
		errno = EDQUOT;
		return -1;
	}
	if (fd > 2 && names(fd, "FI_EIO")) {
		errno = EIO;
		return -1;
	}
	if (fd > 2 && fd_hit("write", fd))
		FAIL_WITH(-1);
	return r_write(fd, buf, n);
}

ssize_t
writev(int fd, const struct iovec *iov, int n)
{
	REAL(writev);

	if (fd > 2 && names(fd, "FI_QUOTA")) {
		errno = EDQUOT;
		return -1;
	}
	if (fd > 2 && names(fd, "FI_EIO")) {
		errno = EIO;
		return -1;
	}
	if (fd > 2 && fd_hit("write", fd))
		FAIL_WITH(-1);
	return r_writev(fd, iov, n);
}

ssize_t
pread(int fd, void *buf, size_t n, off_t off)
{
	REAL(pread);

	if (fd_hit("pread", fd))
		FAIL_WITH(-1);
	return r_pread(fd, buf, n, off);
}

ssize_t
pread64(int fd, void *buf, size_t n, off_t off)
{
	REAL(pread64);

	if (fd_hit("pread", fd))
		FAIL_WITH(-1);
	return r_pread64(fd, buf, n, off);
}

int
fsync(int fd)
{
	REAL(fsync);

	if (fd_hit("fsync", fd))
		FAIL_WITH(-1);
	return r_fsync(fd);
}

int
fdatasync(int fd)
{
	REAL(fdatasync);

	if (fd_hit("fdatasync", fd))
		FAIL_WITH(-1);
	return r_fdatasync(fd);
}

int
rename(const char *from, const char *to)
{
	REAL(rename);

	if (hit("rename", from, to))
		FAIL_WITH(-1);
	return r_rename(from, to);
}

int
renameat2(int fromdir, const char *from, int todir, const char *to, unsigned int flags)
{
	REAL(renameat2);

	if (hit("rename", from, to))
		FAIL_WITH(-1);
	return r_renameat2(fromdir, from, todir, to, flags);
}

int
link(const char *from, const char *to)
{
	REAL(link);

	if (hit("link", from, to))
		FAIL_WITH(-1);
	return r_link(from, to);
}

int
linkat(int fromdir, const char *from, int todir, const char *to, int flags)
{
	REAL(linkat);

	if (hit("link", from, to))
		FAIL_WITH(-1);
	return r_linkat(fromdir, from, todir, to, flags);
}

int
unlink(const char *path)
{
	REAL(unlink);

	if (hit("unlink", path, NULL))
		FAIL_WITH(-1);
	return r_unlink(path);
}

int
mkdir(const char *path, mode_t mode)
{
	REAL(mkdir);

	if (hit("mkdir", path, NULL))
		FAIL_WITH(-1);
	return r_mkdir(path, mode);
}

int
ftruncate(int fd, off_t len)
{
	REAL(ftruncate);

	if (fd_hit("ftruncate", fd))
		FAIL_WITH(-1);
	return r_ftruncate(fd, len);
}

int
close(int fd)
{
	REAL(close);

	if (fd > 2 && fd_hit("close", fd)) {
		r_close(fd);
		FAIL_WITH(-1);
	}
	return r_close(fd);
}

int
fstat(int fd, struct stat *st)
{
	REAL(fstat);

	if (fd_hit("fstat", fd))
		FAIL_WITH(-1);
	return r_fstat(fd, st);
}

int
fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	REAL(fcntl);

	va_start(ap, cmd);
	arg = va_arg(ap, void *);   /* int or pointer: one register either way */
	va_end(ap);
	if (cmd != F_GETFD && cmd != F_GETFL && fd_hit("fcntl", fd))
		FAIL_WITH(-1);
	return r_fcntl(fd, cmd, arg);
}
