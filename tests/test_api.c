/* SPDX-License-Identifier: MIT */
/* tests/test_api.c: the standard allocation API as nalloc provides it.
 *
 * Linked with libnalloc.la (API_LDADD).  Checks, for malloc, free, calloc,
 * realloc, reallocarray, posix_memalign, aligned_alloc, memalign, valloc,
 * pvalloc, malloc_usable_size, free_sized and free_aligned_sized:
 *   - 16-byte alignment and usable size >= request for every size 0..100000
 *     (step 1 up to 1 KiB, then coarser) and for large sizes; blocks kept
 *     live in a window and pattern-checked so overlaps show up;
 *   - malloc(0) gives unique, freeable pointers;
 *   - every power-of-two alignment up to 1 GiB, for small, 33 KiB and
 *     3 MiB requests; bad alignments give EINVAL;
 *   - calloc zeroes, also memory that was dirtied and freed; overflowing
 *     n*m gives NULL/ENOMEM;
 *   - reallocarray overflow gives NULL/ENOMEM and keeps the old block;
 *   - huge requests (SIZE_MAX, SIZE_MAX/2, PTRDIFF_MAX+1, ...) give
 *     NULL/ENOMEM from every entry point, never a wrapped small block;
 *   - realloc(NULL,n), contents kept across size classes, in-place
 *     realloc within the usable size;
 *   - glibc's implementation-defined corners (test_glibc_corners, the
 *     README's table): realloc(p, 0) frees p and returns NULL (500,000 such
 *     calls leave the in-use bytes where they were), realloc(NULL, 0),
 *     reallocarray(p, 0, n), memalign rounding odd alignments up,
 *     aligned_alloc sizes that are not a multiple of the alignment,
 *     zero-size posix_memalign/valloc/pvalloc/calloc, *memptr untouched by
 *     a failed posix_memalign;
 *   - valloc/pvalloc page alignment and rounding;
 *   - malloc_usable_size(NULL) == 0, free(NULL);
 *   - free_sized / free_aligned_sized (C23);
 *   - nalloc extras: nalloc_num_nodes, nalloc_stats_get/print, nalloc_purge.
 * Exit 0 pass, 1 fail.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_util.h"

/* the test deliberately reads a block after a realloc that must fail */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif

/* C23 functions: glibc before 2.41 does not have them. */
void free_sized(void *, size_t);
void free_aligned_sized(void *, size_t, size_t);
#pragma weak free_sized
#pragma weak free_aligned_sized

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)

static size_t page_size;

static int aligned_to(const void *p, size_t a)
{
	return ((uintptr_t)p & (a - 1)) == 0;
}

/* Write the whole usable area (first and last MiB for huge blocks). */
static void touch_usable(void *p, size_t usable)
{
	if (usable <= 8 * MiB) {
		memset(p, 0x5a, usable);
	} else {
		memset(p, 0x5a, MiB);
		memset((char *)p + usable - MiB, 0x5a, MiB);
	}
}

/* ------------------------------------------------------- malloc sweep */
struct live {
	void *p;
	size_t n;
	uint64_t seed;
};

#define WINDOW 64

static void sweep_one(struct live *win, unsigned *slot, size_t n, unsigned long *bad)
{
	struct live *l = &win[*slot % WINDOW];
	(*slot)++;
	if (l->p) {
		size_t off = t_check(l->p, l->n, l->seed);
		CHECK(off == SIZE_MAX, "block %p size %zu corrupted at offset %zu (overlap?)", l->p,
		      l->n, off);
		free(l->p);
		l->p = NULL;
	}
	errno = 0;
	void *p = malloc(OPAQUE(n));
	if (!p) {
		CHECK(p != NULL, "malloc(%zu) returned NULL, errno %d", n, errno);
		return;
	}
	size_t u = malloc_usable_size(p);
	if (!aligned_to(p, 16) || u < n) {
		if ((*bad)++ < 10) {
			CHECK(aligned_to(p, 16), "malloc(%zu) = %p not 16-byte aligned", n, p);
			CHECK(u >= n, "malloc_usable_size(malloc(%zu)) = %zu", n, u);
		} else {
			t_failures++;
		}
	}
	t_checks += 2;
	l->p = p;
	l->n = n;
	l->seed = (uintptr_t)p ^ (n << 20);
	if (n <= 8 * MiB) {
		t_fill(p, n, l->seed);
	} else {
		/* only the ends of huge blocks */
		t_fill(p, 4096, l->seed);
		t_fill((char *)p + n - 4096, 4096, l->seed);
		l->n = 4096;
	}
}

static void test_malloc_sweep(void)
{
	struct live win[WINDOW] = {{0}};
	unsigned slot = 0;
	unsigned long bad = 0, count = 0;
	for (size_t n = 0; n <= 100000;) {
		sweep_one(win, &slot, n, &bad);
		count++;
		if (n < 1024)
			n += 1;
		else if (n < 16 * KiB)
			n += 3;
		else if (n < 40 * KiB)
			n += 5;
		else
			n += 37;
	}
	/* every power of two and its neighbours, up to 256 MiB */
	for (int s = 1; s <= 28; s++) {
		size_t b = (size_t)1 << s;
		for (int d = -1; d <= 1; d++) {
			sweep_one(win, &slot, b + d, &bad);
			count++;
		}
	}
	/* the small/large boundary and some odd large sizes */
	size_t odd[] = {32 * KiB - 16, 32 * KiB - 1, 32 * KiB, 32 * KiB + 1, 32 * KiB + 16,
	                33 * KiB, 40 * KiB, 64 * KiB + 8, 100 * KiB + 3, 1 * MiB + 1,
	                3 * MiB + 7, 5 * MiB - 3, 17 * MiB + 5, 64 * MiB + 1};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++, count++)
		sweep_one(win, &slot, odd[i], &bad);
	for (unsigned i = 0; i < WINDOW; i++) {
		if (win[i].p) {
			size_t off = t_check(win[i].p, win[i].n, win[i].seed);
			CHECK(off == SIZE_MAX, "block %p size %zu corrupted at offset %zu", win[i].p,
			      win[i].n, off);
			free(win[i].p);
		}
	}
	CHECK(bad == 0, "%lu of %lu allocations misaligned or too small", bad, count);
	t_log("malloc sweep: %lu sizes 0..100000 and large, 16-byte alignment, usable size", count);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
	return x < y ? -1 : x > y;
}

static void test_malloc_zero(void)
{
	enum { N = 256 };
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = malloc(OPAQUE((size_t)0));
		CHECK(p[i] != NULL, "malloc(0) #%d returned NULL", i);
		if (!p[i])
			return;
		CHECK(aligned_to(p[i], 16), "malloc(0) = %p not 16-byte aligned", p[i]);
		size_t u = malloc_usable_size(p[i]);
		if (u)
			memset(p[i], 0x11, u);
	}
	void *s[N];
	memcpy(s, p, sizeof s);
	qsort(s, N, sizeof s[0], cmp_ptr);
	for (int i = 1; i < N; i++) {
		CHECK(s[i] != s[i - 1], "malloc(0) returned %p twice", s[i]);
		size_t u = malloc_usable_size(s[i - 1]);
		CHECK((uintptr_t)s[i - 1] + u <= (uintptr_t)s[i],
		      "malloc(0) blocks overlap: %p (usable %zu) and %p", s[i - 1], u, s[i]);
	}
	for (int i = 0; i < N; i++)
		free(p[i]);
	free(NULL);
	CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = %zu",
	      malloc_usable_size(NULL));
	t_log("malloc(0): %d unique freeable pointers; free(NULL); malloc_usable_size(NULL)==0", N);
}

/* ------------------------------------------------------- alignment */
static const size_t align_sizes[] = {1, 100, 33 * 1024, 3 * 1024 * 1024};
#define NALIGN_SIZES (sizeof align_sizes / sizeof align_sizes[0])

static void check_aligned_block(const char *fn, void *p, size_t align, size_t size)
{
	CHECK(p != NULL, "%s(align %zu, size %zu) returned NULL, errno %d", fn, align, size, errno);
	if (!p)
		return;
	CHECK(aligned_to(p, align), "%s(align %zu, size %zu) = %p misaligned", fn, align, size, p);
	CHECK(aligned_to(p, 16), "%s(align %zu, size %zu) = %p not 16-byte aligned", fn, align,
	      size, p);
	size_t u = malloc_usable_size(p);
	CHECK(u >= size, "%s(align %zu, size %zu): usable size %zu", fn, align, size, u);
	if (u >= size)
		touch_usable(p, size);
}

static void test_posix_memalign(void)
{
	void *p;
	int r;
	/* too small or not a power of two: EINVAL */
	size_t badal[] = {0, 1, 2, 4, sizeof(void *) - 1, 3 * sizeof(void *), 24, 48, 100,
	                  3 * 4096, 4096 + 8, ((size_t)1 << 20) + 16, SIZE_MAX, SIZE_MAX & ~(size_t)7};
	for (size_t i = 0; i < sizeof badal / sizeof badal[0]; i++) {
		if (badal[i] >= sizeof(void *) && (badal[i] & (badal[i] - 1)) == 0)
			continue;
		p = (void *)0x1;
		r = posix_memalign(&p, OPAQUE(badal[i]), 64);
		CHECK(r == EINVAL, "posix_memalign(align %zu) returned %d, want EINVAL", badal[i], r);
		if (r == 0)
			free(p);
	}
	for (size_t a = sizeof(void *); a <= GiB; a <<= 1) {
		for (size_t i = 0; i < NALIGN_SIZES; i++) {
			p = NULL;
			errno = 0;
			r = posix_memalign(&p, OPAQUE(a), align_sizes[i]);
			CHECK(r == 0, "posix_memalign(align %zu, size %zu) returned %d", a,
			      align_sizes[i], r);
			if (r == 0) {
				check_aligned_block("posix_memalign", p, a, align_sizes[i]);
				free(p);
			}
		}
	}
	/* size 0 */
	r = posix_memalign(&p, 64, OPAQUE((size_t)0));
	CHECK(r == 0, "posix_memalign(64, 0) returned %d", r);
	if (r == 0) {
		CHECK(p == NULL || aligned_to(p, 64), "posix_memalign(64, 0) = %p", p);
		free(p);
	}
	/* impossible requests: ENOMEM (a huge alignment may also say EINVAL) */
	struct {
		size_t a, n;
	} huge[] = {{64, SIZE_MAX},
	            {4096, SIZE_MAX - 100},
	            {4096, SIZE_MAX - 4095},
	            {(size_t)1 << 20, SIZE_MAX - ((size_t)1 << 19)},
	            {GiB, PTRDIFF_MAX},
	            {16, (size_t)PTRDIFF_MAX + 1},
	            {(size_t)1 << 62, 16},
	            {(size_t)1 << 63, 16}};
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		p = (void *)0x1;
		r = posix_memalign(&p, OPAQUE(huge[i].a), OPAQUE(huge[i].n));
		CHECK(r == ENOMEM || (r == EINVAL && huge[i].n == 16),
		      "posix_memalign(align %#zx, size %#zx) returned %d (%p), want ENOMEM",
		      huge[i].a, huge[i].n, r, r ? NULL : p);
		if (r == 0)
			free(p);
	}
	t_log("posix_memalign: EINVAL for bad alignments; alignments %zu..1 GiB x sizes 1, 100, "
	      "33 KiB, 3 MiB; ENOMEM for impossible requests",
	      sizeof(void *));
}

static void test_aligned_alloc_memalign(void)
{
	void *p;
	for (size_t a = 1; a <= GiB; a <<= 1) {
		for (size_t i = 0; i < NALIGN_SIZES; i++) {
			errno = 0;
			p = aligned_alloc(OPAQUE(a), align_sizes[i]);
			check_aligned_block("aligned_alloc", p, a, align_sizes[i]);
			free(p);
			errno = 0;
			p = memalign(OPAQUE(a), align_sizes[i]);
			check_aligned_block("memalign", p, a, align_sizes[i]);
			free(p);
		}
	}
	/* several live blocks of one alignment do not overlap */
	enum { N = 64 };
	void *v[N];
	for (int i = 0; i < N; i++) {
		v[i] = aligned_alloc(256, 48);
		CHECK(v[i] && aligned_to(v[i], 256), "aligned_alloc(256, 48) = %p", v[i]);
		if (v[i])
			t_fill(v[i], 48, (uintptr_t)v[i]);
	}
	for (int i = 0; i < N; i++) {
		if (!v[i])
			continue;
		size_t off = t_check(v[i], 48, (uintptr_t)v[i]);
		CHECK(off == SIZE_MAX, "aligned_alloc(256, 48) block %p corrupted at %zu", v[i], off);
		free(v[i]);
	}
	/* not a power of two: NULL + EINVAL (glibc < 2.38 rounds up instead) */
	size_t badal[] = {0, 3, 24, 48, 100, 3 * 4096, 4096 + 16, SIZE_MAX};
	for (size_t i = 0; i < sizeof badal / sizeof badal[0]; i++) {
		errno = 0;
		p = aligned_alloc(OPAQUE(badal[i]), 64);
		int e = errno;
		CHECK_NALLOC(p == NULL && e == EINVAL,
		             "aligned_alloc(align %zu, 64) = %p errno %d, want NULL/EINVAL", badal[i],
		             p, e);
		free(p);
	}
	/* impossible requests */
	struct {
		size_t a, n;
	} huge[] = {{16, SIZE_MAX},
	            {4096, SIZE_MAX - 100},
	            {(size_t)1 << 20, SIZE_MAX - ((size_t)1 << 19)},
	            {GiB, PTRDIFF_MAX},
	            {64, (size_t)PTRDIFF_MAX + 1}};
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		errno = 0;
		p = aligned_alloc(OPAQUE(huge[i].a), OPAQUE(huge[i].n));
		int e = errno;
		CHECK(p == NULL && e == ENOMEM, "aligned_alloc(%#zx, %#zx) = %p errno %d", huge[i].a,
		      huge[i].n, p, e);
		free(p);
		errno = 0;
		p = memalign(OPAQUE(huge[i].a), OPAQUE(huge[i].n));
		e = errno;
		CHECK(p == NULL && e == ENOMEM, "memalign(%#zx, %#zx) = %p errno %d", huge[i].a,
		      huge[i].n, p, e);
		free(p);
	}
	t_log("aligned_alloc/memalign: alignments 1..1 GiB x sizes 1, 100, 33 KiB, 3 MiB; "
	      "aligned_alloc non-power-of-two -> EINVAL; impossible -> ENOMEM");
}

static void test_valloc_pvalloc(void)
{
	size_t sizes[] = {1, 100, 4095, 4096, 4097, 3 * 4096 + 1, 33 * KiB, MiB + 1};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		void *p = valloc(OPAQUE(n));
		CHECK(p && aligned_to(p, page_size), "valloc(%zu) = %p not page aligned", n, p);
		if (p) {
			size_t u = malloc_usable_size(p);
			CHECK(u >= n, "valloc(%zu): usable %zu", n, u);
			touch_usable(p, n);
		}
		free(p);
		size_t rounded = (n + page_size - 1) & ~(page_size - 1);
		p = pvalloc(OPAQUE(n));
		CHECK(p && aligned_to(p, page_size), "pvalloc(%zu) = %p not page aligned", n, p);
		if (p) {
			size_t u = malloc_usable_size(p);
			CHECK(u >= rounded, "pvalloc(%zu): usable %zu < %zu", n, u, rounded);
			if (u >= rounded)
				touch_usable(p, rounded);
		}
		free(p);
	}
	void *p = pvalloc(OPAQUE((size_t)0));
	CHECK(p == NULL || aligned_to(p, page_size), "pvalloc(0) = %p", p);
	free(p);
	p = valloc(OPAQUE((size_t)0));
	CHECK(p == NULL || aligned_to(p, page_size), "valloc(0) = %p", p);
	free(p);
	size_t huge[] = {SIZE_MAX, SIZE_MAX - 100, SIZE_MAX - page_size + 1, (size_t)PTRDIFF_MAX + 1};
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		errno = 0;
		p = pvalloc(OPAQUE(huge[i]));
		int e = errno;
		CHECK(p == NULL && e == ENOMEM, "pvalloc(%#zx) = %p errno %d (rounding wrapped?)",
		      huge[i], p, e);
		free(p);
		errno = 0;
		p = valloc(OPAQUE(huge[i]));
		e = errno;
		CHECK(p == NULL && e == ENOMEM, "valloc(%#zx) = %p errno %d", huge[i], p, e);
		free(p);
	}
	t_log("valloc/pvalloc: page (%zu) alignment, pvalloc rounds up, huge -> ENOMEM", page_size);
}

/* ------------------------------------------------------- calloc */
static void test_calloc(void)
{
	size_t sizes[] = {1, 8, 16, 24, 48, 100, 256, 1000, 4096, 8000, 32 * KiB, 33 * KiB,
	                  100000, MiB, 3 * MiB + 5, 8 * MiB};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		int k = n <= 8 * KiB ? 64 : n <= 128 * KiB ? 8 : 2;
		void *v[64];
		for (int round = 0; round < 3; round++) {
			for (int j = 0; j < k; j++) {
				v[j] = malloc(OPAQUE(n));
				CHECK(v[j] != NULL, "malloc(%zu)", n);
				if (!v[j])
					return;
				memset(v[j], 0xa5, malloc_usable_size(v[j]));
			}
			for (int j = 0; j < k; j++)
				free(v[j]);
			for (int j = 0; j < k; j++) {
				/* alternate the factorisation of n */
				if ((j & 1) && n % 8 == 0)
					v[j] = calloc(OPAQUE(n / 8), 8);
				else
					v[j] = calloc(1, OPAQUE(n));
				CHECK(v[j] != NULL, "calloc(%zu)", n);
				if (!v[j])
					return;
				CHECK(aligned_to(v[j], 16), "calloc(%zu) = %p misaligned", n, v[j]);
				const unsigned char *c = v[j];
				size_t bad = SIZE_MAX;
				for (size_t b = 0; b < n; b++)
					if (c[b]) {
						bad = b;
						break;
					}
				CHECK(bad == SIZE_MAX, "calloc(%zu) = %p (round %d, #%d) has %#x at offset %zu",
				      n, v[j], round, j, c[bad == SIZE_MAX ? 0 : bad], bad);
				memset(v[j], 0xa5, malloc_usable_size(v[j]));
			}
			for (int j = 0; j < k; j++)
				free(v[j]);
		}
	}
	/* zero-sized */
	void *p = calloc(0, OPAQUE((size_t)5));
	free(p);
	p = calloc(OPAQUE((size_t)5), 0);
	free(p);
	p = calloc(0, 0);
	free(p);
	/* overflow of n*m, and products that are just too big */
	struct {
		size_t n, m;
	} ov[] = {{SIZE_MAX, 2},
	          {2, SIZE_MAX},
	          {SIZE_MAX / 2 + 1, 2}, /* wraps to 0 */
	          {2, SIZE_MAX / 2 + 1},
	          {SIZE_MAX / 16 + 2, 16}, /* wraps to 16 */
	          {(size_t)1 << 32, (size_t)1 << 32},
	          {((size_t)1 << 32) + 1, ((size_t)1 << 32) - 1}, /* wraps to SIZE_MAX */
	          {SIZE_MAX, SIZE_MAX},
	          {1, SIZE_MAX},
	          {(size_t)PTRDIFF_MAX / 2 + 1, 2},
	          {(size_t)1 << 50, 1}};
	for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++) {
		errno = 0;
		p = calloc(OPAQUE(ov[i].n), OPAQUE(ov[i].m));
		int e = errno;
		CHECK(p == NULL && e == ENOMEM, "calloc(%#zx, %#zx) = %p errno %d, want NULL/ENOMEM",
		      ov[i].n, ov[i].m, p, e);
		free(p);
	}
	t_log("calloc: zeroed after reuse of dirtied blocks (16 sizes up to 8 MiB), n*m overflow -> ENOMEM");
}

/* ------------------------------------------------------- huge requests */
static void test_huge(void)
{
	size_t huge[] = {SIZE_MAX,
	                 SIZE_MAX - 1,
	                 SIZE_MAX - 15,
	                 SIZE_MAX - 4095,
	                 SIZE_MAX - (1 << 20),
	                 SIZE_MAX / 2,
	                 (size_t)PTRDIFF_MAX,
	                 (size_t)PTRDIFF_MAX + 1,
	                 (size_t)PTRDIFF_MAX + 4096,
	                 (size_t)1 << 50,
	                 ((size_t)1 << 47) + 1};
	void *keep = malloc(100);
	CHECK(keep != NULL, "malloc(100)");
	if (!keep)
		return;
	t_fill(keep, 100, 42);
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		size_t n = huge[i];
		errno = 0;
		void *p = malloc(OPAQUE(n));
		int e = errno;
		CHECK(p == NULL && e == ENOMEM, "malloc(%#zx) = %p errno %d, want NULL/ENOMEM", n, p,
		      e);
		free(p);
		errno = 0;
		p = realloc(keep, OPAQUE(n));
		e = errno;
		CHECK(p == NULL && e == ENOMEM, "realloc(p, %#zx) = %p errno %d, want NULL/ENOMEM", n,
		      p, e);
		if (p) {
			keep = p;
		} else {
			size_t off = t_check(keep, 100, 42);
			CHECK(off == SIZE_MAX, "failed realloc(p, %#zx) changed the old block at %zu",
			      n, off);
		}
		errno = 0;
		p = realloc(NULL, OPAQUE(n));
		e = errno;
		CHECK(p == NULL && e == ENOMEM, "realloc(NULL, %#zx) = %p errno %d", n, p, e);
		free(p);
	}
	free(keep);
	t_log("huge requests: malloc/realloc of SIZE_MAX..PTRDIFF_MAX+1, 2^50 -> NULL/ENOMEM, old "
	      "block kept");
}

static void test_reallocarray(void)
{
	errno = 0;
	uint64_t *p = reallocarray(NULL, OPAQUE((size_t)10), sizeof(uint64_t));
	CHECK(p != NULL, "reallocarray(NULL, 10, 8) = NULL");
	if (!p)
		return;
	t_fill(p, 80, 7);
	struct {
		size_t n, m;
	} ov[] = {{SIZE_MAX / 4, 8},
	          {2, SIZE_MAX / 2 + 1}, /* product wraps to 0: must not free p */
	          {SIZE_MAX / 16 + 2, 16},
	          {(size_t)1 << 32, (size_t)1 << 32},
	          {SIZE_MAX, SIZE_MAX}};
	for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++) {
		errno = 0;
		void *q = reallocarray(p, OPAQUE(ov[i].n), OPAQUE(ov[i].m));
		int e = errno;
		CHECK(q == NULL && e == ENOMEM, "reallocarray(p, %#zx, %#zx) = %p errno %d", ov[i].n,
		      ov[i].m, q, e);
		if (q) {
			p = q; /* whatever it is, keep the test going */
			continue;
		}
		size_t off = t_check(p, 80, 7);
		CHECK(off == SIZE_MAX, "failed reallocarray changed the old block at %zu", off);
		CHECK(malloc_usable_size(p) >= 80, "old block usable size %zu after failed reallocarray",
		      malloc_usable_size(p));
	}
	uint64_t *q = reallocarray(p, OPAQUE((size_t)5000), sizeof(uint64_t));
	CHECK(q != NULL, "reallocarray(p, 5000, 8) = NULL");
	if (q) {
		size_t off = t_check(q, 80, 7);
		CHECK(off == SIZE_MAX, "reallocarray growth lost contents at %zu", off);
		q[4999] = 1;
		p = q;
	}
	free(p);
	t_log("reallocarray: overflow -> NULL/ENOMEM with old block intact; growth keeps contents");
}

/* ------------------------------------------------------- realloc */
static void test_realloc_chain(const char *name, void *p, size_t n0, const size_t *chain,
                               size_t len)
{
	size_t cur = n0;
	uint64_t seed = 1000;
	t_fill(p, cur, seed);
	for (size_t i = 0; i < len; i++) {
		size_t n = chain[i];
		void *q = realloc(p, OPAQUE(n));
		CHECK(q != NULL, "%s: realloc(%zu -> %zu) = NULL", name, cur, n);
		if (!q) {
			free(p);
			return;
		}
		CHECK(aligned_to(q, 16), "%s: realloc(%zu -> %zu) = %p misaligned", name, cur, n, q);
		CHECK(malloc_usable_size(q) >= n, "%s: realloc(%zu -> %zu) usable %zu", name, cur, n,
		      malloc_usable_size(q));
		size_t keep = cur < n ? cur : n;
		size_t off = t_check(q, keep, seed);
		CHECK(off == SIZE_MAX,
		      "%s: realloc(%p, %zu -> %zu) = %p lost contents at offset %zu: %#x, want %#x",
		      name, p, cur, n, q, off, off == SIZE_MAX ? 0 : ((unsigned char *)q)[off],
		      off == SIZE_MAX ? 0 : t_expected(off, seed));
		seed++;
		t_fill(q, n, seed);
		p = q;
		cur = n;
	}
	free(p);
}

static void test_realloc(void)
{
	/* realloc(NULL, n) acts as malloc */
	size_t ns[] = {0, 1, 100, 40 * KiB, 4 * MiB};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		void *p = realloc(NULL, OPAQUE(ns[i]));
		CHECK(p != NULL, "realloc(NULL, %zu) = NULL", ns[i]);
		if (!p)
			continue;
		CHECK(aligned_to(p, 16) && malloc_usable_size(p) >= ns[i],
		      "realloc(NULL, %zu) = %p usable %zu", ns[i], p, malloc_usable_size(p));
		touch_usable(p, ns[i]);
		free(p);
	}
	/* contents across small/large boundaries */
	static const size_t chain1[] = {40 * KiB, 4 * MiB, 100, 16, 33 * KiB, 32 * KiB, MiB, 1,
	                                32 * KiB + 1, 31 * KiB, 9 * MiB, 3 * MiB, 5000, 4};
	void *p = malloc(16);
	CHECK(p != NULL, "malloc(16)");
	if (p)
		test_realloc_chain("chain 16->40K->4M->100->...", p, 16, chain1,
		                   sizeof chain1 / sizeof chain1[0]);
	/* grow one step at a time through many size classes */
	size_t steps[200];
	size_t ns2 = 0;
	for (size_t n = 24; n < 3 * MiB && ns2 < 200; n = n * 5 / 4 + 7)
		steps[ns2++] = n;
	p = malloc(8);
	if (p)
		test_realloc_chain("growth by 25%", p, 8, steps, ns2);
	/* shrink one step at a time */
	for (size_t i = 0; i < ns2 / 2; i++) {
		size_t t = steps[i];
		steps[i] = steps[ns2 - 1 - i];
		steps[ns2 - 1 - i] = t;
	}
	p = malloc(4 * MiB);
	if (p)
		test_realloc_chain("shrink by 20%", p, 4 * MiB, steps, ns2);
	/* blocks from the aligned allocators can be realloc'ed */
	static const size_t chain2[] = {5000, 64 * KiB, 10, 2 * MiB};
	p = aligned_alloc(4096, 100);
	if (p)
		test_realloc_chain("aligned_alloc(4096) block", p, 100, chain2, 4);
	void *m = NULL;
	if (posix_memalign(&m, (size_t)1 << 21, 3 * MiB) == 0)
		test_realloc_chain("posix_memalign(2 MiB) block", m, 3 * MiB, chain2, 4);

	/* realloc within the usable size keeps the pointer */
	size_t is[] = {1, 8, 24, 100, 1000, 4000, 20000, 32 * KiB, 33 * KiB, 100000, MiB,
	               3 * MiB + 5};
	for (size_t i = 0; i < sizeof is / sizeof is[0]; i++) {
		size_t n = is[i];
		char *b = malloc(OPAQUE(n));
		CHECK(b != NULL, "malloc(%zu)", n);
		if (!b)
			continue;
		size_t u = malloc_usable_size(b);
		t_fill(b, u, n);
		char *q = realloc(b, OPAQUE(u));
		CHECK(q == b, "realloc(malloc(%zu) = %p, usable size %zu) moved to %p", n, b, u, q);
		if (!q) {
			free(b);
			continue;
		}
		CHECK(t_check(q, u, n) == SIZE_MAX, "realloc to usable size %zu lost contents", u);
		char *r = realloc(q, OPAQUE(n));
		CHECK(r == q, "realloc(%p, %zu -> %zu) (shrink within block) moved to %p", q, u, n, r);
		if (!r) {
			free(q);
			continue;
		}
		CHECK(t_check(r, n, n) == SIZE_MAX, "realloc shrink to %zu lost contents", n);
		if (n > 1) {
			char *s = realloc(r, OPAQUE(n - 1));
			CHECK(s == r, "realloc(%p, %zu -> %zu) moved to %p", r, n, n - 1, s);
			if (s)
				r = s;
		}
		free(r);
	}
	t_log("realloc: realloc(NULL,n), contents across small/large boundaries, "
	      "in-place within usable size");
}

/* ------------------------------------------------------- glibc's corners */
/* Bytes in use: nalloc's per-node in_use_bytes when running on nalloc,
 * glibc's mallinfo2 otherwise. */
static uint64_t in_use_now(void)
{
	if (t_on_nalloc && nalloc_stats_get) {
		static struct nalloc_stats st;
		uint64_t s = 0;
		nalloc_stats_get(&st);
		for (int i = 0; i < st.nnodes && i < NALLOC_MAX_NODES; i++)
			s += st.nodes[i].in_use_bytes;
		return s;
	}
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* What glibc does where the C standard leaves it to the implementation,
 * and programs rely on it (checked against glibc 2.36: these pass with
 * NALLOC_TEST_ALLOW_LIBC=1 and no nalloc). */
static void test_glibc_corners(void)
{
	/* realloc(p, 0) frees p and returns NULL, errno untouched */
	size_t zs[] = {1, 16, 100, 4096, 40 * KiB, MiB};
	for (size_t i = 0; i < sizeof zs / sizeof zs[0]; i++) {
		void *p = malloc(OPAQUE(zs[i]));
		CHECK(p != NULL, "malloc(%zu)", zs[i]);
		if (!p)
			continue;
		memset(p, 1, zs[i]);
		errno = EBUSY;
		void *q = realloc(p, OPAQUE((size_t)0));
		int e = errno;
		CHECK(q == NULL, "realloc(malloc(%zu), 0) = %p, want NULL (p freed, as glibc does)",
		      zs[i], q);
		CHECK(e == EBUSY, "realloc(p, 0) changed errno to %d", e);
		free(q);
		p = malloc(OPAQUE(zs[i]));
		q = reallocarray(p, OPAQUE((size_t)0), OPAQUE((size_t)8));
		CHECK(q == NULL, "reallocarray(malloc(%zu), 0, 8) = %p, want NULL", zs[i], q);
		free(q);
	}
	/* ... and so a loop of them does not leak: programs written for glibc
	 * never free what realloc(p, 0) returns */
	enum { LOOPS = 500000 };
	uint64_t before = in_use_now();
	for (int i = 0; i < LOOPS; i++) {
		void *p = malloc(OPAQUE((size_t)(8 + (i & 63))));
		void *q = realloc(p, OPAQUE((size_t)0));
		__asm__ volatile("" : : "r"(q) : "memory"); /* dropped, as such programs do */
	}
	uint64_t after = in_use_now();
	CHECK(after < before + MiB,
	      "%d x realloc(malloc(n), 0): in-use bytes %llu -> %llu (the blocks leaked)", LOOPS,
	      (unsigned long long)before, (unsigned long long)after);
	/* realloc(NULL, 0) is malloc(0): a unique, freeable block */
	void *a = realloc(NULL, OPAQUE((size_t)0)), *b = realloc(NULL, OPAQUE((size_t)0));
	CHECK(a && b && a != b, "realloc(NULL, 0) = %p, %p: want two distinct blocks", a, b);
	free(a);
	free(b);
	/* calloc with a zero count or size: a unique block */
	a = calloc(0, OPAQUE((size_t)0));
	b = calloc(OPAQUE((size_t)0), 100);
	CHECK(a && b && a != b, "calloc(0, 0) = %p, calloc(0, 100) = %p", a, b);
	free(a);
	free(b);
	/* memalign rounds an alignment that is not a power of two up to the
	 * next one (0 and 1 ask for nothing) */
	size_t odd[] = {0, 1, 2, 3, 5, 8, 24, 48, 100, 3 * 4096, 4096 + 16, 100000};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		size_t want = 1;
		while (want < odd[i])
			want <<= 1;
		errno = 0;
		void *p = memalign(OPAQUE(odd[i]), 64);
		CHECK(p != NULL && aligned_to(p, want), "memalign(%zu, 64) = %p errno %d, want %zu-aligned",
		      odd[i], p, errno, want);
		free(p);
	}
	/* memalign: an alignment above the largest power of two is EINVAL;
	 * one that rounds up to an impossible size is ENOMEM */
	struct {
		size_t a;
		int err;
	} bad[] = {{SIZE_MAX, EINVAL}, {SIZE_MAX / 2 + 2, EINVAL}, {((size_t)1 << 62) + 1, ENOMEM},
	           {((size_t)1 << 50) + 3, ENOMEM}, {(size_t)1 << 63, ENOMEM}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		void *p = memalign(OPAQUE(bad[i].a), 16);
		int e = errno;
		CHECK(p == NULL && e == bad[i].err, "memalign(%#zx, 16) = %p errno %d, want NULL/%d",
		      bad[i].a, p, e, bad[i].err);
		free(p);
	}
	/* aligned_alloc: a size that is not a multiple of the alignment is
	 * fine (C17 dropped that rule; glibc never had it) */
	void *p = aligned_alloc(64, OPAQUE((size_t)100));
	CHECK(p && aligned_to(p, 64) && malloc_usable_size(p) >= 100, "aligned_alloc(64, 100) = %p", p);
	free(p);
	/* zero sizes: unique aligned blocks */
	p = NULL;
	int r = posix_memalign(&p, 64, OPAQUE((size_t)0));
	CHECK(r == 0 && p && aligned_to(p, 64), "posix_memalign(64, 0) = %d, %p", r, p);
	free(p);
	p = aligned_alloc(256, OPAQUE((size_t)0));
	CHECK(p && aligned_to(p, 256), "aligned_alloc(256, 0) = %p", p);
	free(p);
	p = valloc(OPAQUE((size_t)0));
	CHECK(p && aligned_to(p, page_size), "valloc(0) = %p", p);
	free(p);
	p = pvalloc(OPAQUE((size_t)0));
	CHECK(p && aligned_to(p, page_size), "pvalloc(0) = %p", p);
	free(p);
	/* a failed posix_memalign leaves *memptr alone */
	p = (void *)0x1234;
	r = posix_memalign(&p, 24, 64);
	CHECK(r == EINVAL && p == (void *)0x1234, "posix_memalign(24) = %d, *memptr %p", r, p);
	r = posix_memalign(&p, 64, OPAQUE(SIZE_MAX));
	CHECK(r == ENOMEM && p == (void *)0x1234, "posix_memalign(64, SIZE_MAX) = %d, *memptr %p", r, p);
	t_log("glibc corners: realloc(p,0) frees -> NULL (%d calls: in-use %llu -> %llu), "
	      "realloc(NULL,0), calloc(0,..), memalign rounds up, zero sizes, *memptr kept",
	      LOOPS, (unsigned long long)before, (unsigned long long)after);
}

/* ------------------------------------------------------- C23 sized frees */
static void test_sized_free(void)
{
	if (!free_sized || !free_aligned_sized) {
		CHECK_NALLOC(free_sized && free_aligned_sized, "free_sized %p / free_aligned_sized %p "
		                                               "not defined",
		             (void *)free_sized, (void *)free_aligned_sized);
		t_log("free_sized/free_aligned_sized: not available, skipped");
		return;
	}
	CHECK_NALLOC(t_symbol_from_nalloc("free_sized"), "free_sized comes from %s",
	             t_symbol_origin("free_sized"));
	size_t sizes[] = {0, 1, 16, 17, 100, 4096, 32 * KiB, 33 * KiB, MiB, 3 * MiB + 1};
	for (int round = 0; round < 50; round++) {
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			size_t n = sizes[i];
			void *p = malloc(OPAQUE(n));
			CHECK(p != NULL, "malloc(%zu)", n);
			if (p && n)
				memset(p, 3, n);
			free_sized(p, n);
			p = calloc(1, OPAQUE(n));
			free_sized(p, n);
			size_t al = (size_t)16 << (i % 12);
			p = aligned_alloc(al, OPAQUE(n));
			CHECK(p != NULL && aligned_to(p, al), "aligned_alloc(%zu, %zu) = %p", al, n, p);
			if (p && n)
				memset(p, 4, n);
			free_aligned_sized(p, al, n);
		}
	}
	free_sized(NULL, 0);
	free_sized(NULL, 100);
	free_aligned_sized(NULL, 64, 0);
	t_log("free_sized/free_aligned_sized: sizes 0..3 MiB, alignments 16..32 KiB, NULL");
}

/* ------------------------------------------------------- where the symbols come from */
static void test_symbols(void)
{
	static const char *syms[] = {"malloc", "free", "calloc", "realloc", "reallocarray",
	                             "posix_memalign", "aligned_alloc", "memalign", "valloc",
	                             "pvalloc", "malloc_usable_size"};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
		CHECK_NALLOC(t_symbol_from_nalloc(syms[i]), "%s is not nalloc's: it comes from %s",
		             syms[i], t_symbol_origin(syms[i]));
}

/* ------------------------------------------------------- nalloc extras */
static uint64_t sum_field(const struct nalloc_stats *st, size_t off)
{
	uint64_t s = 0;
	for (int i = 0; i < st->nnodes && i < NALLOC_MAX_NODES; i++)
		s += *(const uint64_t *)((const char *)&st->nodes[i] + off);
	return s;
}
#define SUM(st, f) sum_field(st, offsetof(struct nalloc_node_stats, f))

static void test_extras(void)
{
	if (!nalloc_num_nodes || !nalloc_stats_get || !nalloc_stats_print || !nalloc_purge) {
		CHECK_NALLOC(0, "nalloc_num_nodes/stats_get/stats_print/purge not all defined");
		return;
	}
	int nn = nalloc_num_nodes();
	CHECK(nn >= 1 && nn <= NALLOC_MAX_NODES, "nalloc_num_nodes() = %d", nn);
	static struct nalloc_stats a, b, c;
	CHECK(nalloc_stats_get(&a) == 0, "nalloc_stats_get failed");
	CHECK(a.nnodes == nn, "stats nnodes %d != nalloc_num_nodes %d", a.nnodes, nn);
	for (int i = 0; i < a.nnodes && i < NALLOC_MAX_NODES; i++)
		CHECK(a.nodes[i].node >= 0, "stats node[%d].node = %d", i, a.nodes[i].node);
	enum { N = 1000 };
	static void *v[N];
	for (int i = 0; i < N; i++)
		v[i] = malloc(OPAQUE((size_t)200));
	void *big = malloc(OPAQUE(2 * MiB));
	nalloc_stats_get(&b);
	for (int i = 0; i < N; i++)
		free(v[i]);
	free(big);
	nalloc_stats_get(&c);
	if (SUM(&b, allocs) == 0) {
		t_log("nalloc stats: counters are all zero (built with --disable-stats?), not checked");
	} else {
		CHECK(SUM(&b, allocs) - SUM(&a, allocs) >= N + 1, "allocs grew by %llu after %d mallocs",
		      (unsigned long long)(SUM(&b, allocs) - SUM(&a, allocs)), N + 1);
		CHECK(SUM(&b, large_allocs) - SUM(&a, large_allocs) >= 1,
		      "large_allocs did not grow after malloc(2 MiB)");
		CHECK(SUM(&b, in_use_bytes) >= SUM(&a, in_use_bytes) + N * 200 + 2 * MiB,
		      "in_use_bytes %llu -> %llu with %d x 200 B + 2 MiB more live",
		      (unsigned long long)SUM(&a, in_use_bytes),
		      (unsigned long long)SUM(&b, in_use_bytes), N);
		CHECK(SUM(&c, frees) - SUM(&b, frees) >= N + 1, "frees grew by %llu after %d frees",
		      (unsigned long long)(SUM(&c, frees) - SUM(&b, frees)), N + 1);
		CHECK(SUM(&b, mapped_bytes) >= SUM(&b, committed_bytes) / 2,
		      "mapped %llu vs committed %llu", (unsigned long long)SUM(&b, mapped_bytes),
		      (unsigned long long)SUM(&b, committed_bytes));
	}
	/* print both formats */
	FILE *f = tmpfile();
	if (f) {
		nalloc_stats_print(f, NALLOC_STATS_TEXT);
		long tl = ftell(f);
		CHECK(tl > 0, "nalloc_stats_print(TEXT) wrote nothing");
		nalloc_stats_print(f, NALLOC_STATS_JSON);
		long jl = ftell(f) - tl;
		CHECK(jl > 0, "nalloc_stats_print(JSON) wrote nothing");
		if (jl > 0) {
			char buf[64] = {0};
			fseek(f, tl, SEEK_SET);
			size_t got = fread(buf, 1, sizeof buf - 1, f);
			size_t k = 0;
			while (k < got && (buf[k] == ' ' || buf[k] == '\n' || buf[k] == '\t'))
				k++;
			CHECK(k < got && buf[k] == '{', "JSON stats do not start with '{': %.20s", buf);
		}
		fclose(f);
	}
	/* purge, then the freed memory is usable and calloc still zeroes */
	for (int round = 0; round < 3; round++) {
		enum { M = 64 };
		static void *w[M];
		for (int i = 0; i < M; i++) {
			w[i] = malloc(OPAQUE((size_t)(i % 2 ? 48 * KiB : 1000)));
			if (w[i])
				memset(w[i], 0xee, i % 2 ? 48 * KiB : 1000);
		}
		for (int i = 0; i < M; i++)
			free(w[i]);
		size_t purged = nalloc_purge();
		(void)purged;
		for (int i = 0; i < M; i++) {
			size_t n = i % 2 ? 48 * KiB : 1000;
			unsigned char *z = calloc(1, OPAQUE(n));
			CHECK(z != NULL, "calloc after purge");
			if (!z)
				continue;
			size_t k;
			for (k = 0; k < n && !z[k]; k++)
				;
			CHECK(k == n, "calloc(%zu) after nalloc_purge not zero at %zu", n, k);
			free(z);
		}
	}
	t_log("nalloc extras: num_nodes=%d, stats_get/print, purge", nn);
}

int main(void)
{
	t_init("test_api");
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	test_symbols();
	test_malloc_sweep();
	test_malloc_zero();
	test_posix_memalign();
	test_aligned_alloc_memalign();
	test_valloc_pvalloc();
	test_calloc();
	test_huge();
	test_reallocarray();
	test_realloc();
	test_glibc_corners();
	test_sized_free();
	test_extras();
	return t_finish("test_api");
}
