/*
 * auth.c - password checks with crypt(3) against "user:hash" lines.
 *
 * The file is read on every attempt (it is small, and a changed password
 * takes effect at once). An unknown user costs a crypt() call with the
 * same method and cost, so the time taken does not tell which names exist.
 *
 * libcrypt is loaded (dlopen) on the first check, not when the program
 * starts: most sessions never authenticate, and loading it costs every
 * one of them the mapping and relocation of a library.
 */
#include <crypt.h>
#include <errno.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "bounds.h"
#include "util.h"

#ifndef CRYPT_LIBRARY
#define CRYPT_LIBRARY "libcrypt.so.1"   /* libxcrypt's soname (Debian's libcrypt1) */
#endif

/* Why the last check was RES_TEMP, for auth_error. */
static char why_temp[512];

/* auth_error - what made the last auth_check RES_TEMP. */
const char *
auth_error(void)
{
	return why_temp;
}

/* crypt_fn - crypt_r from libcrypt, loaded once; NULL (why_temp says
 * why) when it cannot be. */
static __typeof__(crypt_r) *
crypt_fn(void)
{
	static __typeof__(crypt_r) *fn;
	void *lib;

	if (fn)
		return fn;
	if (!(lib = dlopen(CRYPT_LIBRARY, RTLD_NOW | RTLD_LOCAL)) ||
	    !(fn = (__typeof__(crypt_r) *)dlsym(lib, "crypt_r"))) {
		snprintf(why_temp, sizeof why_temp, "cannot load %s: %s", CRYPT_LIBRARY, dlerror());
		return NULL;
	}
	return fn;
}

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

	if (!f) {
		snprintf(why_temp, sizeof why_temp, "cannot read auth_file %s: %s", file,
		    strerror(errno));
		return RES_TEMP;
	}
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
	__typeof__(crypt_r) *crypt_r_fn = crypt_fn();
	cd = crypt_r_fn ? calloc(1, sizeof *cd) : NULL;
	if (crypt_r_fn && !cd)
		snprintf(why_temp, sizeof why_temp, "out of memory");
	if (!cd) {
		explicit_bzero(line, sizeof line);
		return RES_TEMP;
	}
	/* An unknown user is hashed with the file's own first hash (same
	 * method and cost), so the time taken does not tell names apart. */
	const char *setting = found && hash[0] ? hash : first[0] ? first : dummy_hash;
	const char *h = crypt_r_fn(password, setting, cd);
	ok = found && h && h[0] != '*' && equal(h, hash);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	explicit_bzero(line, sizeof line);
	return ok ? RES_OK : RES_PERM;
}
