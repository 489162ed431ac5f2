/* SPDX-License-Identifier: MIT */
/* test_owner_keeps.c: an active thread keeps its exhausted spans when
 * another thread frees into them, so its own later frees stay local.
 *
 * Regression test (churn: half the frees cross-thread ran at 0.63x the
 * speed it had before the retention fix).  The main thread fills 2 MiB
 * of 256-byte objects (spans of 32 or more); a second thread frees one
 * object in 16 and exits
 * (its waiting frees go over at exit).  The main thread then allocates
 * other sizes (refills: it takes its ready stack) and frees the rest of
 * its objects.  Before: the first remote free sent each exhausted span to
 * its mcentral, which took it from its owner, so every later free by the
 * owner into it was an unowned free (one remote free per object, batched,
 * swept).  Now: the span goes on the active owner's ready stack and the
 * owner takes it back at its next refill: its frees are local again.
 */
#include "api_util.h"
#include <pthread.h>

#define OBJ 256
#define STRIDE 16 /* one remote free in each 16 objects: in every span */
#define NOBJ ((2u << 20) / OBJ)

static void *objs[NOBJ];

static uint64_t unowned_frees(void)
{
	struct nalloc_stats st;
	if (!nalloc_stats_get || nalloc_stats_get(&st) != 0)
		return 0;
	uint64_t n = 0;
	for (int i = 0; i < st.nnodes; i++)
		n += st.nodes[i].unowned_frees;
	return n;
}

static void *remote_freer(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < NOBJ; i += STRIDE)
		free(objs[i]);
	return NULL;
}

int main(void)
{
	t_init("test_owner_keeps");
	for (unsigned i = 0; i < NOBJ; i++) {
		objs[i] = malloc(OBJ);
		CHECK(objs[i] != NULL, "malloc");
		memset(objs[i], 1, OBJ);
	}
	pthread_t t;
	CHECK(pthread_create(&t, NULL, remote_freer, NULL) == 0, "pthread_create");
	pthread_join(t, NULL);
	/* refills of other classes: the owner takes its ready stack */
	void *q[512];
	for (int k = 0; k < 512; k++)
		q[k] = malloc(1024 + 64 * (size_t)(k % 8));
	for (int k = 0; k < 512; k++)
		free(q[k]);
	uint64_t before = unowned_frees();
	unsigned mine = 0;
	for (unsigned i = 0; i < NOBJ; i++) {
		if (i % STRIDE == 0)
			continue;
		free(objs[i]);
		mine++;
	}
	uint64_t unowned = unowned_frees() - before;
	t_log("owner freed %u objects after remote frees into its spans: %llu were unowned frees", mine,
	      (unsigned long long)unowned);
	/* a few spans may have been taken meanwhile (a collector step) */
	CHECK_NALLOC(unowned <= NOBJ / 16,
	             "%llu of the owner's %u frees went to spans its mcentral took from it",
	             (unsigned long long)unowned, mine);
	return t_finish("test_owner_keeps");
}
