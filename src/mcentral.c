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
		s->pendingNext = head;
	} while (!__atomic_compare_exchange_n(top, &head, s, true, __ATOMIC_RELEASE,
	                                      __ATOMIC_RELAXED));
}

/* s has REMOTE_QUEUED set (by the caller or by whoever passes it on). */
void nalloc__mcentral_push_pending(struct mcentral *mc, struct mspan *s)
{
	push_stack(&mc->pending, s);
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
		/* nobody can reach an object in it: the pages go back (to the
		 * heap they came from, another node's after a fallback) */
		mc->nspans--;
		nalloc__mheap_free(nalloc__g.heaps[s->node], s);
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

/* New span of this class from the node heap.  mc->lock not held.  When
 * the node is full, local mode takes it from the nearest node that has
 * room (counted in mc->nfallback); strict mode fails. */
static struct mspan *grow(struct mcentral *mc)
{
	size_t np = nalloc__class_npages[mc->spanclass];
	struct mspan *s = nalloc__mheap_alloc(mc->heap, np, 1, false);
	if (!s && nalloc__opt.numa == NUMA_LOCAL && LOAD_RELAXED(&mc->heap->full)) {
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

/* Called by a remote freer after it counted its free (old -> new_).  mc
 * and central_count were read before the free's atomics, while the object
 * pinned the span.  If the freer set REMOTE_QUEUED it pushes the span on a
 * stack: the flag keeps the span filed (alive) until the stack's reader
 * pops it.  The stack is its owner's ready stack when the span is an
 * exhausted span an mcache keeps (owner tagged): so a busy owner finds the
 * room at its next refill instead of growing the heap.  Otherwise it is the
 * mcentral's pending stack.  (mcache structs are never unmapped, so a push
 * to a cache whose thread just exited is safe: mcache.c passes such spans
 * on.)  If the free emptied an uncached span, it drains the stack so the
 * pages go back to the heap.  The read-side section covers the push and
 * the drain against metadata reuse (mheap.c). */
NOINLINE void nalloc__mcentral_notify(struct mspan *s, struct mcentral *mc, uint64_t old,
                                      uint64_t new_, uint32_t central_count)
{
	nalloc__rcu_read_lock();
	if (new_ & ~old & REMOTE_QUEUED) {
		uintptr_t o = (uintptr_t)LOAD_ACQ(&s->owner);
		if (o & OWNED_FULL_TAG)
			push_stack(&((struct mcache *)(o & ~OWNED_FULL_TAG))->ready, s);
		else
			push_stack(&mc->pending, s);
	}
	if ((uint32_t)nalloc__remote_count(new_) == central_count)
		nalloc__mcentral_drain(mc);
	nalloc__rcu_read_unlock();
}
