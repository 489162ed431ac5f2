/* SPDX-License-Identifier: MIT */
/* tests/room_alloc.c: malloc blocks of the sizes given and say which worked (test_room.sh).  see src/malloc.c
 *
 *   room_alloc MIB...
 *
 * For each size: one line "MIB ok" or "MIB NULL errno=E" (E: ENOMEM or a
 * number); the block is not touched (the sizes come from fake kernel
 * figures, not from the machine's memory) and is freed at once.  Run under
 * LD_PRELOAD=libnalloc.so.  Exit 0 unless an argument is bad (2).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *end;
		unsigned long long mb = strtoull(argv[i], &end, 10);
		if (end == argv[i] || *end) {
			fprintf(stderr, "room_alloc: '%s' is not a size in MiB\n", argv[i]);
			return 2;
		}
		errno = 0;
		void *p = malloc((size_t)mb << 20);
		int e = errno;
		if (p)
			printf("%llu ok\n", mb);
		else if (e == ENOMEM)
			printf("%llu NULL errno=ENOMEM\n", mb);
		else
			printf("%llu NULL errno=%d\n", mb, e);
		free(p);
	}
	return 0;
}
