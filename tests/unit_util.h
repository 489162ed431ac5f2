/* SPDX-License-Identifier: MIT */
/* unit_util.h: tiny check macros shared by the unit tests. */
#ifndef UNIT_UTIL_H
#define UNIT_UTIL_H
#include <stdio.h>
#include <stdlib.h>
static int unit_failures;
#define CHECK(cond, ...)                                                            \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                               \
			fprintf(stderr, "\n");                                      \
			if (++unit_failures > 20)                                   \
				exit(1);                                            \
		}                                                                   \
	} while (0)
#define UNIT_DONE(name)                                                             \
	do {                                                                        \
		if (unit_failures) {                                                \
			fprintf(stderr, "%s: %d failures\n", name, unit_failures); \
			return 1;                                                   \
		}                                                                   \
		printf("%s: all checks passed\n", name);                           \
		return 0;                                                           \
	} while (0)
/* xorshift64*: deterministic per seed */
static inline unsigned long long unit_rand(unsigned long long *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}
#endif
