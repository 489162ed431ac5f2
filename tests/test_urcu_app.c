/* SPDX-License-Identifier: MIT */
/* test_urcu_app.c: an application that uses liburcu-bp itself.  Regression
 * test: malloc used to wait for a urcu grace period (synchronize_rcu) once
 * 64 mspans were retired, so a malloc took as long as the application's
 * longest reader section, and a thread that allocated while holding a lock
 * that a reader takes inside its section deadlocked. */
#include "api_util.h"
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-bp.h>

#define CYCLES 20000

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static volatile int churn_done, reader_in;

static void churn(void)
{
	for (int i = 0; i < CYCLES; i++) {
		/* large blocks of varying sizes: each free retires an mspan */
		void *p = malloc((size_t)(40 + (i * 7) % 300) << 10);
		CHECK(p != NULL, "malloc failed");
		if (p)
			((char *)p)[0] = 1;
		free(p);
		void *q[8];
		for (int k = 0; k < 8; k++)
			q[k] = malloc(16u << (k % 12));
		for (int k = 0; k < 8; k++)
			free(q[k]);
	}
}

/* A reader section that lasts until the churn is done (or 20 s). */
static void *long_reader(void *arg)
{
	urcu_bp_read_lock();
	__atomic_store_n(&reader_in, 1, __ATOMIC_SEQ_CST);
	time_t start = time(NULL);
	while (!__atomic_load_n(&churn_done, __ATOMIC_SEQ_CST) && time(NULL) - start < 20)
		usleep(1000);
	int *timed_out = arg;
	*timed_out = !__atomic_load_n(&churn_done, __ATOMIC_SEQ_CST);
	urcu_bp_read_unlock();
	return NULL;
}

/* A reader that takes, inside its section, a lock the allocator holds. */
static void *locking_reader(void *arg)
{
	(void)arg;
	urcu_bp_read_lock();
	__atomic_store_n(&reader_in, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	urcu_bp_read_unlock();
	return NULL;
}

int main(void)
{
	alarm(120); /* a deadlock fails the test instead of hanging it */
	t_init("test_urcu_app");
	urcu_bp_register_thread();

	/* 1: malloc and free never wait for the application's readers */
	int timed_out = -1;
	pthread_t t;
	pthread_create(&t, NULL, long_reader, &timed_out);
	while (!__atomic_load_n(&reader_in, __ATOMIC_SEQ_CST))
		usleep(100);
	churn();
	__atomic_store_n(&churn_done, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	CHECK(timed_out == 0, "allocation waited for the application's reader section");

	/* 2: allocating while holding a lock a reader waits for */
	reader_in = 0;
	pthread_mutex_lock(&m);
	pthread_create(&t, NULL, locking_reader, NULL);
	while (!__atomic_load_n(&reader_in, __ATOMIC_SEQ_CST))
		usleep(100);
	churn();
	pthread_mutex_unlock(&m);
	pthread_join(t, NULL);

	/* the application's own grace periods still work */
	urcu_bp_synchronize_rcu();
	urcu_bp_unregister_thread();
	return t_finish("test_urcu_app");
}
