/* SPDX-License-Identifier: MIT */
/* test_retention.c: memory that other threads' frees emptied comes back,
 * whether the thread that allocated it is active, idle or gone.
 *
 * Regression test.  A producer allocates 64 MiB of 256-byte objects, a
 * consumer thread frees every one of them and exits.  Then the producer
 *   active:  goes on allocating other sizes;
 *   idle:    waits on a condition variable;
 *   exited:  exits without allocating again.
 * Each case runs in a child process of its own.
 * Before the fix: an active producer kept the emptied spans on its partial
 * list forever (the periodic trim looked at full lists only); an idle one
 * never took its ready stack; one that exited gave its queued spans back
 * still flagged, and nothing drained them until someone allocated that
 * class on that node again, so nalloc_purge() could not return them.
 * Now: the spans are released as the consumer frees them; the heap's spans
 * in use fall back to the baseline, and nalloc_purge() returns the pages.
 */
#include "api_util.h"
#include <malloc.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#define OBJ 256
#define NOBJ ((64u << 20) / OBJ)

static void **objs;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int phase; /* 1: objects ready, 2: consumer done, 3: producer may go */

static void set_phase(int p)
{
	pthread_mutex_lock(&mu);
	phase = p;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void wait_phase(int p)
{
	pthread_mutex_lock(&mu);
	while (phase < p)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static uint64_t spans_in_use(void)
{
	return t_nodes_sum(offsetof(struct nalloc_node_stats, spans_in_use));
}

static uint64_t committed(void)
{
	return t_nodes_sum(offsetof(struct nalloc_node_stats, committed_bytes));
}

static const char *mode;

static void *producer(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < NOBJ; i++) {
		objs[i] = malloc(OBJ);
		if (objs[i])
			memset(objs[i], 0x5a, 16);
	}
	set_phase(1);
	wait_phase(2);
	if (!strcmp(mode, "exited"))
		return NULL;
	if (!strcmp(mode, "active")) {
		/* other sizes only: many refills, never class OBJ again */
		void *q[64];
		for (int round = 0; round < 2000; round++) {
			for (int k = 0; k < 64; k++)
				q[k] = malloc(1024 + 64 * (size_t)(k % 8));
			for (int k = 0; k < 64; k++)
				free(q[k]);
		}
	}
	set_phase(3);
	/* idle: stays alive, blocked, while main checks */
	wait_phase(4);
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	wait_phase(1);
	for (unsigned i = 0; i < NOBJ; i++)
		free(objs[i]);
	return NULL;
}

static void run(const char *m)
{
	mode = m;
	phase = 0;
	uint64_t base_spans = spans_in_use();
	pthread_t p, c;
	pthread_create(&p, NULL, producer, NULL);
	pthread_create(&c, NULL, consumer, NULL);
	pthread_join(c, NULL); /* the consumer exits: its waiting frees go over */
	set_phase(2);
	if (!strcmp(m, "exited"))
		pthread_join(p, NULL);
	else
		wait_phase(3);
	uint64_t spans = spans_in_use();
	/* 64 MiB of 32 KiB spans is 2048 spans; a few may stay (the
	 * producer's current span, a class or two of the active loop) */
	CHECK_NALLOC(spans <= base_spans + 16,
	             "%s producer: %llu spans in use after the consumer freed everything (baseline %llu)", m,
	             (unsigned long long)spans, (unsigned long long)base_spans);
	nalloc_purge();
	uint64_t after = committed();
	CHECK_NALLOC(after < (16u << 20), "%s producer: %llu bytes committed after nalloc_purge", m,
	             (unsigned long long)after);
	t_log("%s producer: spans in use %llu (baseline %llu), committed after purge %.1f MiB", m,
	      (unsigned long long)spans, (unsigned long long)base_spans, after / 1048576.0);
	set_phase(4);
	if (strcmp(m, "exited"))
		pthread_join(p, NULL);
}

static int run_child(const char *m)
{
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		objs = calloc(NOBJ, sizeof *objs);
		CHECK(objs != NULL, "calloc");
		if (objs)
			run(m);
		free(objs);
		_exit(t_failures ? 1 : 0);
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "fork/wait");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s case failed (status %#x)", m, st);
	return 0;
}

int main(void)
{
	t_init("test_retention");
	run_child("active");
	run_child("idle");
	run_child("exited");
	return t_finish("test_retention");
}
