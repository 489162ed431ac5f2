/* SPDX-License-Identifier: MIT */
/* tests/test_fork.c: fork() while other threads allocate.
 *
 * Four worker threads allocate, realloc and free blocks of random sizes
 * (some up to 1 MiB) without pause, and pass blocks to each other to be
 * freed there.  Meanwhile the main thread forks NALLOC_FORK_COUNT times
 * (default 50) and one worker forks 10 more times.  Each child:
 *   - checks and frees blocks its parent's main thread and the workers
 *     allocated before the fork (the workers do not exist in the child);
 *   - allocates, checks and frees in a loop (small and large sizes);
 *   - starts a thread that does the same, joins it;
 *   - every 10th child forks a grandchild that does the same;
 *   - _exit(0) when all is well, another code when not.
 * The parent checks every child exited 0 and keeps allocating.
 * Deadlocks: the child has a 20 s alarm (it dies by SIGALRM, which the
 * parent reports), the parent a 90 s watchdog that fails the test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api_util.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
#define NWORKERS 4
#define WSLOTS 256
#define STABLE 32
#define XSLOTS 64

struct blk {
	void *p;
	size_t n;
	uint64_t seed;
};

static atomic_int stop;
static atomic_int failures;
static atomic_ulong child_count;

/* blocks written once before the workers start, never changed: a child
 * can check and free them whatever the workers were doing at the fork */
static struct blk stable[NWORKERS][STABLE];
/* blocks exchanged between workers (cross-thread frees) */
static pthread_mutex_t xmu = PTHREAD_MUTEX_INITIALIZER;
static struct blk xslots[XSLOTS];

/* async-signal-safe enough output for children */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0) {
		if (n > (int)sizeof buf - 1)
			n = sizeof buf - 1;
		ssize_t w = write(1, buf, (size_t)n);
		(void)w;
	}
}

static size_t rand_size(uint64_t *rng)
{
	uint64_t r = t_rand(rng);
	unsigned k = (unsigned)(r % 1000);
	r >>= 10;
	if (k < 800)
		return 1 + r % 512;
	if (k < 985)
		return 513 + r % (40 * KiB);
	return 64 * KiB + r % MiB;
}

static int alloc_blk(struct blk *b, size_t n, uint64_t seed)
{
	b->p = malloc(n);
	b->n = n;
	if (!b->p)
		return 0;
	b->seed = t_mix64(seed ^ (uintptr_t)b->p);
	t_fill(b->p, n, b->seed);
	return 1;
}

/* returns 0 and says so if the block is corrupted */
static int check_blk(const char *who, const struct blk *b)
{
	size_t off = t_check(b->p, b->n, b->seed);
	if (off != SIZE_MAX) {
		say("FAIL %s (pid %d): block %p size %zu corrupted at offset %zu\n", who, (int)getpid(),
		    b->p, b->n, off);
		return 0;
	}
	return 1;
}

/* A bounded allocate/check/free loop; returns 0 on failure. */
static int churn(const char *who, uint64_t seed, unsigned iters)
{
	struct blk s[128];
	memset(s, 0, sizeof s);
	uint64_t rng = seed | 1;
	int ok = 1;
	for (unsigned i = 0; i < iters && ok; i++) {
		struct blk *b = &s[t_rand(&rng) % 128];
		if (b->p) {
			ok = check_blk(who, b);
			if (t_rand(&rng) % 4 == 0) {
				size_t n = rand_size(&rng);
				void *q = realloc(b->p, n);
				if (!q) {
					say("FAIL %s: realloc(%zu) returned NULL\n", who, n);
					return 0;
				}
				struct blk t = {q, b->n < n ? b->n : n, b->seed};
				ok = ok && check_blk(who, &t);
				b->p = q;
				b->n = n;
				t_fill(q, n, b->seed);
				continue;
			}
			free(b->p);
			b->p = NULL;
		} else if (!alloc_blk(b, rand_size(&rng), seed + i)) {
			say("FAIL %s: malloc(%zu) returned NULL\n", who, b->n);
			return 0;
		}
	}
	for (unsigned i = 0; i < 128; i++)
		if (s[i].p) {
			ok = ok && check_blk(who, &s[i]);
			free(s[i].p);
		}
	return ok;
}

static void *child_thread(void *arg)
{
	uintptr_t seed = (uintptr_t)arg;
	return (void *)(uintptr_t)churn("child's thread", seed, 1000);
}

/* Body of a forked child; does not return. */
static void child_main(struct blk *parent_live, unsigned nlive, uint64_t seed, int depth)
{
	alarm(20); /* a deadlock kills the child by SIGALRM */
	int ok = 1;
	/* blocks the parent's main thread had live at the fork */
	for (unsigned i = 0; i < nlive; i++)
		if (parent_live[i].p)
			ok &= check_blk("child: parent's block", &parent_live[i]);
	for (unsigned i = 0; i < nlive; i += 2) {
		free(parent_live[i].p);
		parent_live[i].p = NULL;
	}
	/* blocks of worker threads that do not exist here */
	for (unsigned w = 0; w < NWORKERS; w++)
		for (unsigned i = 0; i < STABLE; i++)
			if (stable[w][i].p) {
				ok &= check_blk("child: worker's block", &stable[w][i]);
				free(stable[w][i].p);
			}
	ok = ok && churn("child", seed, 1500);
	pthread_t t;
	void *tr = NULL;
	int r = pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(seed * 3));
	if (r) {
		say("FAIL child: pthread_create: %s\n", strerror(r));
		ok = 0;
	} else {
		pthread_join(t, &tr);
		ok = ok && tr != NULL;
	}
	if (depth == 0 && seed % 10 == 0) {
		pid_t g = fork();
		if (g == 0) {
			alarm(20);
			_exit(churn("grandchild", seed * 5, 1000) ? 0 : 1);
		}
		int st = 0;
		if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			say("FAIL child: grandchild failed (status %#x)\n", st);
			ok = 0;
		}
	}
	for (unsigned i = 1; i < nlive; i += 2) {
		free(parent_live[i].p);
		parent_live[i].p = NULL;
	}
	ok = ok && churn("child after frees", seed * 7, 500);
	_exit(ok ? 0 : 3);
}

static int wait_child(pid_t pid, const char *who)
{
	int st = 0;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	atomic_fetch_add(&child_count, 1);
	if (r != pid) {
		say("FAIL %s: waitpid: %s\n", who, strerror(errno));
		return 0;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 1;
	if (WIFSIGNALED(st))
		say("FAIL %s: child %d killed by signal %d (%s)%s\n", who, (int)pid, WTERMSIG(st),
		    strsignal(WTERMSIG(st)),
		    WTERMSIG(st) == SIGALRM ? ": deadlocked after fork?" : "");
	else
		say("FAIL %s: child %d exited with %d\n", who, (int)pid, WEXITSTATUS(st));
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* slowest fork() call and slowest fork-to-child-exit, in seconds */
static _Atomic double max_fork_call, max_fork_total;

static void note_max(_Atomic double *m, double v)
{
	double cur = atomic_load(m);
	while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
		;
}

static int do_fork(struct blk *live, unsigned nlive, uint64_t seed, const char *who)
{
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0) {
		say("FAIL %s: fork: %s\n", who, strerror(errno));
		return 0;
	}
	if (pid == 0)
		child_main(live, nlive, seed, 0);
	note_max(&max_fork_call, now() - t0);
	int ok = wait_child(pid, who);
	note_max(&max_fork_total, now() - t0);
	return ok;
}

struct worker {
	pthread_t t;
	unsigned id;
	unsigned forks;
	unsigned long ops;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct blk s[WSLOTS];
	memset(s, 0, sizeof s);
	uint64_t rng = t_mix64(w->id + 1) | 1;
	unsigned long n = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct blk *b = &s[t_rand(&rng) % WSLOTS];
		n++;
		if (!b->p) {
			if (!alloc_blk(b, rand_size(&rng), n * 64 + w->id)) {
				say("FAIL worker %u: malloc returned NULL\n", w->id);
				atomic_fetch_add(&failures, 1);
				break;
			}
			continue;
		}
		if (!check_blk("worker", b)) {
			atomic_fetch_add(&failures, 1);
			break;
		}
		unsigned r = (unsigned)(t_rand(&rng) % 10);
		if (r < 5) {
			free(b->p);
			b->p = NULL;
		} else if (r < 7) {
			/* swap with the exchange: the other block is freed or kept here */
			struct blk *x = &xslots[t_rand(&rng) % XSLOTS];
			pthread_mutex_lock(&xmu);
			struct blk t = *x;
			*x = *b;
			pthread_mutex_unlock(&xmu);
			*b = t;
		} else if (r < 8) {
			size_t nn = rand_size(&rng);
			void *q = realloc(b->p, nn);
			if (!q) {
				say("FAIL worker %u: realloc returned NULL\n", w->id);
				atomic_fetch_add(&failures, 1);
				break;
			}
			struct blk t = {q, b->n < nn ? b->n : nn, b->seed};
			if (!check_blk("worker after realloc", &t)) {
				atomic_fetch_add(&failures, 1);
				break;
			}
			b->p = q;
			b->n = nn;
			t_fill(q, nn, b->seed);
		}
		/* worker 0 forks too, from a non-main thread */
		if (w->id == 0 && w->forks < 10 && n % 8000 == 0) {
			w->forks++;
			if (!do_fork(s, WSLOTS / 4, n, "worker 0's fork"))
				atomic_fetch_add(&failures, 1);
		}
	}
	for (unsigned i = 0; i < WSLOTS; i++)
		if (s[i].p) {
			if (!check_blk("worker at end", &s[i]))
				atomic_fetch_add(&failures, 1);
			free(s[i].p);
		}
	w->ops = n;
	return NULL;
}

static void watchdog(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL test_fork: watchdog expired: deadlock?\n";
	ssize_t w = write(1, msg, sizeof msg - 1);
	(void)w;
	_exit(1);
}

int main(void)
{
	t_init("test_fork");
	const char *e = getenv("NALLOC_FORK_COUNT");
	unsigned nforks = e && atoi(e) > 0 ? (unsigned)atoi(e) : 50;
	signal(SIGALRM, watchdog);
	alarm(90);

	for (unsigned w = 0; w < NWORKERS; w++)
		for (unsigned i = 0; i < STABLE; i++)
			alloc_blk(&stable[w][i], 1 + (i * 977 + w * 131) % (i % 8 ? 2000 : 70000),
			          w * 100 + i);
	struct worker ws[NWORKERS];
	memset(ws, 0, sizeof ws);
	for (unsigned i = 0; i < NWORKERS; i++) {
		ws[i].id = i;
		int r = pthread_create(&ws[i].t, NULL, worker_main, &ws[i]);
		CHECK(r == 0, "pthread_create: %s", strerror(r));
		if (r)
			return T_EXIT_FAIL;
	}
	/* main: keep a live set, fork, keep allocating */
	enum { NLIVE = 64 };
	struct blk live[NLIVE];
	memset(live, 0, sizeof live);
	uint64_t rng = 12345;
	unsigned ok_children = 0;
	for (unsigned f = 0; f < nforks && !atomic_load(&failures); f++) {
		for (unsigned i = 0; i < NLIVE; i++) {
			if (live[i].p && t_rand(&rng) % 2) {
				if (!check_blk("parent", &live[i]))
					atomic_fetch_add(&failures, 1);
				free(live[i].p);
				live[i].p = NULL;
			}
			if (!live[i].p && !alloc_blk(&live[i], rand_size(&rng), f * 1000 + i))
				atomic_fetch_add(&failures, 1);
		}
		if (do_fork(live, NLIVE, f, "main's fork"))
			ok_children++;
		else
			atomic_fetch_add(&failures, 1);
		if (!churn("parent between forks", f * 31 + 1, 500))
			atomic_fetch_add(&failures, 1);
	}
	atomic_store(&stop, 1);
	unsigned long wops = 0;
	for (unsigned i = 0; i < NWORKERS; i++) {
		pthread_join(ws[i].t, NULL);
		wops += ws[i].ops;
	}
	for (unsigned i = 0; i < NLIVE; i++)
		if (live[i].p) {
			if (!check_blk("parent at end", &live[i]))
				atomic_fetch_add(&failures, 1);
			free(live[i].p);
		}
	for (unsigned i = 0; i < XSLOTS; i++)
		if (xslots[i].p) {
			if (!check_blk("exchange at end", &xslots[i]))
				atomic_fetch_add(&failures, 1);
			free(xslots[i].p);
		}
	for (unsigned w = 0; w < NWORKERS; w++)
		for (unsigned i = 0; i < STABLE; i++) {
			if (!check_blk("stable block at end", &stable[w][i]))
				atomic_fetch_add(&failures, 1);
			free(stable[w][i].p);
		}
	alarm(0);
	t_log("test_fork: slowest fork() call %.1f ms, slowest fork to child exit %.1f ms",
	      atomic_load(&max_fork_call) * 1e3, atomic_load(&max_fork_total) * 1e3);
	t_log("test_fork: %u of %u forks by main ok, %u by worker 0, %lu children waited for, "
	      "%lu worker ops",
	      ok_children, nforks, ws[0].forks, atomic_load(&child_count), wops);
	CHECK(atomic_load(&failures) == 0, "%d failures (see above)", atomic_load(&failures));
	CHECK(ws[0].forks > 0 || atomic_load(&failures), "worker 0 never forked");
	return t_finish("test_fork");
}
