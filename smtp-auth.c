/*
 * smtp-auth.c - smtp-session's AUTH command: the PLAIN (RFC 4616) and
 * LOGIN exchanges. The password itself is checked by auth.c.
 *
 * Secrets are cleared on every way out; a response after a refused AUTH
 * is masked in the transcript; each failure costs AUTH_FAIL_DELAY_MS and
 * the AUTH_FAILURES_MAX-th ends the session.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "base64.h"
#include "log.h"
#include "session.h"
#include "util.h"

/*
 * auth_read - send "334 CHALLENGE" and read the client's base64 answer
 * into OUT. Returns the decoded length; -1 for "*" (cancelled, answered),
 * -2 for bad base64 (answered), -3 when the session must end.
 */
static ssize_t
auth_read(struct session *s, const char *challenge, unsigned char *out, size_t outsz)
{
	char line[SMTP_AUTH_MAX + 1];
	size_t len;
	ssize_t n;
	char c334[SMTP_REPLY_MAX];

	snprintf(c334, sizeof c334, "334 %s", challenge);
	reply_line(s, c334);
	enum lr_status st = lr_getline(&s->lr, line, SMTP_AUTH_MAX, &len);
	lr_wipe(&s->lr);        /* the raw response stays in no buffer */
	if (st == LR_TIMEOUT) {
		reply_timeout(s, "in AUTH ");
		return -3;
	}
	if (st == LR_EOF || st == LR_ERROR)
		return -3;
	if (s->cf->log_transcript)
		log_msg(LOG_INFO, "< ***");
	if (st == LR_TOOLONG) {
		explicit_bzero(line, sizeof line);
		reply(s, "500 5.5.6 Error: authentication response too long");
		return -2;
	}
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (strcmp(line, "*") == 0) {
		explicit_bzero(line, sizeof line);
		reply(s, "501 5.7.0 Authentication cancelled");
		return -1;
	}
	n = strlen(line) == len ? base64_decode(line, out, outsz) : -1;
	explicit_bzero(line, sizeof line);
	if (n < 0) {
		reply(s, "501 5.5.2 Error: cannot decode the response");
		return -2;
	}
	return n;
}

/* decode_initial - an initial response ("=" is empty); -2 when bad. */
static ssize_t
decode_initial(struct session *s, const char *arg, unsigned char *out, size_t outsz)
{
	ssize_t n;

	if (strcmp(arg, "=") == 0)
		return 0;
	n = base64_decode(arg, out, outsz);
	if (n < 0) {
		reply(s, "501 5.5.2 Error: cannot decode the initial response");
		return -2;
	}
	return n;
}

/* The secrets of one AUTH exchange, cleared on every way out. */
struct auth_secrets {
	unsigned char buf[3 * AUTH_FIELD_MAX + 3];
	char user[AUTH_FIELD_MAX + 1];
	char pass[AUTH_FIELD_MAX + 1];
};

/*
 * auth_plain - RFC 4616: [authzid] NUL authcid NUL passwd. Returns 0 with
 * user and password filled (password empty when the response is not
 * acceptable as credentials), or what auth_read returned (< 0).
 */
static ssize_t
auth_plain(struct session *s, const char *initial, struct auth_secrets *a)
{
	ssize_t n = *initial ? decode_initial(s, initial, a->buf, sizeof a->buf)
	    : auth_read(s, "", a->buf, sizeof a->buf);
	unsigned char *z1, *z2, *end;

	if (n < 0)
		return n;
	end = a->buf + n;
	z1 = memchr(a->buf, '\0', (size_t)n);
	z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(end - z1 - 1)) : NULL;
	if (!z2 || memchr(z2 + 1, '\0', (size_t)(end - z2 - 1))) {
		reply(s, "501 5.5.2 Error: malformed PLAIN response");
		return -2;
	}
	size_t zlen = (size_t)(z1 - a->buf), ulen = (size_t)(z2 - z1 - 1);
	size_t plen = (size_t)(end - z2 - 1);
	if (zlen > AUTH_FIELD_MAX || ulen > AUTH_FIELD_MAX || plen > AUTH_FIELD_MAX) {
		reply(s, "501 5.5.2 Error: response too long");
		return -2;
	}
	memcpy(a->user, z1 + 1, ulen);
	a->user[ulen] = '\0';
	memcpy(a->pass, z2 + 1, plen);
	a->pass[plen] = '\0';
	/* Acting for another user (an authzid other than authcid) is not offered. */
	if (zlen && (zlen != ulen || memcmp(a->buf, a->user, ulen)))
		a->pass[0] = '\0';
	return 0;
}

/* auth_login - the LOGIN exchange: user name, then password. */
static ssize_t
auth_login(struct session *s, const char *initial, struct auth_secrets *a)
{
	ssize_t n = *initial ? decode_initial(s, initial, a->buf, AUTH_FIELD_MAX)
	    : auth_read(s, "VXNlcm5hbWU6", a->buf, AUTH_FIELD_MAX);      /* Username: */
	int bad;

	if (n < 0)
		return n;
	bad = memchr(a->buf, '\0', (size_t)n) != NULL;
	memcpy(a->user, a->buf, (size_t)n);
	a->user[n] = '\0';
	n = auth_read(s, "UGFzc3dvcmQ6", a->buf, AUTH_FIELD_MAX);        /* Password: */
	if (n < 0)
		return n;
	bad |= memchr(a->buf, '\0', (size_t)n) != NULL;
	memcpy(a->pass, a->buf, (size_t)n);
	a->pass[bad ? 0 : n] = '\0';
	return 0;
}

/*
 * cmd_auth - AUTH PLAIN (RFC 4616) and LOGIN. A success grants relaying;
 * each failure costs AUTH_FAIL_DELAY_MS and the third ends the session.
 * Returns -1 when the session must end.
 */
int
cmd_auth(struct session *s, char *arg)
{
	struct auth_secrets a;
	char mech[16], *initial;
	ssize_t n;
	int rc;

	s->mask_next = 1;       /* a response may follow even a refusal */
	if (!s->cf->auth_file[0]) {
		reply(s, "502 5.5.1 Error: authentication not enabled");
		return 0;
	}
	if (s->auth_user[0]) {
		reply(s, "503 5.5.1 Error: already authenticated");
		return 0;
	}
	if (s->in_mail) {
		reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return 0;
	}
	initial = arg + strcspn(arg, " ");
	if (*initial)
		*initial++ = '\0';
	while (*initial == ' ')
		initial++;
	if (strlcpy_ck(mech, arg, sizeof mech) < 0 || !mech[0]) {
		reply(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return 0;
	}
	memset(&a, 0, sizeof a);
	if (strcasecmp(mech, "PLAIN") == 0) {
		strcpy(mech, "PLAIN");
		n = auth_plain(s, initial, &a);
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		strcpy(mech, "LOGIN");
		n = auth_login(s, initial, &a);
	} else {
		reply(s, "504 5.5.4 Unrecognized authentication type");
		return 0;
	}
	s->mask_next = 0;       /* the responses were read above */
	if (n < 0) {
		explicit_bzero(&a, sizeof a);
		return n == -3 ? -1 : 0;
	}
	rc = a.user[0] && a.pass[0] ? auth_check(s->cf->auth_file, a.user, a.pass) : RES_PERM;
	explicit_bzero(a.buf, sizeof a.buf);
	explicit_bzero(a.pass, sizeof a.pass);
	sanitize_text(a.user);
	char shown[4 * AUTH_FIELD_MAX + 1];
	log_token(shown, sizeof shown, a.user);
	if (rc == RES_OK) {
		strlcpy_ck(s->auth_user, a.user, sizeof s->auth_user);
		log_msg(LOG_INFO, "auth: client=[%s], method=%s, user=<%s>", s->peer.addr, mech, shown);
		reply(s, "235 2.7.0 Authentication successful");
		return 0;
	}
	if (rc == RES_TEMP) {
		log_msg(LOG_ERR, "auth: %s", auth_error());
		reply(s, "454 4.7.0 Temporary authentication failure");
		return 0;
	}
	log_msg(LOG_WARNING, "auth failed: client=[%s], method=%s, user=<%s>", s->peer.addr, mech,
	    shown);
	reply_flush(s);
	sleep_ms(AUTH_FAIL_DELAY_MS);
	reply(s, "535 5.7.8 Error: authentication failed");
	if (++s->auth_failures >= AUTH_FAILURES_MAX && !s->closing) {
		reply(s, "421 4.7.0 %s Error: too many failed authentications", s->cf->hostname);
		s->closing = 1;
	}
	return 0;
}
