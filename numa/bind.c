/* numa/bind.c: binding arena and metadata ranges to their node with mbind; node free memory.  see src/malloc.c */
#include "internal.h"
#include <fcntl.h>
#include <numaif.h>
#include <string.h>
#include <unistd.h>

#define MASK_LONGS (1024 / (8 * sizeof(unsigned long)))

static void set_bit(unsigned long *mask, int os)
{
	if (os >= 0 && os < 1024)
		mask[os / (8 * sizeof(unsigned long))] |= 1UL << (os % (8 * sizeof(unsigned long)));
}

/* Apply the NALLOC_NUMA policy to [p, p+size), which belongs to node
 * (index); done as memory is committed, before any page is touched.
 *   local       MPOL_PREFERRED on the node: the kernel falls back by
 *               distance if the node runs out; nalloc also checks room
 *               itself before growing (mheap.c) so fallbacks are counted
 *   strict      MPOL_BIND on the node: its pages never go elsewhere
 *   interleave  MPOL_INTERLEAVE over every managed node
 *   off         nothing: first touch (or the process policy) decides
 * One managed node and local mode: nothing to choose, no system call. */
void nalloc__bind_range(void *p, size_t size, int node)
{
	unsigned long mask[MASK_LONGS];
	int mode;
	memset(mask, 0, sizeof mask);
	switch (nalloc__opt.numa) {
	case NUMA_LOCAL:
		if (nalloc__topo.nnodes <= 1)
			return;
		mode = MPOL_PREFERRED;
		set_bit(mask, nalloc__topo.os_node[node]);
		break;
	case NUMA_STRICT:
		mode = MPOL_BIND;
		set_bit(mask, nalloc__topo.os_node[node]);
		break;
	case NUMA_INTERLEAVE:
		if (nalloc__topo.nnodes <= 1)
			return;
		mode = MPOL_INTERLEAVE;
		for (int i = 0; i < nalloc__topo.nnodes; i++)
			set_bit(mask, nalloc__topo.os_node[i]);
		break;
	default:
		return;
	}
	if (mbind(p, size, mode, mask, 1024, 0) != 0 && nalloc__opt.numa == NUMA_STRICT)
		nalloc__write_str(2, "nalloc: mbind failed: strict placement not enforced\n");
}

/* MemFree of an OS node from sysfs, in bytes; UINT64_MAX if unknown.
 * Plain open/read: this runs inside the allocator. */
static uint64_t node_free_bytes(int os_node)
{
	char path[64] = "/sys/devices/system/node/node", *o = path + strlen(path);
	o = nalloc__fmt_dec(o, (uint64_t)os_node);
	memcpy(o, "/meminfo", 9);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return UINT64_MAX;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return UINT64_MAX;
	buf[n] = 0;
	char *m = strstr(buf, "MemFree:");
	if (!m)
		return UINT64_MAX;
	m += 8;
	while (*m == ' ')
		m++;
	uint64_t kb = 0;
	for (; *m >= '0' && *m <= '9'; m++)
		kb = kb * 10 + (uint64_t)(*m - '0');
	return kb * 1024;
}

/* Can node take `bytes` more without running dry?  Keeps a reserve of
 * 1/32 of the node (at least 16 MiB) for the kernel and other users.
 * Only asked when placement matters: strict mode, or local mode with
 * several nodes. */
bool nalloc__node_has_room(int node, size_t bytes)
{
	if (nalloc__opt.numa == NUMA_OFF || nalloc__opt.numa == NUMA_INTERLEAVE)
		return true;
	if (nalloc__opt.numa == NUMA_LOCAL && nalloc__topo.nnodes <= 1)
		return true;
	uint64_t free = node_free_bytes(nalloc__topo.os_node[node]);
	if (free == UINT64_MAX)
		return true;
	uint64_t reserve = nalloc__topo.node_memory[node] / 32;
	if (reserve < ((uint64_t)16 << 20))
		reserve = (uint64_t)16 << 20;
	return free >= bytes + reserve;
}
