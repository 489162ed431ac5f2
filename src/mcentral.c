/* SPDX-License-Identifier: MIT */
/* mcentral.c: per-(node, size class) lists of spans no mcache holds.  see malloc.c */
#include "internal.h"
#include <string.h>

void nalloc__mcentral_init(struct mcentral *mc, struct mheap *h, int cls)
{
	memset(mc, 0, sizeof *mc);
	mc->heap = h;
	mc->spanclass = cls;
}

static void push_stack(struct mspan **top, struct mspan *s)
{
	struct mspan *head = LOAD_RELAXED(top);
	do {
		STORE_RELAXED(&s->pendingNext, head);
	} while (!__atomic_compare_exchange_n(top, &head, s, true, __ATOMIC_SEQ_CST,
	                                      __ATOMIC_RELAXED));
}

static void mc_unlock(struct mcentral *mc);

/* s has REMOTE_QUEUED set (by the caller or by whoever passes it on).
 * drain: s may now be empty or taken from an owner, so the stack should be
 * drained soon: at once if the lock is free, else by the holder as it
 * unlocks (mc_unlock).  Never waits. */
void nalloc__mcentral_push_pending(struct mcentral *mc, struct mspan *s, bool drain)
{
	push_stack(&mc->pending, s);
	if (drain && nalloc__trylock(&mc->lock))
		mc_unlock(mc);
}

#define EMPTY_KEEP_BYTES ((uint64_t)64 << 10) /* emptied spans an mcentral
                            keeps (one at least): a class that empties and
                            refills spans in turn (bursts of frees) does not
                            go through the heap and its lock each time */

static void release(struct mcentral *mc, struct mspan *s)
{
	/* nobody can reach an object in it: the pages go back (to the heap
	 * they came from, another node's after a fallback) */
	mc->nspans--;
	nalloc__mheap_free(nalloc__g.heaps[s->node], s);
}

/* Sweep uncached span s (on no list) and file it: partial, full, or, when
 * empty and settled, on the empty list if there is room, else back to the
 * heap.  mc->lock held. */
static void place(struct mcentral *mc, struct mspan *s)
{
	NALLOC_ASSERT(nalloc__lock_held(&mc->lock));
	NALLOC_ASSERT(s->owner == NULL && s->onlist == 0);
	CNT_ADD(&mc->nremote_swept, nalloc__mspan_sweep(s));
	uint32_t used = nalloc__mspan_count_alloc(s);
	if (used == 0 && LOAD_ACQ(&s->remote) == REMOTE_BIAS) {
		uint64_t bytes = (uint64_t)s->npages << NALLOC_PAGE_SHIFT;
		if (mc->empty.n == 0 || (mc->empty.n + 1) * bytes <= EMPTY_KEEP_BYTES) {
			STORE_RELAXED(&s->centralCount, 0);
			s->onlist = LIST_EMPTY;
			nalloc__spanlist_push(&mc->empty, s);
			return;
		}
		release(mc, s);
		return;
	}
	STORE_RELAXED(&s->centralCount, used);
	if (used < s->nelems) {
		s->onlist = LIST_PARTIAL;
		nalloc__spanlist_push(&mc->partial, s);
	} else {
		s->onlist = LIST_FULL;
		nalloc__spanlist_push(&mc->full, s);
	}
}

static void unlist(struct mcentral *mc, struct mspan *s)
{
	nalloc__spanlist_remove(s->onlist == LIST_PARTIAL ? &mc->partial
	                        : s->onlist == LIST_FULL  ? &mc->full
	                                                  : &mc->empty,
	                        s);
	s->onlist = 0;
}

/* The emptied spans kept go back to the heap: all of them (force:
 * nalloc_purge), or, for the purger, those of a class that took none since
 * its last look (a class in use keeps them).  Never waits unless forced. */
void nalloc__mcentral_release_empty(struct mcentral *mc, bool force)
{
	if (force)
		nalloc__lock(&mc->lock);
	else if (!nalloc__trylock(&mc->lock))
		return;
	if (force || mc->empty_takes == mc->empty_seen) {
		struct mspan *s;
		while ((s = nalloc__spanlist_pop(&mc->empty))) {
			s->onlist = 0;
			release(mc, s);
		}
	}
	mc->empty_seen = mc->empty_takes;
	mc_unlock(mc);
}

/* Re-file every span that received remote frees.  mc->lock held.  By
 * the span's owner field:
 *   NULL    uncached: on one of our lists, its bits are ours to change
 *           (or in flight to an mcache that will sweep it);
 *   tagged  an exhausted span an mcache keeps: ours if we win the CAS
 *           against the owner taking it back, and then filed (released
 *           when empty) whatever the owner is doing: active, idle or gone;
 *   other   an mcache's current or partial span: its ready stack, for the
 *           owner to sweep. */
static void drain_locked(struct mcentral *mc)
{
	struct mspan *s = __atomic_exchange_n(&mc->pending, NULL, __ATOMIC_ACQUIRE);
	while (s) {
		struct mspan *next = LOAD_RELAXED(&s->pendingNext);
		struct mcache *o = LOAD_ACQ(&s->owner);
		if ((uintptr_t)o & OWNED_FULL_TAG) {
			if (__atomic_compare_exchange_n(&s->owner, &o, NULL, false, __ATOMIC_ACQ_REL,
			                                __ATOMIC_ACQUIRE)) {
				__atomic_fetch_and(&s->remote, ~REMOTE_QUEUED, __ATOMIC_ACQ_REL);
				place(mc, s);
				s = next;
				continue;
			}
			/* lost: o is the owner that took it back (untagged) */
		}
		if (o == NULL) {
			__atomic_fetch_and(&s->remote, ~REMOTE_QUEUED, __ATOMIC_ACQ_REL);
			if (s->onlist) {
				unlist(mc, s);
				place(mc, s);
			}
		} else {
			push_stack(&o->ready, s);
		}
		s = next;
	}
}

/* Unlock, draining the pending stack first; pushes that raced with the
 * unlock are drained by their pusher, or by us if its trylock came too
 * early (seq_cst: one of us sees the other).  A few rounds at most: what
 * keeps coming waits for the next holder. */
static void mc_unlock(struct mcentral *mc)
{
	for (int round = 0; round < 8; round++) {
		if (LOAD_RELAXED(&mc->pending))
			drain_locked(mc);
		nalloc__unlock(&mc->lock);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!LOAD_RELAXED(&mc->pending) || !nalloc__trylock(&mc->lock))
			return;
	}
	nalloc__unlock(&mc->lock);
}

/* The purger: drain what a freer left for a busy lock's holder. */
void nalloc__mcentral_try_drain(struct mcentral *mc)
{
	if (LOAD_RELAXED(&mc->pending) && nalloc__trylock(&mc->lock))
		mc_unlock(mc);
}

/* New span of this class from the node heap.  mc->lock not held.  When
 * the node heap cannot grow (memory, address space, limits), it comes
 * from the nearest node that can (counted in mc->nfallback), as large
 * blocks do; strict mode fails. */
static struct mspan *grow(struct mcentral *mc)
{
	size_t np = nalloc__class_npages[mc->spanclass];
	struct mspan *s = nalloc__mheap_alloc(mc->heap, np, 1, false);
	if (!s && nalloc__opt.numa != NUMA_STRICT && LOAD_RELAXED(&mc->heap->full)) {
		int home = mc->heap->node;
		for (int k = 1; k < nalloc__g.nnodes && !s; k++)
			s = nalloc__mheap_alloc(nalloc__g.heaps[nalloc__topo.nearest[home][k]], np, 1, false);
		if (s)
			ADD_RELAXED(&mc->nfallback, 1);
	}
	if (!s)
		return NULL;
	nalloc__mspan_init_small(s, mc->spanclass);
	s->central = mc;
	return s;
}

/* Hand a span with free objects to mcache c, which becomes its owner. */
struct mspan *nalloc__mcentral_cache_span(struct mcentral *mc, struct mcache *c)
{
	nalloc__lock(&mc->lock);
	if (LOAD_RELAXED(&mc->pending))
		drain_locked(mc);
	struct mspan *s = nalloc__spanlist_pop(&mc->partial);
	if (s) {
		s->onlist = 0;
		CNT_ADD(&mc->nremote_swept, nalloc__mspan_sweep(s));
	} else if ((s = nalloc__spanlist_pop(&mc->empty))) {
		s->onlist = 0;
		mc->empty_takes++;
	}
	mc_unlock(mc);
	if (!s) {
		s = grow(mc);
		if (!s)
			return NULL;
		nalloc__lock(&mc->lock);
		mc->nspans++;
		mc_unlock(mc);
	}
	/* the span is on no list and unowned: only we can reach its bits */
	STORE_RELAXED(&s->centralCount, UINT32_MAX);
	STORE_REL(&s->owner, c);
	nalloc__mspan_rewind(s);
	return s;
}

/* The owner gives s back.  Caller: s's owner, holding no lock. */
void nalloc__mcentral_uncache_span(struct mcentral *mc, struct mspan *s)
{
	nalloc__lock(&mc->lock);
	STORE_REL(&s->owner, NULL);
	place(mc, s);
	mc_unlock(mc); /* a span of ours queued there may be empty now */
}

/* One object for a thread that has no mcache (exiting, or out of memory
 * for one) or whose cache is past its share of the budget (mcache.c):
 * taken under the lock from an uncached span. */
void *nalloc__mcentral_alloc_uncached(struct mcentral *mc)
{
	nalloc__lock(&mc->lock);
	if (LOAD_RELAXED(&mc->pending))
		drain_locked(mc);
	struct mspan *s = mc->partial.first ? mc->partial.first : mc->empty.first;
	if (s) {
		unlist(mc, s);
	} else {
		mc_unlock(mc);
		s = grow(mc);
		if (!s)
			return NULL;
		nalloc__lock(&mc->lock);
		mc->nspans++;
	}
	nalloc__mspan_rewind(s);
	void *p = NULL;
	if (nalloc__mspan_next_window(s))
		p = nalloc__span_take(s, s->allocCache);
	CNT_ADD(&mc->nmalloc_uncached, 1); /* stats read it without the lock */
	place(mc, s);
	mc_unlock(mc);
	return p;
}

/* Called by a remote freer after it counted its free (old -> new_), when
 * it set REMOTE_QUEUED or the span may have become free.  mc and
 * central_count were read before the free's atomics, while the object
 * pinned the span; after them only REMOTE_QUEUED pins it, until the stack
 * it goes on is popped.  The stack: the owner's ready stack for an
 * mcache's current or partial span (the owner sweeps it at its next
 * refill); else the mcentral's pending stack, drained at once (or by the
 * lock holder) when the span is an exhausted one an mcache keeps (the
 * drain takes it from the owner), when the free emptied an uncached span
 * (its pages go back), or when a sweep met this free between its two
 * atomics (the sweeper could not release the span).  Never waits. */
NOINLINE void nalloc__mcentral_notify(struct mspan *s, struct mcentral *mc, uint64_t old,
                                      uint64_t new_, uint32_t central_count)
{
	bool drain = (uint32_t)nalloc__remote_count(new_) == central_count ||
	             nalloc__remote_count(old) < 0;
	if (new_ & ~old & REMOTE_QUEUED) {
		struct mcache *o = LOAD_ACQ(&s->owner);
		if (o && !((uintptr_t)o & OWNED_FULL_TAG)) {
			push_stack(&o->ready, s);
			return;
		}
		nalloc__mcentral_push_pending(mc, s, drain || o != NULL);
		return;
	}
	if (drain && nalloc__trylock(&mc->lock))
		mc_unlock(mc);
}
