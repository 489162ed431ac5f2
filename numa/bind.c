/* SPDX-License-Identifier: MIT */
/* numa/bind.c: binding arena and metadata ranges to their node with mbind; room left on a node.  see src/malloc.c */
#include "internal.h"
#include <fcntl.h>
#include <numaif.h>
#include <string.h>
#include <sys/syscall.h>
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
	/* the system call itself: libnuma's mbind() is the same call, and
	 * nalloc then needs nothing of libnuma but its header */
	if (syscall(SYS_mbind, p, size, mode, mask, 1024UL, 0U) != 0 && nalloc__opt.numa == NUMA_STRICT)
		nalloc__write_str(2, "nalloc: mbind failed: strict placement not enforced\n");
}

/* ---------------------------------------------------------------- room
 * How much a node can still give without the kernel running dry, counted
 * as the kernel's MemAvailable counts it (si_mem_available), per node:
 *
 *   free pages - reserve                (reserve: each zone's high watermark
 *                                        plus its largest lowmem protection)
 * + page cache - min(page cache / 2, low)         (active + inactive file)
 * + reclaimable kernel memory - min(it / 2, low)  (KReclaimable)
 *
 * (low: the sum of the node's zones' low watermarks).  Clean page cache
 * is free memory to the kernel: it drops it on demand, so a server whose
 * cache fills memory still has room.  The free, file and reclaimable
 * figures come from /sys/devices/system/node/nodeN/meminfo (a short file)
 * at every look; the watermarks from /proc/zoneinfo (large: pagesets of
 * every CPU), which change only when the administrator or memory hot-plug
 * moves them, re-read every ZONEINFO_MS.  Without nodeN/meminfo: one node,
 * /proc/meminfo's MemAvailable; else every figure from /proc/zoneinfo.
 *
 * Called before an arena grows, from any thread, with or without the heap
 * lock held: its state sits under a private lock per node and the
 * watermark lock, innermost locks that guard only file reads.  No malloc. */

#define ZONEINFO_MS 10000
#define CREDIT_MS 100

struct node_fig {
	int64_t free, file, slab; /* bytes; -1 unknown */
	int64_t low, reserve;     /* bytes (watermarks) */
};

/* the watermarks, by managed index (wm_lock) */
static nalloc__lock_t wm_lock;
static int64_t wm_low[NALLOC_MAX_NODES], wm_reserve[NALLOC_MAX_NODES];
static uint64_t wm_read_ms;
static bool wm_valid;

static int64_t page_bytes(void)
{
	static int64_t pg;
	int64_t v = LOAD_RELAXED(&pg);
	if (!v) {
		v = (int64_t)nalloc__os_page_size();
		STORE_RELAXED(&pg, v);
	}
	return v;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* the number in s, 0 when there is none */
static int64_t num0(const char *s)
{
	int64_t v = nalloc__parse_num(s);
	return v > 0 ? v : 0;
}

/* Parse /proc/zoneinfo whole into f[] (by managed index): watermarks
 * always; free pages and the per-node file and slab counts too.  false
 * when it cannot be read. */
static bool read_zoneinfo(struct node_fig *f)
{
	struct nalloc_rd r;
	char line[256];
	if (!nalloc__rd_open(&r, "/proc/zoneinfo"))
		return false;
	for (int i = 0; i < NALLOC_MAX_NODES; i++)
		f[i] = (struct node_fig){0, 0, 0, 0, 0};
	int cur = -1;
	bool any = false;
	while (nalloc__rd_line(&r, line, sizeof line)) {
		if (!strncmp(line, "Node ", 5)) {
			cur = nalloc__node_index((int)nalloc__parse_num(line + 5));
			any = true;
			continue;
		}
		if (cur < 0)
			continue;
		struct node_fig *g = &f[cur];
		char *t = line;
		while (*t == ' ' || *t == '\t')
			t++;
		int64_t v;
		if (!strncmp(t, "pages free", 10)) {
			g->free += num0(t + 10);
		} else if (!strncmp(t, "low ", 4)) {
			g->low += num0(t + 4);
		} else if (!strncmp(t, "high ", 5)) {
			/* the zone's watermark, not a pageset's "high:" */
			g->reserve += num0(t + 5);
		} else if (!strncmp(t, "protection:", 11)) {
			int64_t prot = 0;
			for (char *q = t + 11; *q && *q != ')'; q++)
				if (*q >= '0' && *q <= '9') {
					v = nalloc__parse_num(q);
					if (v > prot)
						prot = v;
					while (*q >= '0' && *q <= '9')
						q++;
					if (!*q || *q == ')')
						break;
				}
			g->reserve += prot;
		} else if (!strncmp(t, "nr_active_file ", 15) || !strncmp(t, "nr_inactive_file ", 17)) {
			g->file += num0(t + 15);
		} else if (!strncmp(t, "nr_slab_reclaimable ", 20) ||
		           !strncmp(t, "nr_kernel_misc_reclaimable ", 27)) {
			g->slab += num0(t + 19);
		}
	}
	nalloc__rd_close(&r);
	int64_t pg = page_bytes();
	for (int i = 0; i < NALLOC_MAX_NODES; i++) {
		f[i].free *= pg;
		f[i].file *= pg;
		f[i].slab *= pg;
		f[i].low *= pg;
		f[i].reserve *= pg;
	}
	return any;
}

/* The node's watermarks, read again when older than ZONEINFO_MS.  false
 * when /proc/zoneinfo cannot be read. */
static bool watermarks(int node, int64_t *low, int64_t *reserve)
{
	nalloc__lock(&wm_lock);
	uint64_t now = nalloc__now_ms();
	if (!wm_valid || now - wm_read_ms >= ZONEINFO_MS) {
		static struct node_fig f[NALLOC_MAX_NODES]; /* wm_lock */
		wm_valid = read_zoneinfo(f);
		wm_read_ms = now;
		for (int i = 0; i < NALLOC_MAX_NODES; i++) {
			wm_low[i] = f[i].low;
			wm_reserve[i] = f[i].reserve;
		}
	}
	bool ok = wm_valid;
	*low = wm_low[node];
	*reserve = wm_reserve[node];
	nalloc__unlock(&wm_lock);
	return ok;
}

/* "Key:   N kB" lines (nodeN/meminfo lines start "Node N "): N * 1024, or -1 */
static int64_t kb_field(const char *line, const char *key, size_t klen)
{
	if (!strncmp(line, "Node ", 5)) {
		line += 5;
		while (*line >= '0' && *line <= '9')
			line++;
		while (*line == ' ')
			line++;
	}
	if (strncmp(line, key, klen) != 0)
		return -1;
	int64_t v = nalloc__parse_num(line + klen);
	return v < 0 ? -1 : v * 1024;
}

/* free, file and reclaimable kernel memory of an OS node from its sysfs
 * meminfo; false if there is none */
static bool read_node_meminfo(int os_node, struct node_fig *g)
{
	char path[80] = "/sys/devices/system/node/node", line[256];
	char *o = nalloc__fmt_dec(path + strlen(path), (uint64_t)os_node);
	memcpy(o, "/meminfo", 9);
	struct nalloc_rd r;
	if (!nalloc__rd_open(&r, path))
		return false;
	int64_t active = -1, inactive = -1, kre = -1, sre = -1, v;
	g->free = -1;
	while (nalloc__rd_line(&r, line, sizeof line)) {
		if ((v = kb_field(line, "MemFree:", 8)) >= 0)
			g->free = v;
		else if ((v = kb_field(line, "Active(file):", 13)) >= 0)
			active = v;
		else if ((v = kb_field(line, "Inactive(file):", 15)) >= 0)
			inactive = v;
		else if ((v = kb_field(line, "KReclaimable:", 13)) >= 0)
			kre = v;
		else if ((v = kb_field(line, "SReclaimable:", 13)) >= 0)
			sre = v;
	}
	nalloc__rd_close(&r);
	g->file = (active > 0 ? active : 0) + (inactive > 0 ? inactive : 0);
	g->slab = kre >= 0 ? kre : sre > 0 ? sre : 0;
	return g->free >= 0;
}

/* /proc/meminfo's MemAvailable (the kernel's own sum), or -1 */
static int64_t mem_available(void)
{
	struct nalloc_rd r;
	char line[256];
	int64_t v = -1;
	if (!nalloc__rd_open(&r, "/proc/meminfo"))
		return -1;
	while (nalloc__rd_line(&r, line, sizeof line))
		if ((v = kb_field(line, "MemAvailable:", 13)) >= 0)
			break;
	nalloc__rd_close(&r);
	return v;
}


/* Bytes the node can still give (see above); -1 when nothing says. */
static int64_t node_available(int node)
{
	int os = nalloc__topo.os_node[node];
	struct node_fig g;
	int64_t low, reserve;
	if (read_node_meminfo(os, &g)) {
		if (!watermarks(node, &low, &reserve)) {
			/* no zoneinfo: guess watermarks of 1/64 and 1/32 */
			low = (int64_t)(nalloc__topo.node_memory[node] / 64);
			reserve = low * 2;
		}
	} else if (nalloc__topo.nnodes == 1 && (g.free = mem_available()) >= 0) {
		return g.free;
	} else {
		static struct node_fig f[NALLOC_MAX_NODES]; /* wm_lock */
		nalloc__lock(&wm_lock);
		bool ok = read_zoneinfo(f);
		g = f[node];
		nalloc__unlock(&wm_lock);
		if (!ok)
			return -1;
		low = g.low;
		reserve = g.reserve;
	}
	int64_t avail = g.free - reserve;
	avail += g.file - min64(g.file / 2, low);
	avail += g.slab - min64(g.slab / 2, low);
	return avail > 0 ? avail : 0;
}

/* Local mode keeps part of the room it saw for CREDIT_MS, so that quick
 * successive growths do not all read the files; strict mode looks every
 * time (a growth is 4 MiB of future page faults: one short sysfs read per
 * growth is cheap), so memory another process took meanwhile is seen and
 * malloc returns NULL before the kernel would have to OOM-kill.  Known
 * limit: the figures do not show memory committed but not yet touched, so
 * growths of one node racing in several threads (or a huge block not yet
 * written) can take more than the reading allowed; the margin absorbs a
 * few 4 MiB growths. */
static struct {
	nalloc__lock_t lock;
	uint64_t credit;    /* bytes (lock) */
	uint64_t until_ms;  /* the credit's expiry (lock) */
} room[NALLOC_MAX_NODES];

/* Can node take `bytes` more without running dry?  Keeps a margin of 1/64
 * of the node (at least 8 MiB) above what the kernel counts as available.
 * Only asked when placement matters: strict mode, or local mode with
 * several nodes.  Safe from any thread with no lock held; no malloc. */
bool nalloc__node_has_room(int node, size_t bytes)
{
	int mode = nalloc__opt.numa;
	if (mode == NUMA_OFF || mode == NUMA_INTERLEAVE)
		return true;
	if (mode == NUMA_LOCAL && nalloc__topo.nnodes <= 1)
		return true;
	if (node < 0 || node >= nalloc__topo.nnodes)
		return true;
	nalloc__lock(&room[node].lock);
	uint64_t now = nalloc__now_ms();
	if (mode == NUMA_LOCAL && room[node].credit >= bytes && now < room[node].until_ms) {
		room[node].credit -= bytes;
		nalloc__unlock(&room[node].lock);
		return true;
	}
	room[node].credit = 0;
	int64_t avail = node_available(node);
	bool ok = true;
	if (avail >= 0) {
		uint64_t margin = nalloc__topo.node_memory[node] / 64;
		if (margin < ((uint64_t)8 << 20))
			margin = (uint64_t)8 << 20;
		ok = (uint64_t)avail >= bytes + margin;
		if (ok && mode == NUMA_LOCAL) {
			room[node].credit = ((uint64_t)avail - bytes - margin) / 2;
			room[node].until_ms = now + CREDIT_MS;
		}
	}
	nalloc__unlock(&room[node].lock);
	return ok;
}
