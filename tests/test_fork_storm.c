/* SPDX-License-Identifier: MIT */
/* test_fork_storm.c: thousands of forks while threads churn every size
 * class with cross-thread frees.
 *
 * Regression test.  The atfork child handler used to walk the other
 * threads' caches, whose span lists those threads were changing without a
 * lock when fork stopped them (a span filed twice, a list pointing at a
 * free run, a span between its pop and its install, a chain taken from a
 * ready stack, a remote count between its two atomics): the child aborted
 * ("a span with room had no free object"), spun in a sweep or handed the
 * same object out twice.  Now a child must, every time: free blocks it
 * inherited (also ones whose spans another thread owned), allocate and
 * check blocks of every class without overlap, and exit (exit() or
 * _exit()).  NALLOC_FORK_STORM=N sets the number of forks (default 2000);
 * forking stops early after 120 s on a loaded machine (at least 500 must
 * have run).
 */
#include "api_util.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NWORKERS 3
#define RING 512
#define STABLE 64

static atomic_int stop;
static pthread_mutex_t ring_mu = PTHREAD_MUTEX_INITIALIZER;
static void *ring[RING];
static void *stable[NWORKERS][STABLE]; /* set before the forks, then left */
static size_t stable_n[NWORKERS][STABLE];

static size_t pick_size(uint64_t *rng)
{
	uint64_t r = t_rand(rng);
	switch (r % 16) {
	case 0:
		return 33000 + (r >> 8) % 200000; /* large */
	case 1:
	case 2:
		return 1024 + (r >> 8) % 31000;
	default:
		return 1 + (r >> 8) % 1024;
	}
}

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (id + 1);
	for (int i = 0; i < STABLE; i++) {
		stable_n[id][i] = pick_size(&rng);
		stable[id][i] = malloc(stable_n[id][i]);
		memset(stable[id][i], (int)(id + 1), stable_n[id][i]);
	}
	void *mine[64] = {0};
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned k = (unsigned)(t_rand(&rng) % 64);
		if (mine[k]) {
			if (t_rand(&rng) % 2) {
				/* hand it to whoever takes this ring slot next */
				unsigned slot = (unsigned)(t_rand(&rng) % RING);
				pthread_mutex_lock(&ring_mu);
				void *old = ring[slot];
				ring[slot] = mine[k];
				pthread_mutex_unlock(&ring_mu);
				free(old); /* another thread's block, most likely */
			} else {
				free(mine[k]);
			}
			mine[k] = NULL;
		} else {
			size_t n = pick_size(&rng);
			mine[k] = malloc(n);
			if (mine[k])
				((char *)mine[k])[0] = 1, ((char *)mine[k])[n - 1] = 1;
		}
	}
	for (int k = 0; k < 64; k++)
		free(mine[k]);
	return NULL;
}

/* The child: checks its inherited blocks and frees them, then allocates
 * blocks of every class, marks each with its own index and checks that no
 * two overlap, frees them, and exits. */
static int child(unsigned seq)
{
	alarm(20);
	for (int w = 0; w < NWORKERS; w++)
		for (int i = 0; i < STABLE; i++) {
			unsigned char *p = stable[w][i];
			if (p[0] != w + 1 || p[stable_n[w][i] - 1] != w + 1)
				return 2;
			free(p);
		}
	enum { N = 600 };
	static uint32_t *b[N];
	static size_t bn[N];
	uint64_t rng = 0x1234567ULL + seq;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			bn[i] = (i % 3 == 0 ? 4 + (size_t)i * 53 % 32000 : pick_size(&rng)) & ~(size_t)3;
			if (bn[i] < 4)
				bn[i] = 4;
			b[i] = malloc(bn[i]);
			if (!b[i])
				return 3;
			for (size_t k = 0; k < bn[i] / 4; k += 61)
				b[i][k] = (uint32_t)i;
			b[i][bn[i] / 4 - 1] = (uint32_t)i;
		}
		for (int i = 0; i < N; i++) {
			for (size_t k = 0; k < bn[i] / 4; k += 61)
				if (b[i][k] != (uint32_t)i)
					return 4; /* another allocation overlaps this one */
			if (b[i][bn[i] / 4 - 1] != (uint32_t)i)
				return 4;
		}
		for (int i = 0; i < N; i++)
			free(b[i]);
	}
	/* ring blocks were being changed by the workers: not trusted */
	return 0;
}

int main(void)
{
	t_init("test_fork_storm");
	const char *e = getenv("NALLOC_FORK_STORM");
	unsigned want = e && *e ? (unsigned)strtoul(e, NULL, 10) : 2000;
	pthread_t t[NWORKERS];
	for (uintptr_t i = 0; i < NWORKERS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	usleep(50000);
	time_t start = time(NULL);
	unsigned done = 0, bad = 0;
	for (unsigned i = 0; i < want && time(NULL) - start < 120; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			int rc = child(i);
			if (i % 2)
				exit(rc); /* exit handlers, stats: the full way out */
			_exit(rc);
		}
		CHECK(pid > 0, "fork failed");
		if (pid < 0)
			break;
		int st = 0;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			if (bad++ < 10)
				t_log("child %u: %s %d", i, WIFEXITED(st) ? "exit" : "signal",
				      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
		done++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(t[i], NULL);
	t_log("%u forks in %ld s, %u children failed", done, (long)(time(NULL) - start), bad);
	CHECK(bad == 0, "%u of %u children failed", bad, done);
	CHECK(done >= (want < 500 ? want : 500), "only %u forks ran", done);
	return t_finish("test_fork_storm");
}
