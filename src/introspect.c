/* SPDX-License-Identifier: MIT */
/* introspect.c: glibc's introspection calls (mallinfo2, mallinfo, malloc_stats, malloc_info, mallopt) and nalloc_version, from nalloc's own figures.  see malloc.c
 *
 * Without these, a program running on nalloc would reach glibc's versions,
 * which describe glibc's (unused) arenas: zeros, and a mallopt that says
 * yes to everything.  Every figure here comes from one stats snapshot
 * (nalloc_stats_get, stats.c), summed over the nodes, plus the heaps'
 * dirty free page counters (read relaxed, as stats.c reads them), so they
 * agree with the table and the JSON document.  Nothing here allocates from
 * nalloc: the snapshot is mapped from the OS.  malloc_stats and malloc_info
 * write with the caller's stdio.
 *
 * mallinfo2 / mallinfo fields (README.md has the same table):
 *   arena     sum of committed_bytes: pages in spans plus free pages not yet
 *             returned to the OS (what the heaps hold now)
 *   ordblks   0 (nalloc keeps no free chunk lists to count)
 *   smblks    0 (no fastbins)
 *   hblks     0 (nalloc does not mmap blocks one by one: large blocks are
 *             in the arenas and counted in arena and uordblks)
 *   hblkhd    0 (same)
 *   usmblks   0 (glibc also always says 0)
 *   fsmblks   0 (no fastbins)
 *   uordblks  sum of in_use_bytes: live objects rounded to their size class
 *   fordblks  arena - uordblks: free room in spans plus free pages
 *   keepcost  free pages not yet returned to the OS (what malloc_trim would
 *             give back now)
 * mallinfo's fields are int: a value above INT_MAX reads INT_MAX (glibc's
 * wrap around instead).
 */
#include "internal.h"
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#define API __attribute__((visibility("default")))

int nalloc_version(void)
{
	return NALLOC_VERSION_NUMBER;
}

/* One snapshot, from the OS (struct nalloc_stats is ~45 KiB: too big for
 * the stacks of some threads). */
static struct nalloc_stats *snap_get(void)
{
	struct nalloc_stats *st = nalloc__os_alloc(sizeof *st);
	if (st)
		nalloc_stats_get(st);
	return st;
}

static void snap_put(struct nalloc_stats *st)
{
	if (st)
		nalloc__os_free(st, sizeof *st);
}

static uint64_t node_free(const struct nalloc_node_stats *ns)
{
	return ns->committed_bytes > ns->in_use_bytes ? ns->committed_bytes - ns->in_use_bytes : 0;
}

/* bytes of free pages that are still mapped, all nodes (malloc_trim's) */
static uint64_t keepcost(void)
{
	uint64_t pages = 0;
	for (int i = 0; i < nalloc__g.nnodes; i++)
		pages += LOAD_RELAXED(&nalloc__g.heaps[i]->dirty_free_pages);
	return pages << NALLOC_PAGE_SHIFT;
}

static struct mallinfo2 info_of(const struct nalloc_stats *st)
{
	struct mallinfo2 mi;
	memset(&mi, 0, sizeof mi);
	if (!st)
		return mi;
	uint64_t committed = 0, in_use = 0;
	for (int i = 0; i < st->nnodes; i++) {
		committed += st->nodes[i].committed_bytes;
		in_use += st->nodes[i].in_use_bytes;
	}
	mi.arena = committed;
	mi.uordblks = in_use;
	mi.fordblks = committed > in_use ? committed - in_use : 0;
	mi.keepcost = keepcost();
	if (mi.keepcost > mi.fordblks)
		mi.keepcost = mi.fordblks; /* the two loads are not one snapshot */
	return mi;
}

API struct mallinfo2 NALLOC_FN(mallinfo2)(void)
{
	struct nalloc_stats *st = snap_get();
	struct mallinfo2 mi = info_of(st);
	snap_put(st);
	return mi;
}

static int sat_int(size_t v)
{
	return v > (size_t)INT_MAX ? INT_MAX : (int)v;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
API struct mallinfo NALLOC_FN(mallinfo)(void)
{
	struct mallinfo2 m2 = mallinfo2();
	struct mallinfo mi;
	mi.arena = sat_int(m2.arena);
	mi.ordblks = sat_int(m2.ordblks);
	mi.smblks = sat_int(m2.smblks);
	mi.hblks = sat_int(m2.hblks);
	mi.hblkhd = sat_int(m2.hblkhd);
	mi.usmblks = sat_int(m2.usmblks);
	mi.fsmblks = sat_int(m2.fsmblks);
	mi.uordblks = sat_int(m2.uordblks);
	mi.fordblks = sat_int(m2.fordblks);
	mi.keepcost = sat_int(m2.keepcost);
	return mi;
}
#pragma GCC diagnostic pop

/* The per-node table (as NALLOC_STATS=1 prints it), then glibc's summary
 * lines with one "Arena i:" per node (i = node index; the table's header
 * gives the OS node numbers), to stderr like glibc's. */
API void NALLOC_FN(malloc_stats)(void)
{
	nalloc_stats_print(stderr, NALLOC_STATS_TEXT);
	struct nalloc_stats *st = snap_get();
	if (!st)
		return;
	uint64_t committed = 0, in_use = 0;
	for (int i = 0; i < st->nnodes; i++) {
		const struct nalloc_node_stats *ns = &st->nodes[i];
		fprintf(stderr, "Arena %d:\nsystem bytes     = %10llu\nin use bytes     = %10llu\n", i,
		        (unsigned long long)ns->committed_bytes, (unsigned long long)ns->in_use_bytes);
		committed += ns->committed_bytes;
		in_use += ns->in_use_bytes;
	}
	fprintf(stderr,
	        "Total (incl. mmap):\nsystem bytes     = %10llu\nin use bytes     = %10llu\n"
	        "max mmap regions = %10d\nmax mmap bytes   = %10d\n",
	        (unsigned long long)committed, (unsigned long long)in_use, 0, 0);
	fflush(stderr);
	snap_put(st);
}

/* glibc's layout (version="1"), one <heap> per node; nr is the node index
 * and node the OS node number.  Per heap and in the totals:
 *   <sizes>                  empty (nalloc keeps no free chunk lists)
 *   total fast               0
 *   total rest  size         committed_bytes - in_use_bytes (count 0)
 *   total mmap               0 (totals only: no block is mmapped alone)
 *   system current           committed_bytes
 *   system max, aspace total, aspace mprotect
 *                            mapped_bytes (arena space made usable: the
 *                            high-water mark, it never shrinks)
 * options other than 0 are EINVAL, as in glibc. */
API int NALLOC_FN(malloc_info)(int options, FILE *fp)
{
	if (options != 0 || fp == NULL)
		return EINVAL;
	struct nalloc_stats *st = snap_get();
	if (!st)
		return ENOMEM;
	uint64_t committed = 0, mapped = 0, freeb = 0;
	fputs("<malloc version=\"1\">\n", fp);
	for (int i = 0; i < st->nnodes; i++) {
		const struct nalloc_node_stats *ns = &st->nodes[i];
		unsigned long long c = ns->committed_bytes, m = ns->mapped_bytes, f = node_free(ns);
		fprintf(fp,
		        "<heap nr=\"%d\" node=\"%d\">\n<sizes>\n</sizes>\n"
		        "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
		        "<total type=\"rest\" count=\"0\" size=\"%llu\"/>\n"
		        "<system type=\"current\" size=\"%llu\"/>\n"
		        "<system type=\"max\" size=\"%llu\"/>\n"
		        "<aspace type=\"total\" size=\"%llu\"/>\n"
		        "<aspace type=\"mprotect\" size=\"%llu\"/>\n</heap>\n",
		        i, ns->node, f, c, m, m, m);
		committed += c;
		mapped += m;
		freeb += f;
	}
	fprintf(fp,
	        "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
	        "<total type=\"rest\" count=\"0\" size=\"%llu\"/>\n"
	        "<total type=\"mmap\" count=\"0\" size=\"0\"/>\n"
	        "<system type=\"current\" size=\"%llu\"/>\n"
	        "<system type=\"max\" size=\"%llu\"/>\n"
	        "<aspace type=\"total\" size=\"%llu\"/>\n"
	        "<aspace type=\"mprotect\" size=\"%llu\"/>\n</malloc>\n",
	        (unsigned long long)freeb, (unsigned long long)committed, (unsigned long long)mapped,
	        (unsigned long long)mapped, (unsigned long long)mapped);
	snap_put(st);
	return 0;
}

/* 1 for what nalloc honours, 0 (the man page's "error") for the rest:
 *   M_CHECK_ACTION  bit 1 (2) set: abort on an invalid or double free,
 *                   else report and go on (NALLOC_ON_ERROR=abort|warn);
 *                   nalloc always reports, so bit 0 is not looked at
 *   M_TRIM_THRESHOLD, M_TOP_PAD   0: free pages go back to the OS by age
 *                   (NALLOC_RETURN_DELAY_MS), not by size
 *   M_MMAP_THRESHOLD, M_MMAP_MAX  0: nalloc has no mmap threshold
 *   M_ARENA_MAX, M_ARENA_TEST     0: one heap per NUMA node, not per
 *                   thread group (NALLOC_NODES chooses the nodes)
 *   M_MXFAST        0: no fastbins
 *   M_PERTURB       0: nalloc does not fill blocks
 *   anything else   0 */
API int NALLOC_FN(mallopt)(int param, int value)
{
	if (!LOAD_ACQ(&nalloc__g.ready))
		nalloc__init(); /* so that the options parsed at init do not undo it */
	switch (param) {
	case M_CHECK_ACTION:
		/* read relaxed by nalloc__report */
		STORE_RELAXED(&nalloc__opt.on_error, (value & 2) ? ON_ERROR_ABORT : ON_ERROR_WARN);
		return 1;
	default:
		return 0;
	}
}
