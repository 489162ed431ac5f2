/* SPDX-License-Identifier: MIT */
/* tests/san/san_stress.c: concurrent stress of nalloc's own code with its
 * entry points renamed (nalloc_test_malloc, ...), so that the program can run
 * under ThreadSanitizer, UndefinedBehaviorSanitizer or AddressSanitizer,
 * whose runtimes keep the process's malloc.  see src/malloc.c
 *
 * NALLOC_TEST_SAN_THREADS workers (default 4) run for NALLOC_TEST_SAN_SECONDS (default
 * 4) in rounds: each round starts the workers afresh (so threads exit while
 * their blocks live on in other threads).  A worker keeps a table of blocks
 * of many classes (16 B .. 32 KiB, some large up to 1 MiB) from malloc,
 * calloc (checked zero), realloc (prefix kept), posix_memalign /
 * aligned_alloc / memalign (alignment checked), fills each with a pattern and
 * checks it before freeing; a share of blocks go through a mutex-protected
 * mailbox to another worker, which checks and frees them (cross-thread
 * frees).  One worker forks now and then; the child allocates and frees with
 * nalloc and must exit 0.  Meanwhile another thread reads the statistics
 * (nalloc_stats_get) and returns free pages (nalloc_purge), as a monitoring
 * thread of a real program would.  Exit 0: all checks passed; 1: a check failed (a
 * sanitizer's report exits with its own exit code). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nalloc_renamed.h"

#define NSLOTS 512
#define MAXT 16
#define BOXCAP 256

struct blk {
	unsigned char *p;
	size_t n;
	uint8_t seed;
};

struct mailbox {
	pthread_mutex_t mu;
	unsigned count;
	struct blk b[BOXCAP];
};

static struct mailbox boxes[MAXT];
static unsigned nthreads = 4;
static double deadline;
static int failed; /* atomic (__atomic builtins) */
static unsigned long total_ops, total_remote, total_forks;
static pthread_mutex_t total_mu = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

#define FAIL(...)                                                        \
	do {                                                             \
		fprintf(stderr, "san_stress: FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                            \
		fprintf(stderr, "\n");                                   \
		__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);          \
	} while (0)

static size_t pick_size(uint64_t *r)
{
	uint64_t v = rnd(r);
	switch (v % 16) {
	case 0:
		return 32768 + (v >> 8) % (1 << 20); /* large */
	case 1: case 2:
		return 1 + (v >> 8) % 32768; /* any small class */
	default:
		return 1 + (v >> 8) % 512;
	}
}

static void fill(struct blk *b)
{
	for (size_t i = 0; i < b->n; i += (b->n > 4096 ? 61 : 1))
		b->p[i] = (unsigned char)(b->seed + i);
	if (b->n)
		b->p[b->n - 1] = (unsigned char)(b->seed + b->n - 1);
}

static int check(const struct blk *b, size_t upto, const char *what)
{
	if (upto > b->n)
		upto = b->n;
	for (size_t i = 0; i < upto; i += (b->n > 4096 ? 61 : 1))
		if (b->p[i] != (unsigned char)(b->seed + i)) {
			FAIL("%s: block %p size %zu byte %zu is %u, want %u", what, (void *)b->p, b->n, i,
			     b->p[i], (unsigned char)(b->seed + i));
			return 0;
		}
	return 1;
}

static void release(struct blk *b)
{
	check(b, b->n, "before free");
	if (b->n > 0 && nalloc_test_malloc_usable_size(b->p) < b->n)
		FAIL("usable size %zu < %zu", nalloc_test_malloc_usable_size(b->p), b->n);
	nalloc_test_free(b->p);
	b->p = NULL;
}

static int child_work(void)
{
	for (int i = 0; i < 2000; i++) {
		size_t n = 1 + (size_t)(i * 37) % 20000;
		unsigned char *p = nalloc_test_malloc(n);
		if (!p)
			return 2;
		memset(p, 0x5a, n);
		if (p[n - 1] != 0x5a)
			return 3;
		nalloc_test_free(p);
	}
	return 0;
}

static void do_fork(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0)
		_exit(child_work());
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		FAIL("fork child: status %d", st);
}

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	uint64_t r = 0x9e3779b97f4a7c15ULL * (id + 1) ^ (uint64_t)(now() * 1e6);
	struct blk slot[NSLOTS];
	memset(slot, 0, sizeof slot);
	unsigned long ops = 0, remote = 0, forks = 0;
	while (!__atomic_load_n(&failed, __ATOMIC_RELAXED) && (ops & 255 || now() < deadline)) {
		ops++;
		/* take blocks others sent us */
		struct mailbox *mb = &boxes[id];
		if ((ops & 15) == 0) {
			pthread_mutex_lock(&mb->mu);
			while (mb->count) {
				struct blk b = mb->b[--mb->count];
				pthread_mutex_unlock(&mb->mu);
				release(&b);
				remote++;
				pthread_mutex_lock(&mb->mu);
			}
			pthread_mutex_unlock(&mb->mu);
		}
		struct blk *b = &slot[rnd(&r) % NSLOTS];
		uint64_t op = rnd(&r) % 100;
		if (b->p) {
			if (op < 45) {
				release(b);
			} else if (op < 65 && nthreads > 1) {
				/* hand it to another worker */
				unsigned to = (unsigned)(rnd(&r) % nthreads);
				struct mailbox *o = &boxes[to];
				pthread_mutex_lock(&o->mu);
				if (o->count < BOXCAP) {
					o->b[o->count++] = *b;
					b->p = NULL;
				}
				pthread_mutex_unlock(&o->mu);
				if (b->p)
					release(b);
			} else if (op < 85) {
				size_t nn = pick_size(&r);
				unsigned char *q = nalloc_test_realloc(b->p, nn);
				if (!q) {
					FAIL("realloc(%zu) failed", nn);
					continue;
				}
				b->p = q;
				check(b, nn, "after realloc");
				b->n = nn;
				fill(b);
			} else {
				check(b, b->n, "in place");
			}
			continue;
		}
		size_t n = pick_size(&r);
		b->seed = (uint8_t)rnd(&r);
		b->n = n;
		if (op < 50) {
			b->p = nalloc_test_malloc(n);
		} else if (op < 65) {
			b->p = nalloc_test_calloc(1, n);
			if (b->p)
				for (size_t i = 0; i < n; i += (n > 4096 ? 61 : 1))
					if (b->p[i]) {
						FAIL("calloc(%zu) byte %zu not zero", n, i);
						break;
					}
		} else if (op < 75) {
			b->p = nalloc_test_realloc(NULL, n);
		} else {
			size_t al = (size_t)1 << (4 + rnd(&r) % 13); /* 16 .. 64 KiB */
			void *q = NULL;
			if (op < 85) {
				if (nalloc_test_posix_memalign(&q, al, n))
					q = NULL;
			} else if (op < 95) {
				n = (n + al - 1) & ~(al - 1);
				b->n = n;
				q = nalloc_test_aligned_alloc(al, n);
			} else {
				q = nalloc_test_memalign(al, n);
			}
			if (q && ((uintptr_t)q & (al - 1)))
				FAIL("alignment %zu: got %p", al, q);
			b->p = q;
		}
		if (!b->p) {
			FAIL("allocation of %zu failed", n);
			continue;
		}
		if (((uintptr_t)b->p & 15) != 0)
			FAIL("%p not 16-aligned", (void *)b->p);
		fill(b);
		if (id == 0 && (ops & 4095) == 0 && forks < 4) {
			do_fork();
			forks++;
		}
	}
	for (unsigned i = 0; i < NSLOTS; i++)
		if (slot[i].p)
			release(&slot[i]);
	pthread_mutex_lock(&total_mu);
	total_ops += ops;
	total_remote += remote;
	total_forks += forks;
	pthread_mutex_unlock(&total_mu);
	return NULL;
}

static int rounds_done; /* atomic */
static void *monitor(void *arg)
{
	(void)arg;
	static struct nalloc_stats st;
	unsigned n = 0;
	while (!__atomic_load_n(&rounds_done, __ATOMIC_RELAXED) && !__atomic_load_n(&failed, __ATOMIC_RELAXED)) {
		nalloc_stats_get(&st);
		if (st.nnodes < 1)
			FAIL("nalloc_stats_get: %d nodes", st.nnodes);
		if ((++n & 7) == 0)
			nalloc_purge();
		usleep(20000);
	}
	return NULL;
}

int main(void)
{
	const char *e = getenv("NALLOC_TEST_SAN_THREADS");
	double secs = 4;
	if (e && atoi(e) > 0)
		nthreads = (unsigned)atoi(e) > MAXT ? MAXT : (unsigned)atoi(e);
	if ((e = getenv("NALLOC_TEST_SAN_SECONDS")) && atof(e) > 0)
		secs = atof(e);
	for (unsigned i = 0; i < MAXT; i++)
		pthread_mutex_init(&boxes[i].mu, NULL);
	double end = now() + secs;
	unsigned rounds = 0;
	nalloc_test_free(nalloc_test_malloc(1)); /* initialise before the monitor reads */
	pthread_t mon;
	if (pthread_create(&mon, NULL, monitor, NULL)) {
		fprintf(stderr, "san_stress: pthread_create failed\n");
		return 1;
	}
	do {
		/* each round: fresh threads; blocks left in mailboxes are freed by
		 * the next round's threads (which did not allocate them) */
		deadline = now() + secs / 4;
		if (deadline > end)
			deadline = end;
		pthread_t t[MAXT];
		for (unsigned i = 0; i < nthreads; i++)
			if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i)) {
				fprintf(stderr, "san_stress: pthread_create failed\n");
				return 1;
			}
		for (unsigned i = 0; i < nthreads; i++)
			pthread_join(t[i], NULL);
		rounds++;
	} while (!__atomic_load_n(&failed, __ATOMIC_RELAXED) && now() < end);
	__atomic_store_n(&rounds_done, 1, __ATOMIC_RELAXED);
	pthread_join(mon, NULL);
	for (unsigned i = 0; i < MAXT; i++)
		while (boxes[i].count)
			release(&boxes[i].b[--boxes[i].count]);
	/* the blocks really came from nalloc */
	void *p = nalloc_test_malloc(100);
	if (nalloc_node_of(p) < 0)
		FAIL("nalloc_test_malloc's block %p is not nalloc's (node_of -1)", p);
	nalloc_test_free(p);
	printf("san_stress: %u threads, %u rounds, %lu ops, %lu cross-thread frees, %lu forks: %s\n",
	       nthreads, rounds, total_ops, total_remote, total_forks, failed ? "FAILED" : "ok");
	return failed ? 1 : 0;
}
