/* SPDX-License-Identifier: MIT */
/* test_burst_reuse.c: a thread that frees a burst of blocks of a large
 * small class and allocates as many again reuses its own emptied spans.
 *
 * Regression test.  An mcache kept at most 16 emptied spans per class on
 * its partial list (PARTIAL_KEEP, mcache.c): past that, the oldest empty
 * span went back to its mcentral, which keeps 64 KiB of them and gives the
 * rest to the heap.  For a class of one object a span (16, 24 and 32 KiB)
 * that is 16 blocks: a thread that freed and allocated again 24 of them
 * in turn sent 8 spans through its mcentral and the heap every round,
 * with two lock acquisitions each and the spans' page-map entries
 * rewritten (sh6bench, whose bursts hold 16-20 blocks of each such class,
 * spent most of its heap time there).  Now the list also keeps 32 objects'
 * worth of spans before it sheds one.
 *
 * A thread for each of the sizes 16, 24 and 32 KiB: 24 blocks allocated
 * and written, then all freed, 200 times.  After the first round
 * the node's lock acquisitions stay (almost) flat: before the fix, about
 * 2 x 8 a round and class.  A class of small blocks (256 B, many to a
 * span) in the same pattern stays flat both before and after.
 */
#include "api_util.h"
#include <pthread.h>

#define ROUNDS 200
#define BURST 24

static uint64_t locks(void)
{
	return t_nodes_sum(offsetof(struct nalloc_node_stats, lock_acquisitions));
}

/* lock acquisitions over ROUNDS bursts of BURST blocks of `size` after a
 * first round that warms the thread's cache up */
static uint64_t bursts(size_t size)
{
	void *p[BURST];
	uint64_t before = 0;
	for (int r = 0; r <= ROUNDS; r++) {
		if (r == 1)
			before = locks();
		for (int i = 0; i < BURST; i++) {
			p[i] = malloc(OPAQUE(size));
			CHECK(p[i] != NULL, "malloc(%zu)", size);
			if (p[i])
				memset(p[i], i, size);
		}
		for (int i = 0; i < BURST; i++)
			free(p[i]);
	}
	return locks() - before;
}

static void *run(void *arg)
{
	size_t size = *(const size_t *)arg;
	static uint64_t n;
	n = bursts(size);
	return &n;
}

int main(void)
{
	t_init("test_burst_reuse");
	static const size_t sizes[] = { 256, 16384, 24576, 32768 };
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		/* a thread each: what one class's thread gives back when it
		 * exits or when the class decays is not in another's count */
		pthread_t t;
		void *res = NULL;
		CHECK(pthread_create(&t, NULL, run, (void *)&sizes[k]) == 0, "pthread_create");
		CHECK(pthread_join(t, &res) == 0, "pthread_join");
		uint64_t n = res ? *(uint64_t *)res : 0;
		t_log("%d bursts of %d x %zu B: %llu lock acquisitions", ROUNDS, BURST, sizes[k],
		      (unsigned long long)n);
		CHECK_NALLOC(n <= ROUNDS / 20, "%zu B blocks: the emptied spans went back and came "
		             "again: %llu lock acquisitions in %d rounds",
		             sizes[k], (unsigned long long)n, ROUNDS);
	}
	return t_finish("test_burst_reuse");
}
