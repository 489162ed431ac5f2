/* mcentral.c: per-(node, size class) lists of spans no mcache holds.  see malloc.c */
#include "internal.h"
#include <string.h>

void nalloc__mcentral_init(struct mcentral *mc, struct mheap *h, int cls)
{
	memset(mc, 0, sizeof *mc);
	mc->heap = h;
	mc->spanclass = cls;
}

static void push_pending(struct mcentral *mc, struct mspan *s)
{
	struct mspan *head = LOAD_RELAXED(&mc->pending);
	do {
		s->pendingNext = head;
	} while (!__atomic_compare_exchange_n(&mc->pending, &head, s, true, __ATOMIC_RELEASE,
	                                      __ATOMIC_RELAXED));
}

/* Sweep uncached span s (on no list) and file it: partial, full, or back to
 * the heap when empty and settled.  mc->lock held. */
static void place(struct mcentral *mc, struct mspan *s)
{
	NALLOC_ASSERT(nalloc__lock_held(&mc->lock));
	NALLOC_ASSERT(s->owner == NULL && s->onlist == 0);
	mc->nremote_swept += nalloc__mspan_sweep(s);
	uint32_t used = nalloc__mspan_count_alloc(s);
	if (used == 0 && LOAD_ACQ(&s->remote) == REMOTE_BIAS) {
		/* nobody can reach an object in it: the pages go back */
		mc->nspans--;
		nalloc__mheap_free(mc->heap, s);
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
	nalloc__spanlist_remove(s->onlist == LIST_PARTIAL ? &mc->partial : &mc->full, s);
	s->onlist = 0;
}

/* Re-file every span that received remote frees.  mc->lock held. */
static void drain_locked(struct mcentral *mc)
{
	struct mspan *s = __atomic_exchange_n(&mc->pending, NULL, __ATOMIC_ACQUIRE);
	while (s) {
		struct mspan *next = s->pendingNext;
		__atomic_fetch_and(&s->remote, ~REMOTE_QUEUED, __ATOMIC_ACQ_REL);
		/* a cached span is swept by its owner; an uncached one is on a
		 * list of ours and its bits are ours to change */
		if (LOAD_RELAXED(&s->owner) == NULL && s->onlist) {
			unlist(mc, s);
			place(mc, s);
		}
		s = next;
	}
}

void nalloc__mcentral_drain(struct mcentral *mc)
{
	nalloc__lock(&mc->lock);
	drain_locked(mc);
	nalloc__unlock(&mc->lock);
}

/* New span of this class from the node heap.  mc->lock not held. */
static struct mspan *grow(struct mcentral *mc)
{
	struct mspan *s = nalloc__mheap_alloc(mc->heap, nalloc__class_npages[mc->spanclass], 1, false);
	if (!s)
		return NULL;
	nalloc__mspan_init_small(s, mc->spanclass);
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
		mc->nremote_swept += nalloc__mspan_sweep(s);
	}
	nalloc__unlock(&mc->lock);
	if (!s) {
		s = grow(mc);
		if (!s)
			return NULL;
		nalloc__lock(&mc->lock);
		mc->nspans++;
		nalloc__unlock(&mc->lock);
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
	nalloc__unlock(&mc->lock);
}

/* One object for a thread that has no mcache (exiting, or out of memory
 * for one): taken under the lock from an uncached span. */
void *nalloc__mcentral_alloc_uncached(struct mcentral *mc)
{
	nalloc__lock(&mc->lock);
	if (LOAD_RELAXED(&mc->pending))
		drain_locked(mc);
	struct mspan *s = mc->partial.first;
	if (s) {
		unlist(mc, s);
	} else {
		nalloc__unlock(&mc->lock);
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
	mc->nmalloc_uncached++;
	place(mc, s);
	nalloc__unlock(&mc->lock);
	return p;
}

/* Called by a remote freer after it counted its free (old -> new_).  If it
 * set REMOTE_QUEUED it pushes the span on the pending stack (the flag keeps
 * the span alive until a drain pops it).  If its free emptied an uncached
 * span, it drains the stack so the pages go back to the heap. */
NOINLINE void nalloc__mcentral_notify(struct mspan *s, uint64_t old, uint64_t new_)
{
	/* If we set REMOTE_QUEUED, s stays filed until we push it, so its node
	 * and class are right.  Otherwise s may have been released meanwhile:
	 * mspans are type-stable, so at worst we drain the wrong mcentral. */
	struct mcentral *mc = &nalloc__g.heaps[LOAD_RELAXED(&s->node)]->central[LOAD_RELAXED(&s->spanclass)];
	if (new_ & ~old & REMOTE_QUEUED) {
		push_pending(mc, s);
		if ((uint32_t)nalloc__remote_count(new_) != LOAD_RELAXED(&s->centralCount))
			return;
	}
	if (LOAD_RELAXED(&s->owner) == NULL)
		nalloc__mcentral_drain(mc);
}
