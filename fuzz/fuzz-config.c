/*
 * fuzz-config.c - the configuration and users-file parsers. The input is
 * split at its first NUL: the configuration file, then the users file
 * (which the configuration names through "users" appended at its end).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config.h"
#include "../users.h"

static char dir[64], conf[128], users[128];

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct config cf;
	char err[9000];
	const unsigned char *nul = memchr(data, '\0', size);
	size_t clen = nul ? (size_t)(nul - data) : size;
	FILE *f;

	if (!dir[0]) {
		strcpy(dir, "/tmp/fuzz-config-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		snprintf(conf, sizeof conf, "%s/conf", dir);
		snprintf(users, sizeof users, "%s/users", dir);
	}
	f = fopen(conf, "w");
	fwrite(data, 1, clen, f);
	fprintf(f, "\nusers %s\n", users);
	fclose(f);
	f = fopen(users, "w");
	if (nul)
		fwrite(nul + 1, 1, size - clen - 1, f);
	fclose(f);
	if (config_load(&cf, conf, (size & 1) ? CONFIG_DEBUG : CONFIG_FULL, err, sizeof err) == 0) {
		struct expansion ex = { .nmailboxes = 0 };
		users_expand(&cf, "postmaster", &ex);
		expansion_free(&ex);
	}
	config_free(&cf);
	return 0;
}
