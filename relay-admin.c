/*
 * relay-admin.c - relay-agent's queue commands, as administrators use
 * mailq, postcat and postsuper:
 *
 *   -l        list the queue: each message with its recipients still
 *             pending, their last reply and next attempt; a held message
 *             says so; envelopes moved to corrupt/ and envelopes that
 *             cannot be read listed as errors
 *   -s ID     print the envelope, then the message text
 *   -d ID     delete one message (ALL: every one, corrupt ones included)
 *   -h ID     hold: no pass tries it, and it does not expire while held
 *   -H ID     release a held message
 *   -r ID     every pending recipient due now
 *
 * A command that changes a message takes the message's lock first, as a
 * pass does, waiting at most RELAY_ADMIN_LOCK_WAIT_MS for a pass that is
 * delivering it. Each change is logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"
#include "spool.h"
#include "util.h"

#define EXIT_NOMSG 1    /* no such queued message */

/* fmt_age - "2d3h", "4h05m", "12m", "30s". */
static void fmt_age(char *out, size_t outsz, long s)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, outsz, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, outsz, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, outsz, "%ldm", s / 60);
	else
		snprintf(out, outsz, "%lds", s);
}

/* list_one - one message of -l; 1 listed, 0 gone meanwhile, -1 unreadable. */
static int list_one(const struct config *cf, const char *id, int *header, long long *bytes)
{
	struct envelope env;
	struct stat st;
	char age[32], next[32];
	time_t now = time(NULL);
	int j;

	if (!*header) {
		printf("%-20s %10s %-8s %s\n", "-Queue ID-", "--Size--", "--Age--",
		       "-Sender/Recipient-");
		*header = 1;
	}
	if (spool_env_load(cf->spool_dir, id, &env) < 0) {
		if (errno == ENOENT)
			return 0;
		printf("%-20s (cannot read its envelope: %s)\n", id,
		       errno == EINVAL ? "malformed; the next pass moves it to corrupt/"
		                       : strerror(errno));
		return -1;
	}
	if (spool_msg_stat(cf->spool_dir, id, &st) < 0)
		st.st_size = 0;
	*bytes += st.st_size;
	fmt_age(age, sizeof age, (long)(now - env.arrival));
	printf("%-20s %10lld %-8s <%s>\n", id, (long long)st.st_size, age, env.sender);
	if (env.hold)
		printf("%42s(on hold since %s ago: relay-agent -H %s releases it)\n", "",
		       (fmt_age(next, sizeof next, (long)(now - env.hold)), next), id);
	for (j = 0; j < env.nrcpts; j++) {
		const struct spool_rcpt *r = &env.rcpts[j];
		if (r->state != RS_PENDING && r->state != RS_FAILED)
			continue;
		printf("%40s<%s>\n", "", r->addr);
		if (r->state == RS_FAILED) {
			printf("%42s(failed, bounce not sent yet: %s)\n", "", r->last_reply);
		} else if (r->attempts == 0 && !r->last_reply[0]) {
			printf("%42s(not tried yet)\n", "");
		} else {
			if (r->next_attempt > now)
				fmt_age(next, sizeof next, (long)(r->next_attempt - now));
			else
				snprintf(next, sizeof next, "now");
			printf("%42s(%d attempt%s, next in %s: %s)\n", "", r->attempts,
			       r->attempts == 1 ? "" : "s", next, r->last_reply);
		}
	}
	envelope_free(&env);
	return 1;
}

/* relay_list - -l: the queue like mailq. */
int relay_list(const struct config *cf)
{
	char **ids, **bad;
	int n, nbad, i, total = 0, errors = 0, header = 0;
	long long bytes = 0;

	if (spool_list(cf->spool_dir, &ids, &n) < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "relay-agent: cannot read the spool %s/env: %s\n",
			        cf->spool_dir, strerror(errno));
			return EXIT_TEMPFAIL;
		}
		ids = NULL;     /* nothing was ever spooled here: no env/ yet */
		n = 0;
	}
	for (i = 0; i < n; i++) {
		int rc = list_one(cf, ids[i], &header, &bytes);
		total += rc > 0;
		errors += rc < 0;
	}
	spool_ids_free(ids, n);
	if (spool_corrupt_list(cf->spool_dir, &bad, &nbad) < 0) {
		fprintf(stderr, "relay-agent: cannot read %s/corrupt: %s\n", cf->spool_dir,
		        strerror(errno));
		errors++;
		nbad = 0;
		bad = NULL;
	}
	for (i = 0; i < nbad; i++) {
		if (!header++)
			printf("%-20s %10s %-8s %s\n", "-Queue ID-", "--Size--", "--Age--",
			       "-Sender/Recipient-");
		printf("%-20s (malformed envelope, moved to %s/corrupt/; relay-agent -s %s "
		       "shows it, -d %s deletes it)\n", bad[i], cf->spool_dir, bad[i], bad[i]);
		errors++;
	}
	spool_ids_free(bad, nbad);
	if (total == 0 && errors == 0)
		printf("Mail queue is empty\n");
	else
		printf("-- %lld Kbytes in %d Request%s.%s\n", (bytes + 1023) / 1024, total,
		       total == 1 ? "" : "s", errors ? " Some envelopes are in error (above)." : "");
	return errors ? EXIT_TEMPFAIL : 0;
}

/* copy_out - the file FD to stdout; 0 or -1. */
static int copy_out(int fd)
{
	char buf[IO_BUF_SIZE];
	ssize_t n;

	fflush(stdout);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (write_all(1, buf, (size_t)n) < 0)
			return -1;
	return n < 0 ? -1 : 0;
}

/* show_time - "Sun, 6 Dec 2026 ..." or "none". */
static const char *show_time(char *out, size_t outsz, time_t t)
{
	if (t <= 0)
		snprintf(out, outsz, "none");
	else
		rfc5322_date(out, outsz, t);
	return out;
}

/* relay_show - -s ID: envelope, then the text. */
int relay_show(const struct config *cf, const char *id)
{
	static const char *states[] = { "pending", "sent", "bounced", "failed" };
	struct envelope env;
	char a[64], b[64];
	int fd, i;

	if (!spool_valid_id(id)) {
		fprintf(stderr, "relay-agent: %s: not a queue id\n", id);
		return EXIT_USAGE;
	}
	if (spool_env_load(cf->spool_dir, id, &env) < 0) {
		int err = errno;
		if ((fd = spool_corrupt_open(cf->spool_dir, id, "")) >= 0) {
			printf("*** ENVELOPE (malformed, as stored in corrupt/%s) ***\n", id);
			copy_out(fd);
			close(fd);
			printf("*** MESSAGE CONTENTS %s ***\n", id);
			if ((fd = spool_corrupt_open(cf->spool_dir, id, ".msg")) >= 0) {
				copy_out(fd);
				close(fd);
			}
			return 0;
		}
		fprintf(stderr, "relay-agent: %s: %s\n", id, err == ENOENT ? "no such queued message"
		        : err == EINVAL ? "malformed envelope" : strerror(err));
		return err == ENOENT ? EXIT_NOMSG : EXIT_TEMPFAIL;
	}
	printf("*** ENVELOPE RECORDS %s ***\n", id);
	printf("version: %d\narrival: %s\nsender: <%s>\nbody: %s\n", env.version,
	       show_time(a, sizeof a, env.arrival), env.sender, env.body);
	if (env.auth[0])
		printf("authenticated: %s\n", env.auth);
	printf("client: %s\nhelo: %s\n", env.client, env.helo);
	if (env.hold)
		printf("held since: %s\n", show_time(a, sizeof a, env.hold));
	for (i = 0; i < env.nrcpts; i++) {
		const struct spool_rcpt *r = &env.rcpts[i];
		printf("recipient: <%s>", r->addr);
		if (strcmp(r->orig, r->addr) != 0)
			printf(" (for <%s>)", r->orig);
		if (r->mailbox[0])
			printf(" mailbox %s", r->mailbox);
		printf("\n  state %s, %d attempt%s, last %s, next %s\n", states[r->state],
		       r->attempts, r->attempts == 1 ? "" : "s",
		       show_time(a, sizeof a, r->last_attempt),
		       r->state == RS_PENDING ? show_time(b, sizeof b, r->next_attempt) : "none");
		if (r->last_reply[0])
			printf("  last reply: %s\n", r->last_reply);
	}
	envelope_free(&env);
	printf("*** MESSAGE CONTENTS %s ***\n", id);
	fd = spool_msg_open(cf->spool_dir, id);
	if (fd < 0 || copy_out(fd) < 0) {
		fprintf(stderr, "relay-agent: %s: cannot read the message: %s\n", id,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_TEMPFAIL;
	}
	close(fd);
	return 0;
}

/* locked - lock message ID for a change; its fd, or -1 with the error
 * told and *RC set. */
static int locked(const struct config *cf, const char *id, int *rc)
{
	int fd;

	if (!spool_valid_id(id)) {
		fprintf(stderr, "relay-agent: %s: not a queue id\n", id);
		*rc = EXIT_USAGE;
		return -1;
	}
	fd = spool_msg_lock(cf->spool_dir, id, RELAY_ADMIN_LOCK_WAIT_MS);
	if (fd < 0) {
		*rc = errno == ENOENT ? EXIT_NOMSG : EXIT_TEMPFAIL;
		fprintf(stderr, "relay-agent: %s: %s\n", id, errno == ENOENT
		        ? "no such queued message" : errno == EWOULDBLOCK
		        ? "busy: a pass is delivering it; try again" : strerror(errno));
	}
	return fd;
}

/* delete_one - remove message ID (or its corrupt/ remains); exit status. */
static int delete_one(const struct config *cf, const char *id)
{
	int rc = 0, fd;

	if (spool_corrupt_remove(cf->spool_dir, id) == 0) {
		log_msg(LOG_INFO, "%s: removed from corrupt/ by the administrator", id);
		printf("%s: deleted\n", id);
		return 0;
	}
	if ((fd = locked(cf, id, &rc)) < 0)
		return rc;
	if (spool_remove(cf->spool_dir, id) < 0) {
		fprintf(stderr, "relay-agent: %s: cannot delete: %s\n", id, strerror(errno));
		close(fd);
		return EXIT_TEMPFAIL;
	}
	close(fd);
	log_msg(LOG_INFO, "%s: removed by the administrator", id);
	printf("%s: deleted\n", id);
	return 0;
}

/* relay_delete - -d ID, or -d ALL. */
int relay_delete(const struct config *cf, const char *id)
{
	char **ids, **bad;
	int n, nbad, i, rc = 0, r, done = 0;

	if (strcmp(id, "ALL") != 0)
		return delete_one(cf, id);
	if (spool_list(cf->spool_dir, &ids, &n) < 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "relay-agent: cannot read the spool %s/env: %s\n",
			        cf->spool_dir, strerror(errno));
			return EXIT_TEMPFAIL;
		}
		ids = NULL;
		n = 0;
	}
	if (spool_corrupt_list(cf->spool_dir, &bad, &nbad) < 0) {
		bad = NULL;
		nbad = 0;
	}
	for (i = 0; i < n + nbad; i++) {
		r = delete_one(cf, i < n ? ids[i] : bad[i - n]);
		if (r == 0)
			done++;
		else if (r != EXIT_NOMSG)
			rc = r;         /* gone meanwhile is no error */
	}
	spool_ids_free(ids, n);
	spool_ids_free(bad, nbad);
	printf("Deleted: %d message%s\n", done, done == 1 ? "" : "s");
	return rc;
}

/* change - lock ID, load it, let FN change it, write it back. */
static int change(const struct config *cf, const char *id,
                  int (*fn)(struct envelope *env, time_t now), const char *what)
{
	struct envelope env;
	int rc = 0, fd = locked(cf, id, &rc), ch;

	if (fd < 0)
		return rc;
	if (spool_env_load(cf->spool_dir, id, &env) < 0) {
		fprintf(stderr, "relay-agent: %s: cannot read its envelope: %s\n", id,
		        errno == EINVAL ? "malformed" : strerror(errno));
		close(fd);
		return errno == ENOENT ? EXIT_NOMSG : EXIT_TEMPFAIL;
	}
	ch = fn(&env, time(NULL));
	if (ch && spool_env_replace(cf->spool_dir, &env) != RES_OK) {
		fprintf(stderr, "relay-agent: %s: cannot write its envelope: %s\n", id,
		        strerror(errno));
		rc = EXIT_TEMPFAIL;
	} else if (ch) {
		log_msg(LOG_INFO, "%s: %s by the administrator", id, what);
		printf("%s: %s\n", id, what);
	} else {
		printf("%s: unchanged (%s already)\n", id, what);
	}
	envelope_free(&env);
	close(fd);
	return rc;
}

/* do_hold - held from now on. */
static int do_hold(struct envelope *env, time_t now)
{
	if (env->hold)
		return 0;
	env->hold = now;
	return 1;
}

/* do_release - no longer held; the time held does not count toward
 * queue_lifetime. */
static int do_release(struct envelope *env, time_t now)
{
	if (!env->hold)
		return 0;
	if (now > env->hold)
		env->held += (long)(now - env->hold);
	env->hold = 0;
	return 1;
}

/* do_requeue - every pending recipient due now. */
static int do_requeue(struct envelope *env, time_t now)
{
	int i, n = 0;

	(void)now;
	for (i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == RS_PENDING) {
			env->rcpts[i].next_attempt = 0;
			n++;
		}
	return n > 0;
}

/* relay_hold - -h ID (HOLD 1) or -H ID (HOLD 0). */
int relay_hold(const struct config *cf, const char *id, int hold)
{
	return hold ? change(cf, id, do_hold, "held") : change(cf, id, do_release, "released");
}

/* relay_requeue - -r ID. */
int relay_requeue(const struct config *cf, const char *id)
{
	return change(cf, id, do_requeue, "due now");
}
