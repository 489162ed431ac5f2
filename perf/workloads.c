/* perf/workloads.c: multi-threaded allocator workloads for perf/run.
 *
 * Uses only the standard malloc API and pthreads, so the same binary runs
 * under any allocator with LD_PRELOAD (nalloc, glibc, jemalloc, tcmalloc,
 * mimalloc).  perf/run drives it; see perf/README.md.
 *
 * usage: workloads WORKLOAD [--threads T] [--seconds S] [--size-scale F]
 *                           [--seed N] [--cpus LIST]
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
 *
 * Each run prints one line on stdout:
 *   workload=W threads=T seconds=S ops=N mops=X rss_kib=R node_rss_kib=N0:a,N1:b
 * seconds is the measured length of the timed phase, mops = ops / seconds
 * / 1e6.  rss_kib (/proc/self/statm) and node_rss_kib (the N<node>=<pages>
 * fields of /proc/self/numa_maps times each mapping's kernelpagesize_kB,
 * summed over all mappings; "-" when the kernel has no numa_maps) are taken
 * at the end of the timed phase, before anything is freed.  Everything is
 * freed before the program exits.
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

/* ------------------------------------------------------------ driver */

struct workload {
	const char *name;
	void (*start)(int T); /* create the workers; they wait at start_bar */
	void (*stop)(int T);  /* after stop is set: wake blocked workers (or NULL) */
	void (*join)(int T);  /* after free_bar: join the workers, free the rest */
};

static const struct workload workloads[] = {
	{ "larson", larson_start, NULL, larson_join },
	{ "prodcons", prodcons_start, prodcons_stop, prodcons_join },
	{ "cache-scratch", cache_scratch_start, NULL, cache_scratch_join },
	{ "xmalloc", xmalloc_start, NULL, xmalloc_join },
	{ "realloc-grow", realloc_grow_start, NULL, realloc_grow_join },
	{ "kvcache", kvcache_start, NULL, kvcache_join },
};
#define NWORKLOADS (sizeof workloads / sizeof workloads[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: workloads WORKLOAD [--threads T] [--seconds S] [--size-scale F]\n"
		   "                          [--seed N] [--cpus LIST]\n"
		   "workloads:");
	for (size_t i = 0; i < NWORKLOADS; i++)
		fprintf(f, " %s", workloads[i].name);
	fprintf(f, "\n");
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
	int T = O.threads;
	counters = aligned_alloc(CACHE_LINE, sizeof *counters * (size_t)T);
	if (!counters)
		die("out of memory");
	memset(counters, 0, sizeof *counters * (size_t)T);
	pthread_barrier_init(&start_bar, NULL, (unsigned)T + 1);
	pthread_barrier_init(&done_bar, NULL, (unsigned)T + 1);
	pthread_barrier_init(&free_bar, NULL, (unsigned)T + 1);

	w->start(T);
	pthread_barrier_wait(&start_bar);
	double t0 = now();
	struct timespec ts = { (time_t)O.seconds, (long)((O.seconds - (double)(time_t)O.seconds) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	atomic_store(&stop, 1);
	if (w->stop)
		w->stop(T);
	pthread_barrier_wait(&done_bar);
	double secs = now() - t0;
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
	printf("workload=%s threads=%d seconds=%.3f ops=%" PRIu64 " mops=%.4f %s\n", O.workload, T, secs,
	       ops, (double)ops / secs / 1e6, report_mem);
	return 0;
}
