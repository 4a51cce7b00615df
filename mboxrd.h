/*
 * mboxrd.h - one message written at the end of an mbox file, in mboxrd
 * format: "From SENDER Www Mmm dd hh:mm:ss yyyy" (UTC), Return-Path and
 * Delivered-To, then the message with every line matching ^>*From  given
 * one more '>', LF line ends, and an empty line after it.
 */
#ifndef MBOXRD_H
#define MBOXRD_H

#include <sys/types.h>
#include <time.h>

#include "msgtext.h"

/*
 * mboxrd_write - append TEXT to the mbox open as FD (O_APPEND), whose
 * size was OLDSIZE: a new line first if a crash left the file without an
 * empty last line, then the From line (SENDER, "" for <>; WHEN), the two
 * headers (DELIVERED_TO) and the quoted text. Not synced. 0, or an errno.
 */
int mboxrd_write(int fd, off_t oldsize, const struct msgtext *text, const char *sender,
                 const char *delivered_to, time_t when);

#endif
