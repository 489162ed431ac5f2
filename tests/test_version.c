/* SPDX-License-Identifier: MIT */
/* tests/test_version.c: nalloc.h's version macros and nalloc_version() agree with configure's version (AC_INIT).  see src/malloc.c
 *
 * NALLOC_CONFIGURE_VERSION is $(PACKAGE_VERSION), passed by tests/introspect.am:
 * bumping AC_INIT without nalloc.h (or the other way round) fails here.
 * Exit 0 pass, 1 fail. */
#include <stdio.h>
#include <string.h>

#include "nalloc.h"

#ifndef NALLOC_CONFIGURE_VERSION
#error "build with -DNALLOC_CONFIGURE_VERSION=\"$(PACKAGE_VERSION)\""
#endif

int main(void)
{
	int fail = 0;
	char parts[64];
	snprintf(parts, sizeof parts, "%d.%d.%d", NALLOC_VERSION_MAJOR, NALLOC_VERSION_MINOR,
	         NALLOC_VERSION_PATCH);
	if (strcmp(NALLOC_VERSION, NALLOC_CONFIGURE_VERSION) != 0) {
		printf("FAIL: nalloc.h NALLOC_VERSION \"%s\" != configure's version \"%s\"\n",
		       NALLOC_VERSION, NALLOC_CONFIGURE_VERSION);
		fail = 1;
	}
	if (strcmp(parts, NALLOC_CONFIGURE_VERSION) != 0) {
		printf("FAIL: NALLOC_VERSION_MAJOR.MINOR.PATCH %s != configure's version \"%s\"\n", parts,
		       NALLOC_CONFIGURE_VERSION);
		fail = 1;
	}
	int want = NALLOC_VERSION_MAJOR * 10000 + NALLOC_VERSION_MINOR * 100 + NALLOC_VERSION_PATCH;
	if (NALLOC_VERSION_NUMBER != want) {
		printf("FAIL: NALLOC_VERSION_NUMBER %d != %d\n", NALLOC_VERSION_NUMBER, want);
		fail = 1;
	}
	if (nalloc_version() != NALLOC_VERSION_NUMBER) {
		printf("FAIL: nalloc_version() = %d, the header says %d\n", nalloc_version(),
		       NALLOC_VERSION_NUMBER);
		fail = 1;
	}
	printf("test_version: configure %s, nalloc.h %s (%d), library %d: %s\n", NALLOC_CONFIGURE_VERSION,
	       NALLOC_VERSION, NALLOC_VERSION_NUMBER, nalloc_version(), fail ? "FAIL" : "PASS");
	return fail;
}
