/*
 * auth.c - password checks with crypt(3) against "user:hash" lines.
 *
 * The file is read on every attempt (it is small, and a changed password
 * takes effect at once). An unknown user costs a crypt() call too, so the
 * time taken does not tell which user names exist.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "limits.h"
#include "util.h"

/* A SHA-512 hash of a random string: burns the same time for unknown users. */
static const char dummy_hash[] =
    "$6$Wc4J5cGTPmxxJ0xq$YnmyYi49A8ZNqXZW.DusrU32vViLWaUF2.ABxrix"
    "HT/ZX63InjHlpTHeJ0gCaO8h9VtfQ2bWfJfZR1LwFMoF6/";

/* equal - compare without an early exit. */
static int
equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);

	for (size_t i = 0; i < la && i < lb; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* auth_check - RES_OK, RES_PERM (bad credentials) or RES_TEMP. */
int
auth_check(const char *file, const char *user, const char *password)
{
	char line[CONF_LINE_MAX], hash[CONF_LINE_MAX] = "";
	struct crypt_data *cd;
	FILE *f = fopen(file, "re");
	int found = 0, ok = 0;

	if (!f)
		return RES_TEMP;
	while (fgets(line, sizeof line, f)) {
		char *colon, *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (line[0] == '#' || !(colon = strchr(line, ':')))
			continue;
		*colon = '\0';
		if (strcmp(line, user) == 0) {
			strlcpy_ck(hash, colon + 1, sizeof hash);
			found = 1;
			break;
		}
	}
	fclose(f);
	cd = calloc(1, sizeof *cd);
	if (!cd)
		return RES_TEMP;
	const char *h = crypt_r(password, found && hash[0] ? hash : dummy_hash, cd);
	ok = found && h && h[0] != '*' && equal(h, hash);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok ? RES_OK : RES_PERM;
}
