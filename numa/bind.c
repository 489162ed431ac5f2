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

/* Pages an OS node can still hand out before the kernel would have to
 * reclaim hard or OOM-kill: for each of its zones, free pages above the
 * high watermark and above the largest lowmem protection (the part of a
 * low zone kept back from allocations that could use a higher one), from
 * /proc/zoneinfo.  -1 if unknown.  Plain open/read into a static buffer:
 * this runs inside the allocator (zi_lock: innermost). */
static nalloc__lock_t zi_lock;
static char zi_buf[256 * 1024];

static int64_t parse_num(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '(' || *p == ',')
		p++;
	int64_t v = 0;
	while (*p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	return v;
}

static int64_t node_usable_pages(int os_node)
{
	nalloc__lock(&zi_lock);
	int fd = open("/proc/zoneinfo", O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	if (fd >= 0) {
		ssize_t n;
		while (len < sizeof zi_buf - 1 && (n = read(fd, zi_buf + len, sizeof zi_buf - 1 - len)) > 0)
			len += (size_t)n;
		close(fd);
	}
	zi_buf[len] = 0;
	int64_t total = -1, free = 0, high = 0, prot = 0;
	bool in_node = false, in_zone = false;
	for (char *line = zi_buf; *line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = 0;
		char *t = line;
		while (*t == ' ' || *t == '\t')
			t++;
		if (!strncmp(line, "Node ", 5)) {
			if (in_zone && in_node) {
				int64_t u = free - high - prot;
				total = (total < 0 ? 0 : total) + (u > 0 ? u : 0);
			}
			in_zone = true;
			in_node = parse_num(line + 5) == os_node;
			free = high = prot = 0;
		} else if (in_zone && !strncmp(t, "pages free", 10)) {
			free = parse_num(t + 10);
		} else if (in_zone && !strncmp(t, "high ", 5)) {
			high = parse_num(t + 5); /* the watermark, not the pagesets' "high:" */
		} else if (in_zone && !strncmp(t, "protection:", 11)) {
			for (char *q = t + 11; *q && *q != ')';) {
				int64_t v = parse_num(q);
				if (v > prot)
					prot = v;
				q++;
				while (*q && *q != ',' && *q != ')')
					q++;
			}
		}
		if (!end)
			break;
		line = end + 1;
	}
	if (in_zone && in_node) {
		int64_t u = free - high - prot;
		total = (total < 0 ? 0 : total) + (u > 0 ? u : 0);
	}
	nalloc__unlock(&zi_lock);
	return total;
}

/* Room found at the last look, minus what was committed since: no need to
 * read the kernel's figures again until half of it is used (heap lock). */
static uint64_t room_credit[NALLOC_MAX_NODES];

/* Can node take `bytes` more without running dry?  Keeps a margin of 1/64
 * of the node (at least 8 MiB) above the kernel's watermarks.  Only asked
 * when placement matters: strict mode, or local mode with several nodes. */
bool nalloc__node_has_room(int node, size_t bytes)
{
	if (nalloc__opt.numa == NUMA_OFF || nalloc__opt.numa == NUMA_INTERLEAVE)
		return true;
	if (nalloc__opt.numa == NUMA_LOCAL && nalloc__topo.nnodes <= 1)
		return true;
	if (room_credit[node] >= bytes) {
		room_credit[node] -= bytes;
		return true;
	}
	int os = nalloc__topo.os_node[node];
	int64_t pages = node_usable_pages(os);
	uint64_t avail;
	if (pages >= 0) {
		avail = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
	} else {
		uint64_t free = node_free_bytes(os);
		if (free == UINT64_MAX)
			return true;
		uint64_t reserve = nalloc__topo.node_memory[node] / 32;
		avail = free > reserve ? free - reserve : 0;
	}
	uint64_t margin = nalloc__topo.node_memory[node] / 64;
	if (margin < ((uint64_t)8 << 20))
		margin = (uint64_t)8 << 20;
	if (avail < bytes + margin)
		return false;
	room_credit[node] = (avail - bytes - margin) / 2;
	return true;
}
