/* SPDX-License-Identifier: MIT */
/*
 * tests/vm/numa_place.c: where do nalloc's allocations really live?
 *
 * Multi-node placement checks (issue 3's acceptance checks), meant to run in
 * the QEMU VMs of tests/vm/run-vm.sh (see test-vm-numa.sh).  Every check
 * touches every page of the memory it got and asks the kernel where each
 * page is with move_pages(0, n, pages, NULL, status, 0).
 *
 *   numa_place [options] CHECK
 *
 * CHECK is one of
 *   info         what nalloc and libnuma see (no verdict, always exit 0)
 *   local        one thread pinned on each managed node with CPUs allocates
 *                small (64 B..4 KiB) and large (1 MiB) objects: >= --min of
 *                their pages on its node, nalloc_node_of() and
 *                nalloc_thread_home() equal to it
 *   crossfree    producers pinned on node A allocate, consumers pinned on
 *                node B free (--seconds); then the producers allocate again:
 *                >= --min on A, stats remote_frees of A > 0
 *   migrate      a thread allocates on node A, re-pins itself to node B and
 *                allocates 64-byte objects until nalloc_thread_home() == B
 *                (bounded), then its new allocations are >= --min on B
 *   interleave   (NALLOC_NUMA=interleave) a 64 MiB block: pages spread over
 *                the managed nodes, each within --tolerance of even
 *   onnode       nalloc_malloc_onnode(small and large, node) for every
 *                managed node (CPU-less ones too): >= --min on that node;
 *                an unmanaged node gives NULL/EINVAL
 *   membind      (numactl --membind=N) nalloc manages node N only, threads
 *                on every CPU node are homed on N, pages on N
 *   cpunodebind  (numactl --cpunodebind=N) unpinned threads are homed on N,
 *                pages on N
 *   strict       (NALLOC_NUMA=strict) a thread on node A allocates (and
 *                touches) 4 MiB blocks until malloc returns NULL: errno must
 *                be ENOMEM, no OOM kill; its pages >= --min on A; after
 *                freeing half, malloc works again, and so does
 *                nalloc_malloc_onnode on node B.  Runs in a child process so
 *                that a kill is reported, not suffered.
 *   spill        (NALLOC_NUMA=local) a thread on node A allocates more than
 *                A's free memory: the pages that do not fit on A land on the
 *                nodes nearest to A (>= --min of them), no OOM kill.
 *   sethome      nalloc_thread_set_home(B) on node A's CPUs: allocations on
 *                B, still after the thread moves; an unmanaged node gives
 *                -1/EINVAL; set_home(-1) re-homes it on A (bounded).
 *   memless      a thread pinned on the CPUs of each node that has CPUs
 *                and no memory (layout memless): homed on the managed node
 *                nearest to it by numa_distance, >= --min of its pages there
 *   hotplug      the CPUs offline when numa_place started (so missing from
 *                nalloc's start-up tables) are brought online; a thread
 *                pinned on each is homed on the managed node nearest to the
 *                CPU's node, >= --min of its pages there (run as root)
 *   strictfill   (NALLOC_NUMA=strict) a child allocates one 4 MiB block on
 *                node B (the last managed node) with nalloc_malloc_onnode,
 *                then another process (oom_score_adj -1000) fills B until
 *                less than --free-mb (48) MiB is free, then the child goes
 *                on allocating 4 MiB blocks on B: it must get NULL/ENOMEM
 *                (within the room that was left), not be OOM-killed, and
 *                the filler must survive too.
 *
 * Options: --min FRAC (0.99), --tolerance FRAC (0.10), --small-mb N (64),
 *   --large N (32 blocks of 1 MiB), --seconds S (2, crossfree), --hold S
 *   (0: keep re-touching the memory S seconds before measuring, for NUMA
 *   balancing), --node N (membind/cpunodebind: the expected node, default 1),
 *   --free-mb N (strictfill: MiB the filler leaves free, 48), --verbose.
 *
 * Output: detail lines "numa_place: ..." and exactly one summary line
 *   RESULT check=NAME layout=L policy=P frac=F min=M PASS|FAIL [key=value...]
 * (frac: the worst placement fraction measured; layout from
 * $NALLOC_VM_LAYOUT).  Exit 0 on PASS, 1 on FAIL, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nalloc.h"

#define MAXN 64            /* nodes we track (OS numbering) */
#define LARGE_SIZE ((size_t)1 << 20)

/* ---------------------------------------------------------------- options */
static double opt_min = 0.99;
static double opt_tol = 0.10;
static size_t opt_small_mb = 64;
static int opt_large = 32;
static double opt_seconds = 2.0;
static double opt_hold = 0.0;
static int opt_node = 1;
static int opt_verbose = 0;
static long opt_free_mb = 48;
static long pagesz;
static const char *check_name = "?";

static void detail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("numa_place: %s: ", check_name);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	printf("RESULT check=%s FAIL internal error: %s: %s\n", check_name, what, strerror(errno));
	exit(1);
}

/* ---------------------------------------------------------------- vectors */
/* Growable arrays of words that live in their own mappings, so that the
 * bookkeeping never goes through (or disturbs) the allocator under test. */
struct vec {
	uintptr_t *v;
	size_t n, cap;
};

static void vec_push(struct vec *a, uintptr_t x)
{
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 8192;
		void *p = mmap(NULL, ncap * sizeof(uintptr_t), PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		if (a->n)
			memcpy(p, a->v, a->n * sizeof(uintptr_t));
		if (a->v)
			munmap(a->v, a->cap * sizeof(uintptr_t));
		a->v = p;
		a->cap = ncap;
	}
	a->v[a->n++] = x;
}

static void vec_free(struct vec *a)
{
	if (a->v)
		munmap(a->v, a->cap * sizeof(uintptr_t));
	memset(a, 0, sizeof *a);
}

static int cmp_uptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* the pages of [p, p+len) */
static void vec_add_pages(struct vec *a, const void *p, size_t len)
{
	uintptr_t first = (uintptr_t)p & ~(uintptr_t)(pagesz - 1);
	uintptr_t last = ((uintptr_t)p + len - 1) & ~(uintptr_t)(pagesz - 1);
	for (uintptr_t q = first; q <= last; q += (uintptr_t)pagesz)
		if (a->n == 0 || a->v[a->n - 1] != q)
			vec_push(a, q);
}

static void vec_sort_unique(struct vec *a)
{
	if (a->n < 2)
		return;
	qsort(a->v, a->n, sizeof(uintptr_t), cmp_uptr);
	size_t o = 1;
	for (size_t i = 1; i < a->n; i++)
		if (a->v[i] != a->v[o - 1])
			a->v[o++] = a->v[i];
	a->n = o;
}

/* ---------------------------------------------------------------- placement */
/* Where the pages of a vector are: per-node counts from move_pages. */
struct place {
	long pages;
	long errors;          /* negative status: not present, ... */
	long on[MAXN];
	long other;           /* node numbers >= MAXN */
};

static int place_count(struct vec *pages, struct place *pl)
{
	enum { BATCH = 4096 };
	int status[BATCH];
	memset(pl, 0, sizeof *pl);
	vec_sort_unique(pages);
	for (size_t i = 0; i < pages->n; i += BATCH) {
		size_t k = pages->n - i < BATCH ? pages->n - i : BATCH;
		for (size_t j = 0; j < k; j++)
			status[j] = -1000;
		if (move_pages(0, (unsigned long)k, (void **)(pages->v + i), NULL, status, 0) != 0) {
			printf("numa_place: %s: move_pages: %s\n", check_name, strerror(errno));
			return -1;
		}
		for (size_t j = 0; j < k; j++) {
			pl->pages++;
			if (status[j] < 0)
				pl->errors++;
			else if (status[j] < MAXN)
				pl->on[status[j]]++;
			else
				pl->other++;
		}
	}
	return 0;
}

static double frac_on(const struct place *pl, int node)
{
	return pl->pages ? (double)pl->on[node] / (double)pl->pages : 0.0;
}

/* "0:123,1:4" */
static const char *place_str(const struct place *pl, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < MAXN && o < len; i++)
		if (pl->on[i])
			o += (size_t)snprintf(buf + o, len - o, "%s%d:%ld", o ? "," : "", i, pl->on[i]);
	if (pl->errors && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%serr:%ld", o ? "," : "", pl->errors);
	if (pl->other && o < len)
		snprintf(buf + o, len - o, "%s?:%ld", o ? "," : "", pl->other);
	if (!buf[0])
		snprintf(buf, len, "none");
	return buf;
}

/* ---------------------------------------------------------------- objects */
static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* A set of allocations: pointers and sizes, their pages by kind. */
struct objs {
	struct vec ptr, size;
	struct vec spages, lpages;   /* pages of small / large objects */
	long failed;                 /* allocations that returned NULL */
	int fail_errno;
};

/* Allocate small_bytes of objects of 64..4096 bytes and nlarge 1 MiB blocks
 * (with nalloc_malloc_onnode when onnode >= 0), touching every byte. */
static void objs_alloc(struct objs *o, size_t small_bytes, int nlarge, int onnode, uint64_t seed)
{
	uint64_t s = seed | 1;
	size_t got = 0;
	while (got < small_bytes) {
		size_t sz = 64 + (size_t)(rnd(&s) % (4096 - 64 + 1));
		void *p = onnode >= 0 ? nalloc_malloc_onnode(sz, onnode) : malloc(sz);
		if (!p) {
			o->failed++;
			o->fail_errno = errno;
			if (o->failed > 16)
				break;
			continue;
		}
		memset(p, 0x5a, sz);
		vec_push(&o->ptr, (uintptr_t)p);
		vec_push(&o->size, sz);
		vec_add_pages(&o->spages, p, sz);
		got += sz;
	}
	for (int i = 0; i < nlarge; i++) {
		void *p = onnode >= 0 ? nalloc_malloc_onnode(LARGE_SIZE, onnode) : malloc(LARGE_SIZE);
		if (!p) {
			o->failed++;
			o->fail_errno = errno;
			continue;
		}
		memset(p, 0xa5, LARGE_SIZE);
		vec_push(&o->ptr, (uintptr_t)p);
		vec_push(&o->size, LARGE_SIZE);
		vec_add_pages(&o->lpages, p, LARGE_SIZE);
	}
}

/* Keep writing to every page for opt_hold seconds (lets NUMA balancing
 * scan and, if it wants, migrate). */
static void objs_hold(struct objs *o)
{
	if (opt_hold <= 0)
		return;
	double end = now_s() + opt_hold;
	while (now_s() < end)
		for (size_t i = 0; i < o->ptr.n; i++) {
			char *p = (char *)o->ptr.v[i];
			size_t sz = o->size.v[i];
			for (size_t k = 0; k < sz; k += (size_t)pagesz)
				p[k]++;
			p[sz - 1]++;
		}
}

static void objs_free(struct objs *o)
{
	for (size_t i = 0; i < o->ptr.n; i++)
		free((void *)o->ptr.v[i]);
	vec_free(&o->ptr);
	vec_free(&o->size);
	vec_free(&o->spages);
	vec_free(&o->lpages);
}

/* The verdict on one set of objects against one node. */
struct meas {
	struct place sp, lp;        /* small, large pages */
	long nobj, nodeof_bad;      /* objects; nalloc_node_of() != node */
	int nodeof_example;         /* one wrong nalloc_node_of() answer */
	double sfrac, lfrac, frac;  /* frac = min of the kinds present */
	int ok;                     /* placement and node_of verdict */
};

static void objs_measure(struct objs *o, int node, struct meas *m)
{
	memset(m, 0, sizeof *m);
	m->nodeof_example = -2;
	for (size_t i = 0; i < o->ptr.n; i++) {
		int n = nalloc_node_of((void *)o->ptr.v[i]);
		m->nobj++;
		if (n != node) {
			m->nodeof_bad++;
			if (m->nodeof_example == -2)
				m->nodeof_example = n;
		}
	}
	if (place_count(&o->spages, &m->sp) != 0 || place_count(&o->lpages, &m->lp) != 0) {
		m->ok = 0;
		return;
	}
	m->sfrac = m->sp.pages ? frac_on(&m->sp, node) : 1.0;
	m->lfrac = m->lp.pages ? frac_on(&m->lp, node) : 1.0;
	m->frac = m->sfrac < m->lfrac ? m->sfrac : m->lfrac;
	m->ok = m->frac >= opt_min && m->nodeof_bad == 0 && o->failed == 0 &&
	        m->sp.pages + m->lp.pages > 0;
}

static void meas_print(const char *who, int node, const struct objs *o, const struct meas *m)
{
	char a[256], b[256];
	detail("%s node=%d small=%.4f (%s of %ld pages) large=%.4f (%s of %ld pages) objects=%ld "
	       "node_of_wrong=%ld%s%s failed_allocs=%ld",
	       who, node, m->sfrac, place_str(&m->sp, a, sizeof a), m->sp.pages, m->lfrac,
	       place_str(&m->lp, b, sizeof b), m->lp.pages, m->nobj, m->nodeof_bad,
	       m->nodeof_bad ? " e.g. " : "", m->nodeof_bad ? (snprintf(a, sizeof a, "%d", m->nodeof_example), a) : "",
	       o->failed);
}

/* ---------------------------------------------------------------- topology */
static int managed[MAXN], nmanaged;

static void load_managed(void)
{
	nmanaged = nalloc_num_nodes();
	if (nmanaged > MAXN)
		nmanaged = MAXN;
	for (int i = 0; i < nmanaged; i++)
		managed[i] = nalloc_node_id(i);
}

static bool is_managed(int node)
{
	for (int i = 0; i < nmanaged; i++)
		if (managed[i] == node)
			return true;
	return false;
}

/* The CPUs of each node that the process may use, computed once at start-up
 * (from the process's affinity then): pinning must not allocate, or the
 * thread's cache would be created, and homed, before it moves. */
static cpu_set_t node_cpus[MAXN];
static int node_ncpus[MAXN];

static void load_cpus(void)
{
	cpu_set_t allowed;
	CPU_ZERO(&allowed);
	sched_getaffinity(0, sizeof allowed, &allowed);
	struct bitmask *bm = numa_allocate_cpumask();
	int maxn = numa_max_node();
	for (int node = 0; node <= maxn && node < MAXN; node++) {
		CPU_ZERO(&node_cpus[node]);
		numa_bitmask_clearall(bm);
		if (numa_node_to_cpus(node, bm) != 0)
			continue;
		for (unsigned c = 0; c < bm->size && c < CPU_SETSIZE; c++)
			if (numa_bitmask_isbitset(bm, c) && CPU_ISSET(c, &allowed)) {
				CPU_SET(c, &node_cpus[node]);
				node_ncpus[node]++;
			}
	}
	numa_free_cpumask(bm);
}

static int node_cpuset(int node, cpu_set_t *set)
{
	if (node < 0 || node >= MAXN) {
		CPU_ZERO(set);
		return 0;
	}
	*set = node_cpus[node];
	return node_ncpus[node];
}

static int cur_node(void)
{
	int c = sched_getcpu();
	if (c < 0 || c >= CPU_SETSIZE)
		return -1;
	for (int n = 0; n < MAXN; n++)
		if (CPU_ISSET(c, &node_cpus[n]))
			return n;
	return -1;
}

/* start a thread already pinned to node's CPUs (node < 0: unpinned) */
static void spawn(pthread_t *t, int node, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	if (node >= 0 && node < MAXN && node_ncpus[node] > 0)
		pthread_attr_setaffinity_np(&attr, sizeof node_cpus[node], &node_cpus[node]);
	if (pthread_create(t, &attr, fn, arg) != 0)
		die("pthread_create");
	pthread_attr_destroy(&attr);
}

/* pin the calling thread to the CPUs of node; 0 when it now runs there */
static int pin_self(int node)
{
	cpu_set_t set;
	if (node_cpuset(node, &set) == 0)
		return -1;
	if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
		return -1;
	sched_yield();
	return cur_node() == node ? 0 : -1;
}

/* managed nodes with CPUs we may run on */
static int cpu_nodes(int *out)
{
	int n = 0;
	cpu_set_t set;
	for (int i = 0; i < nmanaged; i++)
		if (managed[i] >= 0 && managed[i] < MAXN && node_cpuset(managed[i], &set) > 0)
			out[n++] = managed[i];
	return n;
}

static const char *layout(void)
{
	const char *l = getenv("NALLOC_VM_LAYOUT");
	return l && *l ? l : "host";
}

static const char *policy(void)
{
	const char *p = getenv("NALLOC_NUMA");
	return p && *p ? p : "local";
}

static int result(int pass, double frac, const char *fmt, ...)
{
	char extra[1024] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(extra, sizeof extra, fmt, ap);
		va_end(ap);
	}
	printf("RESULT check=%s layout=%s policy=%s frac=%.4f min=%.2f %s%s%s\n", check_name, layout(),
	       policy(), frac, opt_min, pass ? "PASS" : "FAIL", extra[0] ? " " : "", extra);
	fflush(stdout);
	return pass ? 0 : 1;
}

static int stats_of(int node, struct nalloc_node_stats *out)
{
	static struct nalloc_stats st;
	memset(&st, 0, sizeof st);
	nalloc_stats_get(&st);
	for (int i = 0; i < st.nnodes && i < NALLOC_MAX_NODES; i++)
		if (st.nodes[i].node == node) {
			*out = st.nodes[i];
			return 0;
		}
	memset(out, 0, sizeof *out);
	return -1;
}

/* ---------------------------------------------------------------- info */
static int check_info(void)
{
	detail("nalloc_num_nodes=%d libnuma max_node=%d configured_nodes=%d cpus=%d",
	       nalloc_num_nodes(), numa_max_node(), numa_num_configured_nodes(),
	       numa_num_configured_cpus());
	for (int i = 0; i < nmanaged; i++) {
		cpu_set_t set;
		long long fr = 0, sz = numa_node_size64(managed[i], &fr);
		detail("managed[%d]=node %d cpus=%d mem_mb=%lld free_mb=%lld", i, managed[i],
		       node_cpuset(managed[i], &set), sz >> 20, fr >> 20);
	}
	detail("main thread: cpu=%d node=%d nalloc_thread_home=%d", sched_getcpu(), cur_node(),
	       nalloc_thread_home());
	return result(1, 1.0, "nodes=%d", nmanaged);
}

/* ---------------------------------------------------------------- threads */
/* A worker that (optionally) pins itself to a node, allocates a set of
 * objects and measures them against the node it expects. */
struct worker {
	pthread_t tid;
	int pin;          /* node to pin to, or -1 */
	int expect;       /* node the memory and home should be on */
	int onnode;       /* nalloc_malloc_onnode node or -1 */
	int cpu1;         /* pin to this one CPU + 1 instead (0: no) */
	uint64_t seed;
	/* results */
	int pinned_ok, ran_on, home;
	struct objs o;
	struct meas m;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->pinned_ok = w->pin < 0 ? 1 : pin_self(w->pin) == 0;
	if (w->cpu1) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(w->cpu1 - 1, &one);
		w->pinned_ok = sched_setaffinity(0, sizeof one, &one) == 0;
		sched_yield();
		w->pinned_ok = w->pinned_ok && sched_getcpu() == w->cpu1 - 1;
	}
	w->ran_on = cur_node();
	objs_alloc(&w->o, opt_small_mb << 20, opt_large, w->onnode, w->seed);
	objs_hold(&w->o);
	w->home = nalloc_thread_home();
	objs_measure(&w->o, w->expect, &w->m);
	objs_free(&w->o);
	return NULL;
}

/* run nw workers at once; returns how many passed; *worst: min fraction */
static int run_workers(struct worker *w, int nw, double *worst, const char *tag)
{
	int ok = 0;
	*worst = 1.0;
	for (int i = 0; i < nw; i++)
		spawn(&w[i].tid, w[i].pin, worker_main, &w[i]);
	for (int i = 0; i < nw; i++) {
		pthread_join(w[i].tid, NULL);
		char who[64];
		snprintf(who, sizeof who, "%s thread %d (cpu node %d, home %d)", tag, i, w[i].ran_on, w[i].home);
		meas_print(who, w[i].expect, &w[i].o, &w[i].m);
		int good = w[i].m.ok && w[i].home == w[i].expect && w[i].pinned_ok;
		if (!w[i].pinned_ok)
			detail("%s: could not pin to node %d", who, w[i].pin);
		if (w[i].home != w[i].expect)
			detail("%s: nalloc_thread_home()=%d, expected %d", who, w[i].home, w[i].expect);
		if (w[i].m.frac < *worst)
			*worst = w[i].m.frac;
		ok += good;
	}
	return ok;
}

/* ---------------------------------------------------------------- local */
static int check_local(void)
{
	int nodes[MAXN], n = cpu_nodes(nodes);
	if (n == 0)
		return result(0, 0, "reason=no-managed-node-with-cpus");
	struct worker w[MAXN];
	memset(w, 0, sizeof w);
	for (int i = 0; i < n; i++) {
		w[i].pin = w[i].expect = nodes[i];
		w[i].onnode = -1;
		w[i].seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
	}
	double worst;
	int ok = run_workers(w, n, &worst, "local");
	char list[256] = "";
	size_t o = 0;
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%d:%.4f", i ? "," : "", nodes[i], w[i].m.frac);
	return result(ok == n, worst, "threads=%d passed=%d per_node=%s small_mb=%zu large=%d hold=%.0fs",
	              n, ok, list, opt_small_mb, opt_large, opt_hold);
}

/* ---------------------------------------------------------------- onnode */
static int check_onnode(void)
{
	double worst = 1.0;
	int ok = 0;
	char list[256] = "";
	size_t lo = 0;
	for (int i = 0; i < nmanaged; i++) {
		struct objs o;
		struct meas m;
		memset(&o, 0, sizeof o);
		objs_alloc(&o, opt_small_mb << 20, opt_large, managed[i], 77 + (uint64_t)i);
		objs_measure(&o, managed[i], &m);
		char who[64];
		snprintf(who, sizeof who, "onnode(%d) from thread homed on %d", managed[i], nalloc_thread_home());
		meas_print(who, managed[i], &o, &m);
		objs_free(&o);
		ok += m.ok;
		if (m.frac < worst)
			worst = m.frac;
		lo += (size_t)snprintf(list + lo, sizeof list - lo, "%s%d:%.4f", i ? "," : "", managed[i], m.frac);
	}
	/* a node nalloc does not manage */
	int bad = -1;
	for (int n = 0; n < MAXN && bad < 0; n++)
		if (!is_managed(n))
			bad = n;
	errno = 0;
	void *p = nalloc_malloc_onnode(100, bad);
	int e = errno;
	int einval = p == NULL && e == EINVAL;
	detail("nalloc_malloc_onnode(100, %d) (unmanaged) = %p errno=%d (%s)", bad, p, e,
	       einval ? "EINVAL, ok" : "expected NULL/EINVAL");
	free(p);
	return result(ok == nmanaged && einval, worst, "nodes=%d passed=%d per_node=%s unmanaged_einval=%d",
	              nmanaged, ok, list, einval);
}

/* ---------------------------------------------------------------- membind */
static int check_bound(int membind)
{
	int want = opt_node;
	int nodes[MAXN], n = 0;
	bool topo_ok;
	if (membind) {
		topo_ok = nmanaged == 1 && managed[0] == want;
		detail("nalloc_num_nodes()=%d node_id(0)=%d (expected 1 node: %d)", nmanaged,
		       nmanaged ? managed[0] : -1, want);
		/* a thread on each node with CPUs (all CPUs are allowed) */
		int maxn = numa_max_node();
		cpu_set_t set;
		for (int i = 0; i <= maxn && n < MAXN; i++)
			if (node_cpuset(i, &set) > 0)
				nodes[n++] = i;
	} else {
		topo_ok = is_managed(want);
		detail("nalloc_num_nodes()=%d, node %d %s", nmanaged, want,
		       topo_ok ? "managed" : "NOT managed");
		n = 2; /* two unpinned threads */
	}
	struct worker w[MAXN + 1];
	memset(w, 0, sizeof w);
	for (int i = 0; i < n; i++) {
		w[i].pin = membind ? nodes[i] : -1;
		w[i].expect = want;
		w[i].onnode = -1;
		w[i].seed = 1234 + (uint64_t)i;
	}
	double worst;
	int ok = run_workers(w, n, &worst, membind ? "membind" : "cpunodebind");

	/* and the main thread */
	struct objs o;
	struct meas m;
	memset(&o, 0, sizeof o);
	objs_alloc(&o, opt_small_mb << 20, opt_large, -1, 999);
	int home = nalloc_thread_home();
	objs_measure(&o, want, &m);
	char who[64];
	snprintf(who, sizeof who, "main thread (cpu node %d, home %d)", cur_node(), home);
	meas_print(who, want, &o, &m);
	objs_free(&o);
	if (m.frac < worst)
		worst = m.frac;
	int main_ok = m.ok && home == want;
	return result(ok == n && main_ok && topo_ok, worst,
	              "node=%d nalloc_num_nodes=%d threads=%d passed=%d main=%s", want, nmanaged, n + 1,
	              ok + main_ok, main_ok ? "ok" : "bad");
}

/* ---------------------------------------------------------------- interleave */
static int check_interleave(void)
{
	if (nmanaged < 2)
		return result(0, 0, "reason=fewer-than-2-nodes nodes=%d", nmanaged);
	size_t big = (size_t)64 << 20;
	char *p = malloc(big);
	if (!p)
		return result(0, 0, "reason=malloc(64MiB)-failed errno=%d", errno);
	memset(p, 1, big);
	struct vec v = {0};
	vec_add_pages(&v, p, big);
	struct place pl;
	if (place_count(&v, &pl) != 0)
		return result(0, 0, "reason=move_pages");
	vec_free(&v);
	free(p);
	double even = 1.0 / nmanaged, worst_dev = 0, minfrac = 1.0;
	char a[256];
	long off_managed = pl.pages;
	for (int i = 0; i < nmanaged; i++) {
		double f = frac_on(&pl, managed[i]);
		double dev = f / even - 1.0;
		if (dev < 0)
			dev = -dev;
		if (dev > worst_dev)
			worst_dev = dev;
		if (f < minfrac)
			minfrac = f;
		off_managed -= pl.on[managed[i]];
	}
	detail("64 MiB block: %s of %ld pages; even share %.4f, worst relative deviation %.3f",
	       place_str(&pl, a, sizeof a), pl.pages, even, worst_dev);

	/* small objects: reported, not judged */
	struct objs o;
	memset(&o, 0, sizeof o);
	size_t keep = opt_small_mb;
	opt_small_mb = keep > 16 ? 16 : keep;
	objs_alloc(&o, opt_small_mb << 20, 0, -1, 4242);
	opt_small_mb = keep;
	struct place sp;
	if (place_count(&o.spages, &sp) == 0)
		detail("16 MiB of small objects (info): %s of %ld pages", place_str(&sp, a, sizeof a), sp.pages);
	objs_free(&o);

	int pass = worst_dev <= opt_tol && off_managed == 0;
	/* frac: the smallest node share relative to even (1.0 = perfectly even) */
	return result(pass, minfrac / even, "nodes=%d pages=%ld dist=%s max_dev=%.3f tolerance=%.2f",
	              nmanaged, pl.pages, place_str(&pl, a, sizeof a), worst_dev, opt_tol);
}

/* ---------------------------------------------------------------- migrate */
struct migrate_res {
	int a, b, pinned_a, pinned_b, home_a, home_b;
	long allocs_to_rehome;   /* -1: never */
	struct objs before, after;
	struct meas ma, mb;
};

static void *migrate_main(void *arg)
{
	struct migrate_res *r = arg;
	r->pinned_a = pin_self(r->a) == 0;
	/* a working set of every kind on node a, so that the cache holds
	 * partly used node-a spans of many classes when the thread moves */
	objs_alloc(&r->before, (size_t)4 << 20, 4, -1, 31);
	r->home_a = nalloc_thread_home();
	objs_measure(&r->before, r->a, &r->ma);

	r->pinned_b = pin_self(r->b) == 0;
	struct vec keep = {0};
	const long max_allocs = 1L << 18;  /* 16 MiB of 64-byte objects */
	r->allocs_to_rehome = -1;
	for (long i = 0; i < max_allocs; i++) {
		void *p = malloc(64);
		if (!p)
			break;
		*(volatile char *)p = 1;
		vec_push(&keep, (uintptr_t)p);
		if (nalloc_thread_home() == r->b) {
			r->allocs_to_rehome = i + 1;
			break;
		}
	}
	r->home_b = nalloc_thread_home();
	objs_alloc(&r->after, opt_small_mb << 20, opt_large, -1, 32);
	objs_measure(&r->after, r->b, &r->mb);
	for (size_t i = 0; i < keep.n; i++)
		free((void *)keep.v[i]);
	vec_free(&keep);
	objs_free(&r->before);
	objs_free(&r->after);
	return NULL;
}

static int check_migrate(void)
{
	int nodes[MAXN], n = cpu_nodes(nodes);
	if (n < 2)
		return result(0, 0, "reason=fewer-than-2-cpu-nodes");
	struct migrate_res r;
	memset(&r, 0, sizeof r);
	r.a = nodes[0];
	r.b = nodes[1];
	pthread_t t;
	spawn(&t, r.a, migrate_main, &r);
	pthread_join(t, NULL);
	char who[80];
	snprintf(who, sizeof who, "before the move (home %d)", r.home_a);
	meas_print(who, r.a, &r.before, &r.ma);
	snprintf(who, sizeof who, "after the move (home %d)", r.home_b);
	meas_print(who, r.b, &r.after, &r.mb);
	detail("moved %d -> %d (pinned %d/%d); nalloc_thread_home()==%d after %ld allocations of 64 B",
	       r.a, r.b, r.pinned_a, r.pinned_b, r.b, r.allocs_to_rehome);
	int pass = r.pinned_a && r.pinned_b && r.home_a == r.a && r.ma.ok && r.allocs_to_rehome > 0 &&
	           r.home_b == r.b && r.mb.ok;
	return result(pass, r.mb.frac, "from=%d to=%d allocs_to_rehome=%ld before=%.4f after=%.4f node_of_wrong=%ld",
	              r.a, r.b, r.allocs_to_rehome, r.ma.frac, r.mb.frac, r.mb.nodeof_bad);
}

/* ---------------------------------------------------------------- sethome */
struct sethome_res {
	int a, b, pinned;
	int rc_set, rc_bad, err_bad, rc_auto;
	int home_set, home_moved, home_auto;
	long allocs_to_auto;
	struct objs o1, o2, o3;
	struct meas m1, m2, m3;
};

static void *sethome_main(void *arg)
{
	struct sethome_res *r = arg;
	size_t mb = opt_small_mb > 8 ? 8 : opt_small_mb;
	int nl = opt_large > 8 ? 8 : opt_large;
	/* running on a, homed on b by hand */
	r->rc_set = nalloc_thread_set_home(r->b);
	r->home_set = nalloc_thread_home();
	objs_alloc(&r->o1, mb << 20, nl, -1, 101);
	objs_measure(&r->o1, r->b, &r->m1);
	/* an unmanaged node is refused and changes nothing */
	int bad = -1;
	for (int n = 0; n < MAXN && bad < 0; n++)
		if (!is_managed(n))
			bad = n;
	errno = 0;
	r->rc_bad = nalloc_thread_set_home(bad);
	r->err_bad = errno;
	/* moving to b's CPUs and back to a: a pinned home stays b */
	r->pinned = pin_self(r->b) == 0 && pin_self(r->a) == 0;
	struct vec keep = {0};
	for (long i = 0; i < (1L << 16); i++) {
		void *p = malloc(64);
		if (!p)
			break;
		vec_push(&keep, (uintptr_t)p);
	}
	r->home_moved = nalloc_thread_home();
	objs_alloc(&r->o2, mb << 20, nl, -1, 102);
	objs_measure(&r->o2, r->b, &r->m2);
	/* -1: automatic again; on a's CPUs the home becomes a */
	r->rc_auto = nalloc_thread_set_home(-1);
	r->allocs_to_auto = -1;
	for (long i = 0; i < (1L << 18); i++) {
		if (nalloc_thread_home() == r->a) {
			r->allocs_to_auto = i;
			break;
		}
		void *p = malloc(64);
		if (!p)
			break;
		vec_push(&keep, (uintptr_t)p);
	}
	r->home_auto = nalloc_thread_home();
	objs_alloc(&r->o3, mb << 20, nl, -1, 103);
	objs_measure(&r->o3, r->a, &r->m3);
	for (size_t i = 0; i < keep.n; i++)
		free((void *)keep.v[i]);
	vec_free(&keep);
	objs_free(&r->o1);
	objs_free(&r->o2);
	objs_free(&r->o3);
	return NULL;
}

static int check_sethome(void)
{
	int nodes[MAXN], n = cpu_nodes(nodes);
	if (n < 2)
		return result(0, 0, "reason=fewer-than-2-cpu-nodes");
	struct sethome_res r;
	memset(&r, 0, sizeof r);
	r.a = nodes[0];
	r.b = nodes[1];
	pthread_t t;
	spawn(&t, r.a, sethome_main, &r);
	pthread_join(t, NULL);
	char who[96];
	snprintf(who, sizeof who, "set_home(%d) on node %d's cpus (rc %d, home %d)", r.b, r.a, r.rc_set, r.home_set);
	meas_print(who, r.b, &r.o1, &r.m1);
	snprintf(who, sizeof who, "after moving %d->%d->%d (home %d)", r.a, r.b, r.a, r.home_moved);
	meas_print(who, r.b, &r.o2, &r.m2);
	snprintf(who, sizeof who, "set_home(-1) (rc %d, home %d after %ld allocs)", r.rc_auto, r.home_auto,
	         r.allocs_to_auto);
	meas_print(who, r.a, &r.o3, &r.m3);
	detail("set_home(unmanaged) = %d errno %d (expected -1 EINVAL)", r.rc_bad, r.err_bad);
	double worst = r.m1.frac;
	if (r.m2.frac < worst)
		worst = r.m2.frac;
	if (r.m3.frac < worst)
		worst = r.m3.frac;
	int pass = r.rc_set == 0 && r.home_set == r.b && r.m1.ok && r.rc_bad == -1 && r.err_bad == EINVAL &&
	           r.pinned && r.home_moved == r.b && r.m2.ok && r.rc_auto == 0 && r.home_auto == r.a &&
	           r.m3.ok;
	return result(pass, worst, "a=%d b=%d set=%.4f after_move=%.4f auto=%.4f allocs_to_auto=%ld einval=%d",
	              r.a, r.b, r.m1.frac, r.m2.frac, r.m3.frac, r.allocs_to_auto,
	              r.rc_bad == -1 && r.err_bad == EINVAL);
}

/* ---------------------------------------------------------------- crossfree */
#define BATCH 256
#define QCAP 64

struct batch {
	int n;
	void *p[BATCH];
	uint32_t sz[BATCH];
};

static struct {
	pthread_mutex_t m;
	pthread_cond_t nonempty, nonfull;
	struct batch *ring[QCAP];
	int head, count, producers_left;
	volatile int stop;
	pthread_barrier_t phase2;
	long corrupt;
} xq = {.m = PTHREAD_MUTEX_INITIALIZER, .nonempty = PTHREAD_COND_INITIALIZER, .nonfull = PTHREAD_COND_INITIALIZER};

struct xthread {
	pthread_t tid;
	int node, pinned, home;
	long items, large;
	uint64_t seed;
	struct objs o;
	struct meas m;
};

static void xq_push(struct batch *b)
{
	pthread_mutex_lock(&xq.m);
	while (xq.count == QCAP)
		pthread_cond_wait(&xq.nonfull, &xq.m);
	xq.ring[(xq.head + xq.count) % QCAP] = b;
	xq.count++;
	pthread_cond_signal(&xq.nonempty);
	pthread_mutex_unlock(&xq.m);
}

static struct batch *xq_pop(void)
{
	struct batch *b = NULL;
	pthread_mutex_lock(&xq.m);
	while (xq.count == 0 && xq.producers_left > 0)
		pthread_cond_wait(&xq.nonempty, &xq.m);
	if (xq.count) {
		b = xq.ring[xq.head];
		xq.head = (xq.head + 1) % QCAP;
		xq.count--;
		pthread_cond_signal(&xq.nonfull);
	}
	pthread_mutex_unlock(&xq.m);
	return b;
}

static void *producer_main(void *arg)
{
	struct xthread *x = arg;
	x->pinned = pin_self(x->node) == 0;
	uint64_t s = x->seed | 1;
	while (!xq.stop) {
		struct batch *b = malloc(sizeof *b);
		if (!b)
			break;
		b->n = 0;
		for (int i = 0; i < BATCH; i++) {
			uint64_t r = rnd(&s);
			size_t sz = (r & 63) == 0 ? 40000 + (size_t)(r >> 8) % 200000 : 16 + (size_t)(r >> 8) % 4081;
			unsigned char *p = malloc(sz);
			if (!p)
				continue;
			p[0] = (unsigned char)sz;
			p[sz - 1] = (unsigned char)(sz >> 3);
			b->p[b->n] = p;
			b->sz[b->n] = (uint32_t)sz;
			b->n++;
			x->items++;
			x->large += sz > 32768;
		}
		xq_push(b);
	}
	pthread_mutex_lock(&xq.m);
	xq.producers_left--;
	pthread_cond_broadcast(&xq.nonempty);
	pthread_mutex_unlock(&xq.m);

	pthread_barrier_wait(&xq.phase2);
	/* phase 2: allocate again on the home node */
	size_t mb = opt_small_mb > 16 ? 16 : opt_small_mb;
	objs_alloc(&x->o, mb << 20, opt_large > 8 ? 8 : opt_large, -1, x->seed + 5);
	x->home = nalloc_thread_home();
	objs_measure(&x->o, x->node, &x->m);
	objs_free(&x->o);
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct xthread *x = arg;
	x->pinned = pin_self(x->node) == 0;
	x->home = nalloc_thread_home();
	struct batch *b;
	while ((b = xq_pop()) != NULL) {
		for (int i = 0; i < b->n; i++) {
			unsigned char *p = b->p[i];
			size_t sz = b->sz[i];
			if (p[0] != (unsigned char)sz || p[sz - 1] != (unsigned char)(sz >> 3))
				__atomic_fetch_add(&xq.corrupt, 1, __ATOMIC_RELAXED);
			free(p);
			x->items++;
			x->large += sz > 32768;
		}
		free(b);
	}
	x->home = nalloc_thread_home();
	return NULL;
}

static int check_crossfree(void)
{
	int nodes[MAXN], n = cpu_nodes(nodes);
	if (n < 2)
		return result(0, 0, "reason=fewer-than-2-cpu-nodes");
	int A = nodes[0], B = nodes[1];
	cpu_set_t set;
	int np = node_cpuset(A, &set), nc = node_cpuset(B, &set);
	np = np > 2 ? 2 : np;
	nc = nc > 2 ? 2 : nc;
	struct xthread prod[2], cons[2];
	memset(prod, 0, sizeof prod);
	memset(cons, 0, sizeof cons);
	struct nalloc_node_stats a0, a1, a2;
	stats_of(A, &a0);
	xq.producers_left = np;
	pthread_barrier_init(&xq.phase2, NULL, (unsigned)np + 1);
	for (int i = 0; i < nc; i++) {
		cons[i].node = B;
		spawn(&cons[i].tid, B, consumer_main, &cons[i]);
	}
	for (int i = 0; i < np; i++) {
		prod[i].node = A;
		prod[i].seed = 0xabcdef12345ULL * (uint64_t)(i + 3);
		spawn(&prod[i].tid, A, producer_main, &prod[i]);
	}
	double t0 = now_s();
	while (now_s() - t0 < opt_seconds)
		usleep(20000);
	xq.stop = 1;
	long freed = 0, produced = 0, large = 0;
	int cons_ok = 1;
	for (int i = 0; i < nc; i++) {
		pthread_join(cons[i].tid, NULL);
		freed += cons[i].items;
		large += cons[i].large;
		cons_ok &= cons[i].pinned && cons[i].home == B;
		detail("consumer %d: node %d pinned=%d home=%d freed=%ld (large %ld)", i, B, cons[i].pinned,
		       cons[i].home, cons[i].items, cons[i].large);
	}
	stats_of(A, &a1);
	pthread_barrier_wait(&xq.phase2);
	double worst = 1.0;
	int prod_ok = 1;
	for (int i = 0; i < np; i++) {
		pthread_join(prod[i].tid, NULL);
		produced += prod[i].items;
		char who[80];
		snprintf(who, sizeof who, "producer %d after the stress (home %d, made %ld)", i, prod[i].home,
		         prod[i].items);
		meas_print(who, A, &prod[i].o, &prod[i].m);
		prod_ok &= prod[i].pinned && prod[i].home == A && prod[i].m.ok;
		if (prod[i].m.frac < worst)
			worst = prod[i].m.frac;
	}
	stats_of(A, &a2);
	pthread_barrier_destroy(&xq.phase2);
	uint64_t remote = a1.remote_frees - a0.remote_frees;
	detail("node %d stats: remote_frees %llu -> %llu (+%llu), frees +%llu, mapped_mb %llu -> %llu -> %llu "
	       "(phase 2 growth %lld MiB)",
	       A, (unsigned long long)a0.remote_frees, (unsigned long long)a1.remote_frees,
	       (unsigned long long)remote, (unsigned long long)(a1.frees - a0.frees),
	       (unsigned long long)(a0.mapped_bytes >> 20), (unsigned long long)(a1.mapped_bytes >> 20),
	       (unsigned long long)(a2.mapped_bytes >> 20),
	       ((long long)a2.mapped_bytes - (long long)a1.mapped_bytes) >> 20);
	int pass = prod_ok && cons_ok && remote > 0 && freed == produced && xq.corrupt == 0 && freed > 0;
	return result(pass, worst,
	              "A=%d B=%d producers=%d consumers=%d seconds=%.1f objects=%ld large=%ld remote_frees_A=%llu "
	              "corrupt=%ld",
	              A, B, np, nc, opt_seconds, freed, large, (unsigned long long)remote, xq.corrupt);
}

/* ---------------------------------------------------------------- strict / spill */
/* Both run their work in a child, which prints the RESULT line; the parent
 * prints one only when the child died. */
static int in_child(int (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(fn());
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (WIFSIGNALED(st))
		return result(0, 0, "reason=child-killed-by-signal-%d%s", WTERMSIG(st),
		              WTERMSIG(st) == SIGKILL ? "(OOM-killer?)" : "");
	return WEXITSTATUS(st);
}

#define BLOCK ((size_t)4 << 20)

static long long node_free_mb(int node)
{
	long long fr = 0;
	numa_node_size64(node, &fr);
	return fr >> 20;
}

static int strict_child(void)
{
	int nodes[MAXN], n = cpu_nodes(nodes);
	if (n < 1 || nmanaged < 2)
		return result(0, 0, "reason=needs-2-nodes");
	int A = nodes[0], B = -1;
	for (int i = 0; i < nmanaged; i++)
		if (managed[i] != A) {
			B = managed[i];
			break;
		}
	if (pin_self(A) != 0)
		return result(0, 0, "reason=cannot-pin-to-node-%d", A);
	long long size_mb = numa_node_size64(A, NULL) >> 20, free0 = node_free_mb(A);
	int home = nalloc_thread_home();
	struct vec blocks = {0}, pages = {0};
	int err = 0;
	double t0 = now_s();
	/* bound: twice the node's size; past that the pages are elsewhere */
	size_t limit = (size_t)(size_mb * 2) << 20, got = 0;
	while (got < limit) {
		errno = 0;
		char *p = malloc(BLOCK);
		if (!p) {
			err = errno;
			break;
		}
		if (opt_verbose && blocks.n % 16 == 0)
			detail("%zu MiB so far, node %d has %lld MiB free, next block at %p (nalloc node %d)", got >> 20,
			       A, node_free_mb(A), (void *)p, nalloc_node_of(p));
		memset(p, 7, BLOCK);
		vec_push(&blocks, (uintptr_t)p);
		vec_add_pages(&pages, p, BLOCK);
		got += BLOCK;
	}
	long long free_at_null = node_free_mb(A);
	detail("node %d: %lld MiB, %lld MiB free at start; malloc(4 MiB) x %zu = %zu MiB, then %s "
	       "(errno %d %s) with %lld MiB free on the node, %.1fs",
	       A, size_mb, free0, blocks.n, got >> 20, got < limit ? "NULL" : "no NULL (limit hit)", err,
	       strerror(err), free_at_null, now_s() - t0);
	struct place pl;
	if (place_count(&pages, &pl) != 0)
		return result(0, 0, "reason=move_pages");
	char a[256];
	double fa = frac_on(&pl, A);
	detail("pages of those blocks: %s of %ld (%.4f on %d)", place_str(&pl, a, sizeof a), pl.pages, fa, A);
	vec_free(&pages);

	/* small objects while the node is full: NULL/ENOMEM or success, no crash */
	long small_ok = 0;
	int small_err = 0;
	struct vec smalls = {0};
	for (long i = 0; i < (1L << 18); i++) {
		errno = 0;
		char *p = malloc(256);
		if (!p) {
			small_err = errno;
			break;
		}
		memset(p, 3, 256);
		vec_push(&smalls, (uintptr_t)p);
		small_ok++;
	}
	detail("then malloc(256) x %ld succeeded, %s (errno %d)", small_ok,
	       small_err ? "then NULL" : "no NULL", small_err);
	for (size_t i = 0; i < smalls.n; i++)
		free((void *)smalls.v[i]);
	vec_free(&smalls);

	/* the process goes on: free half, allocate again */
	size_t nfreed = 0;
	for (size_t i = 0; i < blocks.n; i += 2) {
		free((void *)blocks.v[i]);
		blocks.v[i] = 0;
		nfreed++;
	}
	int again = 0;
	double fagain = 0;
	struct vec again_blocks = {0};
	for (int i = 0; i < 4; i++) {
		char *p = malloc(BLOCK);
		if (!p)
			break;
		memset(p, 9, BLOCK);
		vec_push(&again_blocks, (uintptr_t)p);
		vec_add_pages(&pages, p, BLOCK);
		again++;
	}
	char *sm = malloc(1000);
	if (sm)
		memset(sm, 1, 1000);
	if (place_count(&pages, &pl) == 0)
		fagain = frac_on(&pl, A);
	vec_free(&pages);
	detail("freed %zu blocks; then malloc(4 MiB) x %d of 4 succeeded (%.4f on %d), malloc(1000) %s", nfreed,
	       again, fagain, A, sm ? "ok" : "NULL");
	free(sm);

	/* the other node still works */
	double fb = 0;
	errno = 0;
	char *q = nalloc_malloc_onnode(BLOCK, B);
	int qerr = errno;
	char *qs = nalloc_malloc_onnode(200, B);
	if (q) {
		memset(q, 2, BLOCK);
		vec_add_pages(&pages, q, BLOCK);
		if (qs) {
			memset(qs, 2, 200);
			vec_add_pages(&pages, qs, 200);
		}
		if (place_count(&pages, &pl) == 0)
			fb = frac_on(&pl, B);
	}
	detail("nalloc_malloc_onnode(4 MiB, %d) = %s (errno %d), small %s: %.4f on %d", B, q ? "ok" : "NULL", qerr,
	       qs ? "ok" : "NULL", fb, B);
	vec_free(&pages);
	free(q);
	free(qs);
	for (size_t i = 0; i < again_blocks.n; i++)
		free((void *)again_blocks.v[i]);
	for (size_t i = 0; i < blocks.n; i++)
		free((void *)blocks.v[i]);
	vec_free(&again_blocks);
	vec_free(&blocks);

	int pass = home == A && got < limit && err == ENOMEM && fa >= opt_min && got > 0 &&
	           (small_err == 0 || small_err == ENOMEM) && again == 4 && sm && fagain >= opt_min && q && qs &&
	           fb >= opt_min;
	double worst = fa;
	if (fagain < worst)
		worst = fagain;
	if (fb < worst)
		worst = fb;
	return result(pass, worst,
	              "node=%d home=%d got_mb=%zu null_errno=%d free_mb_at_null=%lld on_node=%.4f realloc=%d/4 "
	              "onnode_other=%.4f",
	              A, home, got >> 20, err, free_at_null, fa, again, fb);
}

static int check_strict(void)
{
	if (strcmp(policy(), "strict") != 0)
		detail("warning: NALLOC_NUMA is '%s', not strict", policy());
	return in_child(strict_child);
}

static int spill_child(void)
{
	int nodes[MAXN], n = cpu_nodes(nodes);
	if (n < 1 || nmanaged < 2)
		return result(0, 0, "reason=needs-2-nodes");
	int A = nodes[0];
	if (pin_self(A) != 0)
		return result(0, 0, "reason=cannot-pin-to-node-%d", A);
	/* the nearest other nodes */
	int best = 1 << 30;
	for (int i = 0; i < nmanaged; i++)
		if (managed[i] != A && numa_distance(A, managed[i]) < best)
			best = numa_distance(A, managed[i]);
	long long free0 = node_free_mb(A);
	size_t want = ((size_t)free0 + 64) << 20, got = 0;
	struct vec blocks = {0}, pages = {0};
	int err = 0;
	double t0 = now_s();
	while (got < want) {
		char *p = malloc(BLOCK);
		if (!p) {
			err = errno;
			break;
		}
		memset(p, 7, BLOCK);
		vec_push(&blocks, (uintptr_t)p);
		vec_add_pages(&pages, p, BLOCK);
		got += BLOCK;
	}
	long nodeof[MAXN] = {0};
	for (size_t i = 0; i < blocks.n; i++) {
		int k = nalloc_node_of((void *)blocks.v[i]);
		if (k >= 0 && k < MAXN)
			nodeof[k]++;
	}
	struct place pl;
	if (place_count(&pages, &pl) != 0)
		return result(0, 0, "reason=move_pages");
	long spilled = pl.pages - pl.on[A], near = 0;
	for (int i = 0; i < nmanaged; i++)
		if (managed[i] != A && numa_distance(A, managed[i]) == best)
			near += pl.on[managed[i]];
	char a[256], b[256];
	size_t o = 0;
	b[0] = 0;
	for (int i = 0; i < MAXN; i++)
		if (nodeof[i])
			o += (size_t)snprintf(b + o, sizeof b - o, "%s%d:%ld", o ? "," : "", i, nodeof[i]);
	detail("node %d had %lld MiB free; allocated %zu MiB in %.1fs (malloc errno %d); pages %s of %ld; "
	       "nalloc_node_of per block %s; nearest distance %d",
	       A, free0, got >> 20, now_s() - t0, err, place_str(&pl, a, sizeof a), pl.pages, b, best);
	for (size_t i = 0; i < blocks.n; i++)
		free((void *)blocks.v[i]);
	vec_free(&blocks);
	vec_free(&pages);
	double fnear = spilled ? (double)near / (double)spilled : 0;
	int pass = got >= want && spilled > 0 && fnear >= opt_min && pl.errors == 0;
	return result(pass, fnear, "node=%d got_mb=%zu on_home=%.4f spilled_pages=%ld spilled_to_nearest=%.4f dist=%s",
	              A, got >> 20, frac_on(&pl, A), spilled, fnear, a);
}

static int check_spill(void)
{
	return in_child(spill_child);
}

/* ---------------------------------------------------------------- memless */
/* CPU nodes without memory: their threads belong on the nearest node with
 * memory (the kernel's own fallback order), not on node 0. */
static int check_memless(void)
{
	int nodes[MAXN], n = 0, maxn = numa_max_node();
	for (int node = 0; node <= maxn && node < MAXN; node++)
		if (node_ncpus[node] > 0 && !is_managed(node) && numa_node_size64(node, NULL) <= 0)
			nodes[n++] = node;
	if (n == 0)
		return result(0, 0, "reason=no-cpu-node-without-memory");
	struct worker w[MAXN];
	memset(w, 0, sizeof w);
	char list[256] = "";
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		int best = -1, bd = 1 << 30;
		for (int k = 0; k < nmanaged; k++) {
			int d = numa_distance(nodes[i], managed[k]);
			if (d > 0 && (d < bd || (d == bd && managed[k] < best))) {
				bd = d;
				best = managed[k];
			}
		}
		w[i].pin = nodes[i];
		w[i].expect = best;
		w[i].onnode = -1;
		w[i].seed = 0x51ed27ULL * (uint64_t)(i + 1);
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%d->%d(d=%d)", i ? "," : "", nodes[i], best, bd);
	}
	detail("cpu nodes without memory and their nearest managed node: %s", list);
	double worst;
	int ok = run_workers(w, n, &worst, "memless");
	return result(ok == n, worst, "threads=%d passed=%d nearest=%s", n, ok, list);
}

/* ---------------------------------------------------------------- hotplug */
/* the node of an OS cpu from sysfs (its cpuN/nodeM entry), -1 if none */
static int sysfs_cpu_node(int cpu)
{
	char path[64];
	snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d", cpu);
	DIR *d = opendir(path);
	int node = -1;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "node", 4) && e->d_name[4] >= '0' && e->d_name[4] <= '9')
			node = atoi(e->d_name + 4);
	if (d)
		closedir(d);
	return node;
}

/* CPUs offline when the process started (and so missing from nalloc's
 * start-up tables) are brought online; a thread pinned on each must be
 * homed on the managed node nearest to the CPU's node, not on node 0. */
static int check_hotplug(void)
{
	int cpus[MAXN], n = 0;
	FILE *f = fopen("/sys/devices/system/cpu/offline", "r");
	char buf[256] = "";
	if (f) {
		if (!fgets(buf, sizeof buf, f))
			buf[0] = 0;
		fclose(f);
	}
	for (char *p = buf; *p && n < MAXN;) {
		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		long a = strtol(p, &p, 10), b = a;
		if (*p == '-')
			b = strtol(p + 1, &p, 10);
		for (long c = a; c <= b && n < MAXN; c++)
			cpus[n++] = (int)c;
	}
	if (n == 0)
		return result(0, 0, "reason=no-offline-cpu (take some offline before starting numa_place)");
	struct worker w[MAXN];
	memset(w, 0, sizeof w);
	char list[256] = "";
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		char path[80];
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/online", cpus[i]);
		FILE *on = fopen(path, "w");
		int ok = on && fputs("1", on) >= 0;
		if (on && fclose(on) != 0)
			ok = 0;
		if (!ok)
			return result(0, 0, "reason=cannot-online-cpu-%d", cpus[i]);
		int node = sysfs_cpu_node(cpus[i]), best = -1, bd = 1 << 30;
		for (int k = 0; k < nmanaged; k++) {
			int d = numa_distance(node, managed[k]);
			if (d > 0 && (d < bd || (d == bd && managed[k] < best))) {
				bd = d;
				best = managed[k];
			}
		}
		w[i].pin = -1;
		w[i].cpu1 = cpus[i] + 1;
		w[i].expect = best;
		w[i].onnode = -1;
		w[i].seed = 0x7f4a7c15ULL * (uint64_t)(i + 3);
		o += (size_t)snprintf(list + o, sizeof list - o, "%s%d@%d->%d", i ? "," : "", cpus[i], node, best);
	}
	detail("cpus brought online (cpu@node->nearest managed): %s", list);
	double worst;
	int ok = run_workers(w, n, &worst, "hotplug");
	return result(ok == n, worst, "threads=%d passed=%d cpus=%s", n, ok, list);
}

/* ---------------------------------------------------------------- strictfill */
static long long node_free_now_mb(int node)
{
	long long fr = 0;
	if (numa_node_size64(node, &fr) < 0)
		return -1;
	return fr >> 20;
}

/* the filler: bind a mapping to node, touch it until less than free_mb is
 * free there, say so on fd, then hold it until killed */
static void filler(int node, int fd)
{
	FILE *f = fopen("/proc/self/oom_score_adj", "w");
	if (f) {
		fputs("-1000", f);
		fclose(f);
	}
	size_t size = (size_t)numa_node_size64(node, NULL);
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	unsigned long mask[16] = {0};
	mask[node / (8 * sizeof(unsigned long))] |= 1UL << (node % (8 * sizeof(unsigned long)));
	if (p == MAP_FAILED || mbind(p, size, MPOL_BIND, mask, 1024, 0) != 0) {
		(void)!write(fd, "e", 1);
		_exit(1);
	}
	size_t done = 0;
	while (done + BLOCK <= size && node_free_now_mb(node) > opt_free_mb) {
		memset(p + done, 5, BLOCK);
		done += BLOCK;
	}
	printf("numa_place: %s: filler took %zu MiB of node %d, %lld MiB free there now\n", check_name, done >> 20,
	       node, node_free_now_mb(node));
	fflush(stdout);
	(void)!write(fd, "f", 1);
	for (;;)
		pause();
}

static int check_strictfill(void)
{
	if (strcmp(policy(), "strict") != 0)
		detail("warning: NALLOC_NUMA is '%s', not strict", policy());
	if (nmanaged < 1)
		return result(0, 0, "reason=no-managed-node");
	int B = managed[nmanaged - 1];
	int go[2], ready[2], filled[2];
	if (pipe(go) || pipe(ready) || pipe(filled))
		die("pipe");
	fflush(stdout);
	pid_t c = fork();
	if (c < 0)
		die("fork");
	if (c == 0) {
		/* the nalloc process: one block (the room check runs), wait,
		 * then blocks until NULL */
		char *first = nalloc_malloc_onnode(BLOCK, B);
		if (first)
			memset(first, 1, BLOCK);
		(void)!write(ready[1], first ? "r" : "n", 1);
		char x;
		if (read(go[0], &x, 1) != 1)
			_exit(4);
		size_t limit = (size_t)numa_node_size64(B, NULL) * 2, got = 0;
		int err = 0;
		while (got < limit) {
			errno = 0;
			char *p = nalloc_malloc_onnode(BLOCK, B);
			if (!p) {
				err = errno;
				break;
			}
			memset(p, 7, BLOCK);
			got += BLOCK;
		}
		printf("numa_place: %s: child: then malloc_onnode(4 MiB, %d) x %zu = %zu MiB, then %s (errno %d %s), "
		       "%lld MiB free on the node\n",
		       check_name, B, got / BLOCK, got >> 20, got < limit ? "NULL" : "no NULL", err, strerror(err),
		       node_free_now_mb(B));
		fflush(stdout);
		_exit(err == ENOMEM ? 0 : 3);
	}
	char x = 0;
	if (read(ready[0], &x, 1) != 1 || x != 'r') {
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		return result(0, 0, "reason=first-block-failed");
	}
	long long free0 = node_free_now_mb(B);
	pid_t f = fork();
	if (f < 0)
		die("fork");
	if (f == 0)
		filler(B, filled[1]);
	if (read(filled[0], &x, 1) != 1 || x != 'f') {
		kill(c, SIGKILL);
		kill(f, SIGKILL);
		waitpid(c, NULL, 0);
		waitpid(f, NULL, 0);
		return result(0, 0, "reason=filler-failed");
	}
	long long free1 = node_free_now_mb(B);
	(void)!write(go[1], "g", 1);
	int st;
	while (waitpid(c, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	int fst = 0;
	pid_t fr = waitpid(f, &fst, WNOHANG);
	int filler_alive = fr == 0;
	kill(f, SIGKILL);
	waitpid(f, NULL, 0);
	int killed = WIFSIGNALED(st), code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	detail("node %d: %lld MiB free before the filler, %lld MiB after; child %s %d; filler %s", B, free0, free1,
	       killed ? "killed by signal" : "exited", killed ? WTERMSIG(st) : code,
	       filler_alive ? "alive" : "dead (OOM-killed?)");
	int pass = !killed && code == 0 && filler_alive;
	return result(pass, pass ? 1.0 : 0.0, "node=%d free_before_mb=%lld free_after_fill_mb=%lld child=%s%d filler=%s",
	              B, free0, free1, killed ? "signal" : "exit", killed ? WTERMSIG(st) : code,
	              filler_alive ? "alive" : "dead");
}

/* ---------------------------------------------------------------- main */
static const struct {
	const char *name;
	int (*fn)(void);
} checks[] = {
	{"info", check_info},
	{"local", check_local},
	{"crossfree", check_crossfree},
	{"migrate", check_migrate},
	{"interleave", check_interleave},
	{"onnode", check_onnode},
	{"membind", NULL},
	{"cpunodebind", NULL},
	{"strict", check_strict},
	{"spill", check_spill},
	{"sethome", check_sethome},
	{"memless", check_memless},
	{"hotplug", check_hotplug},
	{"strictfill", check_strictfill},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: numa_place [--min F] [--tolerance F] [--small-mb N] [--large N] [--seconds S]\n"
	           "                  [--hold S] [--node N] [--verbose] CHECK\n"
	           "CHECK: info local crossfree migrate interleave onnode membind cpunodebind strict spill\n       sethome memless hotplug strictfill\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"min", required_argument, NULL, 'm'},      {"tolerance", required_argument, NULL, 't'},
		{"small-mb", required_argument, NULL, 's'}, {"large", required_argument, NULL, 'l'},
		{"seconds", required_argument, NULL, 'S'},  {"hold", required_argument, NULL, 'H'},
		{"node", required_argument, NULL, 'n'},     {"verbose", no_argument, NULL, 'v'},
		{"free-mb", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	int c;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "m:t:s:l:S:H:n:F:vh", lo, NULL)) != -1) {
		switch (c) {
		case 'm': opt_min = atof(optarg); break;
		case 't': opt_tol = atof(optarg); break;
		case 's': opt_small_mb = (size_t)strtoul(optarg, NULL, 0); break;
		case 'l': opt_large = atoi(optarg); break;
		case 'S': opt_seconds = atof(optarg); break;
		case 'H': opt_hold = atof(optarg); break;
		case 'n': opt_node = atoi(optarg); break;
		case 'v': opt_verbose = 1; break;
		case 'F': opt_free_mb = atol(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	check_name = argv[optind];
	pagesz = sysconf(_SC_PAGESIZE);
	if (numa_available() < 0)
		return result(0, 0, "reason=libnuma-says-no-NUMA");
	load_managed();
	load_cpus();
	if (opt_verbose)
		detail("nalloc manages %d node(s); policy %s; layout %s", nmanaged, policy(), layout());
	if (!strcmp(check_name, "membind"))
		return check_bound(1);
	if (!strcmp(check_name, "cpunodebind"))
		return check_bound(0);
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
		if (checks[i].fn && !strcmp(check_name, checks[i].name))
			return checks[i].fn();
	fprintf(stderr, "numa_place: unknown check '%s'\n", check_name);
	usage(stderr);
	return 2;
}
