/*
 * forward.h - a user's ~/.forward read with that user's identity (users
 * system): by a child that becomes the user when we run as root, by the
 * service account itself when the home lets it, else by the mailbox
 * helper (mkmbox.c), which serves "forward NAME" requests with
 * forward_serve.
 */
#ifndef FORWARD_H
#define FORWARD_H

#include <pwd.h>
#include <stddef.h>

#include "config.h"

/* What forward_fetch found. */
enum forward_result {
	FWD_READ = 1,           /* the text is in BUF */
	FWD_NONE = 0,           /* no ~/.forward */
	FWD_IGNORED = 2,        /* one that is not used: why in WHY (log it) */
	FWD_TEMP = -1           /* nothing known now (no helper, an I/O
	                           error): why in WHY; try again later */
};

/*
 * forward_fetch - ~/.forward of account PW into BUF (BUFSZ - 1 octets at
 * most, NUL-terminated), read as PW: a plain file owned by PW (or root),
 * writable by nobody else, no symbolic link. CF names the helper socket.
 */
int forward_fetch(const struct config *cf, const struct passwd *pw, char *buf, size_t bufsz,
                  char *why, size_t whysz);

/* forward_serve - as root: a child that becomes PW (its groups, gid and
 * uid) reads its ~/.forward and writes the answer (forward.c's header)
 * on OUT; the child is killed after MKMBOX_WAIT_MS. */
void forward_serve(const struct passwd *pw, int out);

/* forward_answer_read - read an answer of forward_serve from FD (within
 * MKMBOX_WAIT_MS): a forward_result, the text in BUF or the why in WHY. */
int forward_answer_read(int fd, char *buf, size_t bufsz, char *why, size_t whysz);

#endif
