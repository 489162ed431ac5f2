/* SPDX-License-Identifier: MIT */
/* test_stats.c: the statistics add up on known workloads.
 *   test_stats basic   one process, whatever the nodes: live objects,
 *                      in-use bytes, large blocks, unowned frees, threads
 *   test_stats json    print the JSON document on stdout (checked by
 *                      tests/check_stats_json.py)
 *   test_stats vm2     inside a 2-node VM: a thread pinned on node 1 puts
 *                      its bytes on node 1; a thread on node 0 freeing them
 *                      shows as remote frees (in on 1, out on 0, by source),
 *                      small and large blocks alike
 *   test_stats fork N [FD]  fork N children while the interval writer runs
 *                      (run with a short NALLOC_STATS_INTERVAL): each child
 *                      allocates and exit()s; one that hangs is killed by
 *                      its alarm() and the test fails.  FD: the statistics
 *                      file is a FIFO open on FD, read here slowly, so
 *                      that the writer is nearly always inside its write
 *                      when a child is forked; the documents read from it
 *                      must all be this process's
 *   test_stats wait    allocate, say "ready", then sleep until a signal
 *   test_stats drift S inside a 2-node VM, for S seconds: a thread on node
 *                      0 keeps growing and hands half of what it allocates
 *                      to a thread on node 1, which frees it (remote frees
 *                      on node 0) and churns its own memory, keeping a
 *                      little (doc/plot-2node.sh draws its interval file)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "nalloc.h"
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_util.h"
#define failures unit_failures

static struct nalloc_stats st[2];
static int cur;

static struct nalloc_stats *snap(void)
{
	cur ^= 1;
	nalloc_stats_get(&st[cur]);
	return &st[cur];
}

static long long total(const struct nalloc_stats *s, size_t off)
{
	long long t = 0;
	for (int i = 0; i < s->nnodes; i++)
		t += (long long)*(const uint64_t *)((const char *)&s->nodes[i] + off);
	return t;
}
#define TOT(s, f) total((s), offsetof(struct nalloc_node_stats, f))
#define LIVE(s) (TOT(s, allocs) - TOT(s, frees))

enum { N = 20000 };
static void *objs[N];

static void *free_all(void *arg)
{
	(void)arg;
	for (int i = 0; i < N; i++)
		free(objs[i]);
	return NULL;
}

static void *idle_thread(void *arg)
{
	pthread_barrier_t *b = arg;
	void *p = malloc(64); /* gets a cache: homed somewhere */
	pthread_barrier_wait(b);
	pthread_barrier_wait(b);
	free(p);
	return NULL;
}

static int basic(void)
{
	struct nalloc_stats a, b;
	/* --disable-stats: small allocations and frees are not counted */
	nalloc_stats_get(&a);
	for (int i = 0; i < 100; i++)
		objs[i] = malloc(64);
	for (int i = 99; i >= 0; i--)
		free(objs[i]);
	nalloc_stats_get(&b);
	if (TOT(&b, local_frees) == TOT(&a, local_frees)) {
		printf("stats compiled out (--disable-stats): skipped\n");
		return 77;
	}
	size_t usable = 0;
	nalloc_stats_get(&a);
	for (int i = 0; i < N; i++) {
		objs[i] = malloc(100);
		memset(objs[i], 1, 100); /* resident: the placement sample below needs it */
	}
	usable = malloc_usable_size(objs[0]);
	nalloc_stats_get(&b);
	CHECK(LIVE(&b) - LIVE(&a) == N, "live objects grew by %lld, want %d", LIVE(&b) - LIVE(&a), N);
	CHECK(TOT(&b, in_use_bytes) - TOT(&a, in_use_bytes) == (long long)(N * usable),
	      "in_use grew by %lld, want %zu", TOT(&b, in_use_bytes) - TOT(&a, in_use_bytes), N * usable);
	CHECK(TOT(&b, allocs) - TOT(&a, allocs) == N, "allocs grew by %lld",
	      TOT(&b, allocs) - TOT(&a, allocs));
	/* frees by another thread: unowned frees, live count back.  glibc's
	 * pthread_create allocates a few blocks of its own (the thread's TLS
	 * vector, kept with the cached stack): allow SLACK of them. */
	enum { SLACK = 4, SLACK_BYTES = 4096 };
	pthread_t t;
	pthread_create(&t, NULL, free_all, NULL);
	pthread_join(t, NULL);
	nalloc_stats_get(&a);
	long long fell = LIVE(&b) - LIVE(&a);
	CHECK(fell <= N && fell >= N - SLACK, "live objects fell by %lld, want %d", fell, N);
	CHECK(TOT(&a, unowned_frees) - TOT(&b, unowned_frees) == N, "unowned frees grew by %lld",
	      TOT(&a, unowned_frees) - TOT(&b, unowned_frees));
	long long bytes = TOT(&b, in_use_bytes) - TOT(&a, in_use_bytes);
	CHECK(bytes <= (long long)(N * usable) && bytes >= (long long)(N * usable) - SLACK_BYTES,
	      "in_use fell by %lld, want %zu", bytes, N * usable);
	/* local frees */
	for (int i = 0; i < 1000; i++)
		objs[i] = malloc(48);
	nalloc_stats_get(&b);
	for (int i = 999; i >= 0; i--)
		free(objs[i]);
	nalloc_stats_get(&a);
	long long lf = TOT(&a, local_frees) - TOT(&b, local_frees);
	long long uf = TOT(&a, unowned_frees) - TOT(&b, unowned_frees);
	CHECK(lf + uf == 1000 && lf > 0, "local %lld + unowned %lld frees, want 1000", lf, uf);
	/* large blocks: exact bytes, counted */
	nalloc_stats_get(&b);
	void *big[5];
	for (int i = 0; i < 5; i++)
		big[i] = malloc(1 << 20);
	nalloc_stats_get(&a);
	CHECK(TOT(&a, large_allocs) - TOT(&b, large_allocs) == 5, "large allocs");
	CHECK(TOT(&a, in_use_bytes) - TOT(&b, in_use_bytes) == 5 << 20, "large in_use grew by %lld",
	      TOT(&a, in_use_bytes) - TOT(&b, in_use_bytes));
	for (int i = 0; i < 5; i++)
		free(big[i]);
	nalloc_stats_get(&b);
	CHECK(TOT(&a, in_use_bytes) - TOT(&b, in_use_bytes) == 5 << 20, "large in_use fell");
	/* large blocks freed by another thread of the same node: frees, not
	 * remote frees (the 2-node case is vm2) */
	if (b.nnodes == 1) {
		for (int i = 0; i < 5; i++)
			objs[i] = malloc(1 << 20);
		for (int i = 5; i < N; i++)
			objs[i] = NULL;
		nalloc_stats_get(&a);
		pthread_create(&t, NULL, free_all, NULL);
		pthread_join(t, NULL);
		nalloc_stats_get(&b);
		CHECK(TOT(&b, frees) - TOT(&a, frees) >= 5, "large frees by another thread: frees grew by %lld",
		      TOT(&b, frees) - TOT(&a, frees));
		CHECK(TOT(&b, remote_frees) == TOT(&a, remote_frees) && TOT(&b, remote_frees_out) == 0,
		      "one node: large frees by another thread counted as remote (%lld)", TOT(&b, remote_frees));
	}
	/* threads gauge */
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, 2);
	pthread_create(&t, NULL, idle_thread, &bar);
	pthread_barrier_wait(&bar);
	nalloc_stats_get(&a);
	pthread_barrier_wait(&bar);
	pthread_join(t, NULL);
	nalloc_stats_get(&b);
	CHECK(TOT(&a, threads) - TOT(&b, threads) == 1, "threads gauge %lld -> %lld", TOT(&a, threads),
	      TOT(&b, threads));
	/* mapped >= committed >= in use; placement sampled */
	for (int i = 0; i < b.nnodes; i++) {
		CHECK(b.nodes[i].mapped_bytes >= b.nodes[i].committed_bytes, "node %d mapped < committed", i);
		CHECK(b.nodes[i].committed_bytes >= b.nodes[i].in_use_bytes, "node %d committed < in use", i);
		CHECK(b.nodes[i].resident_fraction < 0 || b.nodes[i].resident_fraction <= 1.0, "fraction");
	}
	CHECK(b.nodes[0].resident_sampled_pages > 0 && b.nodes[0].resident_fraction > 0.99,
	      "placement sample on node 0: %llu pages, %.3f", (unsigned long long)b.nodes[0].resident_sampled_pages,
	      b.nodes[0].resident_fraction);
	if (failures)
		return 1;
	printf("test_stats basic: counters add up (%d objects of %zu bytes, 5 x 1 MiB)\n", N, usable);
	return 0;
}

/* --- vm2 -------------------------------------------------------------- */
static int first_cpu_of_node(int node)
{
	char path[96];
	snprintf(path, sizeof path, "/sys/devices/system/node/node%d/cpulist", node);
	FILE *f = fopen(path, "r");
	int cpu = -1;
	if (f) {
		if (fscanf(f, "%d", &cpu) != 1)
			cpu = -1;
		fclose(f);
	}
	return cpu;
}

static int cpu_of[2];

/* pin, then home the thread where it now runs (automatic homing) */
static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof set, &set);
	sched_yield();
	nalloc_thread_set_home(-1);
}

enum { NBIG = 16, BIG = 64 << 10 }; /* large blocks (> 32 KiB) */
static void *bigs[NBIG];

static void *alloc_on_1(void *arg)
{
	(void)arg;
	pin(cpu_of[1]);
	for (int i = 0; i < N; i++)
		objs[i] = malloc(256);
	for (int i = 0; i < NBIG; i++)
		bigs[i] = malloc(BIG);
	return NULL;
}

static void *free_on_0(void *arg)
{
	(void)arg;
	pin(cpu_of[0]);
	for (int i = 0; i < N; i++)
		free(objs[i]);
	for (int i = 0; i < NBIG; i++)
		free(bigs[i]);
	return NULL;
}

static int index_of(const struct nalloc_stats *s, int node)
{
	for (int i = 0; i < s->nnodes; i++)
		if (s->nodes[i].node == node)
			return i;
	return -1;
}

static int vm2(void)
{
	struct nalloc_stats a, b, c;
	nalloc_stats_get(&a);
	int i0 = index_of(&a, 0), i1 = index_of(&a, 1);
	if (a.nnodes < 2 || i0 < 0 || i1 < 0 || first_cpu_of_node(1) < 0) {
		fprintf(stderr, "vm2 needs nodes 0 and 1 with CPUs (have %d nodes)\n", a.nnodes);
		return 1;
	}
	cpu_of[0] = first_cpu_of_node(0);
	cpu_of[1] = first_cpu_of_node(1);
	pthread_t t;
	pthread_create(&t, NULL, alloc_on_1, NULL);
	pthread_join(t, NULL);
	nalloc_stats_get(&b);
	long long d1 = (long long)b.nodes[i1].in_use_bytes - (long long)a.nodes[i1].in_use_bytes;
	long long d0 = (long long)b.nodes[i0].in_use_bytes - (long long)a.nodes[i0].in_use_bytes;
	/* glibc's pthread_create may leave a block of its own (SLACK) */
	CHECK(d1 >= N * 256 + NBIG * BIG && d1 <= N * 256 + NBIG * BIG + 4096, "node 1 in_use grew by %lld, want %d",
	      d1, N * 256 + NBIG * BIG);
	CHECK(d0 < 64 * 1024, "node 0 in_use grew by %lld", d0);
	CHECK(b.nodes[i1].allocs - a.nodes[i1].allocs >= N, "node 1 allocs");
	pthread_create(&t, NULL, free_on_0, NULL);
	pthread_join(t, NULL);
	nalloc_stats_get(&c);
	long long rin = (long long)(c.nodes[i1].remote_frees - b.nodes[i1].remote_frees);
	long long rsrc = (long long)(c.nodes[i1].remote_frees_by_source[i0] - b.nodes[i1].remote_frees_by_source[i0]);
	long long rout = (long long)(c.nodes[i0].remote_frees_out - b.nodes[i0].remote_frees_out);
	/* the large blocks count like the small objects */
	CHECK(rin == N + NBIG, "node 1 remote_frees grew by %lld, want %d + %d large", rin, N, NBIG);
	CHECK(rsrc == N + NBIG, "node 1 remote_frees_by_source[node 0] grew by %lld, want %d", rsrc, N + NBIG);
	CHECK(rout == N + NBIG, "node 0 remote_frees_out grew by %lld, want %d", rout, N + NBIG);
	long long rin0 = (long long)(c.nodes[i0].remote_frees - b.nodes[i0].remote_frees);
	CHECK(rin0 == 0, "node 0 remote_frees grew by %lld, want 0", rin0);
	long long back = (long long)c.nodes[i1].in_use_bytes - (long long)a.nodes[i1].in_use_bytes;
	CHECK(back >= 0 && back <= 4096, "node 1 in_use after the frees differs by %lld", back);
	printf("test_stats vm2: node 1 in_use +%lld B, remote frees in %lld (from node 0: %lld, %d of them large), "
	       "out of node 0 %lld; "
	       "resident on node: %.3f / %.3f\n",
	       d1, rin, rsrc, NBIG, rout, c.nodes[i0].resident_fraction, c.nodes[i1].resident_fraction);
	nalloc_stats_print(stdout, NALLOC_STATS_TEXT);
	return failures ? 1 : 0;
}

/* --- fork ------------------------------------------------------------- */
static int fifo_fd = -1, fifo_fast;
static long fifo_own, fifo_foreign;

static void fifo_line(const char *line)
{
	const char *q = strstr(line, "\"pid\": ");
	if (!q)
		return;
	if (atoi(q + 7) == (int)getpid())
		__atomic_add_fetch(&fifo_own, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&fifo_foreign, 1, __ATOMIC_RELAXED);
}

/* reads the FIFO 256 bytes a millisecond (all it can once fifo_fast) and
 * looks at the pid near the start of each document */
static void *fifo_reader(void *arg)
{
	(void)arg;
	char buf[4096], line[128];
	size_t ll = 0;
	for (;;) {
		int fast = __atomic_load_n(&fifo_fast, __ATOMIC_RELAXED);
		ssize_t r = read(fifo_fd, buf, fast ? sizeof buf : 256);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return NULL;
		}
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] == '\n') {
				line[ll] = 0;
				fifo_line(line);
				ll = 0;
			} else if (ll + 1 < sizeof line) {
				line[ll++] = buf[i];
			}
		}
		if (!fast)
			usleep(1000);
	}
}

/* until this process's own file (NALLOC_STATS_JSON with %p) has an interval
 * document; false after 5 s */
static bool wait_own_document(void)
{
	const char *pat = getenv("NALLOC_STATS_JSON");
	char path[512], num[16];
	size_t o = 0;
	snprintf(num, sizeof num, "%d", (int)getpid());
	for (; *pat && o + 20 < sizeof path; pat++) {
		if (pat[0] == '%' && pat[1] == 'p') {
			for (char *q = num; *q; q++)
				path[o++] = *q;
			pat++;
		} else {
			path[o++] = *pat;
		}
	}
	path[o] = 0;
	for (int t = 0; t < 500; t++) {
		FILE *f = fopen(path, "r");
		char line[160];
		bool got = f && fgets(line, sizeof line, f) && strstr(line, "\"trigger\": \"interval\"");
		if (f)
			fclose(f);
		if (got)
			return true;
		usleep(10000);
	}
	fprintf(stderr, "test_stats fork: child %d: no interval document in %s\n", (int)getpid(), path);
	return false;
}

static int fork_many(int n, int fd)
{
	const char *json = getenv("NALLOC_STATS_JSON");
	bool own_file = json && strstr(json, "%p");
	int bad = 0, hung = 0;
	alarm(300); /* the whole run */
	if (fd >= 0) {
		pthread_t t;
		fifo_fd = fd;
		pthread_create(&t, NULL, fifo_reader, NULL);
		usleep(20000); /* let the writer fill the FIFO */
	}
	for (int i = 0; i < n; i++) {
		void *keep = malloc(100 + (size_t)i);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			alarm(10); /* a child that hangs in exit() dies of SIGALRM */
			void *p = malloc(1000);
			void *q = malloc(100000);
			free(p);
			free(q);
			free(keep);
			/* with %p the first child has its own interval writer */
			if (i == 0 && own_file && !wait_own_document())
				exit(3);
			exit(0);
		}
		free(keep);
		int status;
		if (waitpid(pid, &status, 0) != pid) {
			perror("waitpid");
			return 1;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "test_stats fork: child %d of %d: %s %d%s\n", i, n,
				        WIFSIGNALED(status) ? "killed by signal" : "exit status",
				        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
				        WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? " (hung in exit)" : "");
			if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM && ++hung == 3)
				break; /* 10 s each: no need to see them all */
		}
	}
	if (fd >= 0) {
		__atomic_store_n(&fifo_fast, 1, __ATOMIC_RELAXED);
		usleep(200000);
		long own = __atomic_load_n(&fifo_own, __ATOMIC_RELAXED);
		long foreign = __atomic_load_n(&fifo_foreign, __ATOMIC_RELAXED);
		printf("test_stats fork: %ld documents of this process in the FIFO, %ld of others\n", own, foreign);
		if (own == 0 || foreign != 0) {
			fprintf(stderr, "test_stats fork: the FIFO holds %ld documents of this process (want > 0) "
			        "and %ld of its children (want 0)\n", own, foreign);
			bad++;
		}
	}
	if (bad) {
		fprintf(stderr, "test_stats fork: %d of %d children did not exit cleanly\n", bad, n);
		return 1;
	}
	printf("test_stats fork: %d children exited\n", n);
	return 0;
}

/* --- drift ------------------------------------------------------------ */
enum { DRIFT_BATCH = 256, DRIFT_RING = 64 };
static void **drift_ring[DRIFT_RING];
static unsigned drift_head, drift_tail;
static pthread_mutex_t drift_lock = PTHREAD_MUTEX_INITIALIZER;
static int drift_stop;

static void *drift_grow(void *arg)
{
	(void)arg;
	pin(cpu_of[0]);
	for (int round = 0; !__atomic_load_n(&drift_stop, __ATOMIC_RELAXED); round++) {
		void **batch = malloc(DRIFT_BATCH * sizeof *batch);
		for (int i = 0; i < DRIFT_BATCH; i++)
			batch[i] = malloc(1024);
		if (round & 1) { /* every other batch goes to node 1 to be freed */
			pthread_mutex_lock(&drift_lock);
			if (drift_head - drift_tail < DRIFT_RING)
				drift_ring[drift_head++ % DRIFT_RING] = batch;
			pthread_mutex_unlock(&drift_lock);
		}
		usleep(20000);
	}
	return NULL;
}

static void *drift_churn(void *arg)
{
	(void)arg;
	pin(cpu_of[1]);
	void **mine = NULL;
	for (int round = 0; !__atomic_load_n(&drift_stop, __ATOMIC_RELAXED); round++) {
		for (;;) {
			void **batch = NULL;
			pthread_mutex_lock(&drift_lock);
			if (drift_tail != drift_head)
				batch = drift_ring[drift_tail++ % DRIFT_RING];
			pthread_mutex_unlock(&drift_lock);
			if (!batch)
				break;
			for (int i = 0; i < DRIFT_BATCH; i++)
				free(batch[i]);
			free(batch);
		}
		void **next = malloc(DRIFT_BATCH / 2 * sizeof *next);
		for (int i = 0; i < DRIFT_BATCH / 2; i++)
			next[i] = malloc(2048);
		if (mine && round % 4) { /* keeps one churn batch in four */
			for (int i = 0; i < DRIFT_BATCH / 2; i++)
				free(mine[i]);
			free(mine);
		}
		mine = next;
		usleep(20000);
	}
	return NULL;
}

static int drift(int seconds)
{
	struct nalloc_stats a;
	nalloc_stats_get(&a);
	if (a.nnodes < 2 || first_cpu_of_node(1) < 0) {
		fprintf(stderr, "drift needs nodes 0 and 1 with CPUs (have %d nodes)\n", a.nnodes);
		return 1;
	}
	cpu_of[0] = first_cpu_of_node(0);
	cpu_of[1] = first_cpu_of_node(1);
	pthread_t g, c;
	pthread_create(&g, NULL, drift_grow, NULL);
	pthread_create(&c, NULL, drift_churn, NULL);
	sleep((unsigned)seconds);
	__atomic_store_n(&drift_stop, 1, __ATOMIC_RELAXED);
	pthread_join(g, NULL);
	pthread_join(c, NULL);
	printf("test_stats drift: %d s\n", seconds);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "basic";
	(void)snap;
	if (!strcmp(mode, "basic"))
		return basic();
	if (!strcmp(mode, "json")) {
		void *keep = malloc(1000);
		nalloc_stats_print(stdout, NALLOC_STATS_JSON);
		free(keep);
		return 0;
	}
	if (!strcmp(mode, "vm2"))
		return vm2();
	if (!strcmp(mode, "fork"))
		return fork_many(argc > 2 ? atoi(argv[2]) : 300, argc > 3 ? atoi(argv[3]) : -1);
	if (!strcmp(mode, "drift"))
		return drift(argc > 2 ? atoi(argv[2]) : 4);
	if (!strcmp(mode, "wait")) {
		/* some memory to show, then wait to be signalled (SIGTERM kills) */
		for (int i = 0; i < 1000; i++)
			objs[i] = malloc(64);
		printf("ready\n");
		fflush(stdout);
		for (int i = 0; i < 600; i++)
			sleep(1);
		return 0;
	}
	fprintf(stderr, "usage: test_stats basic|json|vm2|fork N [FD]|wait|drift SECONDS\n");
	return 2;
}
