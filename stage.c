/*
 * stage.c - where a message's text waits between DATA and storage (see
 * stage.h): in memory while it fits STAGE_MEM_MAX, else in an unnamed
 * file in spool_dir/tmp, or a named one where unnamed files cannot be
 * made.
 *
 * The memory is one allocation of STAGE_MEM_MAX octets, made when the
 * stage opens: the whole text while it fits, then the file's write
 * buffer, freed once the text is complete. Memory never grows with the
 * message, and a large one is written in STAGE_MEM_MAX pieces.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"
#include "stage.h"
#include "util.h"

/* The named staging files of the message under way, for stage_on_signal. */
static char named_msg[FILE_PATH_MAX], named_new[FILE_PATH_MAX];
static volatile sig_atomic_t named_any;

/* stage_on_signal - remove the named staging files of the message. */
void
stage_on_signal(void)
{
	if (named_any) {
		unlink(named_msg);
		unlink(named_new);
	}
}

/* debug_file - an unlinked temporary file in $TMPDIR (the debug sink
 * stores nothing in the spool). */
static int
debug_file(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[FILE_PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/smtp-session-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* file_open - ST's file: unnamed in spool_dir/tmp where possible, else
 * tmp/ID.msg (tmp/ID.new when FILTERED), noted for stage_on_signal. */
static int
file_open(struct stage *st, int filtered)
{
	if (!st->dir) {
		st->file = MSGTEXT_OTHER;
		return st->fd = debug_file();
	}
	st->fd = spool_unnamed_open(st->dir);
	if (st->fd < 0 && errno == ENOENT && spool_dirs(st->dir) == 0)
		st->fd = spool_unnamed_open(st->dir);
	if (st->fd >= 0) {
		st->file = MSGTEXT_UNNAMED;
		return st->fd;
	}
	if (errno != EOPNOTSUPP)
		return -1;
	if (!named_any && spool_stage_paths(st->dir, st->id, named_msg, named_new) < 0)
		return -1;
	named_any = 1;
	st->file = MSGTEXT_NAMED;
	st->fd = spool_stage_create(st->dir, st->id, filtered);
	if (st->fd < 0 && errno == ENOENT && spool_dirs(st->dir) == 0)
		st->fd = spool_stage_create(st->dir, st->id, filtered);
	return st->fd;
}

/* stage_open - an empty stage for message ID. */
int
stage_open(struct stage *st, const char *dir, const char *id, int file)
{
	memset(st, 0, sizeof *st);
	st->dir = dir;
	st->fd = -1;
	if (strlcpy_ck(st->id, id, sizeof st->id) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!(st->mem = malloc(STAGE_MEM_MAX)))
		return -1;
	if (file && file_open(st, 0) < 0)
		return -1;
	return 0;
}

/* flush - the buffered text into the file (opened when there is none). */
static int
flush(struct stage *st)
{
	if (st->fd < 0 && file_open(st, 0) < 0)
		return -1;
	if (write_all(st->fd, st->mem, st->len) < 0)
		return -1;
	st->len = 0;
	return 0;
}

/* stage_write - append N octets: to the buffer while they fit, else the
 * buffer goes to the file first. */
int
stage_write(struct stage *st, const void *buf, size_t n)
{
	if (st->err || !st->mem) {
		st->err = st->err ? st->err : EINVAL;
		return -1;
	}
	if (n <= STAGE_MEM_MAX - st->len) {
		memcpy(st->mem + st->len, buf, n);
		st->len += n;
		return 0;
	}
	if (flush(st) < 0)
		goto fail;
	if (n < STAGE_MEM_MAX) {
		memcpy(st->mem, buf, n);
		st->len = n;
	} else if (write_all(st->fd, buf, n) < 0) {
		goto fail;
	}
	return 0;
fail:
	st->err = errno ? errno : EIO;
	return -1;
}

/* stage_done - the text is complete: a file gets the rest, the buffer goes. */
int
stage_done(struct stage *st)
{
	if (st->err)
		return -1;
	if (st->fd < 0)
		return 0;       /* the text stays in memory */
	if (st->len > 0 && flush(st) < 0) {
		st->err = errno ? errno : EIO;
		return -1;
	}
	free(st->mem);
	st->mem = NULL;
	return 0;
}

/* stage_filtered - a file stage for the filter's output of ST's text. */
int
stage_filtered(const struct stage *st, struct stage *out)
{
	memset(out, 0, sizeof *out);
	out->dir = st->dir;
	memcpy(out->id, st->id, sizeof out->id);
	out->fd = -1;
	out->filtered = 1;
	return file_open(out, 1) < 0 ? -1 : 0;
}

/* stage_adopt - OUT's text becomes ST's; the old one is discarded. */
int
stage_adopt(struct stage *st, struct stage *out)
{
	int err;

	/* A named output takes the message's staging name, tmp/ID.msg. */
	if (out->file == MSGTEXT_NAMED && spool_restage_commit(st->dir, st->id) < 0) {
		err = errno;
		stage_discard(out);
		errno = err;
		return -1;
	}
	if (st->fd >= 0)
		close(st->fd);
	if (st->file == MSGTEXT_NAMED && out->file != MSGTEXT_NAMED)
		spool_stage_discard(st->dir, st->id);
	free(st->mem);
	*st = *out;
	st->filtered = 0;
	return 0;
}

/* stage_text - the staged text as a msgtext. */
void
stage_text(const struct stage *st, struct msgtext *t)
{
	memset(t, 0, sizeof *t);
	t->fd = st->fd;
	if (st->fd < 0) {
		t->mem = st->mem;
		t->len = st->len;
	}
	t->id = st->id;
	t->file = st->file;
}

/* stage_discard - free the memory, close the file, remove a named one
 * (gone already when the spool took it). */
void
stage_discard(struct stage *st)
{
	free(st->mem);
	st->mem = NULL;
	st->len = 0;
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	if (st->file == MSGTEXT_NAMED && st->filtered) {
		unlink(named_new);      /* the filter's output only */
	} else if (st->file == MSGTEXT_NAMED) {
		spool_stage_discard(st->dir, st->id);
		named_any = 0;
	}
	st->file = MSGTEXT_OTHER;
}
