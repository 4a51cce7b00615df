/*
 * fuzz-session.c - a whole smtp-session fed from the fuzzer's bytes:
 * command parser, state machine, AUTH, DATA reader, end-of-data
 * detection, delivery and spooling (and the debug sink when the first
 * octet is odd). Mailboxes and spool live in a private temp directory,
 * emptied after every run.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define AUTH_FAIL_DELAY_MS 0
#define main smtp_session_main
#include "../smtp-session.c"
#undef main

static char dir[64], conf[128];

/* empty - remove the files below PATH (one level of subdirectories). */
static void
empty(const char *path, int depth)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR && depth > 0)
			empty(p, depth - 1);
		else
			unlink(p);
	}
	closedir(d);
}

static void
setup(void)
{
	char path[256];
	FILE *f;

	strcpy(dir, "/tmp/fuzz-session-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/mail", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/users", dir);
	f = fopen(path, "w");
	fputs("alice\nbob\npostmaster: alice\nteam: alice, bob\next: x@remote.example\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/auth", dir);
	f = fopen(path, "w");
	/* carol:secret (SHA-256 crypt, 1000 rounds: cheap enough to fuzz) */
	fputs("carol:$5$rounds=1000$salt$CCvcOM6b7TEJDPb37Aec/9UpOg4QhPNAxPpL9ZzjTB7\n", f);
	fclose(f);
	snprintf(conf, sizeof conf, "%s/conf", dir);
	f = fopen(conf, "w");
	fprintf(f, "hostname mx.test.example\ndomain test.example\nusers %s/users\n"
	    "mailbox_dir %s/mail\nspool_dir %s/spool\nlog /dev/null\nauth_file %s/auth\n"
	    "max_message_size 100000\ntimeout 1s\nlog_transcript yes\n", dir, dir, dir, dir);
	fclose(f);
	int out = open("/dev/null", O_WRONLY);
	dup2(out, 1);
	close(out);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int ready;
	char *argv[] = { "smtp-session", "-c", conf, NULL, NULL };
	int fd;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size > 0 && (data[0] & 1))
		argv[3] = "-d";
	fd = memfd_create("input", 0);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	lseek(fd, 0, SEEK_SET);
	dup2(fd, 0);
	close(fd);
	optind = 1;
	smtp_session_main(argv[3] ? 4 : 3, argv);
	char path[256];
	snprintf(path, sizeof path, "%s/mail", dir);
	empty(path, 0);
	snprintf(path, sizeof path, "%s/spool", dir);
	empty(path, 1);
	return 0;
}
