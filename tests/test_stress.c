/* SPDX-License-Identifier: MIT */
/* tests/test_stress.c: multithreaded allocation stress with corruption checks.
 *
 * NALLOC_STRESS_THREADS threads (default 6) run for about
 * NALLOC_STRESS_SECONDS seconds (default 8; thread i stops after
 * (0.5 + 0.5 i/(n-1)) of that, so some threads exit while blocks they
 * allocated are still live in other threads).  Each thread keeps a table of
 * live blocks of random sizes (mostly <= 256 B, some up to 32 KiB, a few
 * up to 2 MiB), got from malloc, calloc (checked zero), aligned_alloc,
 * posix_memalign and realloc(NULL, n).  Every block is filled with a
 * pattern derived from its address, its thread and a counter, and checked
 * whole before it is freed, realloc'ed or handed on.  A share of blocks is
 * passed to another thread through a mutex-protected queue and freed,
 * realloc'ed or kept there (cross-thread frees).  realloc is mixed in and
 * must keep the block's prefix.  Any mismatch fails with the details.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_util.h"

#define NSLOTS 1024
#define QCAP 2048
#define MAXTHREADS 64

struct item {
	void *p;
	size_t n;
	uint64_t seed;
	uint32_t origin; /* thread that allocated it */
	uint32_t how;    /* allocation function, for the report */
};

struct queue {
	pthread_mutex_t mu;
	unsigned head, count;
	struct item buf[QCAP];
};

struct worker {
	pthread_t tid;
	unsigned id;
	double seconds;
	uint64_t rng;
	uint64_t counter;
	struct item slots[NSLOTS];
	/* statistics */
	unsigned long ops, allocs, frees, reallocs, sent, received, remote_frees, adopted;
	unsigned long bytes_checked;
};

static struct queue queues[MAXTHREADS];
static struct worker *workers;
static unsigned nthreads;
static atomic_int failed;
static pthread_mutex_t report_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *how_names[] = {"malloc", "calloc", "aligned_alloc", "posix_memalign",
                                  "realloc(NULL)", "realloc"};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void report(struct worker *w, const char *what, const struct item *it, size_t off)
{
	pthread_mutex_lock(&report_mu);
	const unsigned char *c = it->p;
	printf("FAIL thread %u: %s: block %p size %zu (from %s in thread %u, seed %#llx)",
	       w->id, what, it->p, it->n, how_names[it->how % 6], it->origin,
	       (unsigned long long)it->seed);
	if (off != SIZE_MAX) {
		printf(" differs at offset %zu: got %#x want %#x; bytes there:", off, c[off],
		       t_expected(off, it->seed));
		for (size_t k = off; k < it->n && k < off + 16; k++)
			printf(" %02x", c[k]);
	}
	printf("\n");
	fflush(stdout);
	pthread_mutex_unlock(&report_mu);
	atomic_store(&failed, 1);
}

static int verify(struct worker *w, const struct item *it, const char *when)
{
	size_t off = t_check(it->p, it->n, it->seed);
	w->bytes_checked += it->n;
	if (off != SIZE_MAX) {
		char what[96];
		snprintf(what, sizeof what, "pattern corrupted (checked %s)", when);
		report(w, what, it, off);
		return 0;
	}
	return 1;
}

static size_t pick_size(struct worker *w)
{
	uint64_t r = t_rand(&w->rng);
	unsigned k = (unsigned)(r % 1000);
	r >>= 10;
	if (k < 800)
		return 1 + r % 256;
	if (k < 980)
		return 257 + r % (32 * 1024 - 256);
	if (k < 998)
		return 32 * 1024 + r % (224 * 1024);
	return 256 * 1024 + r % (2 * 1024 * 1024 - 256 * 1024 + 1);
}

static uint64_t new_seed(struct worker *w, void *p)
{
	return t_mix64((uintptr_t)p ^ ((uint64_t)w->id << 56) ^ (++w->counter << 8));
}

static int alloc_into(struct worker *w, struct item *it)
{
	size_t n = pick_size(w);
	unsigned how = (unsigned)(t_rand(&w->rng) % 10);
	void *p = NULL;
	size_t align = 16;
	switch (how) {
	case 0:
		p = calloc(1, n);
		how = 1;
		break;
	case 1:
		align = (size_t)16 << (t_rand(&w->rng) % 9); /* 16..4096 */
		p = aligned_alloc(align, n);
		how = 2;
		break;
	case 2:
		align = (size_t)8 << (t_rand(&w->rng) % 10); /* 8..4096 */
		if (posix_memalign(&p, align, n))
			p = NULL;
		how = 3;
		break;
	case 3:
		p = realloc(NULL, n);
		how = 4;
		break;
	default:
		p = malloc(n);
		how = 0;
		break;
	}
	struct item tmp = {p, n, 0, w->id, how};
	if (!p) {
		report(w, "allocation returned NULL", &tmp, SIZE_MAX);
		return 0;
	}
	if (((uintptr_t)p & (align - 1)) || ((uintptr_t)p & 15)) {
		report(w, "misaligned block", &tmp, SIZE_MAX);
		return 0;
	}
	if (malloc_usable_size(p) < n) {
		report(w, "malloc_usable_size < requested", &tmp, SIZE_MAX);
		return 0;
	}
	if (how == 1) {
		const unsigned char *c = p;
		for (size_t i = 0; i < n; i++)
			if (c[i]) {
				char what[64];
				snprintf(what, sizeof what, "calloc block not zero at offset %zu", i);
				report(w, what, &tmp, SIZE_MAX);
				return 0;
			}
	}
	it->p = p;
	it->n = n;
	it->how = how;
	it->origin = w->id;
	it->seed = new_seed(w, p);
	t_fill(p, n, it->seed);
	w->allocs++;
	return 1;
}

static int realloc_item(struct worker *w, struct item *it)
{
	size_t n = pick_size(w);
	void *q = realloc(it->p, n);
	struct item tmp = *it;
	if (!q) {
		report(w, "realloc returned NULL", &tmp, SIZE_MAX);
		return 0;
	}
	tmp.p = q;
	tmp.n = it->n < n ? it->n : n;
	if (((uintptr_t)q & 15) || malloc_usable_size(q) < n) {
		report(w, "realloc: misaligned or usable size too small", &tmp, SIZE_MAX);
		return 0;
	}
	if (!verify(w, &tmp, "after realloc (prefix)"))
		return 0;
	it->p = q;
	it->n = n;
	it->how = 5;
	it->origin = w->id;
	it->seed = new_seed(w, q);
	t_fill(q, n, it->seed);
	w->reallocs++;
	return 1;
}

static void free_item(struct worker *w, struct item *it)
{
	if (it->origin != w->id)
		w->remote_frees++;
	free(it->p);
	it->p = NULL;
	w->frees++;
}

static int send_item(struct worker *w, struct item *it)
{
	unsigned to = (unsigned)(t_rand(&w->rng) % (nthreads - 1));
	if (to >= w->id)
		to++;
	struct queue *q = &queues[to];
	pthread_mutex_lock(&q->mu);
	if (q->count == QCAP) {
		pthread_mutex_unlock(&q->mu);
		return 0;
	}
	q->buf[(q->head + q->count) % QCAP] = *it;
	q->count++;
	pthread_mutex_unlock(&q->mu);
	it->p = NULL;
	w->sent++;
	return 1;
}

/* Take what other threads sent: check, then free, keep or realloc. */
static void drain(struct worker *w)
{
	struct item batch[256];
	unsigned n = 0;
	struct queue *q = &queues[w->id];
	pthread_mutex_lock(&q->mu);
	while (q->count && n < 256) {
		batch[n++] = q->buf[q->head];
		q->head = (q->head + 1) % QCAP;
		q->count--;
	}
	pthread_mutex_unlock(&q->mu);
	for (unsigned i = 0; i < n && !atomic_load_explicit(&failed, memory_order_relaxed); i++) {
		struct item *it = &batch[i];
		w->received++;
		if (!verify(w, it, "on receipt from another thread"))
			return;
		unsigned r = (unsigned)(t_rand(&w->rng) % 4);
		struct item *slot = &w->slots[t_rand(&w->rng) % NSLOTS];
		if (r == 0 && !slot->p) {
			*slot = *it; /* keep it; later freed or realloc'ed here */
			w->adopted++;
		} else if (r == 1) {
			if (!realloc_item(w, it))
				return;
			free_item(w, it);
		} else {
			free_item(w, it);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	double end = now() + w->seconds;
	while (!atomic_load_explicit(&failed, memory_order_relaxed)) {
		for (int k = 0; k < 256; k++) {
			struct item *it = &w->slots[t_rand(&w->rng) % NSLOTS];
			w->ops++;
			if (!it->p) {
				if (!alloc_into(w, it))
					return NULL;
				continue;
			}
			if (!verify(w, it, "before use"))
				return NULL;
			unsigned r = (unsigned)(t_rand(&w->rng) % 100);
			if (r < 45) {
				free_item(w, it);
			} else if (r < 65) {
				if (!realloc_item(w, it))
					return NULL;
			} else if (r < 90 && nthreads > 1) {
				if (!send_item(w, it))
					free_item(w, it);
			} /* else: checked only, stays live */
			if ((k & 63) == 63)
				drain(w);
		}
		if (now() > end)
			break;
	}
	drain(w);
	for (unsigned i = 0; i < NSLOTS; i++) {
		struct item *it = &w->slots[i];
		if (!it->p)
			continue;
		if (atomic_load_explicit(&failed, memory_order_relaxed) || verify(w, it, "at thread end"))
			free_item(w, it);
	}
	return NULL;
}

int main(void)
{
	t_init("test_stress");
	const char *e = getenv("NALLOC_STRESS_THREADS");
	nthreads = e && atoi(e) > 0 ? (unsigned)atoi(e) : 6;
	if (nthreads > MAXTHREADS)
		nthreads = MAXTHREADS;
	if (nthreads < 2)
		nthreads = 2;
	double seconds = t_env_seconds("NALLOC_STRESS_SECONDS", 8);
	uint64_t seed = (uint64_t)time(NULL);
	e = getenv("NALLOC_STRESS_SEED");
	if (e && *e)
		seed = strtoull(e, NULL, 0);
	t_log("test_stress: %u threads, %.1f s, seed %llu (set NALLOC_STRESS_SEED to repeat)",
	      nthreads, seconds, (unsigned long long)seed);

	workers = calloc(nthreads, sizeof *workers);
	CHECK(workers != NULL, "calloc workers");
	if (!workers)
		return T_EXIT_FAIL;
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_mutex_init(&queues[i].mu, NULL);
		workers[i].id = i;
		workers[i].rng = t_mix64(seed + i * 0x9e3779b97f4a7c15ULL) | 1;
		workers[i].seconds = seconds * (0.5 + 0.5 * i / (nthreads - 1));
	}
	double t0 = now();
	for (unsigned i = 0; i < nthreads; i++) {
		int r = pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
		CHECK(r == 0, "pthread_create: %s", strerror(r));
		if (r)
			return T_EXIT_FAIL;
	}
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(workers[i].tid, NULL);
	double t1 = now();

	/* blocks still queued: their senders and receivers may have exited */
	unsigned long leftover = 0;
	struct worker *mw = &workers[0];
	for (unsigned i = 0; i < nthreads; i++) {
		struct queue *q = &queues[i];
		while (q->count) {
			struct item *it = &q->buf[q->head];
			q->head = (q->head + 1) % QCAP;
			q->count--;
			if (!atomic_load(&failed))
				verify(mw, it, "in a queue after all threads exited");
			free(it->p);
			leftover++;
		}
	}
	unsigned long ops = 0, allocs = 0, frees = 0, reallocs = 0, sent = 0, remote = 0,
	              adopted = 0;
	double gb = 0;
	for (unsigned i = 0; i < nthreads; i++) {
		ops += workers[i].ops;
		allocs += workers[i].allocs;
		frees += workers[i].frees;
		reallocs += workers[i].reallocs;
		sent += workers[i].sent;
		remote += workers[i].remote_frees;
		adopted += workers[i].adopted;
		gb += workers[i].bytes_checked / 1e9;
	}
	t_log("test_stress: %.1f s, %lu ops, %lu allocs, %lu frees (%lu cross-thread), %lu reallocs, "
	      "%lu handed over, %lu adopted, %lu freed by main at the end, %.2f GB checked",
	      t1 - t0, ops, allocs, frees, remote, reallocs, sent, adopted, leftover, gb);
	CHECK(!atomic_load(&failed), "corruption or allocation failure (see above)");
	CHECK(remote > 0, "no cross-thread frees happened");
	CHECK(allocs > 10000, "only %lu allocations in %.1f s", allocs, t1 - t0);
	/* the heap is still usable */
	for (int i = 0; i < 1000; i++) {
		void *p = malloc((size_t)i * 37);
		CHECK(p != NULL, "malloc after stress");
		free(p);
	}
	free(workers);
	return t_finish("test_stress");
}
