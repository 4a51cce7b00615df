/*
 * mime.h - the debug sink's reader: a readable summary of one message.
 */
#ifndef MIME_H
#define MIME_H

/*
 * mime_report - read the message in FD (from offset 0; LF line ends, as
 * staged by smtp-session) and call EMIT once per output line (no newline,
 * NUL-terminated, UTF-8): From, To, Cc, Date, Subject (RFC 2047 decoded),
 * each attachment's name, type and decoded size, and the text of the
 * message. Memory is bounded whatever the input. Returns 0, -1 on a read
 * error.
 */
int mime_report(int fd, void (*emit)(void *ctx, const char *line), void *ctx);

#endif
