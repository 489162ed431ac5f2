/* numa/topology.c: the hwloc topology, loaded once at start-up into static tables.  see src/malloc.c
 *
 * The managed nodes are the NUMA nodes that have memory, that the process
 * may allocate from (hwloc's allowed nodeset: cgroup cpusets; the process
 * memory policy: numactl --membind), and that NALLOC_NODES lists.  Every
 * CPU gets a home: its own node when managed, else the nearest managed one
 * (a node with CPUs and no memory homes its threads there).  A managed
 * node without CPUs is reached through nalloc_malloc_onnode and interleave.
 */
#include "internal.h"
#include <hwloc.h>
#include <numaif.h>
#include <string.h>

struct nalloc_topology nalloc__topo;

#define MAX_OS_NODES 1024
#define LONGBITS (8 * sizeof(unsigned long))

static void single_node(void)
{
	nalloc__topo.nnodes = 1;
	nalloc__topo.os_node[0] = 0;
	nalloc__topo.ncpus = 0;
	nalloc__topo.distance[0][0] = 10;
	nalloc__topo.nearest[0][0] = 0;
	nalloc__topo.source = 0;
}

/* NALLOC_NODES as a bitmap of OS node numbers; false when empty */
static bool parse_nodes(const char *s, unsigned long *mask)
{
	bool any = false;
	while (*s) {
		unsigned v = 0;
		bool digits = false;
		for (; *s >= '0' && *s <= '9'; s++) {
			v = v * 10 + (unsigned)(*s - '0');
			digits = true;
			if (v >= MAX_OS_NODES)
				break;
		}
		if (digits && v < MAX_OS_NODES) {
			mask[v / LONGBITS] |= 1UL << (v % LONGBITS);
			any = true;
		}
		while (*s && *s != ',')
			s++;
		if (*s == ',')
			s++;
	}
	return any;
}

static inline bool bit(const unsigned long *mask, unsigned v)
{
	return v < MAX_OS_NODES && (mask[v / LONGBITS] >> (v % LONGBITS)) & 1;
}

/* managed indexes ordered by distance from k, k first */
static void order_nearest(int n)
{
	for (int k = 0; k < n; k++) {
		int cnt = 0;
		for (int l = 0; l < n; l++)
			nalloc__topo.nearest[k][cnt++] = (int8_t)l;
		/* insertion sort by (distance, index); k has the least distance */
		for (int a = 1; a < cnt; a++) {
			int8_t x = nalloc__topo.nearest[k][a];
			int b = a - 1;
			while (b >= 0) {
				int8_t y = nalloc__topo.nearest[k][b];
				unsigned dx = nalloc__topo.distance[k][x] + (x == k ? 0 : 1);
				unsigned dy = nalloc__topo.distance[k][y] + (y == k ? 0 : 1);
				if (dy < dx || (dy == dx && y < x))
					break;
				nalloc__topo.nearest[k][b + 1] = y;
				b--;
			}
			nalloc__topo.nearest[k][b + 1] = x;
		}
	}
}

/* Called once, by init, before any heap exists: every malloc hwloc makes is
 * served from the bootstrap region. */
void nalloc__topology_load(void)
{
	static unsigned long want[MAX_OS_NODES / LONGBITS], bindmask[MAX_OS_NODES / LONGBITS];
	hwloc_topology_t t;
	for (int i = 0; i < MAX_CPUS; i++)
		nalloc__topo.cpu_node[i] = -1;
	if (hwloc_topology_init(&t) != 0) {
		single_node();
		return;
	}
	/* only PUs and NUMA nodes matter: keep the load cheap, and never let
	 * hwloc move our thread to probe CPUs */
	hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
	hwloc_topology_set_cache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
	hwloc_topology_set_icache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
	hwloc_topology_set_flags(t, HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM |
	                                HWLOC_TOPOLOGY_FLAG_DONT_CHANGE_BINDING);
	if (hwloc_topology_load(t) != 0) {
		hwloc_topology_destroy(t);
		single_node();
		return;
	}
	/* the process memory policy: --membind restricts, --interleave asks
	 * for interleaving (unless NALLOC_NUMA says otherwise) */
	int mode = 0;
	bool membind = false;
	if (get_mempolicy(&mode, bindmask, MAX_OS_NODES, NULL, 0) == 0) {
		mode &= 0xff;
		membind = mode == MPOL_BIND;
		nalloc__topo.process_interleave = mode == MPOL_INTERLEAVE;
		if (mode != MPOL_BIND && mode != MPOL_INTERLEAVE)
			memset(bindmask, 0, sizeof bindmask);
	}
	bool restrict_list = parse_nodes(nalloc__opt.nodes, want);
	hwloc_const_nodeset_t allowed = hwloc_topology_get_allowed_nodeset(t);

	int nall = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
	if (nall < 1 || nall > MAX_OS_NODES) {
		hwloc_topology_destroy(t);
		single_node();
		return;
	}
	int idx[MAX_OS_NODES]; /* hwloc logical index -> managed index or -1 */
	int n = 0;
	for (int pass = 0; pass < 2 && n == 0; pass++) {
		/* pass 1 ignores NALLOC_NODES if it named no usable node */
		for (int i = 0; i < nall; i++) {
			hwloc_obj_t o = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)i);
			idx[i] = -1;
			if (!o || n >= NALLOC_MAX_NODES)
				continue;
			uint64_t mem = o->attr ? o->attr->numanode.local_memory : 0;
			if (mem == 0 || !hwloc_bitmap_isset(allowed, o->os_index))
				continue;
			if (membind && !bit(bindmask, o->os_index))
				continue;
			if (pass == 0 && restrict_list && !bit(want, o->os_index))
				continue;
			idx[i] = n;
			nalloc__topo.os_node[n] = (int)o->os_index;
			nalloc__topo.node_memory[n] = mem;
			n++;
		}
		if (n == 0 && pass == 0 && restrict_list)
			nalloc__write_str(2, "nalloc: NALLOC_NODES names no usable node: using all\n");
	}
	if (n == 0) {
		hwloc_topology_destroy(t);
		single_node();
		return;
	}
	nalloc__topo.nnodes = n;

	/* distances between hwloc nodes; 10 local, 20 remote when unknown */
	static uint16_t hd[MAX_OS_NODES > 256 ? 256 : MAX_OS_NODES][256];
	int hn = nall < 256 ? nall : 256;
	for (int i = 0; i < hn; i++)
		for (int j = 0; j < hn; j++)
			hd[i][j] = i == j ? 10 : 20;
	unsigned nr = 1;
	struct hwloc_distances_s *dist = NULL;
	if (hwloc_distances_get_by_type(t, HWLOC_OBJ_NUMANODE, &nr, &dist, 0, 0) == 0 && nr >= 1 && dist) {
		for (int i = 0; i < hn; i++)
			for (int j = 0; j < hn; j++) {
				hwloc_uint64_t a, b;
				hwloc_obj_t oi = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)i);
				hwloc_obj_t oj = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)j);
				if (hwloc_distances_obj_pair_values(dist, oi, oj, &a, &b) == 0)
					hd[i][j] = (uint16_t)(a > 65535 ? 65535 : a);
			}
		hwloc_distances_release(t, dist);
	}
	for (int i = 0; i < hn; i++)
		for (int j = 0; j < hn; j++)
			if (idx[i] >= 0 && idx[j] >= 0)
				nalloc__topo.distance[idx[i]][idx[j]] = hd[i][j];
	order_nearest(n);

	/* each CPU's home: its node if managed, else the nearest managed one */
	int maxcpu = -1;
	for (int i = 0; i < hn; i++) {
		hwloc_obj_t o = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)i);
		if (!o || !o->cpuset)
			continue;
		int home = idx[i];
		if (home < 0) {
			unsigned best = UINT32_MAX;
			for (int j = 0; j < hn; j++)
				if (idx[j] >= 0 && hd[i][j] < best) {
					best = hd[i][j];
					home = idx[j];
				}
		}
		if (home < 0)
			continue;
		unsigned cpu;
		hwloc_bitmap_foreach_begin(cpu, o->cpuset)
		{
			if (cpu < MAX_CPUS && nalloc__topo.cpu_node[cpu] < 0) {
				nalloc__topo.cpu_node[cpu] = (int16_t)home;
				nalloc__topo.node_ncpus[home]++;
				if ((int)cpu > maxcpu)
					maxcpu = (int)cpu;
			}
		}
		hwloc_bitmap_foreach_end();
	}
	nalloc__topo.ncpus = maxcpu + 1;
	nalloc__topo.source = 1;
	hwloc_topology_destroy(t);
}

/* home index of an OS cpu (0 for an unknown one) */
int nalloc__cpu_node(int cpu)
{
	if (cpu < 0 || cpu >= nalloc__topo.ncpus)
		return 0;
	int n = nalloc__topo.cpu_node[cpu];
	return n < 0 ? 0 : n;
}

int nalloc__node_index(int os_node)
{
	for (int i = 0; i < nalloc__topo.nnodes; i++)
		if (nalloc__topo.os_node[i] == os_node)
			return i;
	return -1;
}
