/* SPDX-License-Identifier: MIT */
/*
 * tests/vm/probe.c: what NUMA topology does this (virtual) machine show, and
 * does page placement really follow mbind()?
 *
 * Prints, as libnuma sees them, the node count, each node's CPUs and memory,
 * and the distance matrix (and, when built with NALLOC_PROBE_HWLOC, hwloc's
 * node count as a cross-check).  Then, for each node with memory, it maps a
 * fresh anonymous buffer, mbind()s it to that node, touches every page and asks
 * move_pages(0, n, pages, NULL, status, 0) where each page lives.  Exit status
 * 0 only when every page of every buffer is on its bound node.
 *
 * Output is line-oriented so that scripts can grep it:
 *   probe: nodes=N max_node=M cpus=C
 *   probe: node=I cpus=LIST mem_mb=T free_mb=F
 *   probe: distance I: D0 D1 ...
 *   probe: place node=I pages=N ok=K
 *   probe: PASS | probe: FAIL (reason)
 *
 * Usage: probe [PAGES_PER_NODE]   (default 256)
 * It is the template for nalloc's placement tests run by tests/vm/run-vm.sh.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef NALLOC_PROBE_HWLOC
#include <hwloc.h>
#endif

/* Print the set bits of a bitmask as "0-3,6" ("-" when empty). */
static void print_cpulist(const struct bitmask *bm, int ncpus)
{
    int first = 1;
    for (int i = 0; i < ncpus; i++) {
        if (!numa_bitmask_isbitset(bm, i))
            continue;
        int j = i;
        while (j + 1 < ncpus && numa_bitmask_isbitset(bm, j + 1))
            j++;
        printf("%s%d", first ? "" : ",", i);
        if (j > i)
            printf("-%d", j);
        first = 0;
        i = j;
    }
    if (first)
        printf("-");
}

/* Bind a fresh buffer of npages to node, touch it, check where its pages are.
 * Returns the number of pages found on node, or -1 on a system-call error. */
static long place_on_node(int node, long npages, long pagesz, int max_node)
{
    size_t len = (size_t)npages * (size_t)pagesz;
    char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        printf("probe: mmap(%zu): %s\n", len, strerror(errno));
        return -1;
    }

    unsigned long maxnode = (unsigned long)max_node + 2;
    size_t words = (maxnode + 8 * sizeof(unsigned long) - 1) / (8 * sizeof(unsigned long));
    unsigned long *mask = calloc(words, sizeof(unsigned long));
    void **pages = calloc((size_t)npages, sizeof(void *));
    int *status = calloc((size_t)npages, sizeof(int));
    long ok = -1;
    if (!mask || !pages || !status) {
        printf("probe: out of memory\n");
        goto out;
    }
    mask[node / (8 * sizeof(unsigned long))] |= 1UL << (node % (8 * sizeof(unsigned long)));

    if (mbind(buf, len, MPOL_BIND, mask, maxnode, MPOL_MF_STRICT) != 0) {
        printf("probe: mbind(node %d): %s\n", node, strerror(errno));
        goto out;
    }
    for (long i = 0; i < npages; i++) {
        buf[i * pagesz] = (char)i;      /* first touch allocates the page */
        pages[i] = buf + i * pagesz;
        status[i] = -1;
    }
    if (move_pages(0, (unsigned long)npages, pages, NULL, status, 0) != 0) {
        printf("probe: move_pages(node %d): %s\n", node, strerror(errno));
        goto out;
    }
    ok = 0;
    int reported = 0;
    for (long i = 0; i < npages; i++) {
        if (status[i] == node) {
            ok++;
        } else if (reported++ < 4) {
            printf("probe: node %d page %ld is on %d%s\n", node, i, status[i],
                   status[i] < 0 ? " (error)" : "");
        }
    }
out:
    free(status);
    free(pages);
    free(mask);
    munmap(buf, len);
    return ok;
}

int main(int argc, char **argv)
{
    long npages = argc > 1 ? strtol(argv[1], NULL, 0) : 256;
    long pagesz = sysconf(_SC_PAGESIZE);
    int failures = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (npages <= 0) {
        fprintf(stderr, "usage: %s [PAGES_PER_NODE]\n", argv[0]);
        return 2;
    }
    if (numa_available() < 0) {
        printf("probe: FAIL (libnuma: NUMA not available)\n");
        return 1;
    }

    int max_node = numa_max_node();
    int ncpus = numa_num_configured_cpus();
    int nodes = numa_num_configured_nodes();
    printf("probe: nodes=%d max_node=%d cpus=%d\n", nodes, max_node, ncpus);

    struct bitmask *cpus = numa_allocate_cpumask();
    for (int n = 0; n <= max_node; n++) {
        long long freemem = 0;
        long long total = numa_node_size64(n, &freemem);
        if (total < 0)
            continue;                   /* no such node */
        numa_bitmask_clearall(cpus);
        if (numa_node_to_cpus(n, cpus) != 0)
            numa_bitmask_clearall(cpus);
        printf("probe: node=%d cpus=", n);
        print_cpulist(cpus, ncpus);
        printf(" mem_mb=%lld free_mb=%lld\n", total >> 20, freemem >> 20);
    }
    numa_free_cpumask(cpus);

    for (int i = 0; i <= max_node; i++) {
        if (numa_node_size64(i, NULL) < 0)
            continue;
        printf("probe: distance %d:", i);
        for (int j = 0; j <= max_node; j++)
            if (numa_node_size64(j, NULL) >= 0)
                printf(" %d", numa_distance(i, j));
        printf("\n");
    }

#ifdef NALLOC_PROBE_HWLOC
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) == 0 && hwloc_topology_load(topo) == 0) {
        int hn = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
        int hp = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
        printf("probe: hwloc numanodes=%d pus=%d\n", hn, hp);
        if (hn != nodes) {
            printf("probe: hwloc and libnuma disagree on the node count\n");
            failures++;
        }
        hwloc_topology_destroy(topo);
    } else {
        printf("probe: hwloc topology load failed\n");
        failures++;
    }
#endif

    for (int n = 0; n <= max_node; n++) {
        long long total = numa_node_size64(n, NULL);
        if (total <= 0)
            continue;                   /* absent or memoryless node */
        long ok = place_on_node(n, npages, pagesz, max_node);
        printf("probe: place node=%d pages=%ld ok=%ld\n", n, npages, ok);
        if (ok != npages)
            failures++;
    }

    if (failures) {
        printf("probe: FAIL (%d problem%s)\n", failures, failures == 1 ? "" : "s");
        return 1;
    }
    printf("probe: PASS\n");
    return 0;
}
