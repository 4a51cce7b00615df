/*
 * race-symlink.c - an LD_PRELOAD shim that plays the owner of a directory
 * winning a race against a root process working in it: the moment a
 * directory whose last path component is $RACE_NAME has been made (mkdir
 * or mkdirat), it is renamed to NAME.raced and a symbolic link to
 * $RACE_TARGET takes its place. A process that goes on by path (chown,
 * chmod) then changes the target; one that works through descriptors
 * opened with O_NOFOLLOW does not.
 *
 *   cc -shared -fPIC -o race.so race-symlink.c -ldl
 *   RACE_NAME=maildrop RACE_TARGET=/some/file LD_PRELOAD=./race.so prog
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* swap - replace the directory PATH (relative to DFD) with the link. */
static void
swap(int dfd, const char *path)
{
	const char *name = getenv("RACE_NAME"), *target = getenv("RACE_TARGET");
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char aside[4096];

	if (!name || !target || strcmp(base, name) != 0 ||
	    snprintf(aside, sizeof aside, "%s.raced", path) >= (int)sizeof aside)
		return;
	if (renameat(dfd, path, dfd, aside) == 0)
		symlinkat(target, dfd, path);
}

int
mkdir(const char *path, mode_t mode)
{
	static int (*real)(const char *, mode_t);
	int rc;

	if (!real)
		real = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
	rc = real(path, mode);
	if (rc == 0)
		swap(AT_FDCWD, path);
	return rc;
}

int
mkdirat(int dfd, const char *path, mode_t mode)
{
	static int (*real)(int, const char *, mode_t);
	int rc;

	if (!real)
		real = (int (*)(int, const char *, mode_t))dlsym(RTLD_NEXT, "mkdirat");
	rc = real(dfd, path, mode);
	if (rc == 0)
		swap(dfd, path);
	return rc;
}
