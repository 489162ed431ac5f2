/* SPDX-License-Identifier: MIT */
/* numa/topology.c: the machine's topology (sysfs, or hwloc), loaded once at start-up into static tables.  see src/malloc.c
 *
 * The managed nodes are the NUMA nodes that have memory, that the process
 * may allocate from (the cgroup cpuset's nodes: Mems_allowed; the process
 * memory policy: numactl --membind), and that NALLOC_NODES lists.  Every
 * CPU gets a home: its own node when managed, else the nearest managed one
 * by the kernel's distances (a node with CPUs and no memory homes its
 * threads there).  A CPU the start-up table lacks is homed when a thread
 * first runs on it (nalloc__cpu_home).  A managed node without CPUs is
 * reached through nalloc_malloc_onnode and interleave.
 */
#include "internal.h"
#ifndef NALLOC_NO_HWLOC
#include <dlfcn.h>
#include <hwloc.h>
#endif
#include <numaif.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/* OS node -> home index + 1, 0 unknown: filled at start-up from sysfs, or
 * lazily (relaxed atomics) for nodes hwloc did not show */
static int16_t os_home[MAX_OS_NODES];
static void hwloc_load(void);

/* The process memory policy (--membind restricts, --interleave asks for
 * interleaving unless NALLOC_NUMA says otherwise) and NALLOC_NODES. */
static unsigned long want[MAX_OS_NODES / LONGBITS], bindmask[MAX_OS_NODES / LONGBITS];
static bool membind, restrict_list;

static void read_policy(void)
{
	int mode = 0;
	/* the system call (what libnuma's get_mempolicy() wraps) */
	if (syscall(SYS_get_mempolicy, &mode, bindmask, (unsigned long)MAX_OS_NODES, NULL, 0UL) == 0) {
		mode &= 0xff;
		membind = mode == MPOL_BIND;
		nalloc__topo.process_interleave = mode == MPOL_INTERLEAVE;
		if (mode != MPOL_BIND && mode != MPOL_INTERLEAVE)
			memset(bindmask, 0, sizeof bindmask);
	}
	restrict_list = parse_nodes(nalloc__opt.nodes, want);
}

static inline void set_bit(unsigned long *mask, int64_t v)
{
	if (v >= 0 && v < MAX_OS_NODES)
		mask[v / LONGBITS] |= 1UL << (v % LONGBITS);
}

/* ------------------------------------------------------------ from sysfs
 * The kernel's own files give all nalloc needs in a few reads per node
 * (the start-up of every preloaded program pays for it):
 *   /sys/devices/system/node/online        the nodes
 *   /proc/self/status Mems_allowed_list    the cgroup cpuset's nodes
 *   /sys/devices/system/node/nodeN/meminfo MemTotal (0: no memory)
 *   /sys/devices/system/node/nodeN/cpulist its CPUs
 *   /sys/devices/system/node/nodeN/distance the kernel's distances, the
 *                                          k-th to the k-th online node
 * hwloc's Linux backend reads these same files, and some 250 more (caches,
 * DMI, huge pages, memory attributes, /proc/cpuinfo) whatever its type
 * filters say; it is the fallback when they are missing. */

/* "Name:\tlist" of /proc/self/status into mask; false without it */
static bool status_list(const char *name, unsigned long *mask)
{
	struct nalloc_rd r;
	if (!nalloc__rd_open(&r, "/proc/self/status"))
		return false;
	size_t len = strlen(name), at = 0;
	bool found = false, bol = true;
	int c;
	while (!found && (c = nalloc__rd_getc(&r)) >= 0) {
		if (c == '\n') {
			bol = true;
			at = 0;
			continue;
		}
		if (!bol)
			continue;
		if (at < len && c == name[at]) {
			if (++at == len)
				found = true;
		} else {
			bol = false;
		}
	}
	if (found) {
		/* the list, to the end of its line */
		int64_t v = -1, lo = -1;
		while ((c = nalloc__rd_getc(&r)) >= 0) {
			if (c >= '0' && c <= '9') {
				v = (v < 0 ? 0 : v * 10) + (c - '0');
				if (v > MAX_OS_NODES)
					v = MAX_OS_NODES;
				continue;
			}
			if (c == '-') {
				lo = v;
				v = -1;
				continue;
			}
			if (v >= 0)
				for (int64_t x = lo >= 0 ? lo : v; x <= v; x++)
					set_bit(mask, x);
			lo = v = -1;
			if (c == '\n')
				break;
		}
	}
	nalloc__rd_close(&r);
	return found;
}

static char *node_path(char *buf, int64_t node, const char *file)
{
	memcpy(buf, "/sys/devices/system/node/node", 30);
	char *o = nalloc__fmt_dec(buf + 29, (uint64_t)node);
	*o++ = '/';
	size_t l = strlen(file);
	memcpy(o, file, l + 1);
	return buf;
}

/* MemTotal of a node in bytes (0 when none or unknown) */
static uint64_t node_total(int64_t node)
{
	char path[96], line[256];
	struct nalloc_rd r;
	uint64_t v = 0;
	if (!nalloc__rd_open(&r, node_path(path, node, "meminfo")))
		return 0;
	while (nalloc__rd_line(&r, line, sizeof line)) {
		char *m = strstr(line, "MemTotal:");
		if (m) {
			int64_t kb = nalloc__parse_num(m + 9);
			v = kb > 0 ? (uint64_t)kb << 10 : 0;
			break;
		}
	}
	nalloc__rd_close(&r);
	return v;
}

static bool sysfs_load(void)
{
	static unsigned long allowed[MAX_OS_NODES / LONGBITS];
	static int16_t order[MAX_OS_NODES];   /* k-th online node */
	static int16_t idx[MAX_OS_NODES];     /* OS node -> managed index or -1 */
	static uint64_t mem[MAX_OS_NODES];
	char path[96];
	struct nalloc_rd r;
	int64_t lo, hi;
	int non = 0;
	if (!nalloc__rd_open(&r, "/sys/devices/system/node/online"))
		return false;
	while (nalloc__rd_range(&r, &lo, &hi))
		for (int64_t v = lo; v <= hi && v < MAX_OS_NODES; v++) {
			set_bit(allowed, v); /* unless the cgroup says otherwise */
			order[non++] = (int16_t)v;
		}
	nalloc__rd_close(&r);
	if (non == 0)
		return false;
	unsigned long cg[MAX_OS_NODES / LONGBITS];
	memset(cg, 0, sizeof cg);
	if (status_list("Mems_allowed_list:", cg))
		memcpy(allowed, cg, sizeof allowed);
	for (int k = 0; k < non; k++)
		mem[order[k]] = node_total(order[k]);
	int n = 0;
	for (int pass = 0; pass < 2 && n == 0; pass++) {
		/* pass 1 ignores NALLOC_NODES if it named no usable node */
		for (int k = 0; k < non; k++) {
			int os = order[k];
			idx[os] = -1;
			if (n >= NALLOC_MAX_NODES || mem[os] == 0 || !bit(allowed, (unsigned)os))
				continue;
			if (membind && !bit(bindmask, (unsigned)os))
				continue;
			if (pass == 0 && restrict_list && !bit(want, (unsigned)os))
				continue;
			idx[os] = (int16_t)n;
			nalloc__topo.os_node[n] = os;
			nalloc__topo.node_memory[n] = mem[os];
			n++;
		}
		if (n == 0 && pass == 0 && restrict_list)
			nalloc__write_str(2, "nalloc: NALLOC_NODES names no usable node: using all\n");
	}
	if (n == 0)
		return false;
	nalloc__topo.nnodes = n;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			nalloc__topo.distance[i][j] = i == j ? 10 : 20;

	/* each node's distances; each CPU's home: its node if managed, else
	 * the nearest managed one */
	int maxcpu = -1;
	for (int k = 0; k < non; k++) {
		int os = order[k], home = idx[os];
		int64_t best = INT64_MAX;
		if (nalloc__rd_open(&r, node_path(path, os, "distance"))) {
			for (int l = 0; l < non; l++) {
				int sep;
				int64_t d = nalloc__rd_num(&r, &sep);
				if (d < 0)
					break;
				int j = idx[order[l]];
				if (j < 0)
					continue;
				if (home >= 0 && idx[os] >= 0)
					nalloc__topo.distance[idx[os]][j] = (uint16_t)(d > 65535 ? 65535 : d);
				if (idx[os] < 0 && d < best) {
					best = d;
					home = j;
				}
			}
			nalloc__rd_close(&r);
		}
		if (home < 0)
			continue;
		if (os < MAX_OS_NODES)
			os_home[os] = (int16_t)(home + 1);
		if (!nalloc__rd_open(&r, node_path(path, os, "cpulist")))
			continue;
		while (nalloc__rd_range(&r, &lo, &hi))
			for (int64_t cpu = lo; cpu <= hi && cpu < MAX_CPUS; cpu++)
				if (nalloc__topo.cpu_node[cpu] < 0) {
					nalloc__topo.cpu_node[cpu] = (int16_t)home;
					nalloc__topo.node_ncpus[home]++;
					if ((int)cpu > maxcpu)
						maxcpu = (int)cpu;
				}
		nalloc__rd_close(&r);
	}
	order_nearest(n);
	nalloc__topo.ncpus = maxcpu + 1;
	nalloc__topo.source = 2;
	return true;
}

/* Called once, by init, before any heap exists: every malloc hwloc makes is
 * served from the bootstrap region. */
void nalloc__topology_load(void)
{
	for (int i = 0; i < MAX_CPUS; i++)
		nalloc__topo.cpu_node[i] = -1;
	read_policy();
	if (sysfs_load())
		return;
	hwloc_load();
}

/* ------------------------------------------------------------ from hwloc
 * Only where sysfs has no node files.  hwloc is not linked: a preloaded
 * program would pay for it (and libudev and libm) at every start, some 25
 * system calls and 0.2 ms, for a fallback that sysfs makes rare.  It is
 * opened here (dlopen, its mallocs served from the bootstrap region) and
 * called through pointers; hwloc.h's inline helpers are not used, since
 * they would bind hwloc's symbols at load time.  Built with
 * -DNALLOC_NO_HWLOC, such a machine is one node. */
#ifdef NALLOC_NO_HWLOC
static void hwloc_load(void)
{
	single_node();
}
#else
static struct {
	int (*topology_init)(hwloc_topology_t *);
	int (*set_all_types_filter)(hwloc_topology_t, enum hwloc_type_filter_e);
	int (*set_flags)(hwloc_topology_t, unsigned long);
	int (*topology_load)(hwloc_topology_t);
	void (*topology_destroy)(hwloc_topology_t);
	hwloc_const_nodeset_t (*allowed_nodeset)(hwloc_topology_t);
	int (*type_depth)(hwloc_topology_t, hwloc_obj_type_t);
	int (*nbobjs_by_depth)(hwloc_topology_t, int);
	hwloc_obj_t (*obj_by_depth)(hwloc_topology_t, int, unsigned);
	int (*bitmap_isset)(hwloc_const_bitmap_t, unsigned);
	int (*bitmap_first)(hwloc_const_bitmap_t);
	int (*bitmap_next)(hwloc_const_bitmap_t, int);
	int (*distances_get_by_type)(hwloc_topology_t, hwloc_obj_type_t, unsigned *,
	                             struct hwloc_distances_s **, unsigned long, unsigned long);
	void (*distances_release)(hwloc_topology_t, struct hwloc_distances_s *);
} hw;

/* libhwloc.so.15 (hwloc 2.x) and its entry points; false if any is missing */
static bool hwloc_open(void)
{
	void *l = dlopen("libhwloc.so.15", RTLD_NOW | RTLD_LOCAL);
	if (!l)
		return false;
	struct {
		void **slot;
		const char *name;
	} syms[] = {
		{(void **)&hw.topology_init, "hwloc_topology_init"},
		{(void **)&hw.set_all_types_filter, "hwloc_topology_set_all_types_filter"},
		{(void **)&hw.set_flags, "hwloc_topology_set_flags"},
		{(void **)&hw.topology_load, "hwloc_topology_load"},
		{(void **)&hw.topology_destroy, "hwloc_topology_destroy"},
		{(void **)&hw.allowed_nodeset, "hwloc_topology_get_allowed_nodeset"},
		{(void **)&hw.type_depth, "hwloc_get_type_depth"},
		{(void **)&hw.nbobjs_by_depth, "hwloc_get_nbobjs_by_depth"},
		{(void **)&hw.obj_by_depth, "hwloc_get_obj_by_depth"},
		{(void **)&hw.bitmap_isset, "hwloc_bitmap_isset"},
		{(void **)&hw.bitmap_first, "hwloc_bitmap_first"},
		{(void **)&hw.bitmap_next, "hwloc_bitmap_next"},
		{(void **)&hw.distances_get_by_type, "hwloc_distances_get_by_type"},
		{(void **)&hw.distances_release, "hwloc_distances_release"},
	};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
		if (!(*syms[i].slot = dlsym(l, syms[i].name)))
			return false; /* the library stays open: harmless */
	return true;
}

static hwloc_obj_t numanode(hwloc_topology_t t, unsigned i)
{
	return hw.obj_by_depth(t, hw.type_depth(t, HWLOC_OBJ_NUMANODE), i);
}

/* hwloc_distances_obj_pair_values without hwloc.h's inline helper */
static int pair_value(const struct hwloc_distances_s *d, hwloc_obj_t a, hwloc_obj_t b,
                      hwloc_uint64_t *v)
{
	int ia = -1, ib = -1;
	for (unsigned k = 0; k < d->nbobjs; k++) {
		if (d->objs[k] == a)
			ia = (int)k;
		if (d->objs[k] == b)
			ib = (int)k;
	}
	if (ia < 0 || ib < 0)
		return -1;
	*v = d->values[(unsigned)ia * d->nbobjs + (unsigned)ib];
	return 0;
}

static void hwloc_load(void)
{
	hwloc_topology_t t;
	/* a node directory that sysfs_load could not read: hwloc 2.9 would
	 * assert on it (an empty one); one node is the safe reading */
	if (access("/sys/devices/system/node", F_OK) == 0 || !hwloc_open() ||
	    hw.topology_init(&t) != 0) {
		single_node();
		return;
	}
	/* only PUs and NUMA nodes matter (hwloc keeps those whatever the
	 * filter): no caches, no I/O; and never let hwloc move our thread to
	 * probe CPUs */
	hw.set_all_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
	hw.set_flags(t, HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM |
	                                HWLOC_TOPOLOGY_FLAG_DONT_CHANGE_BINDING);
	if (hw.topology_load(t) != 0) {
		hw.topology_destroy(t);
		single_node();
		return;
	}
	hwloc_const_nodeset_t allowed = hw.allowed_nodeset(t);

	int nall = hw.nbobjs_by_depth(t, hw.type_depth(t, HWLOC_OBJ_NUMANODE));
	if (nall < 1 || nall > MAX_OS_NODES) {
		hw.topology_destroy(t);
		single_node();
		return;
	}
	int idx[MAX_OS_NODES]; /* hwloc logical index -> managed index or -1 */
	int n = 0;
	for (int pass = 0; pass < 2 && n == 0; pass++) {
		/* pass 1 ignores NALLOC_NODES if it named no usable node */
		for (int i = 0; i < nall; i++) {
			hwloc_obj_t o = numanode(t, (unsigned)i);
			idx[i] = -1;
			if (!o || n >= NALLOC_MAX_NODES)
				continue;
			uint64_t mem = o->attr ? o->attr->numanode.local_memory : 0;
			if (mem == 0 || !hw.bitmap_isset(allowed, o->os_index))
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
		hw.topology_destroy(t);
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
	if (hw.distances_get_by_type(t, HWLOC_OBJ_NUMANODE, &nr, &dist, 0, 0) == 0 && nr >= 1 && dist) {
		for (int i = 0; i < hn; i++)
			for (int j = 0; j < hn; j++) {
				hwloc_uint64_t a;
				hwloc_obj_t oi = numanode(t, (unsigned)i);
				hwloc_obj_t oj = numanode(t, (unsigned)j);
				if (pair_value(dist, oi, oj, &a) == 0)
					hd[i][j] = (uint16_t)(a > 65535 ? 65535 : a);
			}
		hw.distances_release(t, dist);
	}
	for (int i = 0; i < hn; i++)
		for (int j = 0; j < hn; j++)
			if (idx[i] >= 0 && idx[j] >= 0)
				nalloc__topo.distance[idx[i]][idx[j]] = hd[i][j];
	order_nearest(n);

	/* each CPU's home: its node if managed, else the nearest managed one */
	int maxcpu = -1;
	for (int i = 0; i < hn; i++) {
		hwloc_obj_t o = numanode(t, (unsigned)i);
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
		for (int cpu = hw.bitmap_first(o->cpuset); cpu >= 0; cpu = hw.bitmap_next(o->cpuset, cpu)) {
			if (cpu < MAX_CPUS && nalloc__topo.cpu_node[cpu] < 0) {
				nalloc__topo.cpu_node[cpu] = (int16_t)home;
				nalloc__topo.node_ncpus[home]++;
				if (cpu > maxcpu)
					maxcpu = cpu;
			}
		}
	}
	nalloc__topo.ncpus = maxcpu + 1;
	nalloc__topo.source = 1;
	hw.topology_destroy(t);
}

#endif /* NALLOC_NO_HWLOC */

/* ------------------------------------------------------------ lazy homes
 * A CPU the start-up table does not place (its node has no memory, so
 * hwloc has no NUMA object for it; it was hot-plugged; it is beyond the
 * table) is homed when a thread first runs on it: the kernel says which
 * node the CPU is on (getcpu), and that node's row of kernel distances
 * (/sys/devices/system/node/nodeN/distance, whose k-th number is the
 * distance to the k-th node of .../node/online) gives the nearest managed
 * node, as the kernel's own fallback order would.  The answer is cached per
 * OS node and per CPU (relaxed atomics: racing threads write the same
 * value).  No malloc: plain reads of short sysfs files (numa/sysfs.c). */

/* The managed index nearest to OS node os by the kernel's distances; -1
 * if sysfs does not say. */
static int nearest_managed(int os)
{
	char path[80] = "/sys/devices/system/node/node";
	char *o = nalloc__fmt_dec(path + strlen(path), (uint64_t)os);
	memcpy(o, "/distance", 10);
	struct nalloc_rd online, dist;
	if (!nalloc__rd_open(&dist, path))
		return -1;
	if (!nalloc__rd_open(&online, "/sys/devices/system/node/online")) {
		nalloc__rd_close(&dist);
		return -1;
	}
	int best = -1;
	int64_t bestd = INT64_MAX, lo, hi;
	bool done = false;
	while (!done && nalloc__rd_range(&online, &lo, &hi)) {
		for (int64_t n = lo; n <= hi; n++) {
			int sep;
			int64_t d = nalloc__rd_num(&dist, &sep);
			if (d < 0) {
				done = true;
				break;
			}
			int k = n < MAX_OS_NODES ? nalloc__node_index((int)n) : -1;
			if (k >= 0 && d < bestd) {
				bestd = d;
				best = k;
			}
		}
	}
	nalloc__rd_close(&online);
	nalloc__rd_close(&dist);
	return best;
}

/* home index of OS node os (a managed node is its own home); -1 unknown */
static int os_node_home(int os)
{
	if (os < 0 || os >= MAX_OS_NODES)
		return -1;
	int h = LOAD_RELAXED(&os_home[os]);
	if (h > 0)
		return h - 1;
	h = nalloc__node_index(os);
	if (h < 0)
		h = nearest_managed(os);
	if (h >= 0)
		STORE_RELAXED(&os_home[os], (int16_t)(h + 1));
	return h;
}

/* home index of OS cpu running on OS node os_node (from getcpu; -1 when
 * unknown): the start-up table, else looked up and cached (0 when nothing
 * says) */
int nalloc__cpu_home(int cpu, int os_node)
{
	if (cpu >= 0 && cpu < MAX_CPUS) {
		int n = LOAD_RELAXED(&nalloc__topo.cpu_node[cpu]);
		if (n >= 0)
			return n;
	}
	int h = os_node_home(os_node);
	if (h < 0)
		return 0;
	if (cpu >= 0 && cpu < MAX_CPUS)
		STORE_RELAXED(&nalloc__topo.cpu_node[cpu], (int16_t)h);
	return h;
}

/* home index of an OS cpu (0 for one nothing knows) */
int nalloc__cpu_node(int cpu)
{
	if (cpu >= 0 && cpu < MAX_CPUS) {
		int n = LOAD_RELAXED(&nalloc__topo.cpu_node[cpu]);
		if (n >= 0)
			return n;
	}
	return 0;
}

int nalloc__node_index(int os_node)
{
	for (int i = 0; i < nalloc__topo.nnodes; i++)
		if (nalloc__topo.os_node[i] == os_node)
			return i;
	return -1;
}
