/* SPDX-License-Identifier: MIT */
/* tests/test_threads.c: thread life cycles and per-thread caches.
 *
 * 1. Churn: NALLOC_THREADS_CHURN (default 10000) short threads, run a few
 *    at a time.  Each allocates blocks of several sizes, frees some itself,
 *    leaves two for the main thread (freed after the join), and parks one
 *    in a pthread_key whose destructor checks and frees it (and allocates
 *    and frees while the thread is being torn down).  RSS after the churn
 *    must stay within 8 MiB of the RSS after the first 1000 threads: the
 *    caches of exited threads must not leak.  On nalloc the stats'
 *    "threads" gauge must also come back down.
 * 2. A thread that never allocated frees blocks allocated by main.
 * 3. A thread allocates blocks and exits; main checks and frees them later,
 *    while a new thread allocates the same sizes (reuse of the dead
 *    thread's memory must not overlap live blocks).
 * 4. Main fills 20000 objects of one class, another thread frees them all
 *    and exits, main fills again: eight rounds.  The spans main keeps
 *    must come back to it (nalloc: committed bytes after the last round
 *    within 1 MiB of those after the first), and no block may be lost or
 *    handed out twice (patterns checked).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_util.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

static atomic_int bad;
static pthread_key_t key1, key2;
static atomic_ulong destructor_runs;

struct blk {
	void *p;
	size_t n;
	uint64_t seed;
};

static void bad_block(const char *where, const struct blk *b, size_t off)
{
	if (atomic_fetch_add(&bad, 1) < 20)
		printf("FAIL %s: block %p size %zu corrupted at offset %zu\n", where, b->p, b->n, off);
}

static int make(struct blk *b, size_t n, uint64_t seed)
{
	b->p = malloc(n);
	b->n = n;
	b->seed = seed ^ (uintptr_t)b->p;
	if (!b->p) {
		if (atomic_fetch_add(&bad, 1) < 20)
			printf("FAIL malloc(%zu) returned NULL\n", n);
		return 0;
	}
	t_fill(b->p, n, b->seed);
	return 1;
}

static void check_free(const char *where, struct blk *b)
{
	if (!b->p)
		return;
	size_t off = t_check(b->p, b->n, b->seed);
	if (off != SIZE_MAX)
		bad_block(where, b, off);
	free(b->p);
	b->p = NULL;
}

/* ---------------------------------------------------------------- churn */
struct churn_arg {
	unsigned idx;
	struct blk for_main[2];
};

static void destructor1(void *v)
{
	struct blk *b = v;
	/* allocate and free while the thread is being torn down */
	struct blk t;
	if (make(&t, 72, 5))
		check_free("destructor scratch block", &t);
	check_free("block freed by a TLS destructor", b);
	free(b);
	atomic_fetch_add(&destructor_runs, 1);
}

static void destructor2(void *v)
{
	/* first destructor round: re-arm once so that a second round runs,
	 * possibly after the allocator's own per-thread clean-up */
	struct blk *b = v;
	if (b->seed & 1) {
		b->seed &= ~(uint64_t)1;
		t_fill(b->p, b->n, b->seed);
		pthread_setspecific(key2, b);
		return;
	}
	check_free("block freed in a second destructor round", b);
	free(b);
}

static size_t churn_size(unsigned idx, unsigned k)
{
	static const size_t small[] = {8, 16, 24, 48, 64, 100, 128, 256, 500, 1024, 2000, 4096};
	if (k == 0 && idx % 10 == 0)
		return 40 * KiB;
	if (k == 1 && idx % 97 == 0)
		return MiB + 8;
	return small[(idx * 7 + k * 3) % 12];
}

static void *churn_thread(void *v)
{
	struct churn_arg *a = v;
	struct blk local[6];
	for (unsigned k = 0; k < 6; k++)
		if (!make(&local[k], churn_size(a->idx, k), a->idx * 16 + k))
			return NULL;
	make(&a->for_main[0], churn_size(a->idx, 6), a->idx);
	make(&a->for_main[1], churn_size(a->idx, 7), a->idx + 1);
	for (unsigned k = 0; k < 6; k++)
		check_free("block freed by its own thread", &local[k]);
	struct blk *t1 = malloc(sizeof *t1);
	if (t1 && make(t1, churn_size(a->idx, 8), a->idx + 2))
		pthread_setspecific(key1, t1);
	if (a->idx % 4 == 0) {
		struct blk *t2 = malloc(sizeof *t2);
		if (t2 && make(t2, churn_size(a->idx, 9), a->idx + 3)) {
			t2->seed |= 1;
			t_fill(t2->p, t2->n, t2->seed);
			pthread_setspecific(key2, t2);
		}
	}
	return NULL;
}

static uint64_t nalloc_threads_gauge(void)
{
	return t_nodes_sum(offsetof(struct nalloc_node_stats, threads));
}

static void test_churn(void)
{
	const char *e = getenv("NALLOC_THREADS_CHURN");
	unsigned total = e && atoi(e) >= 2000 ? (unsigned)atoi(e) : 10000;
	enum { BATCH = 4 };
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * KiB);
	struct churn_arg args[BATCH];
	pthread_t tids[BATCH];
	size_t rss_base = 0, rss_peak = 0;
	uint64_t gauge_before = nalloc_threads_gauge();
	unsigned done = 0;
	while (done < total) {
		unsigned nb = total - done < BATCH ? total - done : BATCH;
		for (unsigned i = 0; i < nb; i++) {
			memset(&args[i], 0, sizeof args[i]);
			args[i].idx = done + i;
			int r = pthread_create(&tids[i], &attr, churn_thread, &args[i]);
			if (r) {
				CHECK(r == 0, "pthread_create #%u: %s", done + i, strerror(r));
				return;
			}
		}
		for (unsigned i = 0; i < nb; i++) {
			pthread_join(tids[i], NULL);
			check_free("block freed by main after its thread exited", &args[i].for_main[0]);
			check_free("block freed by main after its thread exited", &args[i].for_main[1]);
		}
		done += nb;
		if (done == 1000)
			rss_base = t_rss_bytes();
		if (done > 1000 && done % 500 == 0) {
			size_t r = t_rss_bytes();
			if (r > rss_peak)
				rss_peak = r;
		}
	}
	pthread_attr_destroy(&attr);
	size_t rss_end = t_rss_bytes();
	if (rss_end > rss_peak)
		rss_peak = rss_end;
	uint64_t gauge_after = nalloc_threads_gauge();
	CHECK(atomic_load(&bad) == 0, "%d corrupted blocks in the thread churn", atomic_load(&bad));
	unsigned long want_d = total; /* every thread ran destructor1 */
	CHECK(atomic_load(&destructor_runs) == want_d, "destructor ran %lu times, want %lu",
	      atomic_load(&destructor_runs), want_d);
	t_log("thread churn: %u threads; RSS after 1000: %.1f MiB, peak after: %.1f MiB, end: %.1f "
	      "MiB",
	      total, rss_base / 1048576.0, rss_peak / 1048576.0, rss_end / 1048576.0);
	if (rss_base) {
		CHECK(rss_peak <= rss_base + 8 * MiB,
		      "RSS grew from %.1f MiB (after 1000 threads) to %.1f MiB (limit +8 MiB): "
		      "per-thread caches leak?",
		      rss_base / 1048576.0, rss_peak / 1048576.0);
	}
	if (nalloc_stats_get) {
		t_log("nalloc threads gauge: %llu before the churn, %llu after",
		      (unsigned long long)gauge_before, (unsigned long long)gauge_after);
		CHECK_NALLOC(gauge_after <= gauge_before + 2,
		             "threads gauge %llu after the churn (was %llu): exited threads still counted",
		             (unsigned long long)gauge_after, (unsigned long long)gauge_before);
	}
}

/* ------------------------------------------------- frees by a fresh thread */
#define NFOREIGN 3000
struct foreign_arg {
	struct blk *blocks;
	unsigned n;
	unsigned long badcount;
};

static void *free_only_thread(void *v)
{
	/* never allocates: its first allocator call is a free */
	struct foreign_arg *a = v;
	for (unsigned i = 0; i < a->n; i++) {
		struct blk *b = &a->blocks[i];
		if (t_check(b->p, b->n, b->seed) != SIZE_MAX)
			a->badcount++;
		free(b->p);
		b->p = NULL;
	}
	return NULL;
}

static size_t mixed_size(unsigned i)
{
	if (i % 500 == 7)
		return MiB + i;
	if (i % 50 == 3)
		return 33 * KiB + i;
	return 1 + (i * 131) % 4096;
}

static void test_free_by_fresh_thread(void)
{
	static struct blk blocks[NFOREIGN], again[NFOREIGN];
	for (int round = 0; round < 3; round++) {
		for (unsigned i = 0; i < NFOREIGN; i++)
			if (!make(&blocks[i], mixed_size(i + round), 77 + i))
				return;
		struct foreign_arg a = {blocks, NFOREIGN, 0};
		pthread_t t;
		int r = pthread_create(&t, NULL, free_only_thread, &a);
		CHECK(r == 0, "pthread_create: %s", strerror(r));
		if (r)
			return;
		pthread_join(t, NULL);
		CHECK(a.badcount == 0, "free-only thread found %lu corrupted blocks", a.badcount);
		/* main reuses the memory */
		for (unsigned i = 0; i < NFOREIGN; i++)
			if (!make(&again[i], mixed_size(i + round), 99 + i))
				return;
		for (unsigned i = 0; i < NFOREIGN; i++)
			check_free("main's block after a fresh thread freed main's blocks", &again[i]);
	}
	CHECK(atomic_load(&bad) == 0, "corruption after frees by a thread that never allocated");
	t_log("a thread that never allocated freed 3 x %d blocks of main's (up to 1 MiB)", NFOREIGN);
}

/* ------------------------------------------------- blocks outliving their thread */
struct orphan_arg {
	struct blk *blocks;
	unsigned n;
	uint64_t seed;
};

static void *alloc_and_exit(void *v)
{
	struct orphan_arg *a = v;
	for (unsigned i = 0; i < a->n; i++)
		make(&a->blocks[i], mixed_size(i * 3 + (unsigned)a->seed), a->seed + i);
	return NULL;
}

static void test_orphans(void)
{
	static struct blk old[NFOREIGN], fresh[NFOREIGN], mine[NFOREIGN];
	for (int round = 0; round < 3; round++) {
		struct orphan_arg a = {old, NFOREIGN, 1000u * round};
		pthread_t t;
		int r = pthread_create(&t, NULL, alloc_and_exit, &a);
		CHECK(r == 0, "pthread_create: %s", strerror(r));
		if (r)
			return;
		pthread_join(t, NULL);
		/* main allocates while the dead thread's blocks are live */
		for (unsigned i = 0; i < NFOREIGN; i++)
			make(&mine[i], mixed_size(i), 5000 + i);
		/* free half of the dead thread's blocks now */
		for (unsigned i = 0; i < NFOREIGN; i += 2)
			check_free("dead thread's block freed by main", &old[i]);
		/* a new thread allocates the same sizes */
		struct orphan_arg b = {fresh, NFOREIGN, 1000u * round};
		r = pthread_create(&t, NULL, alloc_and_exit, &b);
		CHECK(r == 0, "pthread_create: %s", strerror(r));
		if (r)
			return;
		pthread_join(t, NULL);
		for (unsigned i = 1; i < NFOREIGN; i += 2)
			check_free("dead thread's block freed by main (after another thread ran)", &old[i]);
		for (unsigned i = 0; i < NFOREIGN; i++) {
			check_free("second dead thread's block", &fresh[i]);
			check_free("main's block", &mine[i]);
		}
	}
	CHECK(atomic_load(&bad) == 0, "corruption with blocks outliving their thread");
	t_log("blocks of exited threads checked and freed by main while others allocate (3 rounds)");
}

/* ------------------------------------------------- reuse after remote frees */
#define NREUSE 20000
struct reuse_arg {
	char **p;
	unsigned long bad;
};

static void *free_all_thread(void *v)
{
	struct reuse_arg *a = v;
	for (unsigned i = 0; i < NREUSE; i++) {
		if (a->p[i][0] != (char)(i & 0x7f) || a->p[i][63] != (char)(i & 0x7f))
			a->bad++;
		free(a->p[i]);
	}
	return NULL;
}

static uint64_t committed_bytes(void)
{
	return t_nodes_sum(offsetof(struct nalloc_node_stats, committed_bytes));
}

static void test_reuse_after_remote_frees(void)
{
	static char *p[NREUSE];
	uint64_t first = 0, last = 0;
	for (int round = 0; round < 8; round++) {
		for (unsigned i = 0; i < NREUSE; i++) {
			p[i] = malloc(64);
			CHECK(p[i] != NULL, "malloc(64) failed");
			if (!p[i])
				return;
			memset(p[i], (int)(i & 0x7f), 64);
		}
		if (round == 0)
			first = committed_bytes();
		last = committed_bytes();
		struct reuse_arg a = {p, 0};
		pthread_t t;
		int r = pthread_create(&t, NULL, free_all_thread, &a);
		CHECK(r == 0, "pthread_create: %s", strerror(r));
		if (r)
			return;
		pthread_join(t, NULL);
		CHECK(a.bad == 0, "round %d: %lu blocks corrupted before the remote free", round, a.bad);
	}
	if (nalloc_stats_get) {
		CHECK(last <= first + 1024 * KiB,
		      "committed bytes grew from %llu to %llu over 8 rounds of remote frees",
		      (unsigned long long)first, (unsigned long long)last);
		t_log("8 x %d objects filled by main, freed by another thread: committed %llu -> %llu bytes",
		      NREUSE, (unsigned long long)first, (unsigned long long)last);
	}
}

int main(void)
{
	t_init("test_threads");
	pthread_key_create(&key1, destructor1);
	pthread_key_create(&key2, destructor2);
	test_free_by_fresh_thread();
	test_orphans();
	test_reuse_after_remote_frees();
	test_churn();
	return t_finish("test_threads");
}
