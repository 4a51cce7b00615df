/*
 * spool-aside.c - corrupt/ in the spool: an envelope relay-agent cannot
 * parse is moved there with its message, for a human to look at (-l
 * lists it, -s shows it, -d deletes it), never skipped silently nor
 * deleted. Paths come from spool_path(), like every path of the spool.
 * The envelope moves first, then the text: see spool_corrupt.
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
	/* The envelope first: after a crash between the two renames, the
	 * text left in msg/ is moved after it by spool_clean_stale (which
	 * looks in corrupt/ before it removes a text without envelope), and
	 * no pass meets an envelope in env/ without its text. */
	if (spool_path(from, sizeof from, dir, "env", id, "") < 0 ||
	    spool_path(to, sizeof to, dir, "corrupt", id, "") < 0 || rename(from, to) < 0)
		return -1;
	fsync_dir(sub);
	if (spool_env_sync(dir) < 0)
		return -1;
	return spool_corrupt_text(dir, id);
}

/* spool_corrupt_text - move msg/ID after its envelope into corrupt/. */
int
spool_corrupt_text(const char *dir, const char *id)
{
	char from[FILE_PATH_MAX], to[FILE_PATH_MAX], sub[FILE_PATH_MAX];

	if (spool_path(sub, sizeof sub, dir, NULL, "corrupt", "") < 0 ||
	    spool_path(from, sizeof from, dir, "msg", id, "") < 0 ||
	    spool_path(to, sizeof to, dir, "corrupt", id, ".msg") < 0)
		return -1;
	if (rename(from, to) < 0)
		return errno == ENOENT ? 0 : -1;
	return fsync_dir(sub);
}

/* spool_corrupt_has - whether corrupt/ID (the envelope moved aside) exists. */
int
spool_corrupt_has(const char *dir, const char *id)
{
	char path[FILE_PATH_MAX];
	struct stat st;

	return spool_valid_id(id) && spool_path(path, sizeof path, dir, "corrupt", id, "") == 0 &&
	    lstat(path, &st) == 0;
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
		char id[QUEUE_ID_MAX];
		size_t l = strlen(de->d_name);

		/* ID, and ID.msg without its ID (what a crash between the two
		 * moves of an older version left). */
		if (l > 4 && l - 4 < sizeof id && strcmp(de->d_name + l - 4, ".msg") == 0) {
			memcpy(id, de->d_name, l - 4);
			id[l - 4] = '\0';
			if (!spool_valid_id(id) || spool_corrupt_has(dir, id))
				continue;
		} else if (spool_valid_id(de->d_name) && l < sizeof id) {
			memcpy(id, de->d_name, l + 1);
		} else {
			continue;
		}
		if (*n == cap) {
			char **m = realloc(*ids, (size_t)(cap = cap ? cap * 2 : 16) * sizeof **ids);
			if (!m)
				break;
			*ids = m;
		}
		if (!((*ids)[*n] = strdup(id)))
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

