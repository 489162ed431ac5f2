/* SPDX-License-Identifier: MIT */
/* internal.h: nalloc's internal structures and the interfaces between its
 * layers.  See src/malloc.c for the design; this header only says, for each
 * shared field, what protects it.
 *
 * Lock order (outermost first), everywhere in the library:
 *     init lock < mcache registry < mcentral < node heap
 *     < metadata (the heap's mspan pool, under the heap lock)
 *     < numa/bind.c's room locks (per node, then the watermark lock: they
 *       guard only file reads, and may also be taken with no lock held)
 * No path waits for a grace period: read-side sections and reclamation are
 * lock-free (epoch.c).
 * An mcache has no lock: only its owner thread touches it (stats readers
 * read its counters with relaxed loads).
 */
#ifndef NALLOC_INTERNAL_H
#define NALLOC_INTERNAL_H

#include "config.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include "nalloc.h"
#include "sizeclasses.h"

#define NALLOC_HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define CACHELINE 64

/* relaxed / acquire / release shorthands over the GCC atomic builtins */
#define LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ADD_RELAXED(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
/* a counter with one writer (its owner, or a lock holder) that others read
 * relaxed: a relaxed load and store, no locked instruction.  On x86-64 one
 * add to memory is that (an aligned 8-byte access is single-copy atomic),
 * and GCC never merges the atomic pair into it; ThreadSanitizer builds
 * keep the pair, which it sees. */
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define CNT_ADD(p, v)                                                          \
	__extension__({                                                        \
		_Static_assert(sizeof(*(p)) == 8, "CNT_ADD: 64-bit counters"); \
		__asm__ volatile("addq %1, %0" : "+m"(*(p)) : "er"((uint64_t)(v))); \
	})
#else
#define CNT_ADD(p, v) STORE_RELAXED((p), LOAD_RELAXED(p) + (v))
#endif

/* Clear bit i % 64 of *v; true when it was set.  On x86-64 one btr, whose
 * carry flag is the old bit (the compiler spells this as bt, a masking and,
 * and btc). */
static ALWAYS_INLINE bool nalloc__bit_clear(uint64_t *v, uintptr_t i)
{
#if defined(__x86_64__)
	bool was;
	__asm__("btr %2, %0" : "+r"(*v), "=@ccc"(was) : "r"(i));
	return was;
#else
	uint64_t m = (uint64_t)1 << (i & 63);
	bool was = (*v & m) != 0;
	*v &= ~m;
	return was;
#endif
}

#ifdef NALLOC_STATS_ENABLED
#define STAT(x) (x)
#else
#define STAT(x) ((void)0)
#endif

/* internal assertion: always on (cheap, off the fast path) */
#define NALLOC_ASSERT(cond)                                                   \
	do {                                                                  \
		if (unlikely(!(cond)))                                        \
			nalloc__fatal_assert(#cond, __FILE__, __LINE__);      \
	} while (0)

#define BITMAP_WORDS 8 /* 512 objects per span at most (16-byte class) */
#define ARENA_COMMIT_CHUNK ((size_t)4 << 20)  /* arena growth step */
#define MAX_ALLOC_SIZE ((size_t)1 << 46)      /* larger requests: ENOMEM */

/* ------------------------------------------------------------- locks */
/* A lock that spins briefly, then sleeps on a futex (init.c): a waiter
 * whose holder was descheduled gives its CPU back instead of burning its
 * time slice.  Counters say how often it was taken and how often it had to
 * wait (lock statistics). */
typedef struct nalloc__lock {
	int v;                 /* 0 free, 1 held, 2 held and a waiter may sleep
	                          (atomic) */
	uint32_t contended;    /* acquisitions that had to wait (holder) */
	uint64_t acquired;     /* acquisitions (holder; read relaxed) */
} nalloc__lock_t;

NALLOC_HIDDEN void nalloc__lock_slow(nalloc__lock_t *l);
NALLOC_HIDDEN void nalloc__lock_wake(nalloc__lock_t *l);
static ALWAYS_INLINE void nalloc__lock(nalloc__lock_t *l)
{
	int expect = 0;
	if (unlikely(!__atomic_compare_exchange_n(&l->v, &expect, 1, false, __ATOMIC_ACQUIRE,
	                                          __ATOMIC_RELAXED)))
		nalloc__lock_slow(l);
	STORE_RELAXED(&l->acquired, l->acquired + 1);
}
static ALWAYS_INLINE bool nalloc__trylock(nalloc__lock_t *l)
{
	int expect = 0;
	if (LOAD_RELAXED(&l->v) || !__atomic_compare_exchange_n(&l->v, &expect, 1, false,
	                                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return false;
	STORE_RELAXED(&l->acquired, l->acquired + 1);
	return true;
}
static ALWAYS_INLINE void nalloc__unlock(nalloc__lock_t *l)
{
	if (unlikely(__atomic_exchange_n(&l->v, 0, __ATOMIC_RELEASE) == 2))
		nalloc__lock_wake(l);
}
static ALWAYS_INLINE bool nalloc__lock_held(nalloc__lock_t *l)
{
	return LOAD_RELAXED(&l->v) != 0;
}

/* ------------------------------------------------------------- mspan */
enum span_state {
	SPAN_DEAD = 0,   /* metadata on the heap's free list, describes nothing */
	SPAN_FREE = 1,   /* a run of free pages in the heap's free lists */
	SPAN_SMALL = 2,  /* in use, cut into size-class objects */
	SPAN_LARGE = 3,  /* in use, one object > 32 KiB */
};

struct mcache;
struct mcentral;
struct mheap;

/* A run of pages.  Small spans are cut into nelems objects of elemsize.
 * Laid out by who writes what, a cache line each, so that a remote free
 * (another thread) and the owner's mallocs do not bounce lines:
 *   line 0  what every free reads; written only when the span changes hands
 *   line 1  allocBits (owner)
 *   line 2  allocation cursor and list links (owner, or a list's lock)
 *   line 3  remoteBits (remote freers, atomic)
 *   line 4  the remote count and the pending link (remote freers, atomic) */
struct mspan {
	/* --- line 0.  Set by the heap before the span is published in the
	 *     spans map, unchanged while it is in use (read by anyone) --- */
	uintptr_t base;          /* first byte */
	uint32_t npages;         /* length in 8 KiB pages */
	uint32_t elemsize;       /* object size (small), npages*8K (large) */
	uint64_t divmagic;       /* ceil(2^64 / elemsize) (small), 0 otherwise:
	                            see nalloc__span_index */
	uint16_t nelems;         /* objects in the span (1 for large) */
	uint8_t spanclass;       /* size class; 0 for large and free spans */
	uint8_t state;           /* enum span_state (atomic for large frees) */
	uint16_t node;           /* index of the owning node heap */
	uint16_t nwords;         /* used words of the bitmaps */
	uint8_t guard;           /* large: its last page is an inaccessible
	                            guard (NALLOC_GUARD); set before the block
	                            is handed out */
	uint32_t centralCount;   /* allocated objects when last swept by the
	                            mcentral; UINT32_MAX while cached.  Written
	                            under the mcentral lock, read relaxed */
	struct mcache *owner;    /* caching mcache or NULL; written by the owner
	                            or under the mcentral lock, read relaxed */
	struct mcentral *central; /* small spans: the mcentral that files it
	                            (immutable while in use) */
	/* --- line 1.  allocBits: 1 = allocated.  Written by the owner only
	 *     (relaxed stores: set on allocation, cleared by a local free or a
	 *     sweep); a remote freer reads it relaxed to check a free is
	 *     plausible --- */
	_Alignas(CACHELINE) uint64_t allocBits[BITMAP_WORDS];
	/* --- line 2.  Allocation cursor: written by the owner (the mcache
	 *     caching the span, or the mcentral lock holder when it is
	 *     uncached) --- */
	_Alignas(CACHELINE) uint64_t allocCache; /* the window: free objects of
	                            the word *cacheBits not handed out yet, bit
	                            i = object 64 * (that word's index) + i
	                            (relaxed stores: stats read it) */
	uintptr_t cacheAddr;     /* address of the window word's object 0 */
	uint64_t *cacheBits;     /* the window's word of allocBits, while
	                            allocCache != 0 (stale or NULL after) */
	uint16_t freeindex;      /* first object of the next word to load:
	                            objects below it were looked at */
	/* list links: protected by the lock of the list the span is on
	 * (mcentral lists: mcentral lock; heap free lists: heap lock; an
	 * mcache's own lists: the owner) */
	uint8_t onlist;          /* which list: heap free list index + 1 (heap
	                            lock) or LIST_* (mcentral lock, or owner);
	                            0: on none */
	uint32_t dirtyPages;     /* free spans only, heap lock: its pages with
	                            the dirty bit (units) */
	struct mspan *next, *prev;
	/* --- free spans only, heap lock --- */
	uint64_t unusedSince;    /* ms timestamp of the free */
	/* --- retired structs only, heap lock: the epoch stamp (epoch.c) --- */
	uint64_t retireEpoch;
	/* --- line 3.  Remote frees (lock-free): a freer that is not the
	 *     owner sets the object's bit here and counts it; the owner (or
	 *     the mcentral, for an uncached span) sweeps them in --- */
	_Alignas(CACHELINE) uint64_t remoteBits[BITMAP_WORDS]; /* atomic fetch_or
	                            / exchange */
	/* --- line 4 --- */
	_Alignas(CACHELINE) uint64_t remote; /* atomic: low 32 bits: REMOTE_BIAS
	                            + frees counted - bits swept; REMOTE_QUEUED:
	                            on (or being pushed on) the mcentral's
	                            pending stack or its owner's ready stack.
	                            A queued span is never released. */
	struct mspan *pendingNext; /* link on that stack: written by the pusher
	                            that set REMOTE_QUEUED (or passes it on) */
} __attribute__((aligned(CACHELINE)));

/* the layout above: a line each, line 2 full */
_Static_assert(offsetof(struct mspan, remoteBits) == 3 * CACHELINE, "mspan line 2 overflows");
_Static_assert(sizeof(struct mspan) == 5 * CACHELINE, "mspan is five lines");

enum { LIST_PARTIAL = 1, LIST_FULL = 2, LIST_OWNED_PARTIAL = 3, LIST_EMPTY = 4 };

/* An mcache keeps the spans it exhausted on no list: their owner field is
 * the mcache pointer tagged with bit 0, so the owner's free of an object in
 * one of them misses the fast path's owner test and takes the slow path,
 * which takes the span back (CAS tag -> mcache) onto the partial list; the
 * first remote free sends it to its mcentral, whose drain takes it (CAS tag
 * -> NULL).  Whoever wins the CAS owns the span (mcache.c, mcentral.c). */
#define OWNED_FULL_TAG ((uintptr_t)1)
static ALWAYS_INLINE struct mcache *nalloc__full_tag(struct mcache *c)
{
	return (struct mcache *)((uintptr_t)c | OWNED_FULL_TAG);
}

#define REMOTE_BIAS ((uint64_t)1 << 31)
#define REMOTE_QUEUED ((uint64_t)1 << 32)
static ALWAYS_INLINE int32_t nalloc__remote_count(uint64_t r)
{
	return (int32_t)((uint32_t)r - (uint32_t)REMOTE_BIAS);
}

struct spanlist {
	struct mspan *first, *last;  /* push puts at first; last is the oldest */
	uint64_t n;
};

/* span.c: bitmap and cursor operations (caller owns the span) */
NALLOC_HIDDEN void nalloc__mspan_init_small(struct mspan *s, int spanclass);
NALLOC_HIDDEN bool nalloc__mspan_next_window(struct mspan *s);
NALLOC_HIDDEN uint32_t nalloc__mspan_sweep(struct mspan *s);
NALLOC_HIDDEN void nalloc__mspan_remote_free(struct mspan *s, uint32_t w, uint64_t m);
NALLOC_HIDDEN uint64_t nalloc__mspan_remote_mark(struct mspan *s, uint32_t w, uint64_t m);
NALLOC_HIDDEN void nalloc__mspan_remote_count(struct mspan *s, struct mcentral *mc, uint32_t cc,
                                             uint32_t k);
NALLOC_HIDDEN uint32_t nalloc__mspan_count_words(const struct mspan *s);
NALLOC_HIDDEN uint32_t nalloc__popcount64_slow(uint64_t v);
/* 1 when the CPU has popcnt, 0 when not, -1 until first asked (mspan.c).
 * Debian's x86-64 baseline has no popcnt, so __builtin_popcountll is a
 * libgcc call; every x86-64 CPU since 2008 has the instruction. */
extern NALLOC_HIDDEN int nalloc__have_popcnt;

static ALWAYS_INLINE uint32_t nalloc__popcount64(uint64_t v)
{
#if defined(__x86_64__)
	if (likely(LOAD_RELAXED(&nalloc__have_popcnt) > 0)) {
		uint64_t r;
		__asm__("popcnt %1, %0" : "=r"(r) : "r"(v) : "cc");
		return (uint32_t)r;
	}
	return nalloc__popcount64_slow(v);
#else
	return (uint32_t)__builtin_popcountll(v);
#endif
}

/* Objects allocated per allocBits.  Spans of up to 64 objects (classes of
 * 128 B and more) have one word: counted inline. */
static ALWAYS_INLINE uint32_t nalloc__mspan_count_alloc(const struct mspan *s)
{
	if (likely(s->nwords == 1))
		return nalloc__popcount64(LOAD_RELAXED(&s->allocBits[0]));
	return nalloc__mspan_count_words(s);
}
NALLOC_HIDDEN void nalloc__mspan_rewind(struct mspan *s);
NALLOC_HIDDEN void nalloc__spanlist_push(struct spanlist *l, struct mspan *s);
NALLOC_HIDDEN void nalloc__spanlist_remove(struct spanlist *l, struct mspan *s);
NALLOC_HIDDEN struct mspan *nalloc__spanlist_pop(struct spanlist *l);
NALLOC_HIDDEN void nalloc__spanlist_push_last(struct spanlist *l, struct mspan *s);

extern NALLOC_HIDDEN struct mspan nalloc__empty_span;

/* The index of the object holding byte off of small span s, and whether
 * off is that object's first byte: off * divmagic (128 bits) has off /
 * elemsize as its high half and a low half below divmagic exactly at an
 * object's start (divmagic = ceil(2^64 / elemsize); every offset of every
 * class is checked by tools/mksizeclasses).  One multiplication gives both,
 * where dividing and multiplying back took two.  Large spans and free runs
 * have divmagic 0: no offset is a start. */
static ALWAYS_INLINE bool nalloc__span_index(const struct mspan *s, uintptr_t off, uintptr_t *idx)
{
	unsigned __int128 prod = (unsigned __int128)off * s->divmagic;
	*idx = (uintptr_t)(prod >> 64);
	return (uint64_t)prod < s->divmagic;
}

/* Take the object at allocCache's lowest set bit (cache != 0).  Owner only. */
static ALWAYS_INLINE void *nalloc__span_take(struct mspan *s, uint64_t cache)
{
	uintptr_t bit;
#if defined(__x86_64__)
	/* as a 64-bit result, without the zero-extension and the
	 * dependency-breaking clear the compiler adds around its own */
	__asm__("tzcnt %1, %0" : "=r"(bit) : "r"(cache) : "cc");
#else
	bit = (unsigned)__builtin_ctzll(cache);
#endif
	uint64_t *word = s->cacheBits;
	/* relaxed stores: remote freers and stats read these concurrently */
	STORE_RELAXED(&s->allocCache, cache & (cache - 1));
	STORE_RELAXED(word, LOAD_RELAXED(word) | (uint64_t)1 << bit);
	return (void *)(s->cacheAddr + (uintptr_t)bit * s->elemsize);
}

/* ------------------------------------------------------------- mcache */
enum { TLS_FRESH = 0, TLS_ACTIVE = 1, TLS_DEAD = 2 };

/* Remote frees waiting in an mcache: objects of word w of span's bitmaps
 * (mask) that this thread freed and that are handed over to the span in one
 * atomic update (mcache.c).  Their allocBits bits stay set until then, so
 * the objects keep the span alive. */
#define RFREE_SLOTS 256   /* direct-mapped by (span, word) */
#define RFREE_MAX 512     /* objects waiting before everything is handed over */
#define RFREE_MAX_BYTES (256 << 10) /* ... or bytes waiting: what an idle
                             thread keeps from other threads' spans */
struct rfree_slot {
	struct mspan *span;   /* NULL: empty */
	uint64_t mask;
	uint32_t w;
};

/* Per-thread cache: one span per size class.  Owned by one thread. */
struct mcache {
	struct mspan *alloc[NALLOC_NUM_CLASSES]; /* owner; empty span if none */
	struct spanlist partial[NALLOC_NUM_CLASSES]; /* owned spans that may have
	                                           room, PARTIAL_MAX at most
	                                           (owner; mcache.c) */
	int node;                    /* home node index (owner) */
	struct mheap *heap;          /* home node heap (owner; read relaxed) */
	pthread_t thread;            /* owner thread, for fork */
	uint32_t refills;            /* slow-path refills (owner) */
	int64_t room;                /* bytes of free objects in the spans it
	                                owns untagged, current windows counted
	                                whole (owner; the cache budget, mcache.c) */
	uint8_t win_loaded[NALLOC_NUM_CLASSES]; /* objects in each class's
	                                window when it was loaded (owner) */
	uint32_t gc_class;           /* class the collector looked at last, 0
	                                before its first step (owner) */
	uint32_t class_refill[NALLOC_NUM_CLASSES]; /* refills count at each
	                                class's last refill (owner) */
	int pinned;                  /* home set by nalloc_thread_set_home (owner) */
	uint64_t rehomes;            /* times re-homed (owner, read relaxed) */
	uint64_t fallback;           /* allocations served off the home node */
	struct mcache *regnext, *regprev; /* registry list: registry lock */
	struct rfree_slot rfree[RFREE_SLOTS]; /* remote frees waiting (owner) */
	uint32_t rfree_pending;      /* objects in rfree (owner) */
	size_t rfree_pending_bytes;  /* their bytes (owner) */
	/* counters: written by the owner, read relaxed by stats */
	uint64_t nmalloc[NALLOC_NUM_CLASSES];   /* small allocations */
	uint64_t nfree[NALLOC_NUM_CLASSES];     /* local frees */
	uint64_t nswept[NALLOC_NUM_CLASSES];    /* remote frees swept by owner */
	uint64_t rfree_count[NALLOC_MAX_NODES]; /* unowned frees of objects on
	                                           node i (any i, home too) */
	uint64_t rfree_bytes[NALLOC_MAX_NODES]; /* their bytes */
	/* last, and kept when the struct is reused: */
	struct mspan *ready;         /* atomic stack (pendingNext links) of our
	                                untagged spans (current, partial) that
	                                other threads freed into: pushed by the
	                                freer that set REMOTE_QUEUED, taken
	                                whole by the owner at a refill */
};

extern NALLOC_HIDDEN __thread struct mcache *nalloc__tls_mcache;
extern NALLOC_HIDDEN __thread int nalloc__tls_state;
extern NALLOC_HIDDEN struct mcache nalloc__empty_mcache;

NALLOC_HIDDEN void *nalloc__mcache_refill_alloc(struct mcache *c, int cls);
/* the room all caches may keep together when threads outnumber CPUs
 * (bytes; set at init, and by tests) */
extern NALLOC_HIDDEN size_t nalloc__cache_budget;
/* one cache's share of it now (no limit: SIZE_MAX / 4) */
NALLOC_HIDDEN size_t nalloc__mcache_share(void);
NALLOC_HIDDEN int64_t nalloc__mcache_room(const struct mcache *c);
NALLOC_HIDDEN void nalloc__mcache_global_init(void);
NALLOC_HIDDEN void nalloc__mcache_free_tagged(struct mcache *c, struct mspan *s, void *p, uint32_t w,
                                             uint64_t m);
NALLOC_HIDDEN struct mcache *nalloc__mcache_create(void);
NALLOC_HIDDEN void nalloc__mcache_destroy(struct mcache *c);
NALLOC_HIDDEN void nalloc__mcache_flush(struct mcache *c);
/* re-homing: c's counters go to its old heap (registry lock taken) */
NALLOC_HIDDEN void nalloc__mcache_move_counters(struct mcache *c);
NALLOC_HIDDEN void nalloc__mcache_rfree_add(struct mcache *c, struct mspan *s, void *p, uint32_t w,
                                           uint64_t m);
NALLOC_HIDDEN void nalloc__mcache_rfree_flush(struct mcache *c);
NALLOC_HIDDEN void nalloc__mcache_fork_prepare(void);
NALLOC_HIDDEN void nalloc__mcache_fork_parent(void);
NALLOC_HIDDEN void nalloc__mcache_fork_child(void);
NALLOC_HIDDEN void nalloc__mcache_thread_exit(void *arg);
/* visit every live mcache under the registry lock (stats) */
NALLOC_HIDDEN void nalloc__mcache_foreach(void (*fn)(struct mcache *, void *), void *arg);

/* ------------------------------------------------------------- mcentral */
/* Spans of one size class on one node that no mcache holds. */
struct mcentral {
	nalloc__lock_t lock;
	struct spanlist partial;     /* spans with free objects: lock */
	struct spanlist full;        /* spans without: lock */
	struct spanlist empty;       /* emptied spans kept for the next refill
	                                (EMPTY_KEEP_BYTES at most): lock */
	uint64_t empty_takes;        /* refills served from `empty`: lock */
	uint64_t empty_seen;         /* empty_takes at the purger's last look:
	                                lock */
	struct mspan *pending;       /* atomic stack of spans with remote frees */
	struct mheap *heap;          /* immutable */
	int spanclass;               /* immutable */
	/* counters: lock */
	uint64_t nremote_swept;      /* remote frees swept here */
	uint64_t nmalloc_uncached;   /* allocations one at a time: threads with no
	                                mcache, or past their cache budget */
	uint64_t nspans;             /* spans of this class on this node */
	uint64_t nfallback;          /* spans taken from another node (atomic) */
} __attribute__((aligned(CACHELINE)));

NALLOC_HIDDEN void nalloc__mcentral_init(struct mcentral *mc, struct mheap *h, int cls);
NALLOC_HIDDEN struct mspan *nalloc__mcentral_cache_span(struct mcentral *mc, struct mcache *c);
NALLOC_HIDDEN void nalloc__mcentral_uncache_span(struct mcentral *mc, struct mspan *s);
NALLOC_HIDDEN void *nalloc__mcentral_alloc_uncached(struct mcentral *mc);
NALLOC_HIDDEN void nalloc__mcentral_notify(struct mspan *s, struct mcentral *mc, uint64_t old,
                                           uint64_t new_, uint32_t central_count);
NALLOC_HIDDEN void nalloc__mcentral_push_pending(struct mcentral *mc, struct mspan *s, bool drain);

/* ------------------------------------------------------------- mheap */
#define HEAP_FREE_LISTS 128  /* free[n]: runs of n pages; free[0]: larger */

/* Per-node page heap: its arena units, page bitmaps (in the units) and free
 * runs. */
#define HEAP_MAX_EXTENTS 256
struct heap_extent {
	uintptr_t start, end;        /* committed [start, end) */
};
struct mheap {
	nalloc__lock_t lock;
	int node;                    /* index in nalloc__g.heaps (immutable) */
	int os_node;                 /* OS node number (immutable) */
	/* address space (heap lock to write; stats read relaxed): committed
	 * memory is ext[0..next), each a contiguous range of whole pages in
	 * this heap's arena units; the last one grows inside the current
	 * reservation, which ends at res_end.  A new reservation extends the
	 * current one when the OS places it there, else starts an extent. */
	struct heap_extent ext[HEAP_MAX_EXTENTS];
	uint32_t next;               /* extents in use (release store) */
	uintptr_t res_end;           /* end of the current reservation */
	uint64_t first_reserve;      /* bytes of the first reservation */
	uint64_t reserved_bytes;     /* address space held, all reservations */
	uint64_t mapped_bytes;       /* committed bytes (the extents) */
	uint64_t purged_for_zero;    /* bytes a calloc returned to the OS
	                                instead of zeroing them */
	struct spanlist free[HEAP_FREE_LISTS]; /* heap lock */
	uint64_t freemask[HEAP_FREE_LISTS / 64]; /* nonempty lists: heap lock */
	uint64_t next_scavenge;      /* ms: heap lock (read relaxed by the purger) */
	struct mspan *span_freelist; /* mspan metadata to reuse: heap lock */
	struct mspan *retired;       /* unpublished mspans, newest first, waiting
	                                until no read-side section can see them
	                                (epoch.c): heap lock */
	uint32_t nretired;           /* heap lock */
	uint64_t meta_lost_pages;    /* freed pages kept in use for want of a
	                                free-run descriptor: heap lock */
	int full;                    /* the last growth failed: node memory,
	                                address space or RLIMIT_AS (relaxed);
	                                cleared by a growth that succeeds.
	                                Small spans and large blocks then fall
	                                back to other nodes (not in strict mode) */
	/* counters: heap lock (read relaxed by stats) */
	uint64_t pages_in_use;       /* pages in in-use spans */
	uint64_t dirty_free_pages;   /* free pages not yet returned */
	uint64_t returned_bytes;     /* total bytes madvised away */
	uint64_t large_allocs, large_frees, large_bytes_in_use;
	uint64_t spans_in_use;
	uint64_t nthreads;           /* mcaches homed here (registry lock) */
	uint64_t dead_rehomes;       /* re-homings of exited threads, and of
	                                threads homed here before (atomic) */
	uint64_t dead_fallback;      /* off-node allocations, the same threads */
	uint64_t onnode_allocs;      /* nalloc_malloc_onnode served here (atomic) */
	/* merged from exited threads, and from threads re-homed away from
	 * here (what they counted while homed here; atomic adds) */
	uint64_t dead_mallocs[NALLOC_NUM_CLASSES];
	uint64_t dead_frees[NALLOC_NUM_CLASSES];   /* local frees */
	uint64_t dead_swept[NALLOC_NUM_CLASSES];   /* remote frees swept */
	uint64_t rfree_in[NALLOC_MAX_NODES]; /* unowned frees of this node's
	                                objects by threads homed on node i, from
	                                exited threads and threads without a
	                                cache (atomic) */
	uint64_t rfree_in_bytes;     /* their bytes (atomic) */
	uint64_t large_rfree_in[NALLOC_MAX_NODES]; /* frees of this node's large
	                                blocks by threads homed on node i, i not
	                                this node (atomic) */
	struct mcentral central[NALLOC_NUM_CLASSES];
};

/* first_reserve: address space the first growth reserves (halved until it
 * fits); later growths reserve more, as much again each time */
NALLOC_HIDDEN int nalloc__mheap_init(struct mheap *h, int node, int os_node, size_t first_reserve);
/* alloc npages aligned to align_pages pages; returns an in-use span
 * (state SPAN_LARGE, spans map filled), or NULL.  Takes the heap lock. */
NALLOC_HIDDEN struct mspan *nalloc__mheap_alloc(struct mheap *h, size_t npages, size_t align_pages,
                                               bool large);
/* a large block for calloc: the pages that may hold data are zeroed (small
 * dirty ranges) or given back to the OS (large ones), outside the lock */
NALLOC_HIDDEN struct mspan *nalloc__mheap_alloc_zeroed(struct mheap *h, size_t npages,
                                                      size_t align_pages);
NALLOC_HIDDEN void nalloc__mheap_free(struct mheap *h, struct mspan *s);
/* grow an in-use span in place to npages if the following pages are free */
NALLOC_HIDDEN bool nalloc__mheap_grow_inplace(struct mheap *h, struct mspan *s, size_t npages);
/* shrink an in-use large span to npages, freeing its tail */
NALLOC_HIDDEN void nalloc__mheap_shrink(struct mheap *h, struct mspan *s, size_t npages);
NALLOC_HIDDEN size_t nalloc__mheap_scavenge(struct mheap *h, uint64_t now, bool all);
NALLOC_HIDDEN bool nalloc__mheap_page_in_use(struct mheap *h, uintptr_t p);
NALLOC_HIDDEN struct mspan *nalloc__mheap_new_span_meta(struct mheap *h);
NALLOC_HIDDEN void nalloc__mheap_check(struct mheap *h); /* tests: invariants */

/* ------------------------------------------------------------- spans map */
/* The address space (47 bits) is cut into 64 MiB arena units.  A unit that
 * a node heap reserved has a record: its page -> span entries and page
 * bitmaps.  nalloc__unit_table[a >> 26] locates the record of address a;
 * the table is zero-filled .bss (it costs address space only) and an entry
 * is 0 for a unit that is not ours.  An entry is stored biased, as
 * record - (index << 16), so that entry + (a >> 13) * 8 is a's page entry
 * directly: free's lookup is two dependent loads and one test.  See
 * malloc.c MEMORY LAYOUT. */
#define ARENA_UNIT_SHIFT 26
#define ARENA_UNIT ((size_t)1 << ARENA_UNIT_SHIFT)
#define ARENA_ADDR_BITS 47
#define ARENA_UNITS ((size_t)1 << (ARENA_ADDR_BITS - ARENA_UNIT_SHIFT))
#define UNIT_PAGES (ARENA_UNIT >> NALLOC_PAGE_SHIFT)
#define UNIT_BIAS(i) ((uintptr_t)(i) * UNIT_PAGES * sizeof(struct mspan *))
struct arena_unit {
	struct mspan *spans[UNIT_PAGES]; /* page -> span: written under the
	                                owning heap's lock, read by anyone.
	                                First: the biased entries assume it */
	uint64_t inuse[UNIT_PAGES / 64]; /* page in an in-use span: heap lock
	                                to write, read relaxed */
	uint64_t dirty[UNIT_PAGES / 64]; /* page may hold data (handed out
	                                since it was committed or purged):
	                                heap lock to write, read relaxed */
	struct mheap *heap;          /* owner (immutable) */
	uintptr_t base;              /* first byte (immutable) */
};
/* record - UNIT_BIAS(index), 0: not ours.  Set once, release, under the
 * owner's heap lock, before a span is published in the unit */
extern NALLOC_HIDDEN uintptr_t nalloc__unit_table[ARENA_UNITS];
/* bytes reserved by the heaps and not committed (atomic): not memory, so
 * not counted against RLIMIT_AS by the growth check (mheap.c) */
extern NALLOC_HIDDEN uint64_t nalloc__uncommitted_bytes;

struct nalloc_globals {
	int nnodes;                  /* node heaps */
	struct mheap *heaps[NALLOC_MAX_NODES];
	int ready;                   /* init done (atomic) */
};
extern NALLOC_HIDDEN struct nalloc_globals nalloc__g;

/* The span covering p's page, or NULL (free's lookup, among others).  A
 * pointer with an address bit from 47 up has none: the unit index is
 * checked against the table's size, not masked, so no such pointer can
 * alias a span's page (do_free's start test would not reject the alias:
 * test_errors "invalid-free-high-bits"). */
static ALWAYS_INLINE struct mspan *nalloc__span_of(const void *p)
{
	uintptr_t u = (uintptr_t)p >> ARENA_UNIT_SHIFT;
	if (unlikely(u >= ARENA_UNITS))
		return NULL;
	uintptr_t e = LOAD_RELAXED(&nalloc__unit_table[u]);
	if (unlikely(e == 0))
		return NULL;
	return LOAD_RELAXED(&((struct mspan **)e)[(uintptr_t)p >> NALLOC_PAGE_SHIFT]);
}
/* the record of a's unit if a heap owns it, else NULL.  Acquire: pairs
 * with the release that published the record, so its fields (heap, the
 * bitmaps) are seen initialised by a thread with no other ordering with
 * the grower (a stats reader's placement sample) */
static ALWAYS_INLINE struct arena_unit *nalloc__arena_unit(uintptr_t a)
{
	if (unlikely(a >> ARENA_ADDR_BITS))
		return NULL;
	uintptr_t i = a >> ARENA_UNIT_SHIFT, e = LOAD_ACQ(&nalloc__unit_table[i]);
	return e ? (struct arena_unit *)(e + UNIT_BIAS(i)) : NULL;
}
static ALWAYS_INLINE struct mheap *nalloc__heap_of(const void *p)
{
	struct arena_unit *u = nalloc__arena_unit((uintptr_t)p);
	return u ? u->heap : NULL;
}
NALLOC_HIDDEN void nalloc__spanmap_set(struct mheap *h, struct mspan *s, uintptr_t base, size_t npages);
NALLOC_HIDDEN void nalloc__spanmap_set_ends(struct mheap *h, struct mspan *s);
NALLOC_HIDDEN void nalloc__spanmap_clear(struct mheap *h, uintptr_t base, size_t npages);
/* give [base, base+size) (whole units' worth, inside h's reservation)
 * records owned by h; 0 or -1 (no memory for a record) */
NALLOC_HIDDEN int nalloc__spanmap_add_units(struct mheap *h, uintptr_t base, size_t size);

/* ------------------------------------------------------------- size classes */
/* size <= NALLOC_MAX_SMALL_SIZE */
static ALWAYS_INLINE int nalloc__size_class(size_t size)
{
	return nalloc__size_to_class[(size + NALLOC_SMALL_SIZE_DIV - 1) / NALLOC_SMALL_SIZE_DIV];
}
/* smallest class >= size whose objects are all aligned to align; 0 if none */
NALLOC_HIDDEN int nalloc__size_class_aligned(size_t size, size_t align);

/* ------------------------------------------------------------- os */
NALLOC_HIDDEN void *nalloc__os_reserve(size_t size, size_t align);
NALLOC_HIDDEN void *nalloc__os_reserve_at(uintptr_t addr, size_t size); /* exactly there, or NULL */
NALLOC_HIDDEN void nalloc__os_unreserve(void *p, size_t size);
NALLOC_HIDDEN uint64_t nalloc__os_as_limit(void); /* RLIMIT_AS now; UINT64_MAX: none */
NALLOC_HIDDEN uint64_t nalloc__os_vm_size(void);  /* the process's VmSize; 0: unknown */
NALLOC_HIDDEN int nalloc__os_commit(void *p, size_t size);
NALLOC_HIDDEN void nalloc__os_purge(void *p, size_t size);
NALLOC_HIDDEN int nalloc__os_protect(void *p, size_t size, bool access);
NALLOC_HIDDEN void *nalloc__os_alloc(size_t size); /* zeroed RW metadata */
NALLOC_HIDDEN void nalloc__os_free(void *p, size_t size);
NALLOC_HIDDEN uint64_t nalloc__now_ms(void);
NALLOC_HIDDEN size_t nalloc__os_page_size(void);

/* ------------------------------------------------------------- options */
enum { ON_ERROR_ABORT = 0, ON_ERROR_WARN = 1 };
enum { NUMA_LOCAL = 0, NUMA_STRICT = 1, NUMA_INTERLEAVE = 2, NUMA_OFF = 3 };
struct nalloc_options {
	int on_error;                /* ON_ERROR_*; atomic: mallopt(M_CHECK_ACTION) sets it */
	int numa;                    /* NUMA_* */
	int numa_set;                /* NALLOC_NUMA was given */
	char nodes[256];             /* NALLOC_NODES: OS node list, "" = all */
	uint64_t return_delay_ms;    /* free pages kept this long */
	uint64_t arena_gb;           /* first reservation per node, GiB */
	int stats;                   /* print the table at exit */
	int guard;                   /* NALLOC_GUARD: guard page after large blocks */
	int background;              /* NALLOC_BACKGROUND: purger thread (purger.c) */
	char stats_json[256];        /* write the JSON document at exit */
	uint64_t stats_interval_ms;  /* append a document this often (0: no) */
	char stats_signal[16];       /* NALLOC_STATS_SIGNAL: "" or a signal name */
	uint64_t thread_cache_mb;    /* NALLOC_THREAD_CACHE_MB: the room all
	                                caches keep together (0: automatic) */
};
extern NALLOC_HIDDEN struct nalloc_options nalloc__opt;
NALLOC_HIDDEN void nalloc__options_parse(void);
NALLOC_HIDDEN void nalloc__options_print(int fd);

/* ------------------------------------------------------------- errors */
enum nalloc_error {
	ERR_DOUBLE_FREE,     /* object not allocated */
	ERR_INVALID_FREE,    /* not the start of a nalloc object */
	ERR_FOREIGN_FREE,    /* not a nalloc pointer at all */
};
NALLOC_HIDDEN void nalloc__report(enum nalloc_error e, const void *p, const struct mspan *s);
NALLOC_HIDDEN void nalloc__fatal(const char *msg) __attribute__((noreturn));
NALLOC_HIDDEN void nalloc__fatal_assert(const char *cond, const char *file, int line)
	__attribute__((noreturn));
/* async-signal-safe formatting into a buffer, for messages */
NALLOC_HIDDEN char *nalloc__fmt_hex(char *out, uintptr_t v);
NALLOC_HIDDEN char *nalloc__fmt_dec(char *out, uint64_t v);
NALLOC_HIDDEN void nalloc__write_str(int fd, const char *s);

/* ------------------------------------------------------------- init */
NALLOC_HIDDEN void nalloc__init(void);
NALLOC_HIDDEN bool nalloc__in_init(void);
NALLOC_HIDDEN void *nalloc__bootstrap_alloc(size_t size, size_t align);
NALLOC_HIDDEN bool nalloc__is_bootstrap(const void *p);
NALLOC_HIDDEN size_t nalloc__bootstrap_size(const void *p);

/* ------------------------------------------------------------- numa */
/* topology.c: tables filled once at init from hwloc, read-only after */
#define MAX_CPUS 1024
struct nalloc_topology {
	int nnodes;                      /* managed nodes: memory, allowed */
	int os_node[NALLOC_MAX_NODES];   /* our index -> OS node number */
	int ncpus;                       /* size of cpu_node */
	int16_t cpu_node[MAX_CPUS];      /* OS cpu -> home index (nearest
	                                    managed node to the cpu's node);
	                                    -1 filled lazily (atomic) */
	uint16_t distance[NALLOC_MAX_NODES][NALLOC_MAX_NODES]; /* by index */
	int8_t nearest[NALLOC_MAX_NODES][NALLOC_MAX_NODES];  /* by distance */
	uint64_t node_memory[NALLOC_MAX_NODES]; /* bytes */
	uint32_t node_ncpus[NALLOC_MAX_NODES];  /* cpus whose home it is */
	int process_interleave;          /* process policy is MPOL_INTERLEAVE */
	int source;                      /* 2: sysfs, 1: hwloc, 0: fallback single node */
};
extern NALLOC_HIDDEN struct nalloc_topology nalloc__topo;
NALLOC_HIDDEN void nalloc__topology_load(void);
NALLOC_HIDDEN int nalloc__cpu_node(int cpu);
/* home of a cpu on an OS node (getcpu): placed lazily when the table has
 * none (memory-less node, hot-plugged, beyond MAX_CPUS); cpu_node entries
 * are then written once, atomically */
NALLOC_HIDDEN int nalloc__cpu_home(int cpu, int os_node);
NALLOC_HIDDEN int nalloc__node_index(int os_node); /* -1 if unmanaged */
/* bind.c */
NALLOC_HIDDEN void nalloc__bind_range(void *p, size_t size, int node);
NALLOC_HIDDEN bool nalloc__node_has_room(int node, size_t bytes);
/* sysfs.c: /proc and /sys files of any length, read without malloc */
struct nalloc_rd {
	int fd, pos, len;
	char buf[4096];
};
NALLOC_HIDDEN bool nalloc__rd_open(struct nalloc_rd *r, const char *path);
NALLOC_HIDDEN void nalloc__rd_close(struct nalloc_rd *r);
NALLOC_HIDDEN int nalloc__rd_getc(struct nalloc_rd *r);
NALLOC_HIDDEN bool nalloc__rd_line(struct nalloc_rd *r, char *line, size_t cap);
NALLOC_HIDDEN int64_t nalloc__rd_num(struct nalloc_rd *r, int *sep);
NALLOC_HIDDEN bool nalloc__rd_range(struct nalloc_rd *r, int64_t *lo, int64_t *hi);
NALLOC_HIDDEN int64_t nalloc__parse_num(const char *s);
/* node.c: which node heap a thread is homed on */
NALLOC_HIDDEN int nalloc__current_node(void);
NALLOC_HIDDEN void nalloc__mcache_check_home(struct mcache *c);
NALLOC_HIDDEN void nalloc__mcache_rehome(struct mcache *c, int node);
/* epoch.c: nalloc's own RCU (epoch-based read-side sections), see malloc.c */
NALLOC_HIDDEN void nalloc__epoch_init(void);
NALLOC_HIDDEN void nalloc__rcu_read_lock(void);
NALLOC_HIDDEN void nalloc__rcu_read_unlock(void);
NALLOC_HIDDEN bool nalloc__rcu_read_ongoing(void);
NALLOC_HIDDEN uint64_t nalloc__epoch_retire_stamp(void);
NALLOC_HIDDEN uint64_t nalloc__epoch_safe(void);
NALLOC_HIDDEN void nalloc__epoch_fork_child(void);

/* ------------------------------------------------------------- purger */
NALLOC_HIDDEN void nalloc__purger_maybe_start(void);
NALLOC_HIDDEN void nalloc__purger_wake(void);
NALLOC_HIDDEN void nalloc__mcache_pool_pass_on(void);
NALLOC_HIDDEN void nalloc__purger_fork_child(void);
NALLOC_HIDDEN void nalloc__mheap_scavenge_due(struct mheap *h, uint64_t now);
NALLOC_HIDDEN void nalloc__mcentral_try_drain(struct mcentral *mc);
NALLOC_HIDDEN void nalloc__mcentral_release_empty(struct mcentral *mc, bool force);

/* ------------------------------------------------------------- stats */
NALLOC_HIDDEN void nalloc__stats_at_exit(void);
NALLOC_HIDDEN void nalloc__stats_start_interval(void);
extern NALLOC_HIDDEN uint64_t nalloc__start_ms; /* ms clock at init */
NALLOC_HIDDEN void nalloc__merge_dead_mcache(struct mcache *c);

/* malloc.c: the API entry points shared with init.c */
NALLOC_HIDDEN void *nalloc__malloc_slow(size_t size);
NALLOC_HIDDEN void *nalloc__alloc_large(size_t size, size_t align, bool zero);
NALLOC_HIDDEN void *nalloc__alloc_onnode(size_t size, int node, bool zero);

/* The standard entry points' names (malloc.c): the real ones, or with
 * NALLOC_RENAMED nalloc_test_malloc, ... so that a test program (a
 * sanitizer's runtime, a fuzzer) keeps its own malloc and drives nalloc's
 * through these (tests/san/nalloc_renamed.h). */
#ifdef NALLOC_RENAMED
#define NALLOC_FN(name) nalloc_test_##name
#else
#define NALLOC_FN(name) name
#endif

#endif /* NALLOC_INTERNAL_H */
