/*
 * stage.h - where a message's text waits between DATA and storage.
 *
 * A text of at most STAGE_MEM_MAX octets stays in memory: local delivery
 * copies it to the mboxes from there, and no file is made unless the
 * spool needs one (foreign recipients, a copy that must wait), which
 * spool_commit then writes. A larger text, or one that a program must
 * read from a file (the content filter, the debug sink's MIME walker),
 * goes to an unnamed file in spool_dir/tmp (O_TMPFILE): it has no name
 * until spool_commit links it into msg/, so a session killed at any
 * point leaves nothing behind. Where the file system cannot make unnamed
 * files it is tmp/ID.msg, removed by stage_discard, or by stage_on_signal
 * when a signal ends the session.
 *
 * The stage's one buffer of STAGE_MEM_MAX octets holds the whole text
 * while it is in memory; once there is a file it gathers what is written
 * into writes of that size, so memory never grows with the message.
 *
 *	stage_open(&st, spool_dir, id, 0);
 *	stage_write(&st, buf, n);          as DATA comes
 *	stage_done(&st);                   the text is complete
 *	stage_text(&st, &text);            then inject_store(..., &text, ...)
 *	stage_discard(&st);
 */
#ifndef STAGE_H
#define STAGE_H

#include <stddef.h>

#include "bounds.h"
#include "msgtext.h"

struct stage {
	const char *dir;        /* spool_dir; NULL: the debug sink, whose file
	                           is an unlinked one in $TMPDIR */
	char id[QUEUE_ID_MAX];  /* the message's queue id */
	char *mem;              /* STAGE_MEM_MAX octets: the text while there
	                           is no file, then what is not yet written
	                           to it; NULL once done with a file */
	size_t len;             /* octets in MEM */
	int fd;                 /* the file once there is one; -1 */
	enum msgtext_file file; /* what FD is to the spool */
	int filtered;           /* the content filter's output (named:
	                           tmp/ID.new until stage_adopt) */
	int err;                /* errno of a failed write; 0 */
};

/*
 * stage_open - an empty stage for the message ID under spool_dir DIR
 * (NULL: the debug sink). FILE: straight into a file (a filter or the
 * debug sink will read it), else in memory while it fits. 0, or -1 with
 * errno.
 */
int stage_open(struct stage *st, const char *dir, const char *id, int file);

/* stage_write - append N octets of text; 0, or -1 with st->err set (the
 * stage is then unusable). */
int stage_write(struct stage *st, const void *buf, size_t n);

/* stage_done - the text is complete: what is buffered for the file is
 * written, and the buffer freed. 0, or -1 with st->err set. */
int stage_done(struct stage *st);

/*
 * stage_filtered - a second stage, always a file without a buffer, for
 * the content filter's version of ST's text (same id), which it writes
 * to out->fd itself. stage_adopt then makes it ST's text, discarding the
 * old one; 0, or -1 with errno (ST unchanged, OUT discarded).
 */
int stage_filtered(const struct stage *st, struct stage *out);
int stage_adopt(struct stage *st, struct stage *out);

/* stage_text - the staged text as a msgtext (after stage_done; valid
 * until stage_discard). */
void stage_text(const struct stage *st, struct msgtext *t);

/* stage_discard - release the text: memory freed, file closed (a named
 * one removed unless the spool took it). */
void stage_discard(struct stage *st);

/* stage_on_signal - remove the named staging files of the message under
 * way (async-signal-safe): a signal is ending the session. */
void stage_on_signal(void);

#endif
