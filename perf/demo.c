/* SPDX-License-Identifier: MIT */
/* perf/demo.c: nalloc-demo, a server-like multithreaded workload.
 *
 * usage: nalloc-demo [-t THREADS] [-d SECONDS] [-s SEED] [--json] [-h]
 *
 * T worker threads (default 4) each handle "requests" for D seconds
 * (default 3).  A request:
 *   - allocates a request buffer of random size (64 B - 16 KiB, skewed to
 *     small), fills its header and touches its end; sometimes grows it with
 *     realloc (a body that arrives in two parts);
 *   - builds 1-8 response objects (16 B - 1 KiB) in a linked list;
 *   - looks a random key up in a shared cache (a fixed array of slots, each
 *     group of slots behind a mutex) and, on a miss or now and then anyway,
 *     stores a new cache entry there.  A stored entry replaces whatever the
 *     slot held, and the old entry is freed by the thread that evicted it,
 *     which is usually not the thread that allocated it: cross-thread frees;
 *   - now and then deletes a random cache entry (another cross-thread free);
 *   - occasionally allocates a large object (64 KiB - 1 MiB) and touches
 *     every page of it;
 *   - frees the responses and the request buffer.
 *
 * Every thread draws from its own PRNG seeded from SEED and its index, so
 * each thread's sequence of requests is the same from run to run (how many
 * requests fit in D seconds, and how the threads interleave, is not).
 * At the end everything is freed, nalloc_purge() is called, and the
 * requests/s and nalloc's per-node statistics are printed
 * (nalloc_stats_print: text table, or the JSON document with --json; with
 * --json the summary goes to stderr so that stdout is pure JSON).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nalloc.h"

/* ------------------------------------------------------------ tunables */

#define CACHE_SLOTS   16384u  /* power of two */
#define CACHE_LOCKS   256u    /* power of two; slot i uses lock i % LOCKS */
#define KEY_SPACE     65536u
#define REQ_MIN       64u
#define REQ_MAX       (16u << 10)
#define RESP_MIN      16u
#define RESP_MAX      1024u
#define ENTRY_MIN     32u
#define ENTRY_MAX     4096u
#define LARGE_MIN     (64u << 10)
#define LARGE_MAX     (1u << 20)
#define LARGE_EVERY   256u    /* 1 request in LARGE_EVERY has a large object */
#define PUT_EVERY     4u      /* on a hit, 1 in PUT_EVERY refreshes anyway */
#define DEL_EVERY     8u      /* 1 request in DEL_EVERY deletes a random key */
#define GROW_EVERY    16u     /* 1 request in GROW_EVERY reallocs its buffer */

/* ------------------------------------------------------------ PRNG */

/* xoshiro256** seeded by splitmix64 */
struct rng { uint64_t s[4]; };

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* roughly log-uniform in [lo, hi]: small sizes are the common case */
static inline size_t rng_size(struct rng *r, size_t lo, size_t hi)
{
	unsigned lo_bits = 63 - (unsigned)__builtin_clzll(lo);
	unsigned hi_bits = 63 - (unsigned)__builtin_clzll(hi);
	unsigned b = lo_bits + rng_below(r, hi_bits - lo_bits + 1);
	size_t base = (size_t)1 << b;
	size_t s = base + rng_below(r, (uint32_t)base);
	if (s < lo) s = lo;
	if (s > hi) s = hi;
	return s;
}

/* ------------------------------------------------------------ cache */

struct entry {
	uint64_t key;
	uint32_t len;
	uint32_t owner;          /* index of the thread that allocated it */
	unsigned char data[];
};

struct slot {
	struct entry *e;
};

static struct slot cache[CACHE_SLOTS];
static struct { pthread_mutex_t m; char pad[64 - sizeof(pthread_mutex_t) % 64]; } locks[CACHE_LOCKS];

static inline uint32_t slot_of(uint64_t key)
{
	return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & (CACHE_SLOTS - 1);
}

static inline pthread_mutex_t *lock_of(uint32_t slot)
{
	return &locks[slot & (CACHE_LOCKS - 1)].m;
}

/* ------------------------------------------------------------ workers */

struct worker {
	pthread_t tid;
	uint32_t id;
	uint64_t seed;
	/* results */
	uint64_t requests, hits, misses, puts, evictions, remote_evictions;
	uint64_t deletes, remote_deletes, larges, grows;
	uint64_t checksum;
} __attribute__((aligned(64)));

static atomic_int stop_flag;

struct resp {
	struct resp *next;
	size_t len;
	unsigned char data[];
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		fprintf(stderr, "nalloc-demo: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	return p;
}

static void handle_request(struct worker *w, struct rng *r)
{
	uint64_t sum = 0;

	/* the request buffer */
	size_t rlen = rng_size(r, REQ_MIN, REQ_MAX);
	unsigned char *req = xmalloc(rlen);
	memset(req, (int)(w->requests & 0xff), rlen < 256 ? rlen : 256);
	req[rlen - 1] = 0x5a;
	if (rng_below(r, GROW_EVERY) == 0) {
		size_t more = rng_size(r, REQ_MIN, REQ_MAX);
		unsigned char *bigger = realloc(req, rlen + more);
		if (!bigger) {
			fprintf(stderr, "nalloc-demo: out of memory (realloc)\n");
			exit(1);
		}
		req = bigger;
		memset(req + rlen, 0xa5, more < 256 ? more : 256);
		rlen += more;
		req[rlen - 1] = 0x5a;
		w->grows++;
	}
	sum += req[0] + req[rlen - 1];

	/* the response objects */
	struct resp *head = NULL;
	unsigned nresp = 1 + rng_below(r, 8);
	for (unsigned i = 0; i < nresp; i++) {
		size_t len = rng_size(r, RESP_MIN, RESP_MAX);
		struct resp *o = xmalloc(sizeof *o + len);
		o->next = head;
		o->len = len;
		o->data[0] = (unsigned char)i;
		o->data[len - 1] = (unsigned char)len;
		head = o;
	}

	/* cache lookup, and a store on a miss (or now and then on a hit) */
	uint64_t key = rng_below(r, KEY_SPACE);
	uint32_t s = slot_of(key);
	int hit = 0;
	pthread_mutex_lock(lock_of(s));
	struct entry *e = cache[s].e;
	if (e && e->key == key) {
		hit = 1;
		sum += e->data[0] + e->data[e->len - 1];
	}
	pthread_mutex_unlock(lock_of(s));
	if (hit)
		w->hits++;
	else
		w->misses++;

	if (!hit || rng_below(r, PUT_EVERY) == 0) {
		size_t len = rng_size(r, ENTRY_MIN, ENTRY_MAX);
		struct entry *ne = xmalloc(sizeof *ne + len);
		ne->key = key;
		ne->len = (uint32_t)len;
		ne->owner = w->id;
		memset(ne->data, (int)(key & 0xff), len < 64 ? len : 64);
		ne->data[len - 1] = (unsigned char)key;
		pthread_mutex_lock(lock_of(s));
		struct entry *old = cache[s].e;
		cache[s].e = ne;
		pthread_mutex_unlock(lock_of(s));
		w->puts++;
		if (old) {
			w->evictions++;
			if (old->owner != w->id)
				w->remote_evictions++;
			free(old);   /* often allocated by another thread */
		}
	}

	/* an explicit invalidation of some other key */
	if (rng_below(r, DEL_EVERY) == 0) {
		uint32_t ds = slot_of(rng_below(r, KEY_SPACE));
		pthread_mutex_lock(lock_of(ds));
		struct entry *old = cache[ds].e;
		cache[ds].e = NULL;
		pthread_mutex_unlock(lock_of(ds));
		if (old) {
			w->deletes++;
			if (old->owner != w->id)
				w->remote_deletes++;
			free(old);
		}
	}

	/* the occasional large object: touch every page */
	if (rng_below(r, LARGE_EVERY) == 0) {
		size_t len = rng_size(r, LARGE_MIN, LARGE_MAX);
		unsigned char *big = xmalloc(len);
		for (size_t off = 0; off < len; off += 4096)
			big[off] = (unsigned char)off;
		big[len - 1] = 1;
		sum += big[len / 2 & ~(size_t)4095];
		free(big);
		w->larges++;
	}

	/* send the response, free everything that was not cached */
	while (head) {
		struct resp *next = head->next;
		sum += head->data[0] + head->data[head->len - 1];
		free(head);
		head = next;
	}
	free(req);

	w->checksum += sum;
	w->requests++;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct rng r;
	rng_seed(&r, w->seed);
	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		/* check the clock flag every 64 requests */
		for (int i = 0; i < 64; i++)
			handle_request(w, &r);
	}
	return NULL;
}

/* ------------------------------------------------------------ main */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nalloc-demo [-t THREADS] [-d SECONDS] [-s SEED] [--json]\n"
		"  -t N      worker threads (default 4)\n"
		"  -d SECS   how long to run, may be fractional (default 3)\n"
		"  -s SEED   PRNG seed (default 1); thread i uses SEED and i\n"
		"  --json    print nalloc's statistics as JSON on stdout (the\n"
		"            summary then goes to stderr)\n");
}

int main(int argc, char **argv)
{
	long nthreads = 4;
	double secs = 3.0;
	uint64_t seed = 1;
	int json = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			json = 1;
		} else if (!strcmp(a, "-t") && v) {
			nthreads = strtol(v, &end, 10);
			if (*end || nthreads < 1 || nthreads > 1024)
				goto bad;
			i++;
		} else if (!strcmp(a, "-d") && v) {
			secs = strtod(v, &end);
			if (*end || !(secs > 0) || secs > 86400)
				goto bad;
			i++;
		} else if (!strcmp(a, "-s") && v) {
			errno = 0;
			seed = strtoull(v, &end, 0);
			if (*end || errno)
				goto bad;
			i++;
		} else {
		bad:
			fprintf(stderr, "nalloc-demo: bad or incomplete argument: %s\n", a);
			usage(stderr);
			return 2;
		}
	}

	FILE *out = json ? stderr : stdout;

	for (unsigned i = 0; i < CACHE_LOCKS; i++)
		pthread_mutex_init(&locks[i].m, NULL);

	struct worker *ws = NULL;
	if (posix_memalign((void **)&ws, 64, (size_t)nthreads * sizeof *ws)) {
		fprintf(stderr, "nalloc-demo: out of memory\n");
		return 1;
	}
	memset(ws, 0, (size_t)nthreads * sizeof *ws);

	fprintf(out, "nalloc-demo: %ld threads, %.3g s, seed %" PRIu64 ", %d NUMA node(s)\n",
		nthreads, secs, seed, nalloc_num_nodes());

	double t0 = now();
	for (long i = 0; i < nthreads; i++) {
		ws[i].id = (uint32_t)i;
		ws[i].seed = seed * 0x100000001B3ull + (uint64_t)i;
		int err = pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]);
		if (err) {
			fprintf(stderr, "nalloc-demo: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}

	struct timespec ts = { .tv_sec = (time_t)secs,
			       .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9) };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	atomic_store(&stop_flag, 1);
	for (long i = 0; i < nthreads; i++)
		pthread_join(ws[i].tid, NULL);
	double elapsed = now() - t0;

	/* free what is left in the cache (allocated by the workers) */
	uint64_t leftover = 0;
	for (unsigned i = 0; i < CACHE_SLOTS; i++) {
		if (cache[i].e) {
			free(cache[i].e);
			cache[i].e = NULL;
			leftover++;
		}
	}

	struct worker tot = { 0 };
	for (long i = 0; i < nthreads; i++) {
		tot.requests += ws[i].requests;
		tot.hits += ws[i].hits;
		tot.misses += ws[i].misses;
		tot.puts += ws[i].puts;
		tot.evictions += ws[i].evictions;
		tot.remote_evictions += ws[i].remote_evictions;
		tot.deletes += ws[i].deletes;
		tot.remote_deletes += ws[i].remote_deletes;
		tot.larges += ws[i].larges;
		tot.grows += ws[i].grows;
		tot.checksum += ws[i].checksum;
	}

	fprintf(out, "requests: %" PRIu64 " in %.3f s = %.0f requests/s (%.0f per thread)\n",
		tot.requests, elapsed, (double)tot.requests / elapsed,
		(double)tot.requests / elapsed / (double)nthreads);
	for (long i = 0; i < nthreads; i++)
		fprintf(out, "  thread %ld: %" PRIu64 " requests\n", i, ws[i].requests);
	fprintf(out, "cache: %" PRIu64 " hits, %" PRIu64 " misses (%.1f%% hits), %" PRIu64
		" stores, %" PRIu64 " evictions (%" PRIu64 " of another thread's entry), %"
		PRIu64 " deletes (%" PRIu64 " another thread's), %" PRIu64 " left at exit\n",
		tot.hits, tot.misses,
		tot.hits + tot.misses ? 100.0 * (double)tot.hits / (double)(tot.hits + tot.misses) : 0.0,
		tot.puts, tot.evictions, tot.remote_evictions, tot.deletes, tot.remote_deletes,
		leftover);
	fprintf(out, "large objects: %" PRIu64 ", reallocs: %" PRIu64 ", checksum %016" PRIx64 "\n",
		tot.larges, tot.grows, tot.checksum);

	free(ws);
	for (unsigned i = 0; i < CACHE_LOCKS; i++)
		pthread_mutex_destroy(&locks[i].m);

	size_t purged = nalloc_purge();
	fprintf(out, "nalloc_purge: %zu bytes returned to the OS\n\n", purged);
	fflush(out);

	nalloc_stats_print(stdout, json ? NALLOC_STATS_JSON : NALLOC_STATS_TEXT);
	fflush(stdout);
	return 0;
}
