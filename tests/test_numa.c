/* SPDX-License-Identifier: MIT */
/* test_numa.c: the room check and lazy CPU homes (numa/bind.c, numa/topology.c) as the heap calls them: from many threads, with no lock held.  see src/malloc.c */
#include "internal.h"
#include "unit_util.h"
#include <string.h>
#include <pthread.h>
#include <stdlib.h>

#define THREADS 8
#define CALLS 300

static int ok_calls[THREADS], huge_no[THREADS];

static void *hammer(void *arg)
{
	int t = (int)(intptr_t)arg;
	for (int i = 0; i < CALLS; i++) {
		ok_calls[t] += nalloc__node_has_room(0, (size_t)4 << 20);
		huge_no[t] += !nalloc__node_has_room(0, (size_t)1 << 52);
		/* a CPU beyond the start-up table, on node 0 */
		if (nalloc__cpu_home(MAX_CPUS + t, nalloc__topo.os_node[0]) != 0)
			huge_no[t] = -1000000;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	free(malloc(1)); /* initialise: topology and heaps */
	CHECK(nalloc__topo.nnodes >= 1, "no node");
	if (argc > 1 && !strcmp(argv[1], "source")) {
		/* test_topology_fallback.sh: where the tables came from */
		printf("source %d nodes %d\n", nalloc__topo.source, nalloc__topo.nnodes);
		return 0;
	}
	/* a CPU the table lacks gets its node's home, cached */
	int os0 = nalloc__topo.os_node[0];
	CHECK(nalloc__cpu_home(MAX_CPUS + 3, os0) == 0, "cpu beyond the table on node %d", os0);
	CHECK(nalloc__cpu_home(-1, -1) == 0, "unknown cpu and node: node 0");
	CHECK(nalloc__cpu_node(100000) == 0, "cpu_node beyond the table");

	nalloc__opt.numa = NUMA_STRICT; /* every call reads the kernel's figures */
	bool one = nalloc__node_has_room(0, (size_t)4 << 20);
	CHECK(one, "4 MiB: no room on node %d? (the machine is that full?)", os0);
	CHECK(!nalloc__node_has_room(0, (size_t)1 << 52), "4 PiB fits on node %d", os0);
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, hammer, (void *)(intptr_t)t) == 0, "pthread_create");
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		CHECK(ok_calls[t] == CALLS, "thread %d: 4 MiB had room %d of %d times", t, ok_calls[t], CALLS);
		CHECK(huge_no[t] == CALLS, "thread %d: 4 PiB refused %d of %d times (or a wrong cpu home)", t,
		      huge_no[t], CALLS);
	}
	nalloc__opt.numa = NUMA_LOCAL;
	CHECK(nalloc__node_has_room(0, (size_t)4 << 20), "local mode");
	nalloc__opt.numa = NUMA_OFF;
	CHECK(nalloc__node_has_room(0, (size_t)1 << 52), "off mode never refuses");
	UNIT_DONE("test_numa");
}
