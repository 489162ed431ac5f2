/* SPDX-License-Identifier: MIT */
/*
 * test_sizeclass: check the generated size-class table on its own
 * (include/internal/sizeclasses.h; no allocator code is linked) and the free
 * path's index helper over them (internal.h, inline).
 *
 * Exits 0 when every check passes; otherwise prints each failure and exits 1.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "sizeclasses.h"
#include "internal.h" /* nalloc__span_index: header-only */

#define SPAN_BITMAP_BITS 512   /* span bitmaps are 8 x 64 bits */

static int failures;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);           \
			printf(__VA_ARGS__);                                  \
			putchar('\n');                                        \
			failures++;                                           \
		}                                                             \
	} while (0)

#define NELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static unsigned lookup(uint32_t size)
{
	return nalloc__size_to_class[(size + NALLOC_SMALL_SIZE_DIV - 1) / NALLOC_SMALL_SIZE_DIV];
}

static void check_constants(void)
{
	CHECK(NALLOC_PAGE_SIZE == 1u << NALLOC_PAGE_SHIFT,
	      "NALLOC_PAGE_SIZE %d != 1 << NALLOC_PAGE_SHIFT %d",
	      NALLOC_PAGE_SIZE, NALLOC_PAGE_SHIFT);
	CHECK(NALLOC_PAGE_SIZE == 8192, "page size %d, want 8192", NALLOC_PAGE_SIZE);
	CHECK(NALLOC_MAX_SMALL_SIZE == 32768, "max small size %d", NALLOC_MAX_SMALL_SIZE);
	CHECK(NALLOC_NUM_CLASSES >= 2 && NALLOC_NUM_CLASSES <= 256,
	      "NALLOC_NUM_CLASSES %d out of range", NALLOC_NUM_CLASSES);
	CHECK(NELEMS(nalloc__class_size) == NALLOC_NUM_CLASSES &&
	      NELEMS(nalloc__class_npages) == NALLOC_NUM_CLASSES &&
	      NELEMS(nalloc__class_nelems) == NALLOC_NUM_CLASSES &&
	      NELEMS(nalloc__class_divmagic) == NALLOC_NUM_CLASSES,
	      "per-class arrays do not have NALLOC_NUM_CLASSES entries");
	CHECK(NELEMS(nalloc__size_to_class) == NALLOC_MAX_SMALL_SIZE / NALLOC_SMALL_SIZE_DIV + 1,
	      "nalloc__size_to_class has %d entries", NELEMS(nalloc__size_to_class));
	CHECK(nalloc__class_size[0] == 0, "class 0 has size %" PRIu32 ", want 0",
	      nalloc__class_size[0]);
	CHECK(nalloc__class_size[1] == 16, "class 1 has size %" PRIu32 ", want 16",
	      nalloc__class_size[1]);
	CHECK(nalloc__class_size[NALLOC_NUM_CLASSES - 1] == NALLOC_MAX_SMALL_SIZE,
	      "largest class has size %" PRIu32 ", want %d",
	      nalloc__class_size[NALLOC_NUM_CLASSES - 1], NALLOC_MAX_SMALL_SIZE);
	CHECK(NALLOC_MAX_NELEMS <= SPAN_BITMAP_BITS, "NALLOC_MAX_NELEMS %d > %d",
	      NALLOC_MAX_NELEMS, SPAN_BITMAP_BITS);
}

static void check_classes(void)
{
	unsigned max_nelems = 0;

	for (int c = 1; c < NALLOC_NUM_CLASSES; c++) {
		uint32_t size = nalloc__class_size[c];
		uint32_t npages = nalloc__class_npages[c];
		uint32_t nelems = nalloc__class_nelems[c];
		uint64_t divmagic = nalloc__class_divmagic[c];
		uint32_t span = npages * NALLOC_PAGE_SIZE;

		CHECK(size % 16 == 0, "class %d: size %" PRIu32 " not a multiple of 16", c, size);
		CHECK(size > nalloc__class_size[c - 1],
		      "class %d: size %" PRIu32 " not above class %d's %" PRIu32,
		      c, size, c - 1, nalloc__class_size[c - 1]);
		if (size > NALLOC_SMALL_SIZE_MAX)
			CHECK(size % NALLOC_LARGE_SIZE_DIV == 0,
			      "class %d: size %" PRIu32 " not a multiple of %d",
			      c, size, NALLOC_LARGE_SIZE_DIV);
		CHECK(npages >= 1, "class %d: npages is 0", c);
		if (size == 0 || npages == 0)
			continue;
		CHECK(nelems == span / size,
		      "class %d: nelems %" PRIu32 " != %" PRIu32 " * %d / %" PRIu32,
		      c, nelems, npages, NALLOC_PAGE_SIZE, size);
		CHECK(nelems >= 1 && nelems <= SPAN_BITMAP_BITS,
		      "class %d: nelems %" PRIu32 " outside 1..%d", c, nelems, SPAN_BITMAP_BITS);
		CHECK(nelems <= NALLOC_MAX_NELEMS, "class %d: nelems %" PRIu32
		      " > NALLOC_MAX_NELEMS %d", c, nelems, NALLOC_MAX_NELEMS);
		/* tail waste <= 12.5% of the span */
		CHECK((span % size) * 8 <= span,
		      "class %d: tail waste %" PRIu32 " of %" PRIu32 " bytes exceeds 12.5%%",
		      c, span % size, span);
		CHECK(divmagic == UINT64_MAX / size + 1,
		      "class %d: divmagic %" PRIu64 " != UINT64_MAX / %" PRIu32 " + 1",
		      c, divmagic, size);
		if (nelems > max_nelems)
			max_nelems = nelems;

		/* every byte offset in the span, through the free path's own
		 * helper: the index, and "start of an object" exactly at starts */
		struct mspan s = { .divmagic = divmagic };
		for (uint32_t off = 0; off < span; off++) {
			uintptr_t got;
			bool start = nalloc__span_index(&s, off, &got);

			if (got != off / size || start != (off % size == 0)) {
				CHECK(0, "class %d (size %" PRIu32 "): offset %" PRIu32
				      " -> index %" PRIuPTR " start %d, want %" PRIu32 " %d",
				      c, size, off, got, start, off / size, off % size == 0);
				break;
			}
		}
	}
	/* large spans and free runs (divmagic 0): no offset is a start */
	struct mspan z = { .divmagic = 0 };
	for (uint32_t off = 0; off < 1u << 20; off += 8) {
		uintptr_t got;
		if (nalloc__span_index(&z, off, &got)) {
			CHECK(0, "divmagic 0: offset %" PRIu32 " taken for an object start", off);
			break;
		}
	}
	CHECK(max_nelems == NALLOC_MAX_NELEMS, "NALLOC_MAX_NELEMS %d, but the largest "
	      "nelems is %u", NALLOC_MAX_NELEMS, max_nelems);
}

static void check_lookup(void)
{
	for (uint32_t size = 0; size <= NALLOC_MAX_SMALL_SIZE; size++) {
		unsigned c = lookup(size);
		uint32_t want = size ? size : 1;   /* malloc(0) is served by class 1 */

		if (c < 1 || c >= NALLOC_NUM_CLASSES) {
			CHECK(0, "size %" PRIu32 ": class %u out of range", size, c);
			continue;
		}
		CHECK(nalloc__class_size[c] >= want,
		      "size %" PRIu32 ": class %u (size %" PRIu32 ") is too small",
		      size, c, nalloc__class_size[c]);
		CHECK(c == 1 || nalloc__class_size[c - 1] < want,
		      "size %" PRIu32 ": class %u is not the smallest fit (class %u has %" PRIu32 ")",
		      size, c, c - 1, nalloc__class_size[c - 1]);
		if (failures > 20) {
			printf("too many failures, giving up\n");
			return;
		}
	}
	/* every class is reachable */
	for (int c = 1; c < NALLOC_NUM_CLASSES; c++)
		CHECK(lookup(nalloc__class_size[c]) == (unsigned)c,
		      "class %d: lookup(%" PRIu32 ") = %u", c, nalloc__class_size[c],
		      lookup(nalloc__class_size[c]));
}

int main(void)
{
	check_constants();
	check_classes();
	check_lookup();
	if (failures) {
		printf("test_sizeclass: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test_sizeclass: %d classes (including class 0), max %d objects per span: ok\n",
	       NALLOC_NUM_CLASSES, NALLOC_MAX_NELEMS);
	return 0;
}
