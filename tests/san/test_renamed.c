/* SPDX-License-Identifier: MIT */
/* tests/san/test_renamed.c: the renamed build (libnalloc-renamed.la,
 * -DNALLOC_RENAMED) is nalloc's allocator, not a wrapper of the process's:
 * nalloc_test_malloc's blocks are in nalloc's arenas (nalloc_node_of >= 0),
 * their usable sizes are nalloc's size classes, glibc's blocks are not
 * nalloc's, and once nalloc is initialised its entry points never call the
 * process's malloc/calloc/realloc/free (counted by wrappers defined here).
 * Covers: the sanitizer and fuzzer builds testing glibc's malloc by mistake,
 * or the core calling the system allocator.  see src/malloc.c */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nalloc_renamed.h"
#include "sizeclasses.h"

/* the program's own allocator (glibc), counted */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile unsigned long sys_calls;
void *malloc(size_t n)
{
	sys_calls++;
	return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
	sys_calls++;
	return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
	sys_calls++;
	return __libc_realloc(p, n);
}
void free(void *p)
{
	if (p)
		sys_calls++;
	__libc_free(p);
}

static int failures;
#define CHECK(c, ...)                                                         \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #c); \
			fprintf(stderr, __VA_ARGS__);                         \
			fprintf(stderr, "\n");                                \
			if (++failures > 20)                                  \
				exit(1);                                      \
		}                                                             \
	} while (0)

static size_t class_size_for(size_t n)
{
	for (int c = 1; c < NALLOC_NUM_CLASSES; c++)
		if (nalloc__class_size[c] >= n)
			return nalloc__class_size[c];
	return 0;
}

int main(void)
{
	/* initialise nalloc (hwloc and friends may use the process's malloc) */
	nalloc_test_free(nalloc_test_malloc(1));
	void *g = malloc(100);
	CHECK(nalloc_node_of(g) == -1, "glibc's block %p is nalloc's", g);
	free(g);

	unsigned long before = sys_calls;
	static void *keep[4096];
	unsigned nk = 0;
	for (size_t n = 1; n <= NALLOC_MAX_SMALL_SIZE; n += (n < 1024 ? 1 : 61)) {
		unsigned char *p = nalloc_test_malloc(n);
		CHECK(p != NULL, "malloc(%zu)", n);
		CHECK(nalloc_node_of(p) >= 0, "nalloc_test_malloc(%zu) = %p is not nalloc's", n, (void *)p);
		CHECK(nalloc_test_malloc_usable_size(p) == class_size_for(n),
		      "usable size of %zu: %zu, class size %zu", n, nalloc_test_malloc_usable_size(p),
		      class_size_for(n));
		memset(p, 0xab, n);
		if (nk < 4096 && (n & 3) == 0)
			keep[nk++] = p;
		else
			nalloc_test_free(p);
	}
	for (size_t n = 40000; n < (64u << 20); n = n * 3 / 2) {
		void *p = nalloc_test_calloc(1, n);
		CHECK(p && nalloc_node_of(p) >= 0, "calloc(%zu) = %p", n, p);
		CHECK(nalloc_test_malloc_usable_size(p) >= n && nalloc_test_malloc_usable_size(p) % NALLOC_PAGE_SIZE == 0,
		      "large usable size of %zu: %zu", n, nalloc_test_malloc_usable_size(p));
		p = nalloc_test_realloc(p, n / 3);
		CHECK(p && nalloc_node_of(p) >= 0, "realloc to %zu", n / 3);
		void *a = NULL;
		CHECK(nalloc_test_posix_memalign(&a, 4096, n) == 0 && a && ((uintptr_t)a & 4095) == 0,
		      "posix_memalign(4096, %zu) = %p", n, a);
		CHECK(nalloc_node_of(a) >= 0, "aligned block %p is not nalloc's", a);
		nalloc_test_free(a);
		a = nalloc_test_aligned_alloc(1 << 16, 1 << 16);
		CHECK(a && nalloc_node_of(a) >= 0 && ((uintptr_t)a & 0xffff) == 0, "aligned_alloc %p", a);
		nalloc_test_free_sized(a, 1 << 16);
		a = nalloc_test_memalign(64, 100);
		CHECK(a && nalloc_node_of(a) >= 0, "memalign %p", a);
		nalloc_test_cfree(a);
		a = nalloc_test_valloc(10);
		CHECK(a && nalloc_node_of(a) >= 0, "valloc %p", a);
		nalloc_test_free(a);
		a = nalloc_test_reallocarray(NULL, 10, 10);
		CHECK(a && nalloc_node_of(a) >= 0, "reallocarray %p", a);
		nalloc_test_free(a);
		nalloc_test_free(p);
	}
	for (unsigned i = 0; i < nk; i++)
		nalloc_test_free(keep[i]);
	errno = 0;
	CHECK(nalloc_test_malloc((size_t)1 << 62) == NULL && errno == ENOMEM, "huge malloc: errno %d", errno);
	unsigned long calls = sys_calls - before;
	CHECK(calls == 0, "nalloc's entry points called the process's allocator %lu times", calls);
	if (failures)
		return 1;
	printf("test_renamed: nalloc_test_* are nalloc's (%u blocks kept, 0 system allocator calls)\n", nk);
	return 0;
}
