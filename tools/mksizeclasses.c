/* SPDX-License-Identifier: MIT */
/*
 * mksizeclasses: compute nalloc's small-object size classes and print
 * include/internal/sizeclasses.h.
 *
 *     tools/mksizeclasses > include/internal/sizeclasses.h
 *     tools/mksizeclasses -o include/internal/sizeclasses.h
 *
 * The scheme follows the published design of Go's runtime size classes:
 *
 *   - Sizes step by 16 bytes at first; at each power of two from 128 on the
 *     step becomes size/8, capped at 256 from 2048 on.  Rounding a request up
 *     to the next class therefore wastes at most ~12.5% of the object.
 *   - Each class gets the smallest span (a whole number of 8 KiB pages) whose
 *     tail (the bytes left over after packing objects) is at most 1/8 of it
 *     and, for objects up to 8 KiB, that holds at least MIN_OBJECTS of them
 *     or is at least MIN_SPAN_CAP bytes.  Go's table stops at one page (8
 *     objects of 1 KiB); nalloc's mcache owns its spans, and a span of a
 *     handful of objects sends every few mallocs and frees of a churning
 *     server through the refill and list paths.  128 objects a span (or
 *     64 KiB) keep those paths off the profile: in larson a thread
 *     switches spans a third as often as with 32 objects a span (once
 *     every 75 mallocs), which made it 5% faster (30% with threads
 *     handing their objects on) and sh6bench 10%.  The cost is up to
 *     64 KiB cached per class per thread (bounded by the cache budget
 *     when threads outnumber CPUs) and objects spread over fewer, larger
 *     spans: 7-10% more resident memory in thread-mem with 4-64 threads.
 *   - A size that ends up with the same page count and the same object count
 *     as the class before it replaces that class (the larger size wins): a
 *     smaller class would only waste the same span differently.
 *   - Finally each class grows to the largest size that still packs the same
 *     number of objects into its span, rounded down to a multiple of 128 (the
 *     step of the classes above 1 KiB).
 *   - The size -> class table has an entry per 16 bytes up to 32 KiB (2 KiB
 *     of table): one lookup, with no branch on the size, for every small
 *     request.  A branch between a 16-byte and a 128-byte table at 1 KiB was
 *     mispredicted about every other malloc when sizes mix around 1 KiB
 *     (sh6bench: 19% of its time).
 *
 * Everything the allocator relies on is verified here before anything is
 * written; a failed check prints a message and exits with status 1.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_SHIFT      13
#define PAGE_SIZE       (1u << PAGE_SHIFT)
#define MAX_SMALL_SIZE  32768u
#define MIN_ALIGN       16u
#define SMALL_SIZE_DIV  16u
#define SMALL_SIZE_MAX  1024u
#define LARGE_SIZE_DIV  128u
#define MIN_OBJECTS     128u     /* objects per span, for sizes up to MIN_OBJECTS_MAX */
#define MIN_OBJECTS_MAX 8192u
#define MIN_SPAN_CAP    65536u   /* ...or a span at least this large */
#define MAX_BITMAP_BITS 512u     /* span bitmaps: 8 x 64 bits */
#define MAX_CLASSES     256      /* class ids are stored in uint8_t */

#define NUM_IDX         (MAX_SMALL_SIZE / SMALL_SIZE_DIV + 1)

struct sclass {
	uint32_t size;
	uint32_t npages;
	uint32_t nelems;
	uint64_t divmagic;
};

static struct sclass classes[MAX_CLASSES];
static int nclasses;   /* including the reserved class 0 */
static uint8_t to_class[NUM_IDX];
static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("mksizeclasses: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failures++;
}

static int is_pow2(uint32_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* Smallest page count whose tail waste is at most 1/8 of the span and that
 * is large enough (see MIN_OBJECTS). */
static uint32_t span_pages(uint32_t size)
{
	uint32_t bytes = PAGE_SIZE;

	if (size <= MIN_OBJECTS_MAX) {
		uint32_t want = size * MIN_OBJECTS;

		if (want > MIN_SPAN_CAP)
			want = MIN_SPAN_CAP;
		bytes = (want + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
	}

	while (bytes % size > bytes / 8)
		bytes += PAGE_SIZE;
	return bytes / PAGE_SIZE;
}

static void compute_classes(void)
{
	uint32_t step = MIN_ALIGN;

	nclasses = 1;   /* class 0: reserved */
	memset(&classes[0], 0, sizeof classes[0]);

	for (uint32_t size = MIN_ALIGN; size <= MAX_SMALL_SIZE; size += step) {
		if (is_pow2(size)) {
			if (size >= 2048)
				step = 256;
			else if (size >= 128)
				step = size / 8;
		}
		uint32_t npages = span_pages(size);
		uint32_t n = npages * PAGE_SIZE / size;
		struct sclass *prev = &classes[nclasses - 1];

		if (nclasses > 1 && prev->npages == npages &&
		    prev->npages * PAGE_SIZE / prev->size == n) {
			prev->size = size;   /* same span, same count: keep the larger */
			continue;
		}
		if (nclasses == MAX_CLASSES) {
			fail("more than %d classes", MAX_CLASSES - 1);
			return;
		}
		classes[nclasses].size = size;
		classes[nclasses].npages = npages;
		nclasses++;
	}

	/* Grow each class to the largest 128-aligned size with the same count. */
	for (int c = 1; c < nclasses; c++) {
		uint32_t span = classes[c].npages * PAGE_SIZE;
		uint32_t bigger = (span / (span / classes[c].size)) & ~(LARGE_SIZE_DIV - 1);

		if (bigger > classes[c].size)
			classes[c].size = bigger;
	}

	for (int c = 1; c < nclasses; c++) {
		struct sclass *k = &classes[c];

		k->nelems = k->npages * PAGE_SIZE / k->size;
		k->divmagic = UINT64_MAX / k->size + 1; /* ceil(2^64 / size) */
	}
}

static int class_for(uint32_t size)
{
	for (int c = 1; c < nclasses; c++)
		if (classes[c].size >= size)
			return c;
	return -1;
}

static void compute_lookup(void)
{
	for (uint32_t i = 0; i < NUM_IDX; i++) {
		int c = class_for(i * SMALL_SIZE_DIV);

		if (c < 0) {
			fail("no class for size %" PRIu32, i * SMALL_SIZE_DIV);
			c = 0;
		}
		to_class[i] = (uint8_t)c;
	}
}

static uint8_t lookup(uint32_t size)
{
	return to_class[(size + SMALL_SIZE_DIV - 1) / SMALL_SIZE_DIV];
}

static void verify(void)
{
	if (nclasses < 2) {
		fail("no classes");
		return;
	}
	if (classes[1].size != MIN_ALIGN)
		fail("smallest class is %" PRIu32 ", want %u", classes[1].size, MIN_ALIGN);
	if (classes[nclasses - 1].size != MAX_SMALL_SIZE)
		fail("largest class is %" PRIu32 ", want %u",
		     classes[nclasses - 1].size, MAX_SMALL_SIZE);

	for (int c = 1; c < nclasses; c++) {
		const struct sclass *k = &classes[c];
		uint32_t span = k->npages * PAGE_SIZE;

		if (k->size % MIN_ALIGN != 0)
			fail("class %d: size %" PRIu32 " is not a multiple of %u",
			     c, k->size, MIN_ALIGN);
		if (k->size > SMALL_SIZE_MAX && k->size % LARGE_SIZE_DIV != 0)
			fail("class %d: size %" PRIu32 " > %u is not a multiple of %u",
			     c, k->size, SMALL_SIZE_MAX, LARGE_SIZE_DIV);
		if (c > 1 && k->size <= classes[c - 1].size)
			fail("class %d: size %" PRIu32 " does not exceed class %d's %" PRIu32,
			     c, k->size, c - 1, classes[c - 1].size);
		if (k->npages == 0 || k->npages > UINT8_MAX)
			fail("class %d: npages %" PRIu32 " does not fit uint8_t", c, k->npages);
		if (k->nelems == 0 || k->nelems > MAX_BITMAP_BITS)
			fail("class %d: %" PRIu32 " objects per span (limit %u)",
			     c, k->nelems, MAX_BITMAP_BITS);
		if (span % k->size > span / 8)
			fail("class %d: tail waste %" PRIu32 " exceeds 1/8 of %" PRIu32,
			     c, span % k->size, span);
		if (k->size <= MIN_OBJECTS_MAX && k->nelems < MIN_OBJECTS && span < MIN_SPAN_CAP)
			fail("class %d: %" PRIu32 " objects in %" PRIu32 " bytes, fewer than %u "
			     "in a span smaller than %u", c, k->nelems, span, MIN_OBJECTS, MIN_SPAN_CAP);

		/* Every offset in the span, object starts included: the high
		 * half of off * divmagic is the index, and the low half is
		 * below divmagic exactly at object starts. */
		for (uint32_t off = 0; off < span; off++) {
			unsigned __int128 prod = (unsigned __int128)off * k->divmagic;
			uint32_t q = (uint32_t)(prod >> 64);
			int start = (uint64_t)prod < k->divmagic;

			if (q != off / k->size || start != (off % k->size == 0)) {
				fail("class %d (size %" PRIu32 "): divmagic %" PRIu64
				     " gives index %" PRIu32 ", start %d for offset %" PRIu32
				     ", want %" PRIu32 ", %d", c, k->size, k->divmagic, q, start,
				     off, off / k->size, off % k->size == 0);
				break;
			}
		}
	}

	for (uint32_t size = 0; size <= MAX_SMALL_SIZE; size++) {
		uint8_t c = lookup(size);
		uint32_t want = size ? size : 1;

		if (c == 0 || c >= nclasses || classes[c].size < want ||
		    (c > 1 && classes[c - 1].size >= want)) {
			fail("lookup(%" PRIu32 ") = class %u, not the smallest that fits",
			     size, c);
			break;
		}
	}
}

/* "DECL = { v, v, ... };" wrapped at about 80 columns (tab = 8). */
static void print_array64(FILE *f, const char *decl, const uint64_t *v, int n)
{
	int col = 0;

	fprintf(f, "%s\n\t__attribute__((unused)) = {", decl);
	for (int i = 0; i < n; i++) {
		char buf[32];
		int len = snprintf(buf, sizeof buf, "%" PRIu64 "%s", v[i], i + 1 < n ? "," : "");

		if (i == 0 || col + 1 + len > 80) {
			fputs("\n\t", f);
			col = 8;
		} else {
			fputc(' ', f);
			col++;
		}
		fputs(buf, f);
		col += len;
	}
	fputs("\n};\n", f);
}

static void print_array(FILE *f, const char *decl, const uint32_t *v, int n)
{
	uint64_t w[NUM_IDX > MAX_CLASSES ? NUM_IDX : MAX_CLASSES];

	for (int i = 0; i < n; i++)
		w[i] = v[i];
	print_array64(f, decl, w, n);
}

static void print_header(FILE *f)
{
	uint32_t v[NUM_IDX > MAX_CLASSES ? NUM_IDX : MAX_CLASSES];
	uint64_t m[MAX_CLASSES];
	uint32_t max_nelems = 0, prev = 0;

	fputs("/* SPDX-License-Identifier: MIT */\n", f);
	fputs("/* sizeclasses.h: size-class tables.  Generated by tools/mksizeclasses.c; "
	      "DO NOT EDIT. see src/malloc.c\n", f);
	fputs(" *\n", f);
	fputs(" * class  bytes/obj  bytes/span  objects  tail waste  max waste\n", f);
	for (int c = 1; c < nclasses; c++) {
		const struct sclass *k = &classes[c];
		uint32_t span = k->npages * PAGE_SIZE;
		uint32_t tail = span - k->nelems * k->size;
		/* worst case: every object is one byte larger than the class below */
		double waste = (double)((k->size - prev - 1) * k->nelems + tail) / span;

		fprintf(f, " * %5d  %9" PRIu32 "  %10" PRIu32 "  %7" PRIu32 "  %10" PRIu32
			"  %8.2f%%\n", c, k->size, span, k->nelems, tail, 100.0 * waste);
		prev = k->size;
		if (k->nelems > max_nelems)
			max_nelems = k->nelems;
	}
	fputs(" */\n", f);
	fputs("#ifndef NALLOC_SIZECLASSES_H\n"
	      "#define NALLOC_SIZECLASSES_H\n"
	      "\n"
	      "#include <stdint.h>\n"
	      "\n", f);
	fprintf(f, "#define NALLOC_PAGE_SHIFT %d\n", PAGE_SHIFT);
	fprintf(f, "#define NALLOC_PAGE_SIZE %u\n", PAGE_SIZE);
	fprintf(f, "#define NALLOC_MAX_SMALL_SIZE %u\n", MAX_SMALL_SIZE);
	fprintf(f, "#define NALLOC_SMALL_SIZE_DIV %u\n", SMALL_SIZE_DIV);
	fprintf(f, "#define NALLOC_SMALL_SIZE_MAX %u\n", SMALL_SIZE_MAX);
	fprintf(f, "#define NALLOC_LARGE_SIZE_DIV %u\n", LARGE_SIZE_DIV);
	fprintf(f, "#define NALLOC_NUM_CLASSES %d      /* including class 0 */\n", nclasses);
	fprintf(f, "#define NALLOC_MAX_NELEMS %" PRIu32 "\n", max_nelems);
	fputs("\n", f);

	fputs("/* Per class (index 0 is reserved: size 0, never used).  divmagic is\n"
	      " * ceil(2^64 / size): for every byte offset off in the span, the 128-bit\n"
	      " * product off * divmagic has off / size as its high half, and its low half\n"
	      " * is below divmagic exactly when off is an object's start. */\n", f);
	for (int c = 0; c < nclasses; c++)
		v[c] = classes[c].size;
	print_array(f, "static const uint32_t nalloc__class_size[NALLOC_NUM_CLASSES]",
		    v, nclasses);
	for (int c = 0; c < nclasses; c++)
		v[c] = classes[c].npages;
	print_array(f, "static const uint8_t nalloc__class_npages[NALLOC_NUM_CLASSES]",
		    v, nclasses);
	for (int c = 0; c < nclasses; c++)
		v[c] = classes[c].nelems;
	print_array(f, "static const uint16_t nalloc__class_nelems[NALLOC_NUM_CLASSES]",
		    v, nclasses);
	for (int c = 0; c < nclasses; c++)
		m[c] = classes[c].divmagic;
	print_array64(f, "static const uint64_t nalloc__class_divmagic[NALLOC_NUM_CLASSES]",
		      m, nclasses);

	fputs("\n/* Smallest class that fits size, for size <= NALLOC_MAX_SMALL_SIZE\n"
	      " * (size 0 maps to class 1): nalloc__size_to_class[(size + 15) >> 4].  One\n"
	      " * table in 16-byte steps for every small size: malloc's lookup has no\n"
	      " * branch on the size to mispredict when sizes mix around 1 KiB. */\n", f);
	for (uint32_t i = 0; i < NUM_IDX; i++)
		v[i] = to_class[i];
	print_array(f, "static const uint8_t nalloc__size_to_class"
		    "[NALLOC_MAX_SMALL_SIZE / NALLOC_SMALL_SIZE_DIV + 1]", v, NUM_IDX);
	fputs("\n#endif /* NALLOC_SIZECLASSES_H */\n", f);
}

static void usage(FILE *f)
{
	fputs("usage: mksizeclasses [-o FILE]\n"
	      "Print nalloc's size-class header (include/internal/sizeclasses.h)\n"
	      "to standard output, or to FILE.\n", f);
}

int main(int argc, char **argv)
{
	const char *out = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}

	compute_classes();
	if (failures == 0)
		compute_lookup();
	if (failures == 0)
		verify();
	if (failures != 0) {
		fprintf(stderr, "mksizeclasses: %d check(s) failed; nothing written\n", failures);
		return 1;
	}

	FILE *f = stdout;
	if (out != NULL && (f = fopen(out, "w")) == NULL) {
		fprintf(stderr, "mksizeclasses: %s: %s\n", out, strerror(errno));
		return 1;
	}
	print_header(f);
	if (fflush(f) != 0 || ferror(f) || (f != stdout && fclose(f) != 0)) {
		fprintf(stderr, "mksizeclasses: %s: write error\n", out ? out : "stdout");
		return 1;
	}
	return 0;
}
