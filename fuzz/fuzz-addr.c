/*
 * fuzz-addr.c - the RFC 5321 path parser on arbitrary text.
 */
#include <stdlib.h>
#include <string.h>

#include "../addr.h"

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1);
	const char *end = NULL;
	struct addr a;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (addr_parse_path(s, &end, size & 1, &a) == ADDR_OK) {
		if (strlen(a.full) > ADDR_MAX || end < s || end > s + size)
			abort();
		(void)addr_domain(a.full);
	}
	free(s);
	return 0;
}
