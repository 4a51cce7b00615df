/*
 * envelope.c - the envelope's text format.
 *
 * Text, one item per line, "key value":
 *
 *   version 2                           (3 when a hold or a failed
 *                                        recipient needs it)
 *   id 6740A1B2C3D4E5F
 *   arrival 1732246000                  (seconds since the epoch)
 *   sender alice@example.org            (empty value for <>)
 *   body 8BITMIME                       (7BIT or 8BITMIME)
 *   auth                                (authenticated user, or empty)
 *   client 192.0.2.1
 *   helo client.example.org
 *   hold 1732246100                     (version 3, optional: held since)
 *   held 3600                           (version 3, optional: seconds held
 *                                        before, added to queue_lifetime)
 *   rcpt STATE<TAB>ATTEMPTS<TAB>NEXT<TAB>LAST<TAB>ORIG<TAB>ADDR<TAB>REPLY[<TAB>MAILBOX]
 *
 * one rcpt line per recipient; STATE is pending, sent, bounced or (version
 * 3) failed: refused for good, the bounce not sent yet; NEXT and
 * LAST are epoch seconds (0: none); ORIG is the address as the client gave
 * it, ADDR the one to deliver to; REPLY the last reply or error text;
 * MAILBOX (version 2, optional) names a local mailbox the copy is for.
 * Values never hold a TAB or a line end (they are replaced by spaces).
 * Version 1 envelopes (no MAILBOX field) and version 2 ones (no hold, no
 * failed state) are read as they are. Unknown
 * keys are ignored, so a later version's additions do not make an
 * envelope unreadable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "util.h"

#define ENV_LINE_MAX (2 * ADDR_MAX + SPOOL_REPLY_MAX + USER_NAME_MAX + 128) /* octets */

static const char *state_names[] = { "pending", "sent", "bounced", "failed" };

/* clean_value - copy S with TABs and control octets made spaces. */
static void
clean_value(char *dst, size_t dstsz, const char *s)
{
	strlcpy_ck(dst, s, dstsz);
	text_scrub(dst, SCRUB_CTL, ' ');
}

/* envelope_write - ENV as text to FD. */
int
envelope_write(int fd, const struct envelope *env)
{
	char line[ENV_LINE_MAX + 64], a[ADDR_MAX + 1], b[ADDR_MAX + 1];
	char r[SPOOL_REPLY_MAX + 1], h[HELO_MAX + 1], s[ADDR_MAX + 1], au[256];
	char mb[USER_NAME_MAX + 1];
	int n;

	/* The oldest version that can say it all: an envelope without a
	 * hold or a failed recipient stays readable by version 2 readers. */
	int version = env->hold || env->held ? 3 : 2;
	for (int i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == RS_FAILED)
			version = 3;
	clean_value(s, sizeof s, env->sender);
	clean_value(h, sizeof h, env->helo);
	clean_value(au, sizeof au, env->auth);
	n = snprintf(line, sizeof line,
	    "version %d\nid %s\narrival %lld\nsender %s\nbody %s\nauth %s\n"
	    "client %s\nhelo %s\n", version, env->id, (long long)env->arrival,
	    s, env->body[0] ? env->body : "7BIT", au, env->client, h);
	if (n < 0 || (size_t)n >= sizeof line || write_all(fd, line, (size_t)n) < 0)
		return -1;
	if (env->hold || env->held) {
		n = snprintf(line, sizeof line, "hold %lld\nheld %ld\n", (long long)env->hold,
		    env->held);
		if (n < 0 || (size_t)n >= sizeof line || write_all(fd, line, (size_t)n) < 0)
			return -1;
	}
	for (int i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *rc = &env->rcpts[i];
		clean_value(a, sizeof a, rc->orig);
		clean_value(b, sizeof b, rc->addr);
		clean_value(r, sizeof r, rc->last_reply);
		clean_value(mb, sizeof mb, rc->mailbox);
		n = snprintf(line, sizeof line, "rcpt %s\t%d\t%lld\t%lld\t%s\t%s\t%s%s%s\n",
		    state_names[rc->state], rc->attempts, (long long)rc->next_attempt,
		    (long long)rc->last_attempt, a, b, r, mb[0] ? "\t" : "", mb);
		if (n < 0 || (size_t)n >= sizeof line || write_all(fd, line, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

/* envelope_size_max - the header, the hold lines and each recipient line
 * are each written from one buffer of ENV_LINE_MAX + 64 octets
 * (envelope_write). */
size_t
envelope_size_max(const struct envelope *env)
{
	return (size_t)(env->nrcpts + 2) * (ENV_LINE_MAX + 64);
}

/* envelope_add_rcpt - append a pending recipient; 0 or -1. */
int
envelope_add_rcpt(struct envelope *env, const char *orig, const char *addr,
                  const char *mailbox)
{
	struct spool_rcpt *n;

	if (env->nrcpts >= SPOOL_RCPTS_MAX)
		return -1;
	n = realloc(env->rcpts, (size_t)(env->nrcpts + 1) * sizeof *n);
	if (!n)
		return -1;
	env->rcpts = n;
	n = &env->rcpts[env->nrcpts];
	memset(n, 0, sizeof *n);
	if (strlcpy_ck(n->orig, orig, sizeof n->orig) < 0 ||
	    strlcpy_ck(n->addr, addr, sizeof n->addr) < 0 ||
	    strlcpy_ck(n->mailbox, mailbox ? mailbox : "", sizeof n->mailbox) < 0)
		return -1;
	n->state = RS_PENDING;
	env->nrcpts++;
	return 0;
}

/* parse_rcpt - one "rcpt" value (7 fields, or 8 with a mailbox). */
static int
parse_rcpt(struct envelope *env, char *v)
{
	char *f[8] = { NULL };
	int i, nf;

	for (nf = 0; nf < 8 && v; nf++) {
		f[nf] = v;
		v = strchr(v, '\t');
		if (v)
			*v++ = '\0';
	}
	if (nf < 7 || v)
		return -1;
	if (envelope_add_rcpt(env, f[4], f[5], nf == 8 ? f[7] : NULL) < 0)
		return -1;
	struct spool_rcpt *r = &env->rcpts[env->nrcpts - 1];
	for (i = 0; i < 4; i++)
		if (strcmp(f[0], state_names[i]) == 0)
			break;
	if (i == 4)
		return -1;
	r->state = (enum rcpt_state)i;
	r->attempts = atoi(f[1]);
	r->next_attempt = (time_t)atoll(f[2]);
	r->last_attempt = (time_t)atoll(f[3]);
	strlcpy_ck(r->last_reply, f[6], sizeof r->last_reply);
	return 0;
}

/* envelope_read - read the envelope file PATH into ENV. */
int
envelope_read(const char *path, struct envelope *env)
{
	char line[ENV_LINE_MAX + 16];
	FILE *f = fopen(path, "re");
	int ok = 1;

	memset(env, 0, sizeof *env);
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		size_t n = strlen(line);
		char *v;
		if (n == 0 || line[n - 1] != '\n') {
			ok = 0;
			break;
		}
		line[n - 1] = '\0';
		v = strchr(line, ' ');
		if (!v) {
			ok = 0;
			break;
		}
		*v++ = '\0';
		if (strcmp(line, "version") == 0)
			env->version = atoi(v);
		else if (strcmp(line, "id") == 0)
			ok = strlcpy_ck(env->id, v, sizeof env->id) == 0;
		else if (strcmp(line, "arrival") == 0)
			env->arrival = (time_t)atoll(v);
		else if (strcmp(line, "sender") == 0)
			ok = strlcpy_ck(env->sender, v, sizeof env->sender) == 0;
		else if (strcmp(line, "body") == 0)
			ok = strlcpy_ck(env->body, v, sizeof env->body) == 0;
		else if (strcmp(line, "auth") == 0)
			ok = strlcpy_ck(env->auth, v, sizeof env->auth) == 0;
		else if (strcmp(line, "client") == 0)
			ok = strlcpy_ck(env->client, v, sizeof env->client) == 0;
		else if (strcmp(line, "helo") == 0)
			ok = strlcpy_ck(env->helo, v, sizeof env->helo) == 0;
		else if (strcmp(line, "hold") == 0)
			env->hold = (time_t)atoll(v);
		else if (strcmp(line, "held") == 0)
			env->held = atol(v);
		else if (strcmp(line, "rcpt") == 0)
			ok = parse_rcpt(env, v) == 0;
		if (!ok)
			break;
	}
	if (ferror(f)) {
		int err = errno;
		fclose(f);
		envelope_free(env);
		errno = err;
		return -1;
	}
	fclose(f);
	if (!ok || env->version < 1 || env->version > ENVELOPE_VERSION || !env->id[0] ||
	    env->nrcpts == 0) {
		envelope_free(env);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* envelope_free - release env->rcpts. */
void
envelope_free(struct envelope *env)
{
	free(env->rcpts);
	env->rcpts = NULL;
	env->nrcpts = 0;
}
