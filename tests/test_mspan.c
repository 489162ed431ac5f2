/* SPDX-License-Identifier: MIT */
/* test_mspan.c: span bitmaps, allocCache/freeindex cursor, remote frees and sweeping, for every class. */
#include "internal.h"
#include "unit_util.h"
#include <string.h>
#include <sys/mman.h>

static struct mspan span;
static char *arena;

static void setup(int cls)
{
	memset(&span, 0, sizeof span);
	span.base = (uintptr_t)arena;
	span.npages = nalloc__class_npages[cls];
	nalloc__mspan_init_small(&span, cls);
}

/* take every object through the cursor as the fast path does */
static int take_all(void **out, int max)
{
	int n = 0;
	for (;;) {
		if (span.allocCache == 0 && !nalloc__mspan_next_window(&span))
			return n;
		CHECK(n < max, "took more objects than the span has");
		if (n >= max)
			return n;
		out[n++] = nalloc__span_take(&span, span.allocCache);
	}
}

static size_t index_of(void *p)
{
	uintptr_t off = (uintptr_t)p - span.base;
	uintptr_t idx;
	CHECK(nalloc__span_index(&span, off, &idx), "%p is not an object start", p);
	return idx;
}

int main(void)
{
	static void *objs[600];
	arena = mmap(NULL, 16 << 13, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long long seed = 42;
	for (int cls = 1; cls < NALLOC_NUM_CLASSES; cls++) {
		setup(cls);
		int n = take_all(objs, 600);
		CHECK(n == span.nelems, "class %d: took %d of %u", cls, n, span.nelems);
		CHECK(nalloc__mspan_count_alloc(&span) == span.nelems, "class %d: count", cls);
		for (int i = 0; i < n; i++) {
			/* in order, exact addresses, index round-trips through divmagic */
			CHECK(objs[i] == (void *)(span.base + (uintptr_t)i * span.elemsize),
			      "class %d object %d at wrong address", cls, i);
			CHECK(index_of(objs[i]) == (size_t)i, "class %d index %d", cls, i);
		}
		/* free a random subset locally (owner: clear bits) */
		static char freed[600];
		memset(freed, 0, sizeof freed);
		int nfreed = 0;
		for (int i = 0; i < n; i++) {
			if (unit_rand(&seed) % 3 == 0) {
				size_t k = index_of(objs[i]);
				span.allocBits[k >> 6] &= ~((uint64_t)1 << (k & 63));
				freed[i] = 1;
				nfreed++;
			}
		}
		/* and another subset remotely: bits + counter, then sweep */
		int nremote = 0;
		for (int i = 0; i < n; i++) {
			if (!freed[i] && unit_rand(&seed) % 4 == 0) {
				size_t k = index_of(objs[i]);
				__atomic_fetch_or(&span.remoteBits[k >> 6], (uint64_t)1 << (k & 63), __ATOMIC_ACQ_REL);
				__atomic_fetch_add(&span.remote, 1, __ATOMIC_ACQ_REL);
				freed[i] = 2;
				nremote++;
			}
		}
		CHECK(nalloc__remote_count(span.remote) == nremote, "class %d remote count", cls);
		uint32_t swept = nalloc__mspan_sweep(&span);
		CHECK(swept == (uint32_t)nremote, "class %d swept %u of %d", cls, swept, nremote);
		CHECK(span.remote == REMOTE_BIAS, "class %d remote word not settled", cls);
		CHECK(nalloc__mspan_count_alloc(&span) == span.nelems - (uint32_t)(nfreed + nremote),
		      "class %d count after frees", cls);
		/* rewind: exactly the freed objects come back, lowest address first */
		nalloc__mspan_rewind(&span);
		static void *again[600];
		int m = take_all(again, 600);
		CHECK(m == nfreed + nremote, "class %d: re-took %d of %d", cls, m, nfreed + nremote);
		int j = 0;
		for (int i = 0; i < n && j < m; i++)
			if (freed[i]) {
				CHECK(again[j] == objs[i], "class %d: reuse order", cls);
				j++;
			}
		/* a negative count (freer between its two atomics) stops the sweep */
		span.remote = REMOTE_BIAS;
		span.remoteBits[0] = 1; /* object 0 allocated (it was re-taken) */
		uint32_t s2 = nalloc__mspan_sweep(&span);
		CHECK(s2 == 1 && nalloc__remote_count(span.remote) == -1, "class %d in-flight freer", cls);
	}
	/* the empty span sends the fast path to the slow path */
	CHECK(nalloc__empty_span.allocCache == 0 && nalloc__empty_span.nelems == 0, "empty span");
	UNIT_DONE("test_mspan");
}
