/* mcache.c: per-thread caches: the allocation slow path, creation, thread exit, fork.  see malloc.c */
#include "internal.h"
#include <errno.h>
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
static struct mcache *mcache_pool;   /* freed mcache structs */
static pthread_key_t exit_key;
static bool exit_key_ok;

void nalloc__mcache_global_init(void)
{
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

/* Hand a chain of ready spans that are no longer ours (or whose cache is
 * going away) to their mcentrals' pending stacks, REMOTE_QUEUED still set:
 * the mcentral's drain files them. */
static void pass_on(struct mspan *s)
{
	while (s) {
		struct mspan *next = s->pendingNext;
		nalloc__mcentral_push_pending(s->central, s);
		s = next;
	}
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
	/* a freer may have pushed a span on the ready stack of this cache
	 * just after its last thread passed the stack on (mcache_release) */
	struct mspan *late = __atomic_exchange_n(&c->ready, NULL, __ATOMIC_ACQUIRE);
	memset(c, 0, sizeof *c);
	pass_on(late);
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
	ADD_RELAXED(&h->nthreads, 1);
	nalloc__unlock(&registry_lock);
	/* publish before pthread_setspecific, which may allocate */
	nalloc__tls_mcache = c;
	nalloc__tls_state = TLS_ACTIVE;
	if (exit_key_ok)
		pthread_setspecific(exit_key, c);
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
 * RFREE_MAX objects, at thread exit and when the thread re-homes
 * (nalloc__mcache_flush). */

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
	STAT(c->rfree_count[s->node]++);
	STAT(c->rfree_bytes[s->node] += s->elemsize);
	if (unlikely(++c->rfree_pending >= RFREE_MAX))
		nalloc__mcache_rfree_flush(c);
}

/* Hand one owned span (on none of c's lists) back to its mcentral. */
static void give_back(struct mspan *s)
{
	s->onlist = 0;
	nalloc__mcentral_uncache_span(s->central, s);
}

/* Allocations are counted a window at a time: when allocCache is loaded,
 * all its objects count as allocated (the fast path counts nothing), and
 * the ones still in the cache when the span stops being current are taken
 * off again.  Stats snapshots subtract the live windows (stats.c). */
static ALWAYS_INLINE void count_window(struct mcache *c, int cls, struct mspan *s)
{
	STAT(c->nmalloc[cls] += nalloc__popcount64(s->allocCache));
	(void)c, (void)cls, (void)s;
}

static void uncount_window(struct mcache *c, int cls, struct mspan *s)
{
	STAT(c->nmalloc[cls] -= nalloc__popcount64(s->allocCache));
	(void)c, (void)cls;
	s->allocCache = 0;
}

/* Give every span c owns back to its mcentral, and hand over the remote
 * frees waiting in c.  Owner only. */
void nalloc__mcache_flush(struct mcache *c)
{
	nalloc__mcache_rfree_flush(c);
	for (int cls = 1; cls < NALLOC_NUM_CLASSES; cls++) {
		struct mspan *s = c->alloc[cls];
		if (s != &nalloc__empty_span) {
			c->alloc[cls] = &nalloc__empty_span;
			uncount_window(c, cls, s);
			give_back(s);
		}
		while ((s = nalloc__spanlist_pop(&c->partial[cls])))
			give_back(s);
		while ((s = nalloc__spanlist_pop(&c->full[cls])))
			give_back(s);
	}
}

/* The current span of class cls is exhausted: keep it, tagged. */
static void retire_full(struct mcache *c, int cls, struct mspan *s)
{
	s->onlist = LIST_OWNED_FULL;
	STORE_REL(&s->owner, nalloc__full_tag(c));
	nalloc__spanlist_push(&c->full[cls], s);
}

/* Objects allocated in s now, after collecting its remote frees. */
static uint32_t owned_count(struct mcache *c, int cls, struct mspan *s)
{
	if (nalloc__remote_count(LOAD_RELAXED(&s->remote)) != 0) {
		uint32_t n = nalloc__mspan_sweep(s);
		STAT(c->nswept[cls] += n);
		(void)n;
		(void)c;
		(void)cls;
	}
	return nalloc__mspan_count_alloc(s);
}

#define PARTIAL_KEEP 4   /* owned partial spans per class before trimming */
#define FULL_SCAN 4      /* oldest owned full spans looked at per refill */

#define PARTIAL_SCAN 4   /* owned partial spans looked at per refill */

/* Enough room to be worth a refill: an eighth of the span, or one object
 * for spans of fewer than 8. */
static inline bool roomy(const struct mspan *s, uint32_t used)
{
	uint32_t room = s->nelems - used;
	return room > 0 && room >= (uint32_t)(s->nelems / 8);
}

/* File an owned span that stops being current: tagged on the full list if
 * it is full, else untagged at the back of the partial list (frees into it
 * stay on the fast path). */
static void file_owned(struct mcache *c, int cls, struct mspan *s, uint32_t used)
{
	if (used >= s->nelems) {
		retire_full(c, cls, s);
	} else {
		s->onlist = LIST_OWNED_PARTIAL;
		nalloc__spanlist_push_last(&c->partial[cls], s);
	}
}

/* Take the ready stack: our exhausted spans that other threads freed
 * into.  Each leaves the full list, untagged: to the front of the partial
 * list if roomy, else filed as usual.  A span that is no longer ours (given
 * back since it was pushed) goes on to its mcentral. */
static NOINLINE void take_ready(struct mcache *c)
{
	struct mspan *s = __atomic_exchange_n(&c->ready, NULL, __ATOMIC_ACQUIRE);
	while (s) {
		struct mspan *next = s->pendingNext;
		if (LOAD_RELAXED(&s->owner) == nalloc__full_tag(c)) {
			int cls = s->spanclass;
			__atomic_fetch_and(&s->remote, ~REMOTE_QUEUED, __ATOMIC_ACQ_REL);
			nalloc__spanlist_remove(&c->full[cls], s);
			STORE_REL(&s->owner, c);
			s->onlist = 0;
			uint32_t used = owned_count(c, cls, s);
			if (roomy(s, used)) {
				s->onlist = LIST_OWNED_PARTIAL;
				nalloc__spanlist_push(&c->partial[cls], s);
			} else {
				file_owned(c, cls, s, used);
			}
		} else {
			nalloc__mcentral_push_pending(s->central, s);
		}
		s = next;
	}
}

/* An owned span of class cls with a free object, or NULL: the first roomy
 * one of the partial list's first PARTIAL_SCAN (else the one with most room
 * among them), then one of the oldest full spans that remote frees
 * refilled. */
static struct mspan *owned_with_room(struct mcache *c, int cls)
{
	struct mspan *s, *found = NULL, *best = NULL;
	uint32_t best_used = UINT32_MAX;
	for (int i = 0; !found && i < PARTIAL_SCAN && (s = nalloc__spanlist_pop(&c->partial[cls])); i++) {
		s->onlist = 0;
		uint32_t used = owned_count(c, cls, s);
		if (roomy(s, used)) {
			found = s;
		} else if (used >= s->nelems) {
			retire_full(c, cls, s);
		} else if (used < best_used) {
			if (best)
				file_owned(c, cls, best, best_used);
			best = s;
			best_used = used;
		} else {
			file_owned(c, cls, s, used);
		}
	}
	if (found) {
		if (best)
			file_owned(c, cls, best, best_used);
		return found;
	}
	if (best)
		return best;
	for (int i = 0; i < FULL_SCAN && (s = c->full[cls].last); i++) {
		nalloc__spanlist_remove(&c->full[cls], s);
		if (nalloc__remote_count(LOAD_RELAXED(&s->remote)) != 0 &&
		    owned_count(c, cls, s) < s->nelems) {
			s->onlist = 0;
			STORE_REL(&s->owner, c);
			return s;
		}
		nalloc__spanlist_push(&c->full[cls], s); /* look at others next */
	}
	return NULL;
}

/* The owner freed an object of s, an owned exhausted span (owner tagged):
 * the span has room again, so it moves to the partial list.  That list is
 * kept short: its oldest span goes back to the mcentral if it is empty. */
NOINLINE void nalloc__mcache_free_owned_full(struct mcache *c, struct mspan *s, void *p, uint32_t w,
                                             uint64_t m)
{
	uint64_t bits = s->allocBits[w];
	if (unlikely(!(bits & m))) {
		nalloc__report(ERR_DOUBLE_FREE, p, s);
		return;
	}
	s->allocBits[w] = bits & ~m;
	int cls = s->spanclass;
	STAT(c->nfree[cls]++);
	nalloc__spanlist_remove(&c->full[cls], s);
	STORE_REL(&s->owner, c);
	s->onlist = LIST_OWNED_PARTIAL;
	nalloc__spanlist_push(&c->partial[cls], s);
	if (c->partial[cls].n > PARTIAL_KEEP) {
		struct mspan *t = c->partial[cls].last;
		nalloc__spanlist_remove(&c->partial[cls], t);
		if (owned_count(c, cls, t) == 0) {
			give_back(t);
		} else {
			t->onlist = LIST_OWNED_PARTIAL;
			nalloc__spanlist_push(&c->partial[cls], t);
		}
	}
}

/* Every 1024 refills: owned spans of every class that remote frees emptied
 * go back, so a thread whose allocation pattern moved on does not sit on
 * memory other threads freed. */
static void trim_owned(struct mcache *c)
{
	for (int cls = 1; cls < NALLOC_NUM_CLASSES; cls++) {
		struct mspan *s, *next;
		for (s = c->full[cls].first; s; s = next) {
			next = s->next;
			if (nalloc__remote_count(LOAD_RELAXED(&s->remote)) == 0)
				continue;
			if (owned_count(c, cls, s) == 0) {
				nalloc__spanlist_remove(&c->full[cls], s);
				give_back(s);
			}
		}
	}
}

/* Unregister c and give back everything it holds.  Caller: c's owner, or
 * the only thread left (fork child).  registry_lock must not be held. */
static void mcache_release(struct mcache *c, bool locked)
{
	nalloc__mcache_flush(c);
	pass_on(__atomic_exchange_n(&c->ready, NULL, __ATOMIC_ACQUIRE));
	if (!locked)
		nalloc__lock(&registry_lock);
	if (c->regprev)
		c->regprev->regnext = c->regnext;
	else
		registry = c->regnext;
	if (c->regnext)
		c->regnext->regprev = c->regprev;
	nalloc__merge_dead_mcache(c);
	ADD_RELAXED(&c->heap->nthreads, (uint64_t)-1);
	c->regnext = mcache_pool;
	mcache_pool = c;
	if (!locked)
		nalloc__unlock(&registry_lock);
}

void nalloc__mcache_destroy(struct mcache *c)
{
	nalloc__tls_mcache = &nalloc__empty_mcache;
	nalloc__tls_state = TLS_DEAD;
	mcache_release(c, false);
}

/* pthread key destructor: the thread is exiting. */
void nalloc__mcache_thread_exit(void *arg)
{
	struct mcache *c = arg;
	if (c && c == nalloc__tls_mcache)
		nalloc__mcache_destroy(c);
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
	/* every 64 refills: has the thread moved to another node? */
	if ((++c->refills & 63) == 0) {
		if (nalloc__g.nnodes > 1 && !c->pinned)
			nalloc__mcache_check_home(c);
		if ((c->refills & 1023) == 0)
			trim_owned(c);
	}
	struct mspan *s = c->alloc[cls];
	if (s != &nalloc__empty_span) {
		if (nalloc__mspan_next_window(s))
			goto take;
		/* exhausted: collect remote frees; keep using the span if roomy */
		uint32_t used = owned_count(c, cls, s);
		if (roomy(s, used)) {
			nalloc__mspan_rewind(s);
			if (nalloc__mspan_next_window(s))
				goto take;
		}
		c->alloc[cls] = &nalloc__empty_span;
		file_owned(c, cls, s, used);
	}
	s = owned_with_room(c, cls);
	if (!s) {
		s = nalloc__mcentral_cache_span(&c->heap->central[cls], c);
		if (unlikely(s == NULL)) {
			errno = ENOMEM;
			return NULL;
		}
	}
	nalloc__mspan_rewind(s);
	c->alloc[cls] = s;
	if (!nalloc__mspan_next_window(s))
		nalloc__fatal("a span with room had no free object");
take:
	count_window(c, cls, s);
	return nalloc__span_take(s, s->allocCache);
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

/* In the child only the forking thread survives.  Every other mcache's
 * spans go back to their mcentrals: their bits are the truth (a fast path
 * caught mid-way loses at most the one object it was handing out). */
void nalloc__mcache_fork_child(void)
{
	pthread_t self = pthread_self();
	struct mcache *c = registry, *next;
	for (; c; c = next) {
		next = c->regnext;
		if (!pthread_equal(c->thread, self)) {
			/* the thread may have stopped mid-way through filling a
			 * slot: its waiting remote frees (RFREE_MAX objects at
			 * most) stay allocated in the child rather than risk
			 * freeing a live object */
			memset(c->rfree, 0, sizeof c->rfree);
			c->rfree_pending = 0;
			mcache_release(c, true);
		}
	}
	nalloc__unlock(&registry_lock);
}
