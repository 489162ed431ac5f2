/* SPDX-License-Identifier: MIT */
/* mcache.c: per-thread caches: the allocation slow path, creation, thread exit, fork.  see malloc.c */
#include "internal.h"
#include <errno.h>
#include <sched.h>
#include <string.h>

/* The static empty mcache: every slot is the empty span, heap is NULL.
 * Threads start here, and come back here when they exit. */
struct mcache nalloc__empty_mcache = {
	.alloc = {[0 ... NALLOC_NUM_CLASSES - 1] = &nalloc__empty_span},
	.node = 0,
};

__thread struct mcache *nalloc__tls_mcache __attribute__((tls_model("initial-exec"))) =
	&nalloc__empty_mcache;
__thread int nalloc__tls_state __attribute__((tls_model("initial-exec"))) = TLS_FRESH;

/* Registry of live mcaches and their metadata pool: registry_lock. */
static nalloc__lock_t registry_lock;
static struct mcache *registry;
static uint64_t live_caches; /* in the registry: registry_lock to write, read
                                relaxed (the cache budget's shares) */
static struct mcache *mcache_pool;   /* freed mcache structs */
static pthread_key_t exit_key;
static bool exit_key_ok;

/* ----------------------------------------------------- the cache budget
 * What a thread's cache keeps that nobody else can use is the free room in
 * the spans it owns: c->room, the bytes of free objects in its current and
 * partial spans (counted by the owner: +size at each free into them, +the
 * room of a span it takes, -the room of a span it gives back, -a window's
 * objects when the window is used up or dropped; frees by other threads
 * count once swept, so it errs low by what waits to be swept, and high by
 * what the current windows handed out since they were loaded).  When a
 * process has more than twice as many threads as CPUs, its threads sleep
 * most of the time with that room kept; so then all caches together keep
 * at most nalloc__cache_budget (NALLOC_THREAD_CACHE_MB), each an even
 * share (CACHE_SHARE_MIN at least), as tcmalloc bounds its thread caches
 * together.  A refill finding its cache past its share gives back whole
 * classes, the collector's next ones in turn, then the refilled class's
 * partial spans, until the cache is at half its share; and a refill that
 * needs a span from its mcentral while that span would take it past its
 * share gets one object from the mcentral instead (under its lock, from
 * spans every thread of the node fills).
 * With up to twice as many threads as CPUs (the main thread often idle
 * among them) there is no limit: a thread that frees a million objects
 * and allocates them again keeps its spans. */
size_t nalloc__cache_budget;
static uint64_t cache_cpus; /* CPUs the process may use (set at init) */
#define CACHE_SHARE_MIN ((size_t)64 << 10)

/* a share while the budget is off, and the largest budget: no limit, and
 * room + a span never overflows it */
#define NO_LIMIT (SIZE_MAX / 4)
static size_t share_now = NO_LIMIT; /* each cache's share: registry_lock
                                to write (as live_caches changes), read
                                relaxed at every refill */

/* live_caches changed.  registry_lock held. */
static void update_share(void)
{
	uint64_t n = live_caches;
	size_t share = NO_LIMIT;
	if (n > 2 * cache_cpus) {
		share = nalloc__cache_budget / n;
		if (share < CACHE_SHARE_MIN)
			share = CACHE_SHARE_MIN;
	}
	STORE_RELAXED(&share_now, share);
}

size_t nalloc__mcache_share(void)
{
	return LOAD_RELAXED(&share_now);
}

/* c's room, the count the owner keeps, as it stands now (tests) */
int64_t nalloc__mcache_room(const struct mcache *c)
{
	return c->room;
}

void nalloc__mcache_global_init(void)
{
	/* the CPUs this process may run on (its cpuset), else the
	 * topology's */
	uint64_t cpus = 0;
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		cpus = (uint64_t)CPU_COUNT(&set);
	if (cpus == 0)
		for (int i = 0; i < nalloc__topo.nnodes; i++)
			cpus += nalloc__topo.node_ncpus[i];
	cache_cpus = cpus ? cpus : 1;
	/* NALLOC_THREAD_CACHE_MB, or 4 MiB per CPU and 32 MiB at least */
	uint64_t mb = nalloc__opt.thread_cache_mb;
	if (mb == 0)
		mb = cache_cpus * 4 > 32 ? cache_cpus * 4 : 32;
	nalloc__cache_budget = mb > (SIZE_MAX >> 22) ? NO_LIMIT : (size_t)mb << 20;
	/* glibc's first 32 keys live in the thread descriptor: no malloc */
	exit_key_ok = pthread_key_create(&exit_key, nalloc__mcache_thread_exit) == 0;
}

static struct mcache *mcache_struct_alloc(void)
{
	struct mcache *c = mcache_pool;
	if (c) {
		mcache_pool = c->regnext;
		return c;
	}
	/* carve a chunk of fresh metadata */
	size_t chunk = 64 * 1024, n = chunk / sizeof(struct mcache);
	struct mcache *m = nalloc__os_alloc(chunk);
	if (!m)
		return NULL;
	for (size_t i = 1; i < n; i++) {
		m[i].regnext = mcache_pool;
		mcache_pool = &m[i];
	}
	return &m[0];
}

struct mcache *nalloc__mcache_create(void)
{
	int node = nalloc__current_node();
	struct mheap *h = nalloc__g.heaps[node];
	nalloc__lock(&registry_lock);
	struct mcache *c = mcache_struct_alloc();
	if (!c) {
		nalloc__unlock(&registry_lock);
		return NULL;
	}
	/* everything but the ready stack: a freer that read an old owner
	 * pointer may push onto it at any time (even now); take_ready passes
	 * on what is not ours */
	memset(c, 0, offsetof(struct mcache, ready));
	for (int i = 0; i < NALLOC_NUM_CLASSES; i++)
		c->alloc[i] = &nalloc__empty_span;
	c->node = node;
	c->heap = h;
	c->thread = pthread_self();
	c->regnext = registry;
	c->regprev = NULL;
	if (registry)
		registry->regprev = c;
	registry = c;
	STORE_RELAXED(&live_caches, live_caches + 1);
	update_share();
	ADD_RELAXED(&h->nthreads, 1);
	bool several = registry->regnext != NULL;
	nalloc__unlock(&registry_lock);
	/* publish before pthread_setspecific, which may allocate */
	nalloc__tls_mcache = c;
	nalloc__tls_state = TLS_ACTIVE;
	if (exit_key_ok)
		pthread_setspecific(exit_key, c);
	if (several)
		nalloc__purger_maybe_start(); /* a multithreaded process */
	return c;
}

/* ------------------------------------------------------- remote frees
 * A free of an object whose span another thread owns (or no thread: an
 * uncached span) waits in c->rfree, one slot per (span, bitmap word), and
 * goes to the span with one fetch_or of the word's bits and one update of
 * the span's remote count for the whole slot.  Freed one at a time, a
 * producer/consumer pair would bounce the span's cache lines on every
 * object.  The objects still count as allocated in allocBits meanwhile:
 * they pin the span, and nobody can hand them out again.  A slot goes over
 * when it is needed for another (span, word); everything goes over after
 * RFREE_MAX objects or RFREE_MAX_BYTES bytes (so a thread that frees
 * other threads' blocks and then sleeps keeps at most that much from
 * them), at thread exit and when the thread re-homes (nalloc__mcache_flush).
 * 256 slots for 512 objects: a consumer of a producer that allocates
 * from some 30 classes at once hands over 8-16 objects a slot, not 2-4. */

static ALWAYS_INLINE unsigned rfree_slot_of(const struct mspan *s, uint32_t w)
{
	uintptr_t k = ((uintptr_t)s / CACHELINE) * 0x9E3779B1u + w;
	return (unsigned)(k >> 8 ^ k) & (RFREE_SLOTS - 1);
}

static void rfree_hand_over(struct rfree_slot *e)
{
	struct mspan *s = e->span;
	e->span = NULL;
	nalloc__mspan_remote_free(s, e->w, e->mask);
}

void nalloc__mcache_rfree_flush(struct mcache *c)
{
	for (int i = 0; i < RFREE_SLOTS; i++)
		if (c->rfree[i].span)
			rfree_hand_over(&c->rfree[i]);
	c->rfree_pending = 0;
	c->rfree_pending_bytes = 0;
}

/* Caller: free_remote, for c's thread, s small and not owned by c. */
void nalloc__mcache_rfree_add(struct mcache *c, struct mspan *s, void *p, uint32_t w, uint64_t m)
{
	if (unlikely(!(LOAD_RELAXED(&s->allocBits[w]) & m))) {
		nalloc__report(ERR_DOUBLE_FREE, p, s);
		return;
	}
	struct rfree_slot *e = &c->rfree[rfree_slot_of(s, w)];
	if (e->span == s && e->w == w) {
		if (unlikely(e->mask & m)) {
			nalloc__report(ERR_DOUBLE_FREE, p, s);
			return;
		}
		e->mask |= m;
	} else {
		if (e->span)
			rfree_hand_over(e);
		e->span = s;
		e->w = w;
		e->mask = m;
	}
	/* counted now, by the freeing thread: exact at any snapshot */
	STAT(CNT_ADD(&c->rfree_count[s->node], 1));
	STAT(CNT_ADD(&c->rfree_bytes[s->node], s->elemsize));
	c->rfree_pending_bytes += s->elemsize;
	if (unlikely(++c->rfree_pending >= RFREE_MAX || c->rfree_pending_bytes >= RFREE_MAX_BYTES))
		nalloc__mcache_rfree_flush(c);
}

/* Bytes of s's free objects, by its allocBits (remote frees not swept yet
 * not included): what a span brings to, or takes from, c->room. */
static int64_t span_room(const struct mspan *s)
{
	return (int64_t)(s->nelems - nalloc__mspan_count_alloc(s)) * s->elemsize;
}

/* Hand one owned span (on none of c's lists, untagged) back to its
 * mcentral. */
static void give_back(struct mcache *c, struct mspan *s)
{
	c->room -= span_room(s);
	s->onlist = 0;
	nalloc__mcentral_uncache_span(s->central, s);
}

/* Allocations are counted a window at a time: when allocCache is loaded,
 * all its objects count as allocated (the fast path counts nothing), and
 * the ones still in the cache when the span stops being current are taken
 * off again.  Stats snapshots subtract the live windows (stats.c). */
static ALWAYS_INLINE void count_window(struct mcache *c, int cls, struct mspan *s)
{
	c->win_loaded[cls] = (uint8_t)nalloc__popcount64(s->allocCache); /* room till used up */
	STAT(CNT_ADD(&c->nmalloc[cls], nalloc__popcount64(s->allocCache)));
}

static void uncount_window(struct mcache *c, int cls, struct mspan *s)
{
	/* what the window handed out leaves the room; the rest stays */
	c->room -= ((int64_t)c->win_loaded[cls] - (int64_t)nalloc__popcount64(s->allocCache)) *
	           s->elemsize;
	c->win_loaded[cls] = 0;
	STAT(CNT_ADD(&c->nmalloc[cls], -(uint64_t)nalloc__popcount64(s->allocCache)));
	STORE_RELAXED(&s->allocCache, 0);
	s->cacheBits = NULL;
}

/* Give the spans on c's lists back to their mcentrals (the current span
 * of each class and the partial lists), and hand over the remote frees
 * waiting in c.  Exhausted spans stay tagged as they are: the first remote
 * free into one sends it to its mcentral (mcentral.c), and our own frees
 * into one after a re-home go that way too.  Owner only. */
/* The current span and the partial list of class cls go back. */
static void give_back_class(struct mcache *c, int cls)
{
	struct mspan *s = c->alloc[cls];
	if (s != &nalloc__empty_span) {
		STORE_RELAXED(&c->alloc[cls], &nalloc__empty_span);
		uncount_window(c, cls, s);
		give_back(c, s);
	}
	while ((s = nalloc__spanlist_pop(&c->partial[cls])))
		give_back(c, s);
}

void nalloc__mcache_flush(struct mcache *c)
{
	nalloc__mcache_rfree_flush(c);
	for (int cls = 1; cls < NALLOC_NUM_CLASSES; cls++)
		give_back_class(c, cls);
}

/* The current span of class cls is exhausted: it stays ours, tagged, on
 * no list.  From now on either we take it back (our own free into it,
 * free_tagged) or a drain of its mcentral does (the first remote free into
 * it): whoever wins the CAS on owner. */
static void retire_full(struct mspan *s, struct mcache *c)
{
	/* no room in it: nothing to take off c->room */
	s->onlist = 0;
	STORE_REL(&s->owner, nalloc__full_tag(c));
}

/* Objects allocated in s now, after collecting its remote frees. */
static uint32_t owned_count(struct mcache *c, int cls, struct mspan *s)
{
	if (nalloc__remote_count(LOAD_RELAXED(&s->remote)) != 0) {
		uint32_t n = nalloc__mspan_sweep(s);
		c->room += (int64_t)n * s->elemsize;
		STAT(CNT_ADD(&c->nswept[cls], n));
		(void)cls;
	}
	return nalloc__mspan_count_alloc(s);
}

#define PARTIAL_MAX 4096 /* owned partial spans per class, at most: room for
                            a batch of 1M small objects freed by their
                            owner in any order, which re-adopts them */
#define PARTIAL_KEEP 16 /* past this many spans, and past PARTIAL_KEEP_OBJECTS
                           objects in them, an empty oldest span goes back */
#define PARTIAL_KEEP_OBJECTS 32 /* so a class of one to three objects a
                           span (10-32 KiB) keeps a burst of up to 32 blocks'
                           spans, as a class of small objects keeps its 16
                           spans' worth: a thread that frees and allocates
                           again 20 blocks of 16 KiB does not send 4 spans
                           through its mcentral and heap every time */
#define DECAY_REFILLS 1024 /* a class not refilled in this many refills
                            gives back its current span and partial list */
#define PARTIAL_SCAN 4   /* owned partial spans looked at per refill */

/* Enough room to be worth a refill: an eighth of the span, or one object
 * for spans of fewer than 8. */
static inline bool roomy(const struct mspan *s, uint32_t used)
{
	uint32_t room = s->nelems - used;
	return room > 0 && room >= (uint32_t)(s->nelems / 8);
}

static void partial_remove(struct mcache *c, int cls, struct mspan *s)
{
	nalloc__spanlist_remove(&c->partial[cls], s);
	s->onlist = 0;
}

/* Put s (ours, untagged, on no list) on the partial list of cls, at the
 * front (first choice for the next refill) or the back.  The list is
 * bounded: past PARTIAL_KEEP spans (and PARTIAL_KEEP_OBJECTS objects) its
 * oldest span goes back if it is empty, and past PARTIAL_MAX whatever it
 * holds (our later frees into it are remote frees). */
static void partial_add(struct mcache *c, int cls, struct mspan *s, bool front)
{
	s->onlist = LIST_OWNED_PARTIAL;
	if (front)
		nalloc__spanlist_push(&c->partial[cls], s);
	else
		nalloc__spanlist_push_last(&c->partial[cls], s);
	if (c->partial[cls].n > PARTIAL_KEEP &&
	    c->partial[cls].n * nalloc__class_nelems[cls] > PARTIAL_KEEP_OBJECTS) {
		/* the oldest goes back if it is empty (frees in allocation
		 * order), and whatever it holds past PARTIAL_MAX */
		struct mspan *t = c->partial[cls].last;
		if (c->partial[cls].n > PARTIAL_MAX || owned_count(c, cls, t) == 0) {
			partial_remove(c, cls, t);
			give_back(c, t);
		}
	}
}

/* File an owned span that stops being current: tagged if it is full, else
 * back of the partial list (frees into it stay on the fast path); an empty
 * one goes back to its mcentral. */
static void file_owned(struct mcache *c, int cls, struct mspan *s, uint32_t used)
{
	if (used >= s->nelems)
		retire_full(s, c);
	else if (used == 0)
		give_back(c, s);
	else
		partial_add(c, cls, s, false);
}

/* Take the ready stack: spans of ours (current or partial: exhausted ones
 * go to their mcentral) that other threads freed into since we last
 * looked.  Sweep each: an empty partial span goes back, a roomy one moves
 * to the front of its list.  A span that is no longer ours (given back, or
 * pushed to the cache this struct was before) goes on to its mcentral.
 * Owner only; also by mcache_release before the lists are given back. */
static NOINLINE void take_ready(struct mcache *c)
{
	struct mspan *s = __atomic_exchange_n(&c->ready, NULL, __ATOMIC_ACQUIRE);
	while (s) {
		struct mspan *next = LOAD_RELAXED(&s->pendingNext);
		if (LOAD_RELAXED(&s->owner) != c) {
			/* tagged (ours or not) or someone else's: the mcentral
			 * decides; REMOTE_QUEUED stays set for its stack */
			nalloc__mcentral_push_pending(s->central, s, true);
			s = next;
			continue;
		}
		__atomic_fetch_and(&s->remote, ~REMOTE_QUEUED, __ATOMIC_ACQ_REL);
		int cls = s->spanclass;
		uint32_t used = owned_count(c, cls, s);
		if (s->onlist == LIST_OWNED_PARTIAL) {
			partial_remove(c, cls, s);
			if (used == 0)
				give_back(c, s);
			else
				partial_add(c, cls, s, roomy(s, used));
		}
		/* else our current span: swept, it stays */
		s = next;
	}
}

/* An owned span of class cls with a free object, or NULL: the first roomy
 * one of the partial list's first PARTIAL_SCAN, else the one with most
 * room among them.  Empty ones met on the way go back when we have found
 * what we need (one empty span is kept as the choice itself). */
static struct mspan *owned_with_room(struct mcache *c, int cls)
{
	struct mspan *s, *best = NULL;
	uint32_t best_used = UINT32_MAX;
	for (int i = 0; i < PARTIAL_SCAN && (s = c->partial[cls].first); i++) {
		partial_remove(c, cls, s);
		uint32_t used = owned_count(c, cls, s);
		if (used >= s->nelems) {
			retire_full(s, c);
			continue;
		}
		if (best && used >= best_used) {
			file_owned(c, cls, s, used);
			continue;
		}
		if (best)
			file_owned(c, cls, best, best_used);
		best = s;
		best_used = used;
		if (roomy(s, used))
			break;
	}
	return best;
}

/* The owner frees an object of s, an exhausted span it tagged: take the
 * span back (it has room again) onto the partial list, unless a drain of
 * its mcentral took it first or it lies on another node than our home
 * (after a re-home): then this is a remote free like any other. */
NOINLINE void nalloc__mcache_free_tagged(struct mcache *c, struct mspan *s, void *p, uint32_t w,
                                         uint64_t m)
{
	struct mcache *tag = nalloc__full_tag(c);
	if (s->node != c->node ||
	    !__atomic_compare_exchange_n(&s->owner, &tag, c, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		nalloc__mcache_rfree_add(c, s, p, w, m);
		return;
	}
	uint64_t bits = LOAD_RELAXED(&s->allocBits[w]);
	int cls = s->spanclass;
	if (unlikely(!(bits & m))) {
		partial_add(c, cls, s, true);
		nalloc__report(ERR_DOUBLE_FREE, p, s);
		return;
	}
	STORE_RELAXED(&s->allocBits[w], bits & ~m);
	STAT(CNT_ADD(&c->nfree[cls], 1));
	c->room += s->elemsize; /* the span's only room: it was full */
	partial_add(c, cls, s, true);
}

/* The collector's next class in turn, 1 .. NALLOC_NUM_CLASSES - 1 (no
 * division: this runs at every refill). */
static int next_class(struct mcache *c)
{
	uint32_t next = c->gc_class + 1;
	int cls = (int)(next < NALLOC_NUM_CLASSES ? next : 1);
	c->gc_class = (uint32_t)cls;
	return cls;
}

/* One step of the collector, each refill, on the next class in turn (each
 * class every NALLOC_NUM_CLASSES - 1 refills): a class this thread has not
 * refilled for DECAY_REFILLS refills gives back its current span and its
 * whole partial list (other threads can use them; our later frees into
 * them are remote frees), so what a thread holds for classes it no longer
 * uses goes back.  Each span goes back once: no walk repeats. */
static void collect_step(struct mcache *c)
{
	int cls = next_class(c);
	if (c->refills - c->class_refill[cls] > DECAY_REFILLS) {
		give_back_class(c, cls);
		c->class_refill[cls] = c->refills; /* once per quiet stretch */
	}
	/* a class in use keeps its empty spans for its next burst: its
	 * partial list sheds them as it grows (partial_add) */
}

/* registry_lock held */
static void registry_unlink(struct mcache *c)
{
	if (c->regprev)
		c->regprev->regnext = c->regnext;
	else
		registry = c->regnext;
	if (c->regnext)
		c->regnext->regprev = c->regprev;
}

/* c's thread is re-homed (numa/node.c): what it counted so far was
 * allocated and freed on its old node, and stays counted there (in the old
 * heap's dead counters, as at thread exit) rather than moving with the
 * thread to a node whose pages never held those objects.  Under the
 * registry lock, as stats snapshots read the caches' counters under it.
 * Owner only, after nalloc__mcache_flush (no window is counted ahead). */
void nalloc__mcache_move_counters(struct mcache *c)
{
	nalloc__lock(&registry_lock);
	nalloc__merge_dead_mcache(c);
	for (int k = 0; k < NALLOC_NUM_CLASSES; k++) {
		STORE_RELAXED(&c->nmalloc[k], 0);
		STORE_RELAXED(&c->nfree[k], 0);
		STORE_RELAXED(&c->nswept[k], 0);
	}
	for (int n = 0; n < NALLOC_MAX_NODES; n++) {
		STORE_RELAXED(&c->rfree_count[n], 0);
		STORE_RELAXED(&c->rfree_bytes[n], 0);
	}
	STORE_RELAXED(&c->rehomes, 0);
	STORE_RELAXED(&c->fallback, 0);
	nalloc__unlock(&registry_lock);
}

/* Unregister c and give back everything it holds.  Caller: c's owner. */
static void mcache_release(struct mcache *c)
{
	take_ready(c);
	nalloc__mcache_flush(c);
	/* pushed while we gave the spans back: no longer ours, passed on.  A
	 * freer that read us as owner before that may still push later: the
	 * next thread to reuse this struct, or the purger, passes it on */
	take_ready(c);
	nalloc__lock(&registry_lock);
	registry_unlink(c);
	STORE_RELAXED(&live_caches, live_caches - 1);
	update_share();
	nalloc__merge_dead_mcache(c);
	ADD_RELAXED(&c->heap->nthreads, (uint64_t)-1);
	c->regnext = mcache_pool;
	mcache_pool = c;
	bool none_left = registry == NULL;
	nalloc__unlock(&registry_lock);
	if (none_left)
		nalloc__purger_wake(); /* it may be the last thread now */
}

void nalloc__mcache_destroy(struct mcache *c)
{
	nalloc__tls_mcache = &nalloc__empty_mcache;
	nalloc__tls_state = TLS_DEAD;
	mcache_release(c);
}

/* pthread key destructor: the thread is exiting. */
void nalloc__mcache_thread_exit(void *arg)
{
	struct mcache *c = arg;
	if (c && c == nalloc__tls_mcache)
		nalloc__mcache_destroy(c);
}

/* c is past its share of the budget (see above): give back classes, the
 * collector's next ones in turn, each once at most, until it is at half
 * its share; then, if need be, the oldest partial spans of cls, the class
 * being refilled (its current span stays).  So the next refills find c
 * within its share and do not come here again. */
static NOINLINE void shrink(struct mcache *c, int cls, size_t share)
{
	int64_t target = (int64_t)share / 2;
	for (int k = 1; k < NALLOC_NUM_CLASSES && c->room > target; k++) {
		int g = next_class(c);
		if (g != cls)
			give_back_class(c, g);
	}
	struct mspan *s;
	while (c->room > target && (s = c->partial[cls].last)) {
		partial_remove(c, cls, s);
		give_back(c, s);
	}
}

/* The slow path of a small malloc: slot cls of c has no free object in its
 * current allocCache window. */
NOINLINE void *nalloc__mcache_refill_alloc(struct mcache *c, int cls)
{
	if (unlikely(c == &nalloc__empty_mcache)) {
		if (unlikely(!LOAD_ACQ(&nalloc__g.ready))) {
			nalloc__init();
			if (nalloc__in_init() || !LOAD_ACQ(&nalloc__g.ready))
				return nalloc__bootstrap_alloc(nalloc__class_size[cls], 16);
		}
		if (nalloc__tls_state == TLS_DEAD ||
		    (c = nalloc__mcache_create()) == NULL) {
			/* exiting thread (or no memory for a cache): no cache */
			struct mheap *h = nalloc__g.heaps[nalloc__current_node()];
			void *p = nalloc__mcentral_alloc_uncached(&h->central[cls]);
			if (!p)
				errno = ENOMEM;
			return p;
		}
	}
	if (LOAD_RELAXED(&c->ready))
		take_ready(c);
	c->class_refill[cls] = ++c->refills;
	/* every 64 refills: has the thread moved to another node? */
	if ((c->refills & 63) == 0 && nalloc__g.nnodes > 1 && !c->pinned)
		nalloc__mcache_check_home(c);
	collect_step(c);
	size_t share = LOAD_RELAXED(&share_now);
	if (unlikely(c->room > (int64_t)share))
		shrink(c, cls, share);
	struct mspan *s = c->alloc[cls];
	if (s != &nalloc__empty_span) {
		/* the window ran out: all of it was handed out */
		c->room -= (int64_t)c->win_loaded[cls] * s->elemsize;
		c->win_loaded[cls] = 0;
		/* (a span of one word has no next word: no call) */
		if (s->freeindex < s->nelems && nalloc__mspan_next_window(s))
			goto take;
		/* exhausted: collect remote frees; keep using the span if roomy */
		uint32_t used = owned_count(c, cls, s);
		if (roomy(s, used)) {
			nalloc__mspan_rewind(s);
			if (nalloc__mspan_next_window(s))
				goto take;
		}
		STORE_RELAXED(&c->alloc[cls], &nalloc__empty_span);
		file_owned(c, cls, s, used);
	}
	s = owned_with_room(c, cls);
	if (!s) {
		struct mcentral *mc = &c->heap->central[cls];
		size_t need = (size_t)nalloc__class_npages[cls] << NALLOC_PAGE_SHIFT;
		if (c->room + (int64_t)need > (int64_t)share) {
			/* a span would take c past its share: one object */
			void *p = nalloc__mcentral_alloc_uncached(mc);
			if (unlikely(p == NULL))
				errno = ENOMEM;
			return p;
		}
		s = nalloc__mcentral_cache_span(mc, c);
		if (unlikely(s == NULL)) {
			errno = ENOMEM;
			return NULL;
		}
		c->room += span_room(s);
	}
	nalloc__mspan_rewind(s);
	STORE_REL(&c->alloc[cls], s); /* stats read the span through it */
	if (!nalloc__mspan_next_window(s))
		nalloc__fatal("a span with room had no free object");
take:
	count_window(c, cls, s);
	return nalloc__span_take(s, s->allocCache);
}

/* The purger: spans pushed onto the ready stacks of caches whose threads
 * have exited (late pushes, see mcache_release) go on to their mcentrals.
 * Every span there has another owner than the struct's, or none. */
void nalloc__mcache_pool_pass_on(void)
{
	if (!nalloc__trylock(&registry_lock))
		return;
	for (struct mcache *c = mcache_pool; c; c = c->regnext) {
		if (!LOAD_RELAXED(&c->ready))
			continue;
		struct mspan *s = __atomic_exchange_n(&c->ready, NULL, __ATOMIC_ACQUIRE);
		while (s) {
			struct mspan *next = LOAD_RELAXED(&s->pendingNext);
			nalloc__mcentral_push_pending(s->central, s, true);
			s = next;
		}
	}
	nalloc__unlock(&registry_lock);
}

void nalloc__mcache_foreach(void (*fn)(struct mcache *, void *), void *arg)
{
	nalloc__lock(&registry_lock);
	for (struct mcache *c = registry; c; c = c->regnext)
		fn(c, arg);
	nalloc__unlock(&registry_lock);
}

/* fork: the registry lock is the outermost allocator lock after init's */
void nalloc__mcache_fork_prepare(void)
{
	nalloc__lock(&registry_lock);
}

void nalloc__mcache_fork_parent(void)
{
	nalloc__unlock(&registry_lock);
}

/* In the child only the forking thread survives.  The others' caches
 * were theirs to change without a lock, and fork may have stopped them
 * anywhere (mid-way through a list update, a span between its pop and its
 * install, a sweep, a remote free between its two atomics): nothing in
 * them is trusted.  They are abandoned as they are, spans and all, and
 * their structs are never reused (a stale push may still land on their
 * ready stacks).  Their spans leak unless frees in the child send them on:
 * an exhausted (tagged) span goes to its mcentral at its first remote
 * free, as always; a span one of them was using stays where it is.  Their
 * counters are merged so the child's statistics still add up. */
void nalloc__mcache_fork_child(void)
{
	pthread_t self = pthread_self();
	struct mcache *c = registry, *next;
	for (; c; c = next) {
		next = c->regnext;
		if (!pthread_equal(c->thread, self)) {
			registry_unlink(c);
			STORE_RELAXED(&live_caches, live_caches - 1);
			update_share();
			nalloc__merge_dead_mcache(c);
			ADD_RELAXED(&c->heap->nthreads, (uint64_t)-1);
		}
	}
	nalloc__unlock(&registry_lock);
}
