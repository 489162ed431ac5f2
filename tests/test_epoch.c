/* SPDX-License-Identifier: MIT */
/* test_epoch.c: span metadata is reused only after every read-side section that could see it has ended, and retiring never waits for a reader. */
#include "internal.h"
#include "unit_util.h"
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static volatile int in_section, release_reader;

static void *reader(void *arg)
{
	nalloc__rcu_read_lock();
	/* what a racing free() would do: look the block up */
	struct mspan *s = nalloc__span_of(arg);
	(void)s;
	__atomic_store_n(&in_section, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&release_reader, __ATOMIC_SEQ_CST))
		sched_yield();
	nalloc__rcu_read_unlock();
	return NULL;
}

#define CYCLES 4000

int main(void)
{
	alarm(60); /* waiting for the reader (the old synchronize_rcu) is a failure */
	void *p = malloc(100 << 10);
	CHECK(p != NULL, "large malloc");
	struct mspan *old = nalloc__span_of(p);
	CHECK(old && old->state == SPAN_LARGE, "large span");
	pthread_t t;
	pthread_create(&t, NULL, reader, p);
	while (!__atomic_load_n(&in_section, __ATOMIC_SEQ_CST))
		sched_yield();
	free(p);
	uint64_t stamp = old->retireEpoch; /* changes if the struct is reused */
	/* the reader may still read `old`: it must describe no span, free run or
	 * split part,
	 * however much metadata turns over, and nothing here waits */
	int reused = 0;
	for (int i = 0; i < CYCLES; i++) {
		void *q = malloc((size_t)(40 + i % 200) << 10);
		CHECK(q != NULL, "malloc");
		if (nalloc__span_of(q) == old || __atomic_load_n(&old->state, __ATOMIC_RELAXED) != SPAN_DEAD ||
		    __atomic_load_n(&old->retireEpoch, __ATOMIC_RELAXED) != stamp)
			reused++;
		free(q);
	}
	CHECK(reused == 0, "a retired mspan described %d new spans inside a read section", reused);
	CHECK(old->state == SPAN_DEAD, "retired mspan state %d", old->state);
	__atomic_store_n(&release_reader, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	/* once the section is over the struct is reused again */
	for (int i = 0; i < CYCLES && !reused; i++) {
		void *q = malloc((size_t)(40 + i % 200) << 10);
		if (__atomic_load_n(&old->state, __ATOMIC_RELAXED) != SPAN_DEAD ||
		    __atomic_load_n(&old->retireEpoch, __ATOMIC_RELAXED) != stamp)
			reused++;
		free(q);
	}
	CHECK(reused > 0, "retired mspan never reused after the section ended");
	/* free(NULL) and foreign-free checks take no section */
	free(NULL);
	CHECK(!nalloc__rcu_read_ongoing(), "section left open");
	UNIT_DONE("test_epoch");
}
