/* SPDX-License-Identifier: MIT */
/* test_cache_budget.c: the free room threads' caches keep is bounded
 * together when threads outnumber CPUs (mcache.c, "the cache budget").
 *
 * 1. The room a cache counts is what its spans hold: a thread mixes
 *    mallocs and frees over many classes, another thread frees some of its
 *    blocks, and after each phase c->room equals a walk over its spans.
 * 2. With no more than twice as many threads as CPUs there is no limit:
 *    one thread frees 32 MiB of small blocks and keeps the spans for its
 *    next round.
 * 3. Regression test: a pool of 2 x CPUs + 32 threads, each of which fills 1
 *    MiB and frees 7 of every 8 blocks, kept all of that room, about 30 MiB
 *    in all, however many threads there were; with NALLOC_THREAD_CACHE_MB=8
 *    they now keep 8 MiB (64 KiB a thread at least) after their next
 *    refill. */
#include "internal.h"
#include "unit_util.h"
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define BUDGET_MB 8
#ifndef TEST_BEFORE_BUDGET /* (built against the code before the budget: part 3 only) */
#define HAVE_WIN_LOADED 1
#endif

/* Free room in c's spans, counted from their bitmaps: current spans (the
 * objects its window handed out still count, as c->room counts them until
 * the window is used up) and partial lists. */
static int64_t walk_room(struct mcache *c, bool with_windows)
{
	int64_t r = 0;
	for (int k = 1; k < NALLOC_NUM_CLASSES; k++) {
		struct mspan *s = c->alloc[k];
		if (s != &nalloc__empty_span) {
			int64_t free_objs = (int64_t)s->nelems - nalloc__mspan_count_alloc(s);
#ifdef HAVE_WIN_LOADED
			if (with_windows)
				free_objs += (int64_t)c->win_loaded[k] -
				             (int64_t)nalloc__popcount64(s->allocCache);
#endif
			(void)with_windows;
			r += free_objs * s->elemsize;
		}
		for (s = c->partial[k].first; s; s = s->next)
			r += ((int64_t)s->nelems - nalloc__mspan_count_alloc(s)) * s->elemsize;
	}
	return r;
}

/* ------------------------------------------------------------ 1 */

#define NX 20000
static void *xs[NX];
static pthread_barrier_t xbar;

static void *remote_freer(void *arg)
{
	(void)arg;
	free(malloc(16)); /* a cache: its frees are batched, then handed over */
	for (int i = 0; i < NX; i += 3) {
		free(xs[i]);
		xs[i] = NULL;
	}
	nalloc__mcache_rfree_flush(nalloc__tls_mcache);
	pthread_barrier_wait(&xbar);
	return NULL;
}

static void check_exact(void)
{
	unsigned long long seed = 7;
	struct mcache *c;
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < NX; i++)
			xs[i] = malloc(16 + unit_rand(&seed) % (round & 1 ? 30000 : 2000));
		c = nalloc__tls_mcache;
		CHECK(nalloc__mcache_room(c) == walk_room(c, true), "round %d, filled: room %lld, walk %lld",
		      round, (long long)nalloc__mcache_room(c), (long long)walk_room(c, true));
		for (int i = 0; i < NX; i++)
			if (unit_rand(&seed) % 8) {
				free(xs[i]);
				xs[i] = NULL;
			}
		CHECK(nalloc__mcache_room(c) == walk_room(c, true), "round %d, freed: room %lld, walk %lld",
		      round, (long long)nalloc__mcache_room(c), (long long)walk_room(c, true));
		/* another thread frees some of what is left: counted once swept
		 * (the refills below sweep what they meet) */
		pthread_barrier_init(&xbar, NULL, 2);
		pthread_t t;
		pthread_create(&t, NULL, remote_freer, NULL);
		pthread_barrier_wait(&xbar);
		pthread_join(t, NULL);
		pthread_barrier_destroy(&xbar);
		for (int i = 0; i < 2000; i++)
			free(malloc(16 + unit_rand(&seed) % 30000));
		CHECK(nalloc__mcache_room(c) == walk_room(c, true), "round %d, remote: room %lld, walk %lld",
		      round, (long long)nalloc__mcache_room(c), (long long)walk_room(c, true));
		for (int i = 0; i < NX; i++)
			free(xs[i]);
	}
}

/* ------------------------------------------------------------ 2 */

static void check_no_limit(void)
{
	/* this process has one or two threads at most now */
	enum { N = 1 << 20 }; /* 1M blocks of 32 B: 32 MiB in 4096 spans */
	void **v = malloc(sizeof(void *) * N);
	CHECK(v != NULL, "malloc");
	for (int i = 0; i < N; i++)
		v[i] = malloc(32);
	for (int i = 0; i < N; i++)
		if ((i & 7) != 7) /* 7 of 8: no span empties (emptied ones go) */
			free(v[i]);
	free(malloc(20000)); /* a refill: a limited cache would give back now */
	struct mcache *c = nalloc__tls_mcache;
	int64_t kept = walk_room(c, false);
#ifdef HAVE_WIN_LOADED
	CHECK(nalloc__mcache_share() == SIZE_MAX / 4, "a share with one or two threads: %zu",
	      nalloc__mcache_share());
#endif
	CHECK(kept >= (int64_t)27 << 20, "one thread gave back its room: %lld KiB kept",
	      (long long)(kept >> 10));
	for (int i = 7; i < N; i += 8)
		free(v[i]);
	free(v);
}

/* ------------------------------------------------------------ 3 */

#define FILL (1 << 20)
static pthread_barrier_t started, filled, measured;
static int64_t *held;

static void *pool_thread(void *arg)
{
	long me = (long)arg;
	unsigned long long seed = (unsigned long long)me * 7919 + 1;
	void **p = malloc(sizeof(void *) * 4096);
	pthread_barrier_wait(&started); /* every thread has its cache: the shares are set */
	size_t live = 0;
	int n = 0;
	while (live < FILL && n < 4096) {
		size_t sz = 16 + unit_rand(&seed) % 16000;
		p[n] = malloc(sz);
		memset(p[n++], 1, sz);
		live += sz;
	}
	for (int i = 0; i < n; i++)
		if ((i & 7) != 7)
			free(p[i]);
	/* a class it never used: a refill, where a cache past its share
	 * gives room back */
	void *q = malloc(24000);
	held[me] = walk_room(nalloc__tls_mcache, false);
	pthread_barrier_wait(&filled);
	pthread_barrier_wait(&measured);
	free(q);
	for (int i = 0; i < n; i++)
		if ((i & 7) == 7)
			free(p[i]);
	free(p);
	return NULL;
}

static void check_pool(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int nt = 2 * (int)(cpus > 0 ? cpus : 1) + 32;
	held = calloc((size_t)nt, sizeof *held);
	pthread_t *t = malloc(sizeof *t * (size_t)nt);
	pthread_barrier_init(&started, NULL, (unsigned)nt + 1);
	pthread_barrier_init(&filled, NULL, (unsigned)nt + 1);
	pthread_barrier_init(&measured, NULL, (unsigned)nt + 1);
	for (long i = 0; i < nt; i++)
		pthread_create(&t[i], NULL, pool_thread, (void *)i);
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&filled);
	int64_t sum = 0;
	for (int i = 0; i < nt; i++)
		sum += held[i];
	/* every cache at its share or below (64 KiB at least), the main
	 * thread's among them */
	int64_t share_min = (int64_t)64 << 10, budget = (int64_t)BUDGET_MB << 20;
	int64_t bound = (int64_t)(nt + 1) * share_min > budget ? (int64_t)(nt + 1) * share_min : budget;
	printf("# %d threads keep %lld KiB of free room (bound %lld KiB)\n", nt, (long long)(sum >> 10),
	       (long long)(bound >> 10));
	CHECK(sum <= bound, "%d threads keep %lld KiB of free room, more than %lld KiB", nt,
	      (long long)(sum >> 10), (long long)(bound >> 10));
	pthread_barrier_wait(&measured);
	for (int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	free(t);
	free(held);
}

int main(int argc, char **argv)
{
	(void)argc;
	/* the option is read at start-up: run again with it set */
	if (!getenv("NALLOC_THREAD_CACHE_MB")) {
		setenv("NALLOC_THREAD_CACHE_MB", "8", 1);
		execv("/proc/self/exe", argv);
		perror("execv");
		return 1;
	}
	free(malloc(1));
	nalloc__opt.background = 0; /* no purger: only the caches at work */
#ifdef HAVE_WIN_LOADED
	check_exact();
#endif
	check_no_limit();
	check_pool();
	UNIT_DONE("test_cache_budget");
}
