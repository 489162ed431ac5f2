/* SPDX-License-Identifier: MIT */
/* perf/workloads.c: multi-threaded allocator workloads for perf/run.
 *
 * Uses only the standard malloc API and pthreads, so the same binary runs
 * under any allocator with LD_PRELOAD (nalloc, glibc, jemalloc, tcmalloc,
 * mimalloc).  perf/run drives it; see perf/README.md.
 *
 * usage: workloads WORKLOAD [--threads T] [--seconds S] [--size-scale F]
 *                           [--seed N] [--cpus LIST] [--load N]
 *
 *   --threads T      worker threads (default 2)
 *   --seconds S      length of the timed phase (default 2; decimals allowed)
 *   --size-scale F   multiply every object size by F (default 1)
 *   --seed N         seed of the per-thread random streams (default 1): the
 *                    sequence of operations of each thread is a function of
 *                    the seed and the thread's index; how far along it a
 *                    thread gets depends on the time it is given
 *   --cpus LIST      pin worker i to the (i mod n)-th CPU of LIST (e.g.
 *                    0,2,1,3 or 0-7); perf/run passes a list interleaved
 *                    over the NUMA nodes for its "spread" layout
 *   --load N         fork N processes that spin through the timed phase
 *                    (other programs keeping the CPUs busy)
 *
 * Workloads (one "op" in parentheses):
 *   larson         server churn: each thread keeps a window of 4096 live
 *                  objects of 16 B..1 KiB, frees a random one and allocates
 *                  a replacement (op: one free + one malloc).  Every 20000
 *                  ops a thread starts a successor, hands it the window and
 *                  exits, so objects are freed by threads that did not
 *                  allocate them.
 *   prodcons       ceil(T/2) producers allocate objects of 16 B..1 KiB in
 *                  batches of 64 and pass them through bounded queues to
 *                  floor(T/2) consumers, which read and free them
 *                  (op: one object).  T = 1: one thread that queues its own
 *                  batches and frees them 16 batches later.
 *   cache-scratch  the main thread allocates one 8-byte object per thread
 *                  and hands it over; each thread frees it, then repeatedly
 *                  allocates an 8-byte object, writes every byte 100 times
 *                  and frees it (op: one malloc/write/free).  Slow when the
 *                  allocator puts two threads' objects in one cache line.
 *   xmalloc        threads in a ring: each allocates batches of 64 objects
 *                  of mixed sizes (8 B..64 KiB, mostly small), passes them
 *                  to the next thread, and frees the batches it receives
 *                  (op: one object).
 *   realloc-grow   each thread grows 8 objects in turn by realloc, 12-50%
 *                  a step, from 64 B to 4 MiB, writing the new part, then
 *                  frees it and starts again at 64 B (op: one realloc).
 *   kvcache        a hash table (32768 keys, 256 striped locks) of values
 *                  of 32 B..8 KiB (log-uniform), 90% of the accesses on 10%
 *                  of the keys; 80% gets (memcmp of the value), 15% sets
 *                  (allocate the new value, swap, free the old one), 5%
 *                  deletes (op: one get, set or delete).
 *   rptest         a window of 8192 objects of 16 B..16 KiB (biased to
 *                  small) per thread, a random one replaced each step; 1 in
 *                  16 victims is freed by the next thread (op: free+malloc)
 *   cache-thrash   cache-scratch without the hand-over: each thread
 *                  allocates all of its 8-byte objects itself
 *   sh6bench       rounds of 4096 objects cycling through many size
 *                  classes, freed in bursts (every other one backwards,
 *                  half reallocated, then all forwards) (op: one malloc)
 *   larson-own     larson without successor threads: each thread frees only
 *                  its own slots
 *   mstress        1024 local slots per thread (mostly small, 1% up to
 *                  256 KiB); 3/4 of the steps replace one, 1/4 swap one with
 *                  a shared array of 4096 (objects change threads); every
 *                  10000 steps the thread frees its objects and is replaced
 *                  (op: one malloc)
 *   thread-mem     each thread fills up to 0.4 MiB of 16 B..32 KiB blocks,
 *                  then frees 7 of 8 at once, and again (op: one malloc);
 *                  reports live_peak_kib, the most held at once
 *                  (counted at every malloc and free), and
 *                  target_live_kib, threads x 0.4 MiB (what they fill
 *                  up to)
 *   malloc-large   20 buffers of 5..25 MiB per thread, a random one
 *                  replaced each step, every page written (op: one buffer)
 *   batch          rounds of 1M x 32 B allocated, then freed in a random
 *                  order; whole rounds only (op: one malloc + its free)
 *   churn          each thread holds ~32 MiB of objects of the current
 *                  phase's sizes (six phases of S/6: small, medium, large,
 *                  twice), replacing random ones; half the frees go to the
 *                  other thread (op: one malloc); reports live and RSS at
 *                  the end of each phase
 *   idle-producer  worker 0 allocates 512 MiB and passes it to workers
 *                  1..T-2, which free it; worker 0 stays idle; then worker
 *                  T-1 allocates 512 MiB (untimed: S is unused; op: one
 *                  malloc or free); reports rss_idle_kib and live_peak_kib
 *   startup        no threads: 64 mallocs and exit (perf/run times execs)
 *
 * Each run prints one line on stdout:
 *   workload=W threads=T seconds=S ops=N mops=X rss_kib=R node_rss_kib=N0:a,N1:b
 *   maxrss_kib=P [workload fields]
 * seconds is the measured length of the timed phase, mops = ops / seconds
 * / 1e6.  rss_kib (/proc/self/statm) and node_rss_kib (the N<node>=<pages>
 * fields of /proc/self/numa_maps times each mapping's kernelpagesize_kB,
 * summed over all mappings; "-" when the kernel has no numa_maps) are taken
 * at the end of the timed phase, before anything is freed; maxrss_kib
 * (VmHWM) is the peak of the whole run.  Everything is freed before the
 * program exits.
 *
 * WORKLOADS_STATS_JSON=PATH: if the preloaded allocator exports
 * nalloc_stats_print (nalloc does), write its JSON statistics to PATH at
 * the same moment as the RSS figures (found with dlsym; nothing else
 * depends on nalloc).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "perf_util.h"

#define CACHE_LINE 64
#define MAX_THREADS 4096
#define MAX_CPUS 4096
#define MAX_NODES 1024

/* ------------------------------------------------------------ common */

static struct {
	const char *workload;
	int threads;
	double seconds;
	double size_scale;
	uint64_t seed;
	int cpus[MAX_CPUS];
	int ncpus;
	int load; /* busy-looping processes during the timed phase */
} O = { .threads = 2, .seconds = 2.0, .size_scale = 1.0, .seed = 1 };

static atomic_int stop;                 /* set by the main thread at the end of the timed phase */
static pthread_barrier_t start_bar;     /* workers + main: start of the timed phase */
static pthread_barrier_t done_bar;      /* workers + main: workers stopped, nothing freed yet */
static pthread_barrier_t free_bar;      /* workers + main: RSS measured, free everything */

/* per-worker operation counts, one cache line each */
struct counter {
	_Alignas(CACHE_LINE) uint64_t ops;
};
static struct counter *counters;

/* the compiler must not elide malloc/free pairs or the writes */
static __thread void *volatile sink;

static void die(const char *msg)
{
	fprintf(stderr, "workloads: %s\n", msg);
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (__builtin_expect(p == NULL, 0))
		die("out of memory");
	return p;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: small, fast, good enough for choosing sizes and victims */
static inline uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* seed of worker i's stream (different workloads use different salts) */
static uint64_t thread_seed(int i, uint64_t salt)
{
	uint64_t s = O.seed * 0x2545f4914f6cdd1dULL + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL + salt;
	rnd(&s);
	return s;
}

static inline double unit(uint64_t *s) /* uniform in [0, 1) */
{
	return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

static size_t scaled(double bytes)
{
	double v = bytes * O.size_scale;
	return v < 1 ? 1 : (size_t)v;
}

/* Size tables: 4096 sizes drawn once from the seed, then indexed by the
 * per-thread random streams (cheaper than a pow() per operation). */
#define NSIZES 4096
struct sizes {
	uint32_t v[NSIZES];
};

static void sizes_uniform(struct sizes *t, size_t lo, size_t hi, uint64_t salt)
{
	uint64_t s = thread_seed(-1, salt);
	for (int i = 0; i < NSIZES; i++)
		t->v[i] = (uint32_t)(lo + rnd(&s) % (hi - lo + 1));
}

static void sizes_loguniform(struct sizes *t, size_t lo, size_t hi, uint64_t salt)
{
	uint64_t s = thread_seed(-1, salt);
	for (int i = 0; i < NSIZES; i++)
		t->v[i] = (uint32_t)((double)lo * pow((double)hi / (double)lo, unit(&s)));
}

static inline size_t pick(const struct sizes *t, uint64_t *s)
{
	return t->v[rnd(s) & (NSIZES - 1)];
}

/* write one byte per cache line and the last byte, as a program filling
 * in a new object would touch its lines */
static inline void fill(void *p, size_t n, unsigned char v)
{
	volatile unsigned char *c = p;
	for (size_t i = 0; i < n; i += CACHE_LINE)
		c[i] = v;
	c[n - 1] = v;
	sink = p;
}


static void pin(int i)
{
	if (O.ncpus == 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(O.cpus[i % O.ncpus], &set);
	int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
	if (e != 0) {
		static atomic_int warned;
		if (!atomic_exchange(&warned, 1))
			fprintf(stderr, "workloads: cannot pin to cpu %d: %s\n", O.cpus[i % O.ncpus],
				strerror(e));
	}
}

static inline int stopped(void)
{
	return atomic_load_explicit(&stop, memory_order_relaxed);
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int e = pthread_create(t, NULL, fn, arg);
	if (e != 0) {
		fprintf(stderr, "workloads: pthread_create: %s\n", strerror(e));
		exit(2);
	}
}

/* ------------------------------------------------------------ memory figures */

static long rss_kib(void)
{
	int fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		return -1;
	char buf[256];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	unsigned long size, res;
	if (sscanf(buf, "%lu %lu", &size, &res) != 2)
		return -1;
	return (long)(res * (unsigned long)sysconf(_SC_PAGESIZE) / 1024);
}

/* peak resident memory of this program: VmHWM of /proc/self/status (the
 * high-water mark of this address space).  ru_maxrss is not used when
 * VmHWM exists: Linux carries it over exec from the address space of the
 * forking parent, so a child of a large Python process reports the
 * parent's RSS. */
static long peak_rss_kib(void)
{
	static char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			char *p = strstr(buf, "\nVmHWM:");
			long v;
			if (p && sscanf(p + 7, "%ld", &v) == 1)
				return v;
		}
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static uint64_t node_kib[MAX_NODES];
static int node_max = -1;

/* one line of numa_maps: add N<node>=<pages> x kernelpagesize_kB */
static void numa_maps_line(char *line)
{
	uint64_t pages[64];
	int nodes[64], n = 0;
	uint64_t kpsz = (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
	char *save = NULL;
	for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (tok[0] == 'N' && tok[1] >= '0' && tok[1] <= '9') {
			char *end;
			long node = strtol(tok + 1, &end, 10);
			if (*end == '=' && node >= 0 && node < MAX_NODES && n < 64) {
				nodes[n] = (int)node;
				pages[n++] = strtoull(end + 1, NULL, 10);
			}
		} else if (strncmp(tok, "kernelpagesize_kB=", 18) == 0) {
			kpsz = strtoull(tok + 18, NULL, 10);
		}
	}
	for (int i = 0; i < n; i++) {
		node_kib[nodes[i]] += pages[i] * kpsz;
		if (nodes[i] > node_max)
			node_max = nodes[i];
	}
}

/* Reads /proc/self/numa_maps with read(2) into a static buffer, so that the
 * measurement itself allocates nothing.  Returns 0, or -1 without numa_maps. */
static int node_rss(void)
{
	static char buf[1 << 16];
	int fd = open("/proc/self/numa_maps", O_RDONLY);
	if (fd < 0)
		return -1;
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		char *line = buf, *nl;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
			*nl = 0;
			numa_maps_line(line);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof buf - 1) /* absurdly long line: drop it */
			have = 0;
	}
	if (have > 0) {
		buf[have] = 0;
		numa_maps_line(buf);
	}
	close(fd);
	return 0;
}

static char report_mem[64 + MAX_NODES * 24];

/* at the end of the timed phase, before anything is freed */
static void measure(void)
{
	long rss = rss_kib();
	int have_numa = node_rss() == 0 && node_max >= 0;
	size_t off = (size_t)snprintf(report_mem, sizeof report_mem, "rss_kib=%ld node_rss_kib=", rss);
	if (!have_numa) {
		snprintf(report_mem + off, sizeof report_mem - off, "-");
	} else {
		for (int i = 0; i <= node_max && off < sizeof report_mem - 32; i++) {
			if (node_kib[i] == 0 && i != 0)
				continue;
			off += (size_t)snprintf(report_mem + off, sizeof report_mem - off, "%sN%d:%" PRIu64,
						off && report_mem[off - 1] != '=' ? "," : "", i, node_kib[i]);
		}
	}
	const char *path = getenv("WORKLOADS_STATS_JSON");
	if (path && *path) {
		void (*print)(FILE *, int) = (void (*)(FILE *, int))dlsym(RTLD_DEFAULT, "nalloc_stats_print");
		if (print) {
			FILE *f = fopen(path, "w");
			if (f) {
				print(f, 1 /* NALLOC_STATS_JSON */);
				fclose(f);
			}
		}
	}
}

/* ------------------------------------------------------------ larson */

#define LARSON_WINDOW 4096
#define LARSON_ROUND 20000

struct lslot {
	_Alignas(CACHE_LINE) int idx;
	void **win;
	uint64_t rng;
	pthread_t prev;   /* the predecessor, joined by its successor */
	int has_prev;
	pthread_t self;   /* the current (finally: last) thread of the slot */
	uint64_t gens;
};
static struct lslot *lslots;
static struct sizes lsizes;
static int larson_handoff = 1; /* 0: larson-own, the threads never hand over */

static void *larson_thread(void *arg)
{
	struct lslot *sl = arg;
	if (sl->has_prev)
		pthread_join(sl->prev, NULL);
	sl->self = pthread_self();
	pin(sl->idx);
	if (!sl->has_prev) {
		/* first generation: fill the window, then wait for the start */
		for (int i = 0; i < LARSON_WINDOW; i++) {
			size_t n = pick(&lsizes, &sl->rng);
			sl->win[i] = xmalloc(n);
			fill(sl->win[i], n, (unsigned char)i);
		}
		pthread_barrier_wait(&start_bar);
	}
	uint64_t ops = 0;
	for (;;) {
		uint64_t i;
		for (i = 0; i < LARSON_ROUND; i++) {
			if ((i & 255) == 0 && stopped())
				break;
			uint64_t r = rnd(&sl->rng);
			unsigned v = (unsigned)(r & (LARSON_WINDOW - 1));
			free(sl->win[v]);
			size_t n = lsizes.v[(r >> 32) & (NSIZES - 1)];
			sl->win[v] = xmalloc(n);
			fill(sl->win[v], n, (unsigned char)r);
		}
		ops += i;
		if (stopped())
			break;
		if (!larson_handoff)
			continue;
		/* thread exit and replacement: a new thread inherits the window */
		pthread_t t;
		sl->prev = pthread_self();
		sl->has_prev = 1;
		sl->gens++;
		counters[sl->idx].ops += ops;
		if (pthread_create(&t, NULL, larson_thread, sl) == 0)
			return NULL; /* the successor owns sl from now on */
		sl->has_prev = 0; /* no successor: carry on in this thread */
		sl->gens--;
		ops = 0;
	}
	counters[sl->idx].ops += ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	for (int i = 0; i < LARSON_WINDOW; i++)
		free(sl->win[i]);
	free(sl->win);
	return NULL;
}

static void larson_start(int T)
{
	sizes_uniform(&lsizes, scaled(16), scaled(1024), 1);
	lslots = xmalloc(sizeof *lslots * (size_t)T);
	for (int i = 0; i < T; i++) {
		memset(&lslots[i], 0, sizeof lslots[i]);
		lslots[i].idx = i;
		lslots[i].rng = thread_seed(i, 1);
		lslots[i].win = xmalloc(sizeof(void *) * LARSON_WINDOW);
		pthread_t t;
		start_thread(&t, larson_thread, &lslots[i]);
	}
}

static void larson_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(lslots[i].self, NULL);
	free(lslots);
}

/* ------------------------------------------------------------ batch queues */

#define BATCH 64
struct batch {
	int n;
	size_t bytes; /* churn: the bytes of the objects (the others leave it 0) */
	void *p[BATCH];
};

/* bounded FIFO of batches, protected by a mutex */
struct queue {
	_Alignas(CACHE_LINE) pthread_mutex_t mu;
	pthread_cond_t notfull, notempty;
	unsigned head, tail, cap; /* head: next to pop; tail: next to push */
	struct batch *slot;
};

static void queue_init(struct queue *q, unsigned cap)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->notfull, NULL);
	pthread_cond_init(&q->notempty, NULL);
	q->head = q->tail = 0;
	q->cap = cap;
	q->slot = xmalloc(sizeof(struct batch) * cap);
}

static void queue_destroy(struct queue *q)
{
	free(q->slot);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->notfull);
	pthread_cond_destroy(&q->notempty);
}

/* blocking unless stop is set; returns 1 if pushed */
static int queue_push(struct queue *q, const struct batch *b, int block)
{
	pthread_mutex_lock(&q->mu);
	while (q->tail - q->head == q->cap) {
		if (!block || stopped()) {
			pthread_mutex_unlock(&q->mu);
			return 0;
		}
		pthread_cond_wait(&q->notfull, &q->mu);
	}
	q->slot[q->tail++ % q->cap] = *b;
	pthread_cond_signal(&q->notempty);
	pthread_mutex_unlock(&q->mu);
	return 1;
}

/* returns 1 if popped; blocks while empty unless !block or stop is set */
static int queue_pop(struct queue *q, struct batch *b, int block)
{
	pthread_mutex_lock(&q->mu);
	while (q->tail == q->head) {
		if (!block || stopped()) {
			pthread_mutex_unlock(&q->mu);
			return 0;
		}
		pthread_cond_wait(&q->notempty, &q->mu);
	}
	*b = q->slot[q->head++ % q->cap];
	pthread_cond_signal(&q->notfull);
	pthread_mutex_unlock(&q->mu);
	return 1;
}

/* wake every waiter after stop is set */
static void queue_wake(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	pthread_cond_broadcast(&q->notfull);
	pthread_cond_broadcast(&q->notempty);
	pthread_mutex_unlock(&q->mu);
}

static void batch_free(struct batch *b)
{
	for (int i = 0; i < b->n; i++)
		free(b->p[i]);
	b->n = 0;
}

/* ------------------------------------------------------------ prodcons */

#define PC_QUEUE 16
struct pcthread {
	_Alignas(CACHE_LINE) int idx; /* worker index (for pinning and counters) */
	int role;                     /* 0 producer, 1 consumer, 2 both (T = 1) */
	struct queue *q;
	uint64_t rng;
	pthread_t tid;
};
static struct pcthread *pcth;
static struct queue *pcq;
static int pc_nq;
static struct sizes pcsizes;

static void pc_fill(struct batch *b, uint64_t *rng)
{
	for (b->n = 0; b->n < BATCH; b->n++) {
		size_t n = pick(&pcsizes, rng);
		void *p = xmalloc(n);
		fill(p, n, (unsigned char)b->n);
		b->p[b->n] = p;
	}
}

/* a consumer reads each object (one byte per line), then frees it */
static uint64_t pc_consume(struct batch *b)
{
	unsigned sum = 0;
	for (int i = 0; i < b->n; i++) {
		sum += *(volatile unsigned char *)b->p[i];
		free(b->p[i]);
	}
	sink = (void *)(uintptr_t)sum;
	uint64_t n = (uint64_t)b->n;
	b->n = 0;
	return n;
}

static void *pc_thread(void *arg)
{
	struct pcthread *t = arg;
	struct batch b = { 0 };
	uint64_t ops = 0;
	pin(t->idx);
	pthread_barrier_wait(&start_bar);
	if (t->role == 0) {
		while (!stopped()) {
			pc_fill(&b, &t->rng);
			if (!queue_push(t->q, &b, 1))
				break; /* stopped while the queue was full: keep b */
			b.n = 0;
		}
	} else if (t->role == 1) {
		while (!stopped() && queue_pop(t->q, &b, 1))
			ops += pc_consume(&b);
	} else { /* one thread: its own batches come back 16 batches later */
		while (!stopped()) {
			pc_fill(&b, &t->rng);
			if (!queue_push(t->q, &b, 0)) {
				struct batch old;
				queue_pop(t->q, &old, 0);
				ops += pc_consume(&old);
				queue_push(t->q, &b, 0);
			}
			b.n = 0;
		}
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	batch_free(&b);
	if (t->role != 0) /* every producer has stopped: drain my queue */
		while (queue_pop(t->q, &b, 0))
			batch_free(&b);
	return NULL;
}

static void prodcons_start(int T)
{
	sizes_uniform(&pcsizes, scaled(16), scaled(1024), 2);
	int P = T == 1 ? 1 : (T + 1) / 2, C = T == 1 ? 0 : T / 2;
	pc_nq = T == 1 ? 1 : C;
	pcq = xmalloc(sizeof *pcq * (size_t)pc_nq);
	for (int i = 0; i < pc_nq; i++)
		queue_init(&pcq[i], PC_QUEUE);
	pcth = xmalloc(sizeof *pcth * (size_t)T);
	/* producer j has worker index 2j, consumer j 2j+1: with a CPU list
	 * interleaved over the nodes, each pair spans two nodes */
	for (int j = 0; j < P; j++) {
		struct pcthread *t = &pcth[j];
		t->idx = T == 1 ? 0 : (j < C ? 2 * j : 2 * C + (j - C));
		t->role = T == 1 ? 2 : 0;
		t->q = &pcq[j % pc_nq];
		t->rng = thread_seed(t->idx, 2);
	}
	for (int j = 0; j < C; j++) {
		struct pcthread *t = &pcth[P + j];
		t->idx = 2 * j + 1;
		t->role = 1;
		t->q = &pcq[j];
		t->rng = thread_seed(t->idx, 2);
	}
	for (int i = 0; i < T; i++)
		start_thread(&pcth[i].tid, pc_thread, &pcth[i]);
}

static void prodcons_stop(int T)
{
	for (int i = 0; i < pc_nq; i++)
		queue_wake(&pcq[i]);
}

static void prodcons_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(pcth[i].tid, NULL);
	for (int i = 0; i < pc_nq; i++)
		queue_destroy(&pcq[i]);
	free(pcq);
	free(pcth);
}

/* ------------------------------------------------------------ cache-scratch */

#define CS_WRITES 100
struct csthread {
	_Alignas(CACHE_LINE) int idx;
	void *first; /* allocated by the main thread */
	size_t size;
	pthread_t tid;
};
static struct csthread *csth;

static void *cs_thread(void *arg)
{
	struct csthread *t = arg;
	size_t n = t->size;
	uint64_t ops = 0;
	pin(t->idx);
	pthread_barrier_wait(&start_bar);
	free(t->first); /* an allocator may hand this line straight back */
	while (!stopped()) {
		for (int k = 0; k < 64; k++) {
			volatile unsigned char *p = xmalloc(n);
			for (int w = 0; w < CS_WRITES; w++)
				for (size_t j = 0; j < n; j++)
					p[j] = (unsigned char)(p[j] + 1);
			sink = (void *)p;
			free((void *)p);
		}
		ops += 64;
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	return NULL;
}

static void cache_scratch_start(int T)
{
	csth = xmalloc(sizeof *csth * (size_t)T);
	size_t n = scaled(8);
	for (int i = 0; i < T; i++) { /* consecutive small objects: likely one line */
		csth[i].idx = i;
		csth[i].size = n;
		csth[i].first = xmalloc(n);
		memset(csth[i].first, 0, n);
	}
	for (int i = 0; i < T; i++)
		start_thread(&csth[i].tid, cs_thread, &csth[i]);
}

static void cache_scratch_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(csth[i].tid, NULL);
	free(csth);
}

/* ------------------------------------------------------------ xmalloc */

#define XM_QUEUE 8
struct xmthread {
	_Alignas(CACHE_LINE) int idx;
	struct queue in;  /* batches from the previous thread */
	struct queue *next;
	uint64_t rng;
	pthread_t tid;
};
static struct xmthread *xmth;
static struct sizes xmsizes;

static void *xm_thread(void *arg)
{
	struct xmthread *t = arg;
	struct batch b = { 0 }, r;
	uint64_t ops = 0;
	pin(t->idx);
	pthread_barrier_wait(&start_bar);
	while (!stopped()) {
		if (b.n == 0)
			for (b.n = 0; b.n < BATCH; b.n++) {
				size_t n = pick(&xmsizes, &t->rng);
				b.p[b.n] = xmalloc(n);
				fill(b.p[b.n], n, (unsigned char)b.n);
			}
		if (queue_push(t->next, &b, 0))
			b.n = 0;
		/* free what the previous thread passed on; if the next thread's
		 * queue is full, this is also how the ring makes progress */
		int got = 0;
		for (int k = 0; k < 2 && queue_pop(&t->in, &r, 0); k++, got++) {
			ops += (uint64_t)r.n;
			batch_free(&r);
		}
		if (!got && b.n)
			sched_yield(); /* the next thread may not be running */
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	batch_free(&b);
	while (queue_pop(&t->in, &r, 0)) /* nobody pushes any more */
		batch_free(&r);
	return NULL;
}

static void xmalloc_start(int T)
{
	/* 95% 8..512 B, 4% 512 B..8 KiB, 1% 8..64 KiB (log-uniform within) */
	uint64_t s = thread_seed(-1, 4);
	for (int i = 0; i < NSIZES; i++) {
		double u = unit(&s), lo, hi;
		if (u < 0.95)
			lo = 8, hi = 512;
		else if (u < 0.99)
			lo = 512, hi = 8192;
		else
			lo = 8192, hi = 65536;
		xmsizes.v[i] = (uint32_t)scaled(lo * pow(hi / lo, unit(&s)));
	}
	xmth = xmalloc(sizeof *xmth * (size_t)T);
	for (int i = 0; i < T; i++) {
		xmth[i].idx = i;
		queue_init(&xmth[i].in, XM_QUEUE);
		xmth[i].rng = thread_seed(i, 4);
	}
	for (int i = 0; i < T; i++)
		xmth[i].next = &xmth[(i + 1) % T].in;
	for (int i = 0; i < T; i++)
		start_thread(&xmth[i].tid, xm_thread, &xmth[i]);
}

static void xmalloc_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(xmth[i].tid, NULL);
	for (int i = 0; i < T; i++)
		queue_destroy(&xmth[i].in);
	free(xmth);
}

/* ------------------------------------------------------------ realloc-grow */

#define RG_OBJECTS 8
struct rgthread {
	_Alignas(CACHE_LINE) int idx;
	uint64_t rng;
	pthread_t tid;
	unsigned char *p[RG_OBJECTS];
	size_t size[RG_OBJECTS];
};
static struct rgthread *rgth;
static size_t rg_min, rg_max;

static void *rg_thread(void *arg)
{
	struct rgthread *t = arg;
	uint64_t ops = 0;
	pin(t->idx);
	for (int k = 0; k < RG_OBJECTS; k++) {
		t->size[k] = rg_min;
		t->p[k] = xmalloc(rg_min);
		memset(t->p[k], k, rg_min);
	}
	pthread_barrier_wait(&start_bar);
	for (unsigned k = 0; !stopped(); k = (k + 1) % RG_OBJECTS) {
		size_t old = t->size[k];
		/* grow by 2/16..8/16 of the size, plus 16 bytes */
		size_t n = old + old * (2 + rnd(&t->rng) % 7) / 16 + 16;
		if (n > rg_max) {
			free(t->p[k]);
			t->p[k] = xmalloc(rg_min);
			memset(t->p[k], (int)k, rg_min);
			t->size[k] = rg_min;
		} else {
			unsigned char *p = realloc(t->p[k], n);
			if (!p)
				die("realloc failed");
			unsigned char want = old == rg_min ? (unsigned char)k : (unsigned char)(old - 1);
			if (p[old - 1] != want)
				die("realloc-grow: realloc lost the object's contents");
			/* write the new part: one byte per 4 KiB page and every
			 * cache line of the first 4 KiB, and the last byte */
			for (size_t j = old; j < n; j += (j - old < 4096 ? CACHE_LINE : 4096))
				p[j] = (unsigned char)j;
			p[n - 1] = (unsigned char)(n - 1);
			t->p[k] = p;
			t->size[k] = n;
		}
		ops++;
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	for (int k = 0; k < RG_OBJECTS; k++)
		free(t->p[k]);
	return NULL;
}

static void realloc_grow_start(int T)
{
	rg_min = scaled(64);
	rg_max = scaled(4 << 20);
	if (rg_max < 2 * rg_min)
		rg_max = 2 * rg_min;
	rgth = xmalloc(sizeof *rgth * (size_t)T);
	for (int i = 0; i < T; i++) {
		rgth[i].idx = i;
		rgth[i].rng = thread_seed(i, 5);
	}
	for (int i = 0; i < T; i++)
		start_thread(&rgth[i].tid, rg_thread, &rgth[i]);
}

static void realloc_grow_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(rgth[i].tid, NULL);
	free(rgth);
}

/* ------------------------------------------------------------ kvcache */

#define KV_KEYS 32768u    /* power of two */
#define KV_BUCKETS 65536u /* power of two */
#define KV_STRIPES 256u
#define KV_PAT 64u        /* value offsets into the reference bytes */

struct kvent {
	uint64_t key;
	size_t len;
	unsigned char *val;
	struct kvent *next;
};
struct stripe {
	_Alignas(CACHE_LINE) pthread_mutex_t mu;
};
static struct kvent **kvtab;
static struct stripe kvlock[KV_STRIPES];
static unsigned char *kvref; /* reference bytes: a value of key k is kvref + k % KV_PAT */
static struct sizes kvsizes;
static size_t kv_maxlen;

struct kvthread {
	_Alignas(CACHE_LINE) int idx;
	uint64_t rng;
	pthread_t tid;
	uint64_t gets, hits, sets, dels;
};
static struct kvthread *kvth;

static inline unsigned kv_bucket(uint64_t key)
{
	return (unsigned)((key * 0x9e3779b97f4a7c15ULL) >> 48) & (KV_BUCKETS - 1);
}

static inline uint64_t kv_key(uint64_t *rng) /* 90% of the accesses on 10% of the keys */
{
	uint64_t r = rnd(rng);
	if ((r >> 32) % 10 != 0)
		return (r & 0xffffffffu) % (KV_KEYS / 10);
	return (r & 0xffffffffu) % KV_KEYS;
}

static unsigned char *kv_value(uint64_t key, size_t len)
{
	unsigned char *v = xmalloc(len);
	memcpy(v, kvref + key % KV_PAT, len);
	return v;
}

/* returns the value it replaced (to be freed outside the lock), or NULL */
static unsigned char *kv_set_locked(uint64_t key, unsigned char *val, size_t len)
{
	struct kvent **h = &kvtab[kv_bucket(key)];
	for (struct kvent *e = *h; e; e = e->next)
		if (e->key == key) {
			unsigned char *old = e->val;
			e->val = val;
			e->len = len;
			return old;
		}
	struct kvent *e = xmalloc(sizeof *e);
	e->key = key;
	e->len = len;
	e->val = val;
	e->next = *h;
	*h = e;
	return NULL;
}

static void *kv_thread(void *arg)
{
	struct kvthread *t = arg;
	uint64_t ops = 0;
	pin(t->idx);
	pthread_barrier_wait(&start_bar);
	while (!stopped()) {
		for (int k = 0; k < 64; k++) {
			uint64_t key = kv_key(&t->rng);
			unsigned b = kv_bucket(key);
			pthread_mutex_t *mu = &kvlock[b & (KV_STRIPES - 1)].mu;
			unsigned op = (unsigned)(rnd(&t->rng) % 100);
			if (op < 80) { /* get */
				t->gets++;
				pthread_mutex_lock(mu);
				for (struct kvent *e = kvtab[b]; e; e = e->next)
					if (e->key == key) {
						if (memcmp(e->val, kvref + key % KV_PAT, e->len) != 0)
							die("kvcache: value corrupted");
						t->hits++;
						break;
					}
				pthread_mutex_unlock(mu);
			} else if (op < 95) { /* set: new value, swap, free the old one */
				t->sets++;
				size_t len = pick(&kvsizes, &t->rng);
				unsigned char *v = kv_value(key, len);
				pthread_mutex_lock(mu);
				unsigned char *old = kv_set_locked(key, v, len);
				pthread_mutex_unlock(mu);
				free(old);
			} else { /* delete */
				t->dels++;
				struct kvent *gone = NULL;
				pthread_mutex_lock(mu);
				for (struct kvent **p = &kvtab[b]; *p; p = &(*p)->next)
					if ((*p)->key == key) {
						gone = *p;
						*p = gone->next;
						break;
					}
				pthread_mutex_unlock(mu);
				if (gone) {
					free(gone->val);
					free(gone);
				}
			}
		}
		ops += 64;
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	/* each thread frees its share of the buckets */
	for (unsigned b = (unsigned)t->idx; b < KV_BUCKETS; b += (unsigned)O.threads) {
		struct kvent *e = kvtab[b];
		while (e) {
			struct kvent *n = e->next;
			free(e->val);
			free(e);
			e = n;
		}
		kvtab[b] = NULL;
	}
	return NULL;
}

static void kvcache_start(int T)
{
	sizes_loguniform(&kvsizes, scaled(32), scaled(8192), 6);
	kv_maxlen = 0;
	for (int i = 0; i < NSIZES; i++)
		if (kvsizes.v[i] > kv_maxlen)
			kv_maxlen = kvsizes.v[i];
	kvref = xmalloc(kv_maxlen + KV_PAT);
	uint64_t s = thread_seed(-1, 7);
	for (size_t i = 0; i < kv_maxlen + KV_PAT; i++)
		kvref[i] = (unsigned char)rnd(&s);
	kvtab = calloc(KV_BUCKETS, sizeof *kvtab);
	if (!kvtab)
		die("out of memory");
	for (unsigned i = 0; i < KV_STRIPES; i++)
		pthread_mutex_init(&kvlock[i].mu, NULL);
	/* the main thread loads half of the keys, as a cache warmed at start-up */
	for (uint64_t key = 0; key < KV_KEYS; key++)
		if (rnd(&s) & 1) {
			size_t len = pick(&kvsizes, &s);
			free(kv_set_locked(key, kv_value(key, len), len));
		}
	kvth = xmalloc(sizeof *kvth * (size_t)T);
	for (int i = 0; i < T; i++) {
		memset(&kvth[i], 0, sizeof kvth[i]);
		kvth[i].idx = i;
		kvth[i].rng = thread_seed(i, 6);
	}
	for (int i = 0; i < T; i++)
		start_thread(&kvth[i].tid, kv_thread, &kvth[i]);
}

static void kvcache_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(kvth[i].tid, NULL);
	free(kvth);
	free(kvtab);
	free(kvref);
	for (unsigned i = 0; i < KV_STRIPES; i++)
		pthread_mutex_destroy(&kvlock[i].mu);
}

/* ------------------------------------------------------------ extra report fields */

/* workload-specific "key=value" fields appended to the result line */
static char extra[2048];

static void extra_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void extra_add(const char *fmt, ...)
{
	size_t off = strlen(extra);
	if (off >= sizeof extra - 2)
		return;
	if (off)
		extra[off++] = ' ';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(extra + off, sizeof extra - off, fmt, ap);
	va_end(ap);
}

/* sleeps s seconds (restarting after signals) */
static void sleep_s(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ larson-own */

static void larson_own_start(int T)
{
	larson_handoff = 0;
	larson_start(T);
}

/* ------------------------------------------------------------ cache-thrash */

static void cache_thrash_start(int T)
{
	csth = xmalloc(sizeof *csth * (size_t)T);
	for (int i = 0; i < T; i++) {
		csth[i].idx = i;
		csth[i].size = scaled(8);
		csth[i].first = NULL; /* each thread allocates all of its own objects */
	}
	for (int i = 0; i < T; i++)
		start_thread(&csth[i].tid, cs_thread, &csth[i]);
}

/* ------------------------------------------------------------ mstress */

#define MS_LOCAL 1024
#define MS_TRANSFER 4096 /* power of two */
#define MS_ROUND 10000
struct msslot {
	_Alignas(CACHE_LINE) int idx;
	uint64_t rng;
	pthread_t prev;
	int has_prev;
	pthread_t self;
	int started; /* the first generation has passed start_bar */
};
static struct msslot *msslots;
static _Atomic(void *) mstransfer[MS_TRANSFER]; /* objects any thread may take over and free */
static struct sizes mssizes;

static void *ms_thread(void *arg)
{
	struct msslot *sl = arg;
	if (sl->has_prev)
		pthread_join(sl->prev, NULL);
	sl->self = pthread_self();
	pin(sl->idx);
	if (!sl->started) {
		pthread_barrier_wait(&start_bar);
		sl->started = 1;
	}
again:;
	void **loc = xmalloc(sizeof(void *) * MS_LOCAL);
	for (int i = 0; i < MS_LOCAL; i++)
		loc[i] = NULL;
	uint64_t ops = 0;
	int i;
	for (i = 0; i < MS_ROUND; i++) {
		if ((i & 255) == 0 && stopped())
			break;
		uint64_t r = rnd(&sl->rng);
		unsigned v = (unsigned)(r & (MS_LOCAL - 1));
		if (((r >> 20) & 3) != 0) { /* 3/4: replace a local object */
			free(loc[v]);
			size_t n = mssizes.v[(r >> 32) & (NSIZES - 1)];
			loc[v] = xmalloc(n);
			fill(loc[v], n, (unsigned char)r);
			ops++;
		} else { /* 1/4: swap it with a shared slot: its object changes thread */
			unsigned g = (unsigned)((r >> 32) & (MS_TRANSFER - 1));
			loc[v] = atomic_exchange(&mstransfer[g], loc[v]);
		}
	}
	/* the thread ends: its own objects die with it, a successor starts */
	for (int k = 0; k < MS_LOCAL; k++)
		free(loc[k]);
	free(loc);
	counters[sl->idx].ops += ops;
	if (i == MS_ROUND && !stopped()) {
		pthread_t t;
		sl->prev = pthread_self();
		sl->has_prev = 1;
		if (pthread_create(&t, NULL, ms_thread, sl) == 0)
			return NULL;
		sl->has_prev = 0;
		goto again; /* no successor: carry on in this thread */
	}
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	return NULL;
}

static void mstress_start(int T)
{
	/* 90% 16..512 B, 9% 512 B..8 KiB, 1% 8..256 KiB (log-uniform within) */
	uint64_t s = thread_seed(-1, 8);
	for (int i = 0; i < NSIZES; i++) {
		double u = unit(&s), lo, hi;
		if (u < 0.90)
			lo = 16, hi = 512;
		else if (u < 0.99)
			lo = 512, hi = 8192;
		else
			lo = 8192, hi = 262144;
		mssizes.v[i] = (uint32_t)scaled(lo * pow(hi / lo, unit(&s)));
	}
	msslots = xmalloc(sizeof *msslots * (size_t)T);
	for (int i = 0; i < T; i++) {
		memset(&msslots[i], 0, sizeof msslots[i]);
		msslots[i].idx = i;
		msslots[i].rng = thread_seed(i, 8);
		pthread_t t;
		start_thread(&t, ms_thread, &msslots[i]);
	}
}

static void mstress_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(msslots[i].self, NULL);
	free(msslots);
	for (int g = 0; g < MS_TRANSFER; g++)
		free(atomic_exchange(&mstransfer[g], NULL));
}

/* ------------------------------------------------------------ rptest */

#define RP_WINDOW 8192
#define RP_QUEUE 8
struct rpthread {
	_Alignas(CACHE_LINE) int idx;
	struct queue in;
	struct queue *next;
	uint64_t rng;
	pthread_t tid;
	void **win;
};
static struct rpthread *rpth;
static struct sizes rpsizes;

static void *rp_thread(void *arg)
{
	struct rpthread *t = arg;
	struct batch out = { 0 }, r;
	uint64_t ops = 0;
	pin(t->idx);
	t->win = xmalloc(sizeof(void *) * RP_WINDOW);
	for (int i = 0; i < RP_WINDOW; i++) {
		size_t n = pick(&rpsizes, &t->rng);
		t->win[i] = xmalloc(n);
		fill(t->win[i], n, (unsigned char)i);
	}
	pthread_barrier_wait(&start_bar);
	while (!stopped()) {
		for (int k = 0; k < 64; k++) {
			uint64_t x = rnd(&t->rng);
			unsigned v = (unsigned)(x & (RP_WINDOW - 1));
			/* 1 in 16 objects goes to the next thread, which frees it */
			if (O.threads > 1 && ((x >> 16) & 15) == 0)
				out.p[out.n++] = t->win[v];
			else
				free(t->win[v]);
			size_t n = rpsizes.v[(x >> 32) & (NSIZES - 1)];
			t->win[v] = xmalloc(n);
			fill(t->win[v], n, (unsigned char)x);
			if (out.n == BATCH && !queue_push(t->next, &out, 0))
				batch_free(&out); /* the next thread is behind: free them here */
			out.n = out.n == BATCH ? 0 : out.n;
		}
		ops += 64;
		while (queue_pop(&t->in, &r, 0))
			batch_free(&r);
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	batch_free(&out);
	for (int i = 0; i < RP_WINDOW; i++)
		free(t->win[i]);
	free(t->win);
	return NULL;
}

static void rptest_start(int T)
{
	/* rptest-like: random sizes 16 B..16 KiB, biased to small (u^3) */
	uint64_t s = thread_seed(-1, 9);
	for (int i = 0; i < NSIZES; i++) {
		double u = unit(&s);
		rpsizes.v[i] = (uint32_t)scaled(16 + (16384 - 16) * u * u * u);
	}
	rpth = xmalloc(sizeof *rpth * (size_t)T);
	for (int i = 0; i < T; i++) {
		rpth[i].idx = i;
		queue_init(&rpth[i].in, RP_QUEUE);
		rpth[i].rng = thread_seed(i, 9);
	}
	for (int i = 0; i < T; i++)
		rpth[i].next = &rpth[(i + 1) % T].in;
	for (int i = 0; i < T; i++)
		start_thread(&rpth[i].tid, rp_thread, &rpth[i]);
}

static void rptest_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(rpth[i].tid, NULL);
	struct batch r;
	for (int i = 0; i < T; i++) {
		while (queue_pop(&rpth[i].in, &r, 0))
			batch_free(&r);
		queue_destroy(&rpth[i].in);
	}
	free(rpth);
}

/* ------------------------------------------------------------ thread-mem */

#define TM_SLOTS 8192
struct tmthread {
	_Alignas(CACHE_LINE) int idx;
	uint64_t rng;
	pthread_t tid;
	void **p;
	uint32_t *len;
	int n;
	size_t live;         /* bytes this thread holds */
};
static struct tmthread *tmth;
static struct sizes tmsizes;
static size_t tm_target;
/* all threads' bytes, counted at every malloc and free (one relaxed atomic
 * add: with more threads than CPUs, threads are descheduled in the middle
 * of a fill, and what they hold then is live too), and the most at once */
static atomic_size_t tm_live, tm_live_peak;

static void tm_add(struct tmthread *t, size_t add, size_t sub)
{
	t->live += add - sub;
	size_t live = atomic_fetch_add_explicit(&tm_live, add - sub, memory_order_relaxed) + add - sub;
	size_t peak = atomic_load_explicit(&tm_live_peak, memory_order_relaxed);
	while (live > peak && !atomic_compare_exchange_weak_explicit(&tm_live_peak, &peak, live,
	                                                             memory_order_relaxed,
	                                                             memory_order_relaxed))
		;
}

static void *tm_thread(void *arg)
{
	struct tmthread *t = arg;
	uint64_t ops = 0;
	pin(t->idx);
	t->p = xmalloc(sizeof(void *) * TM_SLOTS);
	t->len = xmalloc(sizeof(uint32_t) * TM_SLOTS);
	pthread_barrier_wait(&start_bar);
	while (!stopped()) {
		/* fill up to the target, then free 7 of every 8 blocks at once */
		while (t->live < tm_target && t->n < TM_SLOTS) {
			size_t n = pick(&tmsizes, &t->rng);
			t->p[t->n] = xmalloc(n);
			fill(t->p[t->n], n, (unsigned char)t->n);
			t->len[t->n++] = (uint32_t)n;
			tm_add(t, n, 0);
			ops++;
		}
		int k = 0;
		for (int i = 0; i < t->n; i++) {
			if ((i & 7) == 7) {
				t->p[k] = t->p[i];
				t->len[k++] = t->len[i];
			} else {
				free(t->p[i]);
				tm_add(t, 0, t->len[i]);
			}
		}
		t->n = k;
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	for (int i = 0; i < t->n; i++)
		free(t->p[i]);
	free(t->p);
	free(t->len);
	return NULL;
}

static void thread_mem_start(int T)
{
	sizes_loguniform(&tmsizes, scaled(16), scaled(32768), 10);
	tm_target = scaled(400 * 1024);
	tmth = xmalloc(sizeof *tmth * (size_t)T);
	for (int i = 0; i < T; i++) {
		memset(&tmth[i], 0, sizeof tmth[i]);
		tmth[i].idx = i;
		tmth[i].rng = thread_seed(i, 10);
	}
	for (int i = 0; i < T; i++)
		start_thread(&tmth[i].tid, tm_thread, &tmth[i]);
}

static void thread_mem_join(int T)
{
	extra_add("live_peak_kib=%zu", atomic_load(&tm_live_peak) / 1024);
	/* what the threads fill up to, all together (0.4 MiB each, scaled):
	 * the unit of the speed issue's thread-mem figures */
	extra_add("target_live_kib=%zu", tm_target * (size_t)T / 1024);
	for (int i = 0; i < T; i++)
		pthread_join(tmth[i].tid, NULL);
	free(tmth);
}

/* ------------------------------------------------------------ malloc-large */

#define ML_BUFFERS 20
struct mlthread {
	_Alignas(CACHE_LINE) int idx;
	uint64_t rng;
	pthread_t tid;
	unsigned char *p[ML_BUFFERS];
};
static struct mlthread *mlth;
static size_t ml_lo, ml_hi;

static void *ml_thread(void *arg)
{
	struct mlthread *t = arg;
	uint64_t ops = 0;
	pin(t->idx);
	pthread_barrier_wait(&start_bar);
	while (!stopped()) {
		unsigned v = (unsigned)(rnd(&t->rng) % ML_BUFFERS);
		free(t->p[v]);
		size_t n = ml_lo + rnd(&t->rng) % (ml_hi - ml_lo + 1);
		t->p[v] = xmalloc(n);
		for (size_t j = 0; j < n; j += 4096) /* touch every page */
			t->p[v][j] = (unsigned char)j;
		t->p[v][n - 1] = 1;
		ops++;
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	for (int k = 0; k < ML_BUFFERS; k++)
		free(t->p[k]);
	return NULL;
}

static void malloc_large_start(int T)
{
	ml_lo = scaled(5 << 20);
	ml_hi = scaled(25 << 20);
	mlth = xmalloc(sizeof *mlth * (size_t)T);
	for (int i = 0; i < T; i++) {
		memset(&mlth[i], 0, sizeof mlth[i]);
		mlth[i].idx = i;
		mlth[i].rng = thread_seed(i, 11);
	}
	for (int i = 0; i < T; i++)
		start_thread(&mlth[i].tid, ml_thread, &mlth[i]);
}

static void malloc_large_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(mlth[i].tid, NULL);
	free(mlth);
}

/* ------------------------------------------------------------ batch */

#define BA_OBJECTS (1 << 20)
struct bathread {
	_Alignas(CACHE_LINE) int idx;
	uint64_t rng;
	pthread_t tid;
	void **p;
	uint32_t *perm; /* the order of the frees: a random permutation */
};
static struct bathread *bath;

static void *ba_thread(void *arg)
{
	struct bathread *t = arg;
	size_t n = scaled(32);
	uint64_t ops = 0;
	pin(t->idx);
	t->p = xmalloc(sizeof(void *) * BA_OBJECTS);
	t->perm = xmalloc(sizeof(uint32_t) * BA_OBJECTS);
	for (uint32_t i = 0; i < BA_OBJECTS; i++)
		t->perm[i] = i;
	for (uint32_t i = BA_OBJECTS - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rnd(&t->rng) % (i + 1)), x = t->perm[i];
		t->perm[i] = t->perm[j];
		t->perm[j] = x;
	}
	pthread_barrier_wait(&start_bar);
	do { /* whole rounds: 1M objects allocated, then all freed */
		for (uint32_t i = 0; i < BA_OBJECTS; i++) {
			t->p[i] = xmalloc(n);
			*(volatile char *)t->p[i] = (char)i;
		}
		for (uint32_t i = 0; i < BA_OBJECTS; i++)
			free(t->p[t->perm[i]]);
		ops += BA_OBJECTS;
	} while (!stopped());
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	free(t->p);
	free(t->perm);
	return NULL;
}

static void batch_start(int T)
{
	bath = xmalloc(sizeof *bath * (size_t)T);
	for (int i = 0; i < T; i++) {
		bath[i].idx = i;
		bath[i].rng = thread_seed(i, 12);
	}
	for (int i = 0; i < T; i++)
		start_thread(&bath[i].tid, ba_thread, &bath[i]);
}

static void batch_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(bath[i].tid, NULL);
	free(bath);
}

/* ------------------------------------------------------------ sh6bench */

#define SH_OBJECTS 4096
struct shthread {
	_Alignas(CACHE_LINE) int idx;
	uint64_t rng;
	pthread_t tid;
};
static struct shthread *shth;
static struct sizes shsizes;

static void *sh_thread(void *arg)
{
	struct shthread *t = arg;
	uint64_t ops = 0;
	pin(t->idx);
	void **p = xmalloc(sizeof(void *) * SH_OBJECTS);
	unsigned off = 0;
	pthread_barrier_wait(&start_bar);
	while (!stopped()) {
		/* consecutive objects cycle through the size table (many
		 * classes); then bursts of frees: every other one from the end
		 * back, half of them allocated again, then all from the front */
		off = (unsigned)rnd(&t->rng);
		for (int i = 0; i < SH_OBJECTS; i++) {
			size_t n = shsizes.v[(off + (unsigned)i) & (NSIZES - 1)];
			p[i] = xmalloc(n);
			*(volatile char *)p[i] = (char)i;
		}
		for (int i = SH_OBJECTS - 1; i >= 0; i -= 2)
			free(p[i]);
		for (int i = SH_OBJECTS - 1; i >= 0; i -= 2) {
			size_t n = shsizes.v[(off + 7 * (unsigned)i) & (NSIZES - 1)];
			p[i] = xmalloc(n);
			*(volatile char *)p[i] = (char)i;
		}
		for (int i = 0; i < SH_OBJECTS; i++)
			free(p[i]);
		ops += SH_OBJECTS + SH_OBJECTS / 2;
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	free(p);
	return NULL;
}

static void sh6bench_start(int T)
{
	/* 15/16 of the objects 8 B..2 KiB uniform, 1/16 2..16 KiB */
	uint64_t s = thread_seed(-1, 13);
	for (int i = 0; i < NSIZES; i++)
		shsizes.v[i] = (uint32_t)((rnd(&s) & 15) ? scaled(8 + (double)(rnd(&s) % 2041))
							 : scaled(2048 + (double)(rnd(&s) % 14337)));
	shth = xmalloc(sizeof *shth * (size_t)T);
	for (int i = 0; i < T; i++) {
		shth[i].idx = i;
		shth[i].rng = thread_seed(i, 13);
	}
	for (int i = 0; i < T; i++)
		start_thread(&shth[i].tid, sh_thread, &shth[i]);
}

static void sh6bench_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(shth[i].tid, NULL);
	free(shth);
}

/* ------------------------------------------------------------ churn */

#define CH_PHASES 6
#define CH_QUEUE 8
static const char *const ch_phase_name[3] = { "small", "medium", "large" };
struct chthread {
	_Alignas(CACHE_LINE) int idx;
	struct queue in;
	struct queue *next;
	uint64_t rng;
	pthread_t tid;
	void **p;
	uint32_t *len;
	size_t n, cap;
	size_t live;             /* owner's objects; written by the owner only */
	_Atomic size_t live_pub; /* live, published for the main thread's samples */
};
static struct chthread *chth;
static struct sizes chsizes[3];
static atomic_int ch_phase;
static atomic_size_t ch_inflight; /* bytes handed over and not yet freed */
static size_t ch_target;
static long ch_live_kib[CH_PHASES], ch_rss_kib[CH_PHASES], ch_maxrss_kib[CH_PHASES];

static void ch_free_batch(struct batch *b)
{
	size_t bytes = b->bytes;
	batch_free(b);
	atomic_fetch_sub_explicit(&ch_inflight, bytes, memory_order_relaxed);
	b->bytes = 0;
}

static void *ch_thread(void *arg)
{
	struct chthread *t = arg;
	struct batch out = { 0 }, r;
	uint64_t ops = 0;
	pin(t->idx);
	pthread_barrier_wait(&start_bar);
	while (!stopped()) {
		const struct sizes *sz = &chsizes[atomic_load_explicit(&ch_phase, memory_order_relaxed) % 3];
		for (int k = 0; k < 64; k++) {
			while (t->live < ch_target && t->n < t->cap) {
				size_t n = pick(sz, &t->rng);
				t->p[t->n] = xmalloc(n);
				fill(t->p[t->n], n, (unsigned char)n);
				t->len[t->n++] = (uint32_t)n;
				t->live += n;
				if ((++ops & 1023) == 0)
					atomic_store_explicit(&t->live_pub, t->live, memory_order_relaxed);
			}
			uint64_t x = rnd(&t->rng);
			size_t v = (size_t)(x % t->n);
			void *p = t->p[v];
			size_t n = t->len[v];
			t->p[v] = t->p[--t->n];
			t->len[v] = t->len[t->n];
			t->live -= n;
			if (O.threads > 1 && (x >> 63)) { /* half of the frees: the other thread's */
				out.p[out.n++] = p;
				out.bytes += n;
				atomic_fetch_add_explicit(&ch_inflight, n, memory_order_relaxed);
				if (out.n == BATCH) {
					if (!queue_push(t->next, &out, 0))
						ch_free_batch(&out);
					out.n = 0;
					out.bytes = 0;
				}
			} else {
				free(p);
			}
		}
		atomic_store_explicit(&t->live_pub, t->live, memory_order_relaxed);
		while (queue_pop(&t->in, &r, 0))
			ch_free_batch(&r);
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	ch_free_batch(&out);
	for (size_t i = 0; i < t->n; i++)
		free(t->p[i]);
	free(t->p);
	free(t->len);
	return NULL;
}

static void churn_start(int T)
{
	sizes_loguniform(&chsizes[0], scaled(16), scaled(256), 14);
	sizes_loguniform(&chsizes[1], scaled(256), scaled(16384), 15);
	sizes_loguniform(&chsizes[2], scaled(16384), scaled(512 * 1024), 16);
	ch_target = scaled(32 << 20);
	chth = xmalloc(sizeof *chth * (size_t)T);
	for (int i = 0; i < T; i++) {
		memset(&chth[i], 0, sizeof chth[i]);
		chth[i].idx = i;
		queue_init(&chth[i].in, CH_QUEUE);
		chth[i].rng = thread_seed(i, 14);
		chth[i].cap = ch_target / scaled(16) + 2;
		chth[i].p = xmalloc(sizeof(void *) * chth[i].cap);
		chth[i].len = xmalloc(sizeof(uint32_t) * chth[i].cap);
	}
	for (int i = 0; i < T; i++)
		chth[i].next = &chth[(i + 1) % T].in;
	for (int i = 0; i < T; i++)
		start_thread(&chth[i].tid, ch_thread, &chth[i]);
}

static long ch_live(void)
{
	size_t live = atomic_load(&ch_inflight);
	for (int i = 0; i < O.threads; i++)
		live += atomic_load_explicit(&chth[i].live_pub, memory_order_relaxed);
	return (long)(live / 1024);
}

/* the main thread: six phases (small, medium, large, twice), sampling RSS */
static void churn_during(double secs)
{
	double t0 = now();
	for (int ph = 0; ph < CH_PHASES; ph++) {
		atomic_store(&ch_phase, ph);
		double end = t0 + secs * (ph + 1) / CH_PHASES;
		long mx = 0;
		for (double t = now(); t < end; t = now()) {
			sleep_s(end - t < 0.05 ? end - t : 0.05);
			long r = rss_kib();
			mx = r > mx ? r : mx;
		}
		ch_live_kib[ph] = ch_live();
		ch_rss_kib[ph] = rss_kib();
		ch_maxrss_kib[ph] = mx > ch_rss_kib[ph] ? mx : ch_rss_kib[ph];
	}
	char b[3][CH_PHASES * 24] = { { 0 } };
	for (int ph = 0; ph < CH_PHASES; ph++) {
		const char *sep = ph ? "/" : "";
		snprintf(b[0] + strlen(b[0]), sizeof b[0] - strlen(b[0]), "%s%s", sep, ch_phase_name[ph % 3]);
		snprintf(b[1] + strlen(b[1]), sizeof b[1] - strlen(b[1]), "%s%ld", sep, ch_live_kib[ph]);
		snprintf(b[2] + strlen(b[2]), sizeof b[2] - strlen(b[2]), "%s%ld:%ld", sep, ch_rss_kib[ph],
			 ch_maxrss_kib[ph]);
	}
	extra_add("phases=%s phase_live_kib=%s phase_rss_kib=%s", b[0], b[1], b[2]);
	long lp = 0;
	for (int ph = 0; ph < CH_PHASES; ph++)
		lp = ch_live_kib[ph] > lp ? ch_live_kib[ph] : lp;
	extra_add("live_peak_kib=%ld", lp);
}

static void churn_join(int T)
{
	for (int i = 0; i < T; i++)
		pthread_join(chth[i].tid, NULL);
	struct batch r;
	for (int i = 0; i < T; i++) {
		while (queue_pop(&chth[i].in, &r, 0))
			ch_free_batch(&r);
		queue_destroy(&chth[i].in);
	}
	free(chth);
}

/* ------------------------------------------------------------ idle-producer */

/* worker 0 produces, workers 1..T-2 free, worker T-1 allocates afterwards */
#define IP_QUEUE 16
struct ipthread {
	_Alignas(CACHE_LINE) int idx;
	pthread_t tid;
	uint64_t rng;
};
static struct ipthread *ipth;
static struct queue *ipq;
static int ip_nfree;
static size_t ip_total;
static struct sizes ipsizes;
static atomic_int ip_freers_done, ip_go;
static void **ip_held; /* the second allocation, freed after the measurement */
static size_t ip_nheld;

static void *ip_thread(void *arg)
{
	struct ipthread *t = arg;
	uint64_t ops = 0;
	pin(t->idx);
	pthread_barrier_wait(&start_bar);
	if (t->idx == 0) { /* producer: 512 MiB in batches to the freers, then idle */
		struct batch b = { 0 };
		size_t bytes = 0;
		for (int q = 0; bytes < ip_total; q = (q + 1) % ip_nfree) {
			for (b.n = 0; b.n < BATCH; b.n++) {
				size_t n = pick(&ipsizes, &t->rng);
				b.p[b.n] = xmalloc(n);
				fill(b.p[b.n], n, (unsigned char)n);
				bytes += n;
			}
			ops += BATCH;
			queue_push(&ipq[q], &b, 1);
		}
		b.n = 0; /* an empty batch: the end */
		for (int q = 0; q < ip_nfree; q++)
			queue_push(&ipq[q], &b, 1);
		/* idle from here on: the thread lives, allocates nothing */
	} else if (t->idx <= ip_nfree) { /* freer */
		struct batch b;
		struct queue *q = &ipq[t->idx - 1];
		while (queue_pop(q, &b, 1) && b.n > 0)
			batch_free(&b);
		atomic_fetch_add(&ip_freers_done, 1);
	} else { /* the second allocation, once everything is freed */
		while (!atomic_load(&ip_go))
			sleep_s(0.001);
		size_t cap = ip_total / scaled(64) + 1, bytes = 0;
		ip_held = xmalloc(sizeof(void *) * cap);
		while (bytes < ip_total && ip_nheld < cap) {
			size_t n = pick(&ipsizes, &t->rng);
			ip_held[ip_nheld] = xmalloc(n);
			fill(ip_held[ip_nheld++], n, (unsigned char)n);
			bytes += n;
			ops++;
		}
	}
	counters[t->idx].ops = ops;
	pthread_barrier_wait(&done_bar);
	pthread_barrier_wait(&free_bar);
	return NULL;
}

static void idle_producer_start(int T)
{
	if (T < 3)
		die("idle-producer needs --threads 3 or more (a producer, freers, an allocator)");
	sizes_loguniform(&ipsizes, scaled(64), scaled(4096), 17);
	ip_total = scaled(512 << 20);
	ip_nfree = T - 2;
	ipq = xmalloc(sizeof *ipq * (size_t)ip_nfree);
	for (int i = 0; i < ip_nfree; i++)
		queue_init(&ipq[i], IP_QUEUE);
	ipth = xmalloc(sizeof *ipth * (size_t)T);
	for (int i = 0; i < T; i++) {
		ipth[i].idx = i;
		ipth[i].rng = thread_seed(i, 17);
	}
	for (int i = 0; i < T; i++)
		start_thread(&ipth[i].tid, ip_thread, &ipth[i]);
}

/* not timed: runs until the second allocation is done (--seconds unused) */
static void idle_producer_during(double secs)
{
	while (atomic_load(&ip_freers_done) < ip_nfree)
		sleep_s(0.001);
	extra_add("rss_idle_kib=%ld live_peak_kib=%zu", rss_kib(), ip_total / 1024);
	atomic_store(&ip_go, 1);
}

static void idle_producer_join(int T)
{
	for (size_t i = 0; i < ip_nheld; i++)
		free(ip_held[i]);
	free(ip_held);
	for (int i = 0; i < T; i++)
		pthread_join(ipth[i].tid, NULL);
	for (int i = 0; i < ip_nfree; i++)
		queue_destroy(&ipq[i]);
	free(ipq);
	free(ipth);
}

/* ------------------------------------------------------------ startup */

/* no threads: what a short-lived program does (perf/run times the exec) */
static void startup_once(void)
{
	void *p[64];
	for (int i = 0; i < 64; i++) {
		p[i] = xmalloc(16 + (size_t)i * 16);
		fill(p[i], 16 + (size_t)i * 16, (unsigned char)i);
	}
	for (int i = 0; i < 64; i++)
		free(p[i]);
}

/* ------------------------------------------------------------ driver */

struct workload {
	const char *name;
	void (*start)(int T); /* create the workers; they wait at start_bar */
	void (*stop)(int T);  /* after stop is set: wake blocked workers (or NULL) */
	void (*join)(int T);  /* after free_bar: join the workers, free the rest */
	void (*during)(double secs); /* the main thread's timed phase (NULL: sleep) */
	void (*once)(void);   /* no workers: the whole workload, untimed (startup) */
};

static const struct workload workloads[] = {
	{ .name = "larson", .start = larson_start, .join = larson_join },
	{ .name = "prodcons", .start = prodcons_start, .stop = prodcons_stop, .join = prodcons_join },
	{ .name = "cache-scratch", .start = cache_scratch_start, .join = cache_scratch_join },
	{ .name = "xmalloc", .start = xmalloc_start, .join = xmalloc_join },
	{ .name = "realloc-grow", .start = realloc_grow_start, .join = realloc_grow_join },
	{ .name = "kvcache", .start = kvcache_start, .join = kvcache_join },
	{ .name = "larson-own", .start = larson_own_start, .join = larson_join },
	{ .name = "mstress", .start = mstress_start, .join = mstress_join },
	{ .name = "rptest", .start = rptest_start, .join = rptest_join },
	{ .name = "cache-thrash", .start = cache_thrash_start, .join = cache_scratch_join },
	{ .name = "thread-mem", .start = thread_mem_start, .join = thread_mem_join },
	{ .name = "malloc-large", .start = malloc_large_start, .join = malloc_large_join },
	{ .name = "batch", .start = batch_start, .join = batch_join },
	{ .name = "sh6bench", .start = sh6bench_start, .join = sh6bench_join },
	{ .name = "churn", .start = churn_start, .join = churn_join, .during = churn_during },
	{ .name = "idle-producer", .start = idle_producer_start, .join = idle_producer_join, .during = idle_producer_during },
	{ .name = "startup", .once = startup_once },
};
#define NWORKLOADS (sizeof workloads / sizeof workloads[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: workloads WORKLOAD [--threads T] [--seconds S] [--size-scale F]\n"
		   "                          [--seed N] [--cpus LIST] [--load N]\n"
		   "workloads:");
	for (size_t i = 0; i < NWORKLOADS; i++)
		fprintf(f, " %s", workloads[i].name);
	fprintf(f, "\n");
}

/* --load N: N processes that spin until the timed phase ends, to keep the
 * CPUs busy as other programs would (forked before the timed phase; they
 * allocate nothing) */
static pid_t *start_load(int n)
{
	if (n <= 0)
		return NULL;
	static pid_t pids[1024];
	pid_t parent = getpid();
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("--load: fork failed");
		if (pids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			volatile uint64_t x = 0;
			for (;;)
				x++;
		}
	}
	return pids;
}

static void stop_load(pid_t *pids, int n)
{
	for (int i = 0; pids && i < n; i++) {
		kill(pids[i], SIGKILL);
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
}

/* "0-3,8,10-11" */
static void parse_cpus(const char *s)
{
	O.ncpus = 0;
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s || a < 0)
			die("bad --cpus list");
		if (*end == '-') {
			s = end + 1;
			b = strtol(s, &end, 10);
			if (end == s || b < a)
				die("bad --cpus list");
		}
		for (long c = a; c <= b; c++) {
			if (O.ncpus == MAX_CPUS || c >= CPU_SETSIZE)
				die("--cpus list too long");
			O.cpus[O.ncpus++] = (int)c;
		}
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			die("bad --cpus list");
	}
}

static double num_arg(const char *opt, const char *v)
{
	if (!v)
		die("missing option value");
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *end) {
		fprintf(stderr, "workloads: bad value for %s: %s\n", opt, v);
		exit(2);
	}
	return d;
}

int main(int argc, char **argv)
{
	const struct workload *w = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--threads")) {
			double d = num_arg(a, v);
			if (d < 1 || d > MAX_THREADS || d != (int)d)
				die("--threads must be 1..4096");
			O.threads = (int)d;
			i++;
		} else if (!strcmp(a, "--seconds")) {
			O.seconds = num_arg(a, v);
			if (!(O.seconds > 0))
				die("--seconds must be > 0");
			i++;
		} else if (!strcmp(a, "--size-scale")) {
			O.size_scale = num_arg(a, v);
			if (!(O.size_scale > 0) || O.size_scale > 64)
				die("--size-scale must be in (0, 64]");
			i++;
		} else if (!strcmp(a, "--seed")) {
			O.seed = (uint64_t)num_arg(a, v);
			i++;
		} else if (!strcmp(a, "--load")) {
			double d = num_arg(a, v);
			if (d < 0 || d > 1024 || d != (int)d)
				die("--load must be 0..1024");
			O.load = (int)d;
			i++;
		} else if (!strcmp(a, "--cpus")) {
			if (!v)
				die("missing option value");
			parse_cpus(v);
			i++;
		} else if (a[0] == '-' || w) {
			fprintf(stderr, "workloads: unexpected argument %s\n", a);
			usage(stderr);
			return 2;
		} else {
			for (size_t k = 0; k < NWORKLOADS; k++)
				if (!strcmp(a, workloads[k].name))
					w = &workloads[k];
			if (!w) {
				fprintf(stderr, "workloads: unknown workload %s\n", a);
				usage(stderr);
				return 2;
			}
		}
	}
	if (!w) {
		usage(stderr);
		return 2;
	}
	O.workload = w->name;
	if (w->once) {
		double t0 = now();
		w->once();
		double secs = now() - t0;
		printf("workload=%s threads=1 seconds=%.6f ops=1 mops=%.4f rss_kib=%ld node_rss_kib=- "
		       "maxrss_kib=%ld\n", O.workload, secs, 1e-6 / secs, rss_kib(), peak_rss_kib());
		return 0;
	}
	int T = O.threads;
	counters = aligned_alloc(CACHE_LINE, sizeof *counters * (size_t)T);
	if (!counters)
		die("out of memory");
	memset(counters, 0, sizeof *counters * (size_t)T);
	pthread_barrier_init(&start_bar, NULL, (unsigned)T + 1);
	pthread_barrier_init(&done_bar, NULL, (unsigned)T + 1);
	pthread_barrier_init(&free_bar, NULL, (unsigned)T + 1);

	w->start(T);
	pid_t *load = start_load(O.load);
	pthread_barrier_wait(&start_bar);
	double t0 = now();
	if (w->during)
		w->during(O.seconds);
	else
		sleep_s(O.seconds);
	atomic_store(&stop, 1);
	if (w->stop)
		w->stop(T);
	pthread_barrier_wait(&done_bar);
	double secs = now() - t0;
	stop_load(load, O.load);
	measure();
	pthread_barrier_wait(&free_bar);
	w->join(T);

	uint64_t ops = 0;
	for (int i = 0; i < T; i++)
		ops += counters[i].ops;
	free(counters);
	pthread_barrier_destroy(&start_bar);
	pthread_barrier_destroy(&done_bar);
	pthread_barrier_destroy(&free_bar);
	printf("workload=%s threads=%d seconds=%.3f ops=%" PRIu64 " mops=%.4f %s maxrss_kib=%ld%s%s\n",
	       O.workload, T, secs, ops, (double)ops / secs / 1e6, report_mem, peak_rss_kib(),
	       extra[0] ? " " : "", extra);
	return 0;
}
