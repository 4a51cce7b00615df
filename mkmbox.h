/*
 * mkmbox.h - a missing system mailbox (users system) made for its user:
 * mailbox_dir/NAME, owned by the account NAME and group mail, mode 0660.
 *
 * It is the one step of delivery that needs root, so the programs that
 * read network input never do it themselves (unless they already run as
 * root, as in tests): they ask a helper that does nothing else.
 *
 *   mkmbox_create   the work, as root (smtp-mkmbox, relay-agent's child)
 *   mkmbox_serve    one request on a connection: a name, one answer line
 *   mkmbox_request  the asking side: itself as root, else the channel
 *                   inherited from relay-agent, else the helper socket
 */
#ifndef MKMBOX_H
#define MKMBOX_H

#include <stddef.h>
#include <sys/stat.h>

#include "config.h"

/* The environment variable naming relay-agent's channel to its child. */
#define MKMBOX_FD_ENV "SMTP_MKMBOX_FD"

/* The group of every system mailbox (Debian policy). */
#define MKMBOX_GROUP "mail"

/*
 * mkmbox_create - create DIR/NAME for account NAME (O_EXCL, no symlink
 * followed, 0660, owner NAME, group mail, fsynced with its directory),
 * unless it exists. RES_OK; RES_PERM for a name that is no account (or
 * breaks our name rules); RES_TEMP otherwise, with the reason in WHY.
 */
int mkmbox_create(const char *dir, const char *name, char *why, size_t whysz);

/* mkmbox_serve - read one name from IN (at most MKMBOX_WAIT_MS), create
 * its mailbox in DIR, answer "ok", "no REASON" or "error REASON" on OUT. */
void mkmbox_serve(int in, int out, const char *dir);

/*
 * mkmbox_request - have DIR/NAME made. As root, made here; else through
 * the channel in $SMTP_MKMBOX_FD; else through the helper socket HELPER.
 * RES_OK (it exists now); RES_PERM (no such account); RES_TEMP (no way
 * now: the copy waits), with the reason in WHY.
 */
int mkmbox_request(const char *dir, const char *name, const char *helper,
                   char *why, size_t whysz);

/* mkmbox_owner_ok - whether the mailbox ST belongs to account NAME. */
int mkmbox_owner_ok(const struct stat *st, const char *name);

/*
 * mkmbox_child_start - relay-agent started as root under users system:
 * fork a child that keeps root and serves mkmbox requests sent over a
 * socket pair (one connected socket per request, passed with
 * SCM_RIGHTS), and name the parent's end in $SMTP_MKMBOX_FD for the
 * programs it starts. Call before privileges are dropped. Does nothing
 * when not root or not users system. 0, or -1 with errno.
 */
int mkmbox_child_start(const struct config *cf);

#endif
