/* SPDX-License-Identifier: MIT */
/* test_sweep_race.c: a sweep that meets a remote freer between its two
 * atomics (bits set, count not yet) must not leave an empty span behind.
 *
 * Regression test, the interleaving played step by step: an uncached span
 * with one object; the freer sets the object's remote bit; a drain sweeps
 * the span (count -1: it cannot release it); the freer counts.  Before the
 * fix the count went back to 0 with nobody told, and the empty span stayed
 * filed forever; now that freer queues the span again and it is released. */
#include "internal.h"
#include "unit_util.h"

int main(void)
{
	free(malloc(1)); /* init */
	int cls = nalloc__size_class(96);
	struct mheap *h = nalloc__g.heaps[0];
	struct mcentral *mc = &h->central[cls];
	uint64_t spans0 = LOAD_RELAXED(&h->spans_in_use);
	void *p = nalloc__mcentral_alloc_uncached(mc);
	CHECK(p != NULL, "uncached allocation");
	struct mspan *s = nalloc__span_of(p);
	CHECK(s && s->owner == NULL && s->onlist == LIST_PARTIAL, "an uncached partial span");
	CHECK(LOAD_RELAXED(&h->spans_in_use) == spans0 + 1, "one new span");
	uint32_t idx = (uint32_t)(((uintptr_t)p - s->base) / s->elemsize);
	uint32_t w = idx >> 6;
	uint64_t m = (uint64_t)1 << (idx & 63);
	uint32_t cc = LOAD_RELAXED(&s->centralCount);
	CHECK(cc == 1, "central count %u", cc);
	/* the freer, first atomic */
	CHECK(nalloc__mspan_remote_mark(s, w, m) == m, "mark");
	/* a sweep in between: some other free queued the span and a drain runs */
	__atomic_fetch_or(&s->remote, REMOTE_QUEUED, __ATOMIC_ACQ_REL);
	nalloc__mcentral_push_pending(mc, s, true);
	CHECK(nalloc__remote_count(LOAD_RELAXED(&s->remote)) == -1, "the sweep saw the bit first");
	CHECK(LOAD_RELAXED(&h->spans_in_use) == spans0 + 1 && s->onlist != LIST_EMPTY,
	      "span kept as in use while the count is unsettled");
	/* the freer, second atomic */
	nalloc__mspan_remote_count(s, mc, cc, 1);
	/* settled and empty: kept on the mcentral's empty list (or released),
	 * and released from there by nalloc_purge's pass */
	nalloc__mcentral_release_empty(mc, true);
	CHECK(LOAD_RELAXED(&h->spans_in_use) == spans0, "the empty span was not released (%llu spans)",
	      (unsigned long long)LOAD_RELAXED(&h->spans_in_use));
	UNIT_DONE("test_sweep_race");
}
