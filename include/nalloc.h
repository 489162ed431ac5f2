/* SPDX-License-Identifier: MIT */
/* nalloc.h: public interface of nalloc, a NUMA-aware malloc.
 *
 * Linking with -lnalloc (or LD_PRELOAD=libnalloc.so) replaces the whole
 * standard allocation API (malloc, free, calloc, realloc, reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * malloc_usable_size, free_sized, free_aligned_sized; C++ new/delete go
 * through them).  This header declares the nalloc-specific extras.
 *
 * Environment options (read once at start-up; see README.md for the table):
 *   NALLOC_ON_ERROR=abort|warn   what an invalid or double free does
 *   NALLOC_RETURN_DELAY_MS=N     how long free pages stay mapped before
 *                                they are returned to the OS
 *   NALLOC_STATS=1               print the per-node table to stderr at exit
 *   NALLOC_STATS_JSON=PATH       write the stats JSON document at exit
 *   NALLOC_STATS_INTERVAL=SECS   also append one document every SECS seconds
 *   NALLOC_NUMA=local|strict|interleave|off   page placement policy
 *   NALLOC_NODES=0,2             the NUMA nodes to use (default: all allowed)
 *
 * glibc's introspection calls are nalloc's too (<malloc.h>: mallinfo2,
 * mallinfo, malloc_stats, malloc_info, mallopt): see src/introspect.c and
 * README.md for what each field and parameter means here.
 */
#ifndef NALLOC_H
#define NALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NALLOC_API __attribute__((visibility("default")))
#else
#define NALLOC_API
#endif

/* The version, as in configure.ac's AC_INIT (tests/test_version fails if
 * they differ): NALLOC_VERSION is "MAJOR.MINOR.PATCH", NALLOC_VERSION_NUMBER
 * is MAJOR * 10000 + MINOR * 100 + PATCH, for #if tests. */
#define NALLOC_VERSION_MAJOR 0
#define NALLOC_VERSION_MINOR 1
#define NALLOC_VERSION_PATCH 0
#if NALLOC_VERSION_MINOR > 99 || NALLOC_VERSION_PATCH > 99
#error "NALLOC_VERSION_NUMBER needs MINOR and PATCH below 100"
#endif
#define NALLOC_VERSION_STR_(x) #x
#define NALLOC_VERSION_STR(x) NALLOC_VERSION_STR_(x)
#define NALLOC_VERSION                                                         \
	NALLOC_VERSION_STR(NALLOC_VERSION_MAJOR)                                 \
	"." NALLOC_VERSION_STR(NALLOC_VERSION_MINOR) "." NALLOC_VERSION_STR(NALLOC_VERSION_PATCH)
#define NALLOC_VERSION_NUMBER                                                  \
	(NALLOC_VERSION_MAJOR * 10000 + NALLOC_VERSION_MINOR * 100 + NALLOC_VERSION_PATCH)

/* Per-node figures: the one field list behind the counters, the printed
 * table and the JSON document (NALLOC_STATS_JSON).  X(name, description).
 * The *_bytes and spans_in_use / threads fields are gauges (value now);
 * the others count events since start-up. */
#define NALLOC_NODE_STATS_FIELDS(X)                                              \
	X(mapped_bytes, "arena address space made usable")                       \
	X(committed_bytes, "bytes in spans plus free pages not yet returned")   \
	X(in_use_bytes, "bytes of live objects (rounded to their size class)")  \
	X(spans_in_use, "spans holding objects")                                 \
	X(allocs, "allocations (small and large)")                               \
	X(frees, "frees (small and large)")                                      \
	X(local_frees, "frees by the thread caching the object's span")          \
	X(unowned_frees, "frees into spans the freeing thread does not cache")   \
	X(remote_frees, "frees of this node's objects by threads of other nodes") \
	X(remote_frees_out, "frees by this node's threads of other nodes' objects") \
	X(large_allocs, "allocations > 32 KiB")                                  \
	X(returned_bytes, "bytes given back to the OS")                          \
	X(offnode_allocs, "allocations for this node's threads served by another node (node full)") \
	X(onnode_allocs, "nalloc_malloc_onnode allocations served here")        \
	X(rehomes, "times a thread was re-homed to another node")                \
	X(lock_acquisitions, "acquisitions of this node's heap and mcentral locks") \
	X(lock_waits, "acquisitions of those locks that had to wait")            \
	X(threads, "threads homed on this node now")

#define NALLOC_MAX_NODES 64

struct nalloc_node_stats {
	int node; /* NUMA node number (OS numbering) */
#define NALLOC_X_(name, desc) uint64_t name;
	NALLOC_NODE_STATS_FIELDS(NALLOC_X_)
#undef NALLOC_X_
	/* remote_frees split by the freeing thread's home node: entry i is
	 * for the node in nodes[i] of struct nalloc_stats */
	uint64_t remote_frees_by_source[NALLOC_MAX_NODES];
	/* placement check: arena pages of this node sampled with move_pages
	 * (0 if not sampled) and the fraction of them resident on the node
	 * (negative if not sampled) */
	uint64_t resident_sampled_pages;
	double resident_fraction;
};

struct nalloc_stats {
	int nnodes;
	struct nalloc_node_stats nodes[NALLOC_MAX_NODES];
};

enum nalloc_stats_format { NALLOC_STATS_TEXT = 0, NALLOC_STATS_JSON = 1 };

/* Fill *st with the current per-node figures (and sample placement with
 * move_pages).  Never stops allocation.  Returns 0. */
NALLOC_API int nalloc_stats_get(struct nalloc_stats *st);
/* Print the per-node figures as a table or as the JSON document. */
NALLOC_API void nalloc_stats_print(FILE *f, int format);

/* The version of the library running, as NALLOC_VERSION_NUMBER (the
 * header a program was compiled with may be older or newer). */
NALLOC_API int nalloc_version(void);

/* Return every free page that is still mapped to the OS now, whatever the
 * return delay.  Returns the number of bytes returned. */
NALLOC_API size_t nalloc_purge(void);

/* Number of NUMA nodes nalloc manages (1 on a non-NUMA machine): the nodes
 * with memory that the process may use (cgroup cpuset, numactl --membind)
 * and that NALLOC_NODES lists. */
NALLOC_API int nalloc_num_nodes(void);

/* The OS node number of the i-th managed node (0 <= i < nalloc_num_nodes()),
 * or -1. */
NALLOC_API int nalloc_node_id(int i);

/* Allocate size bytes on NUMA node `node` (OS numbering), whatever node the
 * calling thread is homed on.  Free it with free().  Returns NULL with
 * errno = EINVAL if nalloc does not manage that node, ENOMEM if it is full
 * (in NALLOC_NUMA=strict mode) or the size is impossible. */
NALLOC_API void *nalloc_malloc_onnode(size_t size, int node);

/* The OS node whose heap ptr came from, or -1 if ptr is not from nalloc.
 * (Where the kernel actually put the pages is what move_pages(2) says; with
 * NALLOC_NUMA=local or strict the two agree unless memory ran out.) */
NALLOC_API int nalloc_node_of(const void *ptr);

/* Home the calling thread's cache on node `node` (OS numbering): its small
 * and large allocations come from that node from now on, and it is no
 * longer re-homed when it migrates.  node = -1 returns to automatic homing
 * (the node of the CPU the thread runs on).  Returns 0, or -1 with
 * errno = EINVAL if nalloc does not manage the node. */
NALLOC_API int nalloc_thread_set_home(int node);

/* The OS node the calling thread's allocations come from now. */
NALLOC_API int nalloc_thread_home(void);

#ifdef __cplusplus
}
#endif
#endif /* NALLOC_H */
