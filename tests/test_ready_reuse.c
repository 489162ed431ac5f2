/* SPDX-License-Identifier: MIT */
/* test_ready_reuse.c: a span pushed onto the ready stack of an exited
 * thread's cache after that thread gave its spans back (a freer that read
 * the old owner a moment before) is not lost when a new thread reuses the
 * cache struct.  Regression test: mcache creation used to wipe the struct,
 * ready stack included, so such a span stayed flagged REMOTE_QUEUED on no
 * stack and was never released. */
#include "internal.h"
#include "unit_util.h"
#include <pthread.h>

static void *obj;
static struct mcache *cache;

static void *first(void *arg)
{
	(void)arg;
	obj = malloc(3000); /* a class nobody else uses here */
	cache = nalloc__tls_mcache;
	return NULL;
}

static void *second(void *arg)
{
	(void)arg;
	free(malloc(3000)); /* a refill: the reused cache looks at its ready stack */
	*(struct mcache **)arg = nalloc__tls_mcache;
	return NULL;
}

int main(void)
{
	free(malloc(1));
	nalloc__opt.background = 0; /* no purger: the new cache must do it */
	struct mheap *h = nalloc__g.heaps[0];
	pthread_t t;
	pthread_create(&t, NULL, first, NULL);
	pthread_join(t, NULL); /* its cache is back in the pool; the span is uncached */
	struct mspan *s = nalloc__span_of(obj);
	CHECK(s && LOAD_RELAXED(&s->owner) == NULL, "span given back at thread exit");
	uint64_t spans = LOAD_RELAXED(&h->spans_in_use);
	/* a late freer: it read the old owner, queued the span and pushes it
	 * onto that owner's ready stack now; then its free is counted */
	__atomic_fetch_or(&s->remote, REMOTE_QUEUED, __ATOMIC_ACQ_REL);
	s->pendingNext = cache->ready;
	cache->ready = s;
	free(obj); /* counted; the span is queued already, so nothing is pushed */
	nalloc__mcache_rfree_flush(nalloc__tls_mcache); /* hand the batched free over now */
	CHECK(LOAD_RELAXED(&h->spans_in_use) == spans, "released while queued");
	struct mcache *reused = NULL;
	pthread_create(&t, NULL, second, &reused);
	pthread_join(t, NULL);
	CHECK(reused == cache, "the struct was not reused (%p, %p): test inconclusive", (void *)reused,
	      (void *)cache);
	/* emptied spans may wait on their mcentral's empty list: release them */
	nalloc__mcentral_release_empty(s->central, true);
	CHECK(LOAD_RELAXED(&h->spans_in_use) < spans, "the span pushed late was never released (%llu spans)",
	      (unsigned long long)LOAD_RELAXED(&h->spans_in_use));
	UNIT_DONE("test_ready_reuse");
}
