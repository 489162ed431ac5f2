/* SPDX-License-Identifier: MIT */
/* perf/bench.c: allocator micro-benchmarks.
 *
 * Uses only the standard malloc API, so the same binary can be run under any
 * allocator with LD_PRELOAD (nalloc, glibc, jemalloc, tcmalloc, mimalloc).
 *
 * usage: bench WORKLOAD [--iters N] [--size S] [--rounds R] [--threads T]
 *                       [--count-only]
 *
 * Workloads (each prints one line
 *   workload=NAME threads=T ops=N seconds=S mops=X):
 *   tight    each of T threads (default 1) does N (default 20,000,000)
 *            malloc(S)+free pairs in a tight loop (S default 32).
 *   batch    each of T threads (default 1) allocates N (default 1,000,000)
 *            objects of S bytes into an array, then frees them all, R rounds
 *            (default 10).  ops = pairs = N * R * T.
 *   xthread  T/2 producer/consumer pairs (default T=2: one pair).  The
 *            producer allocates N (default 10,000,000) objects of mixed small
 *            sizes (8..1024 B, skewed to small) and passes them through a
 *            bounded lock-free single-producer/single-consumer ring to the
 *            consumer, which frees them (cross-thread frees).
 *            ops = objects = N * T/2.
 *
 * --count-only  for instruction counting under valgrind --tool=callgrind:
 *            no threads, no timing-sensitive set-up, a fixed N (tight:
 *            1,000,000 pairs; batch: one round of 1,000,000; --iters
 *            overrides N).  Run it twice with different N and divide the
 *            difference in instructions by the difference in pairs
 *            (perf/callgrind.sh does this).
 *
 * Every allocated object is touched (one byte written) so that allocators
 * which hand out lazily-backed memory cannot cheat, and every pointer is
 * passed through a volatile sink so that the compiler cannot elide a
 * malloc/free pair.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perf_util.h"

/* The compiler must not see through these.  Thread-local: a shared sink
 * would be a cache line that every thread writes on every operation. */
static __thread void *volatile sink;

static inline void touch(void *p)
{
	*(volatile unsigned char *)p = 1;
	sink = p;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *msg)
{
	fprintf(stderr, "bench: %s\n", msg);
	exit(2);
}


/* ------------------------------------------------------------ options */

struct opts {
	const char *workload;
	uint64_t iters;    /* 0: workload default */
	size_t size;
	uint64_t rounds;   /* 0: workload default */
	int threads;       /* 0: workload default */
	int count_only;
	int pin_producer, pin_consumer; /* CPU for xthread's threads, -1: any */
};

static struct opts O = { .size = 32, .pin_producer = -1, .pin_consumer = -1 };

/* pin the calling thread to one CPU (xthread across NUMA nodes) */
static void pin_to(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
		fprintf(stderr, "bench: cannot pin to cpu %d\n", cpu);
}

/* start barrier so that all threads begin together */
static pthread_barrier_t start_barrier;

/* ------------------------------------------------------------ tight */

static void tight_loop(uint64_t n, size_t size)
{
	for (uint64_t i = 0; i < n; i++) {
		void *p = malloc(size);
		if (__builtin_expect(p == NULL, 0))
			die("malloc failed");
		touch(p);
		free(p);
	}
}

static void *tight_thread(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start_barrier);
	tight_loop(O.iters, O.size);
	return NULL;
}

/* ------------------------------------------------------------ batch */

static void batch_rounds(void **arr, uint64_t n, uint64_t rounds, size_t size)
{
	for (uint64_t r = 0; r < rounds; r++) {
		for (uint64_t i = 0; i < n; i++) {
			void *p = malloc(size);
			if (__builtin_expect(p == NULL, 0))
				die("malloc failed");
			touch(p);
			arr[i] = p;
		}
		for (uint64_t i = 0; i < n; i++)
			free(arr[i]);
	}
}

static void *batch_thread(void *arg)
{
	void **arr = arg;
	pthread_barrier_wait(&start_barrier);
	batch_rounds(arr, O.iters, O.rounds, O.size);
	return NULL;
}

/* ------------------------------------------------------------ xthread */

#define RING_SIZE 1024 /* power of two */
#define SIZES 4096     /* power of two */

struct ring {
	_Alignas(64) _Atomic uint64_t head; /* written by the consumer */
	_Alignas(64) uint64_t tail_cache;   /* producer's copy of head */
	_Alignas(64) _Atomic uint64_t tail; /* written by the producer */
	_Alignas(64) uint64_t head_cache;   /* consumer's copy of tail */
	_Alignas(64) void *slot[RING_SIZE];
	uint32_t sizes[SIZES];
	pthread_t prod, cons;
};

static inline void backoff(unsigned *spins)
{
	if (++*spins < 256)
		cpu_relax();
	else
		sched_yield(); /* the other side may not be running */
}

static void *producer(void *arg)
{
	struct ring *r = arg;
	uint64_t n = O.iters, tail = 0;
	pin_to(O.pin_producer);
	pthread_barrier_wait(&start_barrier);
	for (uint64_t i = 0; i < n; i++) {
		void *p = malloc(r->sizes[i & (SIZES - 1)]);
		if (__builtin_expect(p == NULL, 0))
			die("malloc failed");
		touch(p);
		unsigned spins = 0;
		while (tail - r->tail_cache >= RING_SIZE) {
			r->tail_cache = atomic_load_explicit(&r->head, memory_order_acquire);
			if (tail - r->tail_cache >= RING_SIZE)
				backoff(&spins);
		}
		r->slot[tail & (RING_SIZE - 1)] = p;
		tail++;
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct ring *r = arg;
	uint64_t n = O.iters, head = 0;
	pin_to(O.pin_consumer);
	pthread_barrier_wait(&start_barrier);
	while (head < n) {
		unsigned spins = 0;
		while (head == r->head_cache) {
			r->head_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
			if (head == r->head_cache)
				backoff(&spins);
		}
		/* drain everything that is available, then publish once */
		while (head != r->head_cache) {
			void *p = r->slot[head & (RING_SIZE - 1)];
			touch(p);
			free(p);
			head++;
		}
		atomic_store_explicit(&r->head, head, memory_order_release);
	}
	return NULL;
}

/* sizes 8..1024, skewed towards small ones (roughly log-uniform) */
static void fill_sizes(uint32_t *sizes, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (int i = 0; i < SIZES; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned shift = 3 + (unsigned)(x % 8);        /* 8 .. 1024 */
		uint32_t lo = 1u << shift;
		uint32_t s = lo + (uint32_t)((x >> 8) % lo);   /* [lo, 2lo) */
		sizes[i] = s > 1024 ? 1024 : s;
	}
}

/* ------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench tight|batch|xthread|rss [--iters N] [--size S] [--rounds R]\n"
		"             [--threads T] [--count-only] [--pin-producer CPU] [--pin-consumer CPU]\n"
		"  tight    N malloc(S)+free pairs per thread (N=20000000, S=32, T=1)\n"
		"  batch    per thread: R rounds of N mallocs then N frees (N=1000000, R=10)\n"
		"  xthread  T/2 producer/consumer pairs, N cross-thread frees each\n"
		"           (N=10000000, T=2), sizes 8..1024\n"
		"  --count-only  fixed small run for callgrind (tight: N=1000000;\n"
		"                batch: R=1, N=1000000); single thread\n");
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	/* accept k/M/G suffixes: --iters 10M */
	if (*end == 'k' || *end == 'K') { v *= 1000ull; end++; }
	else if (*end == 'm' || *end == 'M') { v *= 1000000ull; end++; }
	else if (*end == 'g' || *end == 'G') { v *= 1000000000ull; end++; }
	if (errno || *end || s[0] == '-') {
		fprintf(stderr, "bench: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

/* peak RSS (VmHWM) in KiB */
static long vm_hwm_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmHWM:", 6))
			v = atol(line + 6);
	fclose(f);
	return v;
}

/* rss: how much the peak RSS grows for n live objects of size bytes (the
 * pointer array is allocated and touched before the baseline is taken) */
static int rss_workload(uint64_t n, size_t size)
{
	void **arr = malloc(n * sizeof *arr);
	if (!arr)
		die("out of memory");
	/* non-zero: the compiler may not turn malloc+memset into a calloc that
	 * leaves the pages untouched until the loop below */
	memset(arr, 0x5a, n * sizeof *arr);
	long base = vm_hwm_kib();
	for (uint64_t i = 0; i < n; i++) {
		arr[i] = malloc(size);
		if (!arr[i])
			die("malloc failed");
		memset(arr[i], 1, size);
	}
	long peak = vm_hwm_kib();
	printf("workload=rss objects=%" PRIu64 " size=%zu heap_mib=%.1f payload_mib=%.1f\n", n, size,
	       (double)(peak - base) / 1024.0, (double)n * (double)size / 1048576.0);
	for (uint64_t i = 0; i < n; i++)
		free(arr[i]);
	free(arr);
	return 0;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--count-only")) {
			O.count_only = 1;
		} else if (!strcmp(a, "--iters") || !strcmp(a, "-n")) {
			if (!v) die("--iters needs a value");
			O.iters = parse_u64(v, "--iters"); i++;
		} else if (!strcmp(a, "--size") || !strcmp(a, "-s")) {
			if (!v) die("--size needs a value");
			O.size = (size_t)parse_u64(v, "--size"); i++;
		} else if (!strcmp(a, "--rounds") || !strcmp(a, "-r")) {
			if (!v) die("--rounds needs a value");
			O.rounds = parse_u64(v, "--rounds"); i++;
		} else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
			if (!v) die("--threads needs a value");
			O.threads = (int)parse_u64(v, "--threads"); i++;
		} else if (!strcmp(a, "--pin-producer") || !strcmp(a, "--pin-consumer")) {
			if (!v) die("--pin-producer/--pin-consumer need a CPU number");
			int cpu = (int)parse_u64(v, a);
			if (a[6] == 'p')
				O.pin_producer = cpu;
			else
				O.pin_consumer = cpu;
			i++;
		} else if (a[0] != '-' && !O.workload) {
			O.workload = a;
		} else {
			fprintf(stderr, "bench: unknown argument %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!O.workload) {
		usage(stderr);
		return 2;
	}

	int is_tight = !strcmp(O.workload, "tight");
	int is_batch = !strcmp(O.workload, "batch");
	int is_xthread = !strcmp(O.workload, "xthread");
	if (!strcmp(O.workload, "rss"))
		return rss_workload(O.iters ? O.iters : 1000000, O.size);
	if (!is_tight && !is_batch && !is_xthread) {
		fprintf(stderr, "bench: unknown workload %s\n", O.workload);
		return 2;
	}
	if (O.size == 0)
		die("--size must be > 0");

	if (O.count_only) {
		/* Minimal, single-threaded: the only per-pair work is the
		 * allocator, one byte store and the loop itself. */
		if (is_xthread)
			die("--count-only applies to tight and batch only");
		if (O.threads > 1)
			die("--count-only is single-threaded");
		uint64_t n = O.iters ? O.iters : 1000000;
		uint64_t rounds = is_batch ? (O.rounds ? O.rounds : 1) : 1;
		double t0 = now();
		if (is_tight) {
			tight_loop(n, O.size);
		} else {
			void **arr = n ? malloc(n * sizeof *arr) : NULL;
			if (n && !arr)
				die("out of memory");
			batch_rounds(arr, n, rounds, O.size);
			free(arr);
		}
		double secs = now() - t0;
		double ops = (double)n * (double)rounds;
		/* Format on the stack and write(2) it: stdio would malloc its
		 * buffer here, after the loop, and with glibc that request
		 * triggers malloc_consolidate over all the freed fastbin chunks
		 * of the batch run (~70 instructions per pair charged to an
		 * unrelated call).  Keep the measurement to the pairs. */
		char line[200];
		int len = snprintf(line, sizeof line,
				   "workload=%s threads=1 ops=%.0f seconds=%.6f mops=%.3f\n",
				   O.workload, ops, secs, secs > 0 ? ops / secs / 1e6 : 0.0);
		if (len > 0 && write(1, line, (size_t)len) < 0)
			return 1;
		return 0;
	}

	int threads;
	if (is_xthread) {
		threads = O.threads ? O.threads : 2;
		if (threads < 2 || threads % 2)
			die("xthread needs an even number of threads (>= 2)");
	} else {
		threads = O.threads ? O.threads : 1;
		if (threads < 1)
			die("--threads must be >= 1");
	}
	if (!O.iters)
		O.iters = is_tight ? 20000000 : is_batch ? 1000000 : 10000000;
	if (!O.rounds)
		O.rounds = is_batch ? 10 : 1;

	pthread_t *tid = calloc((size_t)threads, sizeof *tid);
	void **args = calloc((size_t)threads, sizeof *args);
	if (!tid || !args)
		die("out of memory");
	if (pthread_barrier_init(&start_barrier, NULL, (unsigned)threads + 1))
		die("pthread_barrier_init failed");

	double ops = 0;
	if (is_tight) {
		ops = (double)O.iters * threads;
		for (int t = 0; t < threads; t++)
			if (pthread_create(&tid[t], NULL, tight_thread, NULL))
				die("pthread_create failed");
	} else if (is_batch) {
		ops = (double)O.iters * (double)O.rounds * threads;
		for (int t = 0; t < threads; t++) {
			/* the pointer arrays are set up (and faulted in) before
			 * the clock starts */
			void **arr = malloc(O.iters * sizeof *arr);
			if (!arr)
				die("out of memory");
			memset(arr, 0, O.iters * sizeof *arr);
			args[t] = arr;
			if (pthread_create(&tid[t], NULL, batch_thread, arr))
				die("pthread_create failed");
		}
	} else {
		ops = (double)O.iters * (threads / 2);
		for (int t = 0; t < threads / 2; t++) {
			struct ring *r = aligned_alloc(64, sizeof *r);
			if (!r)
				die("out of memory");
			memset(r, 0, sizeof *r);
			fill_sizes(r->sizes, (uint64_t)t + 1);
			args[t] = r;
			if (pthread_create(&r->prod, NULL, producer, r) ||
			    pthread_create(&r->cons, NULL, consumer, r))
				die("pthread_create failed");
		}
	}

	pthread_barrier_wait(&start_barrier);
	double t0 = now();
	if (is_xthread) {
		for (int t = 0; t < threads / 2; t++) {
			struct ring *r = args[t];
			pthread_join(r->prod, NULL);
			pthread_join(r->cons, NULL);
		}
	} else {
		for (int t = 0; t < threads; t++)
			pthread_join(tid[t], NULL);
	}
	double secs = now() - t0;

	for (int t = 0; t < threads; t++)
		free(args[t]);
	free(args);
	free(tid);
	pthread_barrier_destroy(&start_barrier);

	printf("workload=%s threads=%d ops=%.0f seconds=%.6f mops=%.3f\n",
	       O.workload, threads, ops, secs, secs > 0 ? ops / secs / 1e6 : 0.0);
	return 0;
}
