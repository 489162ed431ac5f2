/* numa/topology.c: the hwloc topology, loaded once at start-up into static tables.  see src/malloc.c */
#include "internal.h"
#include <hwloc.h>

struct nalloc_topology nalloc__topo;

static void single_node(void)
{
	nalloc__topo.nnodes = 1;
	nalloc__topo.os_node[0] = 0;
	nalloc__topo.ncpus = 0;
}

/* Called once, by init, before any heap exists: every malloc hwloc makes is
 * served from the bootstrap region. */
void nalloc__topology_load(void)
{
	hwloc_topology_t t;
	for (int i = 0; i < (int)(sizeof nalloc__topo.cpu_node / sizeof nalloc__topo.cpu_node[0]); i++)
		nalloc__topo.cpu_node[i] = -1;
	if (hwloc_topology_init(&t) != 0) {
		single_node();
		return;
	}
	/* only PUs and NUMA nodes matter: keep the load cheap */
	hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
	hwloc_topology_set_cache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
	hwloc_topology_set_icache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
	if (hwloc_topology_load(t) != 0) {
		hwloc_topology_destroy(t);
		single_node();
		return;
	}
	int n = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
	if (n < 1)
		n = 1;
	if (n > NALLOC_MAX_NODES)
		n = NALLOC_MAX_NODES;
	int maxcpu = -1;
	for (int i = 0; i < n; i++) {
		hwloc_obj_t o = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)i);
		if (!o) {
			nalloc__topo.os_node[i] = i;
			continue;
		}
		nalloc__topo.os_node[i] = (int)o->os_index;
		nalloc__topo.node_memory[i] = o->attr ? o->attr->numanode.local_memory : 0;
		unsigned cpu;
		hwloc_bitmap_foreach_begin(cpu, o->cpuset)
		{
			if (cpu < sizeof nalloc__topo.cpu_node / sizeof nalloc__topo.cpu_node[0]) {
				nalloc__topo.cpu_node[cpu] = (int16_t)i;
				if ((int)cpu > maxcpu)
					maxcpu = (int)cpu;
			}
		}
		hwloc_bitmap_foreach_end();
	}
	nalloc__topo.nnodes = n;
	nalloc__topo.ncpus = maxcpu + 1;
	hwloc_topology_destroy(t);
}

int nalloc__cpu_node(int cpu)
{
	if (cpu < 0 || cpu >= nalloc__topo.ncpus)
		return 0;
	int n = nalloc__topo.cpu_node[cpu];
	return n < 0 ? 0 : n;
}
