/*
 * fuzz-mime.c - the debug sink's MIME walker on arbitrary messages.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../mime.h"

static void
emit(void *ctx, const char *line)
{
	size_t *n = ctx;

	*n += strlen(line);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	size_t total = 0;
	int fd = memfd_create("msg", 0);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	mime_report(fd, emit, &total);
	close(fd);
	return 0;
}
