/*
 * spool-aside.c - corrupt/ in the spool: an envelope relay-agent cannot
 * parse is moved there with its message, for a human to look at (-l
 * lists it, -s shows it, -d deletes it), never skipped silently nor
 * deleted. Paths come from spool_path(), like every path of the spool.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "spool-path.h"
#include "util.h"

/* cmp_id - qsort of ids. */
static int
cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* spool_corrupt - move env/ID and msg/ID into corrupt/. */
int
spool_corrupt(const char *dir, const char *id)
{
	char from[FILE_PATH_MAX], to[FILE_PATH_MAX], sub[FILE_PATH_MAX];

	if (!spool_valid_id(id)) {
		errno = EINVAL;
		return -1;
	}
	if (spool_path(sub, sizeof sub, dir, NULL, "corrupt", "") < 0 ||
	    (mkdir(sub, 0700) < 0 && errno != EEXIST))
		return -1;
	/* The text first: an envelope in env/ must never lack it. */
	if (spool_path(from, sizeof from, dir, "msg", id, "") < 0 ||
	    spool_path(to, sizeof to, dir, "corrupt", id, ".msg") < 0 ||
	    (rename(from, to) < 0 && errno != ENOENT))
		return -1;
	if (spool_path(from, sizeof from, dir, "env", id, "") < 0 ||
	    spool_path(to, sizeof to, dir, "corrupt", id, "") < 0 || rename(from, to) < 0)
		return -1;
	fsync_dir(sub);
	return spool_env_sync(dir);
}

/* spool_corrupt_list - the ids in corrupt/, sorted. */
int
spool_corrupt_list(const char *dir, char ***ids, int *n)
{
	char path[FILE_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int cap = 0;

	*ids = NULL;
	*n = 0;
	if (spool_path(path, sizeof path, dir, NULL, "corrupt", "") < 0)
		return -1;
	if (!(d = opendir(path)))
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		if (!spool_valid_id(de->d_name))
			continue;       /* ID.msg has a dot: listed through its ID */
		if (*n == cap) {
			char **m = realloc(*ids, (size_t)(cap = cap ? cap * 2 : 16) * sizeof **ids);
			if (!m)
				break;
			*ids = m;
		}
		if (!((*ids)[*n] = strdup(de->d_name)))
			break;
		(*n)++;
	}
	closedir(d);
	if (*n > 0)
		qsort(*ids, (size_t)*n, sizeof **ids, cmp_id);
	return 0;
}

/* spool_corrupt_remove - remove corrupt/ID and corrupt/ID.msg. */
int
spool_corrupt_remove(const char *dir, const char *id)
{
	char path[FILE_PATH_MAX];
	int gone;

	if (!spool_valid_id(id)) {
		errno = EINVAL;
		return -1;
	}
	if (spool_path(path, sizeof path, dir, "corrupt", id, "") < 0)
		return -1;
	gone = unlink(path) == 0;
	if (spool_path(path, sizeof path, dir, "corrupt", id, ".msg") < 0)
		return -1;
	gone |= unlink(path) == 0;
	if (!gone) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* spool_corrupt_open - open corrupt/ID or corrupt/ID.msg read-only. */
int
spool_corrupt_open(const char *dir, const char *id, const char *suffix)
{
	char path[FILE_PATH_MAX];

	if (!spool_valid_id(id)) {
		errno = EINVAL;
		return -1;
	}
	if (spool_path(path, sizeof path, dir, "corrupt", id, suffix) < 0)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

