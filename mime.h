/*
 * mime.h - the debug sink's reader: a readable summary of one message.
 */
#ifndef MIME_H
#define MIME_H

/*
 * mime_report - read the message in FD (from offset 0; LF line ends, as
 * staged by smtp-session) and call EMIT once per output line: From, To,
 * Cc, Date, Subject (RFC 2047 decoded), each attachment's name, type and
 * decoded size, and the text of the message. Memory is bounded whatever
 * the input. Returns 0, -1 on a read error or when memory is short.
 *
 * Whatever the message holds, every LINE given to EMIT is safe to log:
 *  - it is NUL-terminated, has no line end, and is at most
 *    MIME_OUT_LINE_MAX (bounds.h) octets long, the NUL not counted;
 *  - it is valid UTF-8 (RFC 3629: shortest forms only, no surrogates,
 *    nothing above U+10FFFF);
 *  - it holds no control character: none of U+0000-U+001F (so no tab,
 *    CR or LF), U+007F, U+0080-U+009F, and none of the characters that
 *    break a line or reorder text on a terminal: U+061C, U+200E,
 *    U+200F, U+2028, U+2029, U+202A-U+202E, U+2066-U+2069.
 */
int mime_report(int fd, void (*emit)(void *ctx, const char *line), void *ctx);

#endif
