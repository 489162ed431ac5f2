/* SPDX-License-Identifier: MIT */
/* test_spanmap.c: through the real allocator, every pointer's page maps to a span that covers it; free runs are entered only at their ends; heap invariants hold after churn. */
#include "internal.h"
#include "unit_util.h"
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	static void *p[20000];
	static size_t sz[20000];
	unsigned long long seed = 99;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 20000; i++) {
			size_t r = unit_rand(&seed) % 100;
			sz[i] = r < 80 ? 1 + unit_rand(&seed) % 1024
			               : r < 97 ? 1 + unit_rand(&seed) % 32768 : 32769 + unit_rand(&seed) % 400000;
			p[i] = malloc(sz[i]);
			CHECK(p[i] != NULL, "malloc(%zu)", sz[i]);
			memset(p[i], 0xab, sz[i] < 64 ? sz[i] : 64);
		}
		for (int i = 0; i < 20000; i++) {
			struct mspan *s = nalloc__span_of(p[i]);
			CHECK(s != NULL, "no span for %p", p[i]);
			if (!s)
				continue;
			CHECK((uintptr_t)p[i] >= s->base &&
			          (uintptr_t)p[i] + sz[i] <= s->base + ((uintptr_t)s->npages << NALLOC_PAGE_SHIFT),
			      "span does not cover %p+%zu", p[i], sz[i]);
			CHECK(s->state == (sz[i] <= NALLOC_MAX_SMALL_SIZE ? SPAN_SMALL : SPAN_LARGE),
			      "state %d for size %zu", s->state, sz[i]);
			CHECK(nalloc__heap_of(p[i]) == nalloc__g.heaps[s->node], "heap of");
			CHECK(malloc_usable_size(p[i]) >= sz[i], "usable size");
		}
		for (int i = 0; i < 20000; i++)
			if ((i + round) % 3)
				free(p[i]);
		for (int n = 0; n < nalloc__g.nnodes; n++)
			nalloc__mheap_check(nalloc__g.heaps[n]);
		for (int i = 0; i < 20000; i++)
			if (!((i + round) % 3))
				free(p[i]);
	}
	for (int n = 0; n < nalloc__g.nnodes; n++)
		nalloc__mheap_check(nalloc__g.heaps[n]);
	/* pointers outside every arena have no span */
	int local;
	CHECK(nalloc__span_of(&local) == NULL, "stack pointer has a span");
	CHECK(nalloc__span_of(NULL) == NULL, "NULL has a span");
	/* a pointer with an address bit from 47 up has no span, even where
	 * the rest of it is a live block's address (free's lookup too) */
	void *live = malloc(100);
	for (int b = 47; b < 64; b++) {
		void *far = (void *)((uintptr_t)live | ((uintptr_t)1 << b));
		CHECK(nalloc__span_of(far) == NULL, "bit %d: a span for %p", b, far);
		CHECK(nalloc__heap_of(far) == NULL, "bit %d: heap of %p", b, far);
	}
	free(live);
	UNIT_DONE("test_spanmap");
}
