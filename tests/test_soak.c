/* SPDX-License-Identifier: MIT */
/* tests/test_soak.c: a churn soak on libnalloc whose length the caller sets,
 * checking that memory does not creep.  see src/malloc.c
 *
 * A constant live set (NSLOTS blocks of a fixed size mix, about 40 MiB) is
 * churned by NALLOC_TEST_SOAK_THREADS workers (default 4): each replaces random
 * slots (atomic exchange), so most frees are of another thread's block.
 * Workers live 0.2 .. 1.2 s and are replaced (thread creation and exit), and
 * the sampler forks a child now and then (it allocates, frees and exits 0).
 * RSS (/proc/self/statm) is sampled every NALLOC_TEST_SOAK_SAMPLE_MS (default
 * 2000) for NALLOC_TEST_SOAK_SECONDS (default 45; hours by hand:
 *   NALLOC_TEST_SOAK_SECONDS=14400 build/tests/test_soak).
 * It fails if
 *   - RSS creeps: the mean of the last third of the samples is above the
 *     first third's by more than 10% (after a warm-up: the first fifth of
 *     the samples);
 *   - RSS exceeds 1.5 x the live bytes plus a fixed slack (the RSS before
 *     the live set was built + 48 MiB) at any sample;
 *   - RSS does not fall once the live set is freed: within the return delay
 *     (NALLOC_RETURN_DELAY_MS, default 10 s) + 5 s it must give back at least
 *     half of the live bytes.
 * Also fails on a corrupted block or a fork child's failure. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSLOTS 8192
#define MAXT 32
#define MAXSAMPLES 100000

static _Atomic(uint64_t *) slots[NSLOTS];
static atomic_llong live_bytes;
static atomic_int stop;
static atomic_int failed;
static atomic_ulong nops, nthreads_made;

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

static double rss_mb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

/* fixed size mix: 70% 24..512 B, 28% 512 B..16 KiB, 2% 16..256 KiB */
static size_t pick_size(uint64_t *r)
{
	uint64_t v = rnd(r);
	unsigned k = (unsigned)(v % 100);
	v >>= 8;
	if (k < 70)
		return 24 + v % 489;
	if (k < 98)
		return 512 + v % (16384 - 512);
	return 16384 + v % (262144 - 16384);
}

/* a block: [0] = size, [1] = a tag of the size; the last word too */
static uint64_t *make(size_t n)
{
	uint64_t *p = malloc(n);
	if (!p) {
		fprintf(stderr, "test_soak: malloc(%zu) failed\n", n);
		atomic_store(&failed, 1);
		return NULL;
	}
	p[0] = n;
	p[1] = n * 0x9e3779b97f4a7c15ULL;
	p[n / 8 - 1] = ~n;
	atomic_fetch_add(&live_bytes, (long long)n);
	return p;
}

static void unmake(uint64_t *p)
{
	if (!p)
		return;
	size_t n = p[0];
	if (p[1] != n * 0x9e3779b97f4a7c15ULL || p[n / 8 - 1] != ~n) {
		static atomic_int reported;
		if (atomic_fetch_add(&reported, 1) < 10)
			fprintf(stderr, "test_soak: block %p corrupted (size word %zu)\n", (void *)p, n);
		atomic_store(&failed, 1);
		return;
	}
	atomic_fetch_sub(&live_bytes, (long long)n);
	free(p);
}

static void *worker(void *arg)
{
	uint64_t r = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + (uint64_t)(now() * 1e9);
	double until = now() + 0.2 + (double)(rnd(&r) % 1000) / 1000.0;
	unsigned long ops = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t *p = make(pick_size(&r));
		unmake(atomic_exchange(&slots[rnd(&r) % NSLOTS], p));
		if ((++ops & 1023) == 0 && now() > until)
			break;
	}
	atomic_fetch_add(&nops, ops);
	return NULL;
}

static void fork_child(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		uint64_t r = 42;
		for (int i = 0; i < 20000; i++) {
			uint64_t *p = make(pick_size(&r));
			if (!p)
				_exit(2);
			unmake(atomic_exchange(&slots[rnd(&r) % NSLOTS], p));
		}
		_exit(atomic_load(&failed) ? 3 : 0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "test_soak: fork child failed (status %d)\n", st);
		atomic_store(&failed, 1);
	}
}

/* the manager: keeps nthreads workers alive, replacing those that exit */
static unsigned nthreads = 4;
static void *manager(void *arg)
{
	(void)arg;
	pthread_t t[MAXT];
	unsigned long made = 0;
	for (unsigned i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)made++);
	while (!atomic_load(&stop)) {
		for (unsigned i = 0; i < nthreads; i++) {
			if (pthread_tryjoin_np(t[i], NULL) == 0 && !atomic_load(&stop))
				pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)made++);
		}
		usleep(20000);
	}
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	atomic_store(&nthreads_made, made);
	return NULL;
}

static double mean(const double *v, int a, int b)
{
	double s = 0;
	for (int i = a; i < b; i++)
		s += v[i];
	return b > a ? s / (b - a) : 0;
}

int main(void)
{
	double secs = 45, sample_ms = 2000, delay_s = 10;
	const char *e;
	if ((e = getenv("NALLOC_TEST_SOAK_SECONDS")) && atof(e) > 0)
		secs = atof(e);
	if ((e = getenv("NALLOC_TEST_SOAK_SAMPLE_MS")) && atof(e) > 0)
		sample_ms = atof(e);
	if ((e = getenv("NALLOC_TEST_SOAK_THREADS")) && atoi(e) > 0)
		nthreads = atoi(e) > MAXT ? MAXT : (unsigned)atoi(e);
	if ((e = getenv("NALLOC_RETURN_DELAY_MS")) && *e)
		delay_s = atof(e) / 1000.0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	double base = rss_mb();
	uint64_t r = 7;
	for (unsigned i = 0; i < NSLOTS; i++)
		atomic_store(&slots[i], make(pick_size(&r)));
	double slack = base + 48;
	printf("test_soak: %u threads, %.0f s, %d slots, live %.1f MiB, RSS before %.1f MiB, bound 1.5 x live + %.1f MiB\n",
	       nthreads, secs, NSLOTS, (double)atomic_load(&live_bytes) / 1048576.0, base, slack);
	pthread_t mgr;
	pthread_create(&mgr, NULL, manager, NULL);
	static double rss[MAXSAMPLES], live[MAXSAMPLES];
	int ns = 0;
	double t0 = now(), peak = 0;
	unsigned forks = 0, over = 0;
	while (now() - t0 < secs && !atomic_load(&failed) && ns < MAXSAMPLES) {
		usleep((useconds_t)(sample_ms * 1000));
		if (ns % 3 == 1) {
			fork_child();
			forks++;
		}
		rss[ns] = rss_mb();
		live[ns] = (double)atomic_load(&live_bytes) / 1048576.0;
		if (rss[ns] > peak)
			peak = rss[ns];
		printf("test_soak: t=%5.1f s RSS %7.1f MiB live %6.1f MiB\n", now() - t0, rss[ns], live[ns]);
		if (rss[ns] > 1.5 * live[ns] + slack) {
			printf("test_soak: FAIL: RSS %.1f MiB > 1.5 x live %.1f + %.1f MiB\n", rss[ns], live[ns], slack);
			over++;
		}
		ns++;
	}
	atomic_store(&stop, 1);
	pthread_join(mgr, NULL);
	int fail = atomic_load(&failed) || over;
	/* creep is judged after a warm-up (the first fifth of the samples, at
	 * least one): the caches and span lists fill during the first seconds */
	int w = ns / 5 > 0 ? ns / 5 : (ns > 3 ? 1 : 0), m = ns - w;
	double first = mean(rss, w, w + m / 3), last = mean(rss, ns - m / 3, ns);
	printf("test_soak: %d samples (%d warm-up), %lu ops, %lu threads, %u forks; RSS first third %.1f MiB, "
	       "last third %.1f MiB (%+.1f%%), peak %.1f MiB, live %.1f MiB\n",
	       ns, w, atomic_load(&nops), atomic_load(&nthreads_made), forks, first, last,
	       first > 0 ? 100.0 * (last / first - 1) : 0, peak, live[ns ? ns - 1 : 0]);
	if (m >= 3 && last > 1.10 * first) {
		printf("test_soak: FAIL: RSS creeps: last third %.1f MiB > 1.10 x first third %.1f MiB\n", last, first);
		fail = 1;
	}
	/* free the live set: RSS must fall */
	double live_at_end = (double)atomic_load(&live_bytes) / 1048576.0, before = rss_mb();
	for (unsigned i = 0; i < NSLOTS; i++)
		unmake(atomic_exchange(&slots[i], NULL));
	double tf = now(), after = before;
	while (now() - tf < delay_s + 5) {
		usleep(250000);
		free(malloc(1 << 20)); /* a heap operation: lets nalloc return pages */
		after = rss_mb();
		if (after <= before - 0.5 * live_at_end)
			break;
	}
	printf("test_soak: live set (%.1f MiB) freed: RSS %.1f -> %.1f MiB after %.1f s\n", live_at_end, before,
	       after, now() - tf);
	if (after > before - 0.5 * live_at_end) {
		printf("test_soak: FAIL: RSS did not fall by half the freed live set within %.0f s\n", delay_s + 5);
		fail = 1;
	}
	if (atomic_load(&failed))
		fail = 1;
	printf("test_soak: %s\n", fail ? "FAIL" : "PASS");
	return fail;
}
