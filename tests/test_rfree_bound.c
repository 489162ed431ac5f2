/* SPDX-License-Identifier: MIT */
/* test_rfree_bound.c: what a thread's waiting remote frees keep from their
 * spans is bounded in bytes, not only in objects.  A consumer that frees
 * another thread's large small blocks (32 KiB) and then blocks must hand
 * them over: before, up to 256 objects waited whatever their size, so 64
 * blocks (2 MiB) stayed allocated in their owner's spans until the
 * consumer's next free or its exit, and the owner grew new spans instead
 * of reusing them. */
#include "internal.h"
#include "unit_util.h"
#include <pthread.h>

#define NBLOCKS 64
#define BLOCK 32768
static void *blocks[NBLOCKS];
static pthread_barrier_t freed, done;

/* the object's free is still waiting in the freer's cache: its span is
 * still a small span (a handed-over block of a one-object span goes back
 * to the heap at once), its allocBits bit is set and it has not reached
 * remoteBits */
static int waiting(void *p)
{
	struct mspan *s = nalloc__span_of(p);
	uintptr_t idx;
	if (!s || LOAD_ACQ(&s->spanclass) == 0)
		return 0;
	if (!nalloc__span_index(s, (uintptr_t)p - s->base, &idx))
		return -1;
	uint64_t m = (uint64_t)1 << (idx & 63);
	return (LOAD_RELAXED(&s->allocBits[idx >> 6]) & m) &&
	       !(LOAD_RELAXED(&s->remoteBits[idx >> 6]) & m);
}

static void *consumer(void *arg)
{
	(void)arg;
	free(malloc(16)); /* a cache of its own, so frees are batched */
	for (int i = 0; i < NBLOCKS; i++)
		free(blocks[i]);
	pthread_barrier_wait(&freed); /* idle now: nothing else hands them over */
	pthread_barrier_wait(&done);
	return NULL;
}

int main(void)
{
	free(malloc(1));
	nalloc__opt.background = 0; /* the purger plays no part in this */
	for (int i = 0; i < NBLOCKS; i++) {
		blocks[i] = malloc(BLOCK);
		CHECK(blocks[i] != NULL, "malloc(%d)", BLOCK);
		CHECK(nalloc__size_class(BLOCK) != 0, "a small class");
	}
	pthread_barrier_init(&freed, NULL, 2);
	pthread_barrier_init(&done, NULL, 2);
	pthread_t t;
	pthread_create(&t, NULL, consumer, NULL);
	pthread_barrier_wait(&freed);
	size_t pinned = 0;
	for (int i = 0; i < NBLOCKS; i++) {
		int w = waiting(blocks[i]);
		CHECK(w >= 0, "block %d has no span", i);
		pinned += w ? BLOCK : 0;
	}
	printf("# %zu KiB of freed blocks still waiting in the idle consumer\n", pinned >> 10);
	CHECK(pinned <= RFREE_MAX_BYTES, "%zu KiB of freed blocks wait in an idle thread (bound %d KiB)",
	      pinned >> 10, RFREE_MAX_BYTES >> 10);
	pthread_barrier_wait(&done);
	pthread_join(t, NULL);
	UNIT_DONE("test_rfree_bound");
}
