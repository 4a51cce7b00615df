/*
 * auth.c - password checks with crypt(3) against "user:hash" lines.
 *
 * The file is read on every attempt (it is small, and a changed password
 * takes effect at once). An unknown user costs a crypt() call with the
 * same method and cost, so the time taken does not tell which names exist.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "bounds.h"
#include "util.h"

/* Used when the file has no hash at all. */
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
	char line[CONF_LINE_MAX], hash[CONF_LINE_MAX] = "", first[CONF_LINE_MAX] = "";
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
		if (!first[0])
			strlcpy_ck(first, colon + 1, sizeof first);
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
	/* An unknown user is hashed with the file's own first hash (same
	 * method and cost), so the time taken does not tell names apart. */
	const char *setting = found && hash[0] ? hash : first[0] ? first : dummy_hash;
	const char *h = crypt_r(password, setting, cd);
	ok = found && h && h[0] != '*' && equal(h, hash);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	explicit_bzero(line, sizeof line);
	return ok ? RES_OK : RES_PERM;
}
