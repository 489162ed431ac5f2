/* mheap.c: the per-node page heap: arena growth, free runs, coalescing, return to the OS.  see malloc.c */
#include "internal.h"
#include <string.h>

#define PAGE NALLOC_PAGE_SIZE
#define PSHIFT NALLOC_PAGE_SHIFT

static inline size_t page_index(const struct mheap *h, uintptr_t p)
{
	return (p - h->arena_start) >> PSHIFT;
}

/* ---------------------------------------------------------------- bitmap */
/* h->lock held for writes */
static void bitmap_set(struct mheap *h, size_t pg, size_t n, bool on)
{
	while (n) {
		size_t w = pg >> 6, b = pg & 63;
		size_t k = 64 - b < n ? 64 - b : n;
		uint64_t m = (k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << b;
		uint64_t v = LOAD_RELAXED(&h->bitmap[w]);
		STORE_RELAXED(&h->bitmap[w], on ? (v | m) : (v & ~m));
		pg += k;
		n -= k;
	}
}

static inline bool bitmap_test(const struct mheap *h, size_t pg)
{
	return (LOAD_RELAXED(&h->bitmap[pg >> 6]) >> (pg & 63)) & 1;
}

bool nalloc__mheap_page_in_use(struct mheap *h, uintptr_t p)
{
	if (p < h->arena_start || p >= LOAD_RELAXED(&h->arena_used))
		return false;
	return bitmap_test(h, page_index(h, p));
}

/* ---------------------------------------------------------------- metadata */
/* Every mspan struct describes one span for its whole life: published in
 * the page map, unpublished, retired, reused only once no read-side
 * section can still see it (epoch.c).  Retired structs wait on h->retired,
 * newest first; the pool takes from there what is safe when it runs dry,
 * without waiting, and maps fresh metadata otherwise.  h->lock held. */
static void reuse_retired(struct mheap *h)
{
	struct mspan **pp = &h->retired;
	uint64_t safe = nalloc__epoch_safe();
	while (*pp && (*pp)->retireEpoch >= safe)
		pp = &(*pp)->next;
	struct mspan *old = *pp; /* this one and all after it: safe */
	*pp = NULL;
	while (old) {
		struct mspan *next = old->next;
		old->next = h->span_freelist;
		h->span_freelist = old;
		h->nretired--;
		old = next;
	}
}

struct mspan *nalloc__mheap_new_span_meta(struct mheap *h)
{
	NALLOC_ASSERT(nalloc__lock_held(&h->lock));
	if (!h->span_freelist && h->retired)
		reuse_retired(h);
	struct mspan *s = h->span_freelist;
	if (!s) {
		size_t chunk = 256 * 1024, n = chunk / sizeof(struct mspan);
		struct mspan *m = nalloc__os_alloc(chunk);
		if (!m)
			return NULL;
		nalloc__bind_range(m, chunk, h->node);
		for (size_t i = n; i-- > 1;) {
			m[i].next = h->span_freelist;
			h->span_freelist = &m[i];
		}
		s = &m[0];
	} else {
		h->span_freelist = s->next;
	}
	memset(s, 0, sizeof *s);
	s->node = (uint16_t)h->node;
	s->remote = REMOTE_BIAS;
	return s;
}

/* Retire s, which no page map entry points at any more.  h->lock held. */
static void span_meta_free(struct mheap *h, struct mspan *s)
{
	STORE_REL(&s->state, (uint8_t)SPAN_DEAD);
	STORE_REL(&s->spanclass, (uint8_t)0);
	s->divmul = 0;
	STORE_RELAXED(&s->owner, NULL);
	s->retireEpoch = nalloc__epoch_retire_stamp();
	s->next = h->retired;
	h->retired = s;
	h->nretired++;
}

/* ---------------------------------------------------------------- free lists */
static inline int list_of(size_t npages)
{
	return npages < HEAP_FREE_LISTS ? (int)npages : 0;
}

static void insert_free(struct mheap *h, struct mspan *s)
{
	int i = list_of(s->npages);
	STORE_REL(&s->spanclass, (uint8_t)0);
	STORE_REL(&s->state, (uint8_t)SPAN_FREE);
	nalloc__spanlist_push(&h->free[i], s);
	h->freemask[i >> 6] |= (uint64_t)1 << (i & 63);
	s->onlist = (uint8_t)(i + 1);
	nalloc__spanmap_set_ends(h, s);
}

static void remove_free(struct mheap *h, struct mspan *s)
{
	int i = s->onlist - 1;
	NALLOC_ASSERT(s->state == SPAN_FREE && i >= 0);
	nalloc__spanlist_remove(&h->free[i], s);
	if (!h->free[i].first)
		h->freemask[i >> 6] &= ~((uint64_t)1 << (i & 63));
	s->onlist = 0;
}

/* smallest free run of at least npages: exact lists first, then best fit
 * among the runs of 128 pages and more */
static struct mspan *find_free(struct mheap *h, size_t npages)
{
	if (npages < HEAP_FREE_LISTS) {
		for (size_t i = npages; i < HEAP_FREE_LISTS;) {
			uint64_t m = h->freemask[i >> 6] >> (i & 63);
			if (m) {
				i += (size_t)__builtin_ctzll(m);
				return h->free[i].first;
			}
			i = (i | 63) + 1;
		}
	}
	struct mspan *best = NULL;
	for (struct mspan *s = h->free[0].first; s; s = s->next)
		if (s->npages >= npages &&
		    (!best || s->npages < best->npages ||
		     (s->npages == best->npages && s->base < best->base)))
			best = s;
	return best;
}

/* Put free run s in the free lists, merged with free neighbours.  The page
 * map keeps one invariant (see spanmap.c): an entry is NULL or a span that
 * covers its page; a free run is entered at its two ends only, so the
 * caller has cleared s's pages and the ends that become interior here are
 * cleared too. */
static void free_run(struct mheap *h, struct mspan *s)
{
	if (s->base > h->arena_start) {
		size_t pg = page_index(h, s->base) - 1;
		struct mspan *l = h->spans[pg];
		if (!bitmap_test(h, pg) && l && l->state == SPAN_FREE && l->onlist &&
		    l->base + ((uintptr_t)l->npages << PSHIFT) == s->base) {
			remove_free(h, l);
			nalloc__spanmap_clear(h, l->base, 1);
			nalloc__spanmap_clear(h, s->base - PAGE, 1);
			nalloc__spanmap_clear(h, s->base, 1);
			s->base = l->base;
			s->npages += l->npages;
			s->dirtyPages += l->dirtyPages;
			s->needzero |= l->needzero;
			span_meta_free(h, l);
		}
	}
	uintptr_t end = s->base + ((uintptr_t)s->npages << PSHIFT);
	if (end < h->arena_used) {
		size_t pg = page_index(h, end);
		struct mspan *r = h->spans[pg];
		if (!bitmap_test(h, pg) && r && r->state == SPAN_FREE && r->onlist && r->base == end) {
			remove_free(h, r);
			nalloc__spanmap_clear(h, end - PAGE, 1);
			nalloc__spanmap_clear(h, end, 1);
			nalloc__spanmap_clear(h, end + ((uintptr_t)(r->npages - 1) << PSHIFT), 1);
			s->npages += r->npages;
			s->dirtyPages += r->dirtyPages;
			s->needzero |= r->needzero;
			span_meta_free(h, r);
		}
	}
	insert_free(h, s);
}

/* Commit at least npages more of the arena as one free run. */
static bool grow(struct mheap *h, size_t npages)
{
	size_t want = npages << PSHIFT;
	size_t size = (want + ARENA_COMMIT_CHUNK - 1) & ~(ARENA_COMMIT_CHUNK - 1);
	if (size > h->arena_end - h->arena_used)
		size = want;
	if (size > h->arena_end - h->arena_used)
		return false;
	if (!nalloc__node_has_room(h->node, size)) {
		STORE_RELAXED(&h->full, 1); /* local mode falls back, strict fails */
		return false;
	}
	STORE_RELAXED(&h->full, 0);
	if (nalloc__os_commit((void *)h->arena_used, size) != 0)
		return false;
	nalloc__bind_range((void *)h->arena_used, size, h->node);
	struct mspan *s = nalloc__mheap_new_span_meta(h);
	if (!s)
		return false;
	s->base = h->arena_used;
	s->npages = (uint32_t)(size >> PSHIFT);
	s->dirtyPages = 0;
	s->needzero = 0;
	s->unusedSince = nalloc__now_ms();
	STORE_RELAXED(&h->arena_used, h->arena_used + size);
	free_run(h, s);
	return true;
}

/* Split the first npages of free run s (off its list) into their own run;
 * returns the remainder as a new free run (not on a list) or NULL. */
static struct mspan *split_tail(struct mheap *h, struct mspan *s, size_t npages)
{
	if (s->npages == npages)
		return NULL;
	struct mspan *t = nalloc__mheap_new_span_meta(h);
	if (!t)
		return NULL; /* out of metadata: keep the run whole */
	t->base = s->base + ((uintptr_t)npages << PSHIFT);
	t->npages = s->npages - (uint32_t)npages;
	/* where the dirty pages lie is unknown: bound each part by its size */
	t->dirtyPages = s->dirtyPages < t->npages ? s->dirtyPages : t->npages;
	t->needzero = s->needzero;
	t->unusedSince = s->unusedSince;
	s->npages = (uint32_t)npages;
	if (s->dirtyPages > s->npages)
		s->dirtyPages = s->npages;
	return t;
}

static void account_free_run(struct mheap *h, struct mspan *s, int sign)
{
	h->dirty_free_pages += (uint64_t)(int64_t)sign * s->dirtyPages;
}

/* ---------------------------------------------------------------- scavenger */
static size_t scavenge_locked(struct mheap *h, uint64_t now, bool all)
{
	size_t returned = 0;
	uint64_t next = UINT64_MAX, delay = nalloc__opt.return_delay_ms;
	for (int i = 0; i < HEAP_FREE_LISTS; i++) {
		for (struct mspan *s = h->free[i].first; s; s = s->next) {
			if (!s->dirtyPages)
				continue;
			if (all || s->unusedSince + delay <= now) {
				nalloc__os_purge((void *)s->base, (size_t)s->npages << PSHIFT);
				returned += (size_t)s->dirtyPages << PSHIFT;
				h->dirty_free_pages -= s->dirtyPages;
				s->dirtyPages = 0;
				s->needzero = 0; /* MADV_DONTNEED: zero on next touch */
			} else if (s->unusedSince + delay < next) {
				next = s->unusedSince + delay;
			}
		}
	}
	h->returned_bytes += returned;
	h->next_scavenge = next;
	return returned;
}

size_t nalloc__mheap_scavenge(struct mheap *h, uint64_t now, bool all)
{
	nalloc__lock(&h->lock);
	size_t n = scavenge_locked(h, now, all);
	nalloc__unlock(&h->lock);
	return n;
}

static inline void maybe_scavenge(struct mheap *h)
{
	if (h->next_scavenge != UINT64_MAX) {
		uint64_t now = nalloc__now_ms();
		if (now >= h->next_scavenge)
			scavenge_locked(h, now, false);
	}
}

/* ---------------------------------------------------------------- alloc / free */

static void make_in_use(struct mheap *h, struct mspan *s, bool large)
{
	s->elemsize = s->npages << PSHIFT;
	s->nelems = 1;
	s->divmul = 0;
	s->nwords = 0;
	STORE_RELAXED(&s->owner, NULL);
	s->onlist = 0;
	s->remote = REMOTE_BIAS;
	s->centralCount = UINT32_MAX;
	nalloc__spanmap_set(h, s, s->base, s->npages);
	bitmap_set(h, page_index(h, s->base), s->npages, true);
	h->pages_in_use += s->npages;
	h->spans_in_use++;
	if (large) {
		h->large_allocs++;
		h->large_bytes_in_use += (uint64_t)s->npages << PSHIFT;
	}
	STORE_REL(&s->state, (uint8_t)SPAN_LARGE);
}

struct mspan *nalloc__mheap_alloc(struct mheap *h, size_t npages, size_t align_pages, bool large)
{
	if (align_pages == 0)
		align_pages = 1;
	size_t need = npages + align_pages - 1;
	if (need < npages || need > (h->arena_end - h->arena_start) >> PSHIFT)
		return NULL;
	nalloc__lock(&h->lock);
	struct mspan *s = find_free(h, need);
	if (!s) {
		if (!grow(h, need) || !(s = find_free(h, need))) {
			nalloc__unlock(&h->lock);
			return NULL;
		}
	}
	remove_free(h, s);
	account_free_run(h, s, -1);
	uintptr_t align = (uintptr_t)align_pages << PSHIFT;
	uintptr_t abase = (s->base + align - 1) & ~(align - 1);
	if (abase != s->base) {
		/* give the head back, keep the aligned part */
		struct mspan *t = split_tail(h, s, (abase - s->base) >> PSHIFT);
		if (!t) {
			account_free_run(h, s, +1);
			free_run(h, s);
			nalloc__unlock(&h->lock);
			return NULL;
		}
		account_free_run(h, s, +1);
		free_run(h, s);
		s = t;
	}
	struct mspan *rest = split_tail(h, s, npages);
	if (rest) {
		account_free_run(h, rest, +1);
		free_run(h, rest);
	}
	s->needzero = s->needzero || s->dirtyPages;
	s->dirtyPages = 0;
	make_in_use(h, s, large);
	maybe_scavenge(h);
	nalloc__unlock(&h->lock);
	return s;
}

/* Return an in-use span's pages (small or large).  Caller: the span is
 * unreachable for allocation; for small spans the mcentral lock is held.
 * s itself is retired (a racing reader may still look at it); a fresh
 * descriptor takes its pages as a free run.  Without metadata for one the
 * pages stay in use, unreachable, rather than s being reused early. */
void nalloc__mheap_free(struct mheap *h, struct mspan *s)
{
	uint64_t now = nalloc__now_ms();
	nalloc__lock(&h->lock);
	NALLOC_ASSERT(s->onlist == 0);
	struct mspan *run = nalloc__mheap_new_span_meta(h);
	if (unlikely(!run)) {
		h->meta_lost_pages += s->npages;
		nalloc__unlock(&h->lock);
		return;
	}
	bitmap_set(h, page_index(h, s->base), s->npages, false);
	h->pages_in_use -= s->npages;
	h->spans_in_use--;
	if (s->spanclass == 0) {
		h->large_frees++;
		h->large_bytes_in_use -= (uint64_t)s->npages << PSHIFT;
	}
	run->base = s->base;
	run->npages = s->npages;
	run->dirtyPages = s->npages;
	run->needzero = 1;
	run->unusedSince = now;
	nalloc__spanmap_clear(h, s->base, s->npages);
	span_meta_free(h, s);
	h->dirty_free_pages += run->dirtyPages;
	free_run(h, run);
	if (h->next_scavenge > now + nalloc__opt.return_delay_ms)
		h->next_scavenge = now + nalloc__opt.return_delay_ms;
	maybe_scavenge(h);
	nalloc__unlock(&h->lock);
}

bool nalloc__mheap_grow_inplace(struct mheap *h, struct mspan *s, size_t npages)
{
	size_t need = npages - s->npages;
	nalloc__lock(&h->lock);
	uintptr_t end = s->base + ((uintptr_t)s->npages << PSHIFT);
	if (end == h->arena_used && !grow(h, need)) {
		nalloc__unlock(&h->lock);
		return false;
	}
	bool ok = false;
	if (end < h->arena_used) {
		size_t pg = page_index(h, end);
		struct mspan *r = h->spans[pg];
		if (!bitmap_test(h, pg) && r && r->state == SPAN_FREE && r->onlist && r->base == end &&
		    r->npages >= need) {
			remove_free(h, r);
			account_free_run(h, r, -1);
			struct mspan *rest = split_tail(h, r, need);
			if (rest) {
				account_free_run(h, rest, +1);
				free_run(h, rest);
			}
			if (r->npages == need) {
				nalloc__spanmap_set(h, s, end, need);
				bitmap_set(h, pg, need, true);
				h->pages_in_use += need;
				h->large_bytes_in_use += (uint64_t)need << PSHIFT;
				s->npages = (uint32_t)npages;
				s->elemsize = s->npages << PSHIFT;
				span_meta_free(h, r);
				ok = true;
			} else { /* no metadata to split: put it back */
				account_free_run(h, r, +1);
				free_run(h, r);
			}
		}
	}
	nalloc__unlock(&h->lock);
	return ok;
}

void nalloc__mheap_shrink(struct mheap *h, struct mspan *s, size_t npages)
{
	nalloc__lock(&h->lock);
	struct mspan *t = nalloc__mheap_new_span_meta(h);
	if (t) {
		size_t tail = s->npages - npages;
		t->base = s->base + ((uintptr_t)npages << PSHIFT);
		t->npages = (uint32_t)tail;
		t->dirtyPages = (uint32_t)tail;
		t->needzero = 1;
		t->unusedSince = nalloc__now_ms();
		bitmap_set(h, page_index(h, t->base), tail, false);
		nalloc__spanmap_clear(h, t->base, tail);
		h->pages_in_use -= tail;
		h->large_bytes_in_use -= (uint64_t)tail << PSHIFT;
		s->npages = (uint32_t)npages;
		s->elemsize = s->npages << PSHIFT;
		h->dirty_free_pages += t->dirtyPages;
		free_run(h, t);
		if (h->next_scavenge > t->unusedSince + nalloc__opt.return_delay_ms)
			h->next_scavenge = t->unusedSince + nalloc__opt.return_delay_ms;
	}
	nalloc__unlock(&h->lock);
}

int nalloc__mheap_init(struct mheap *h, int node, int os_node, uintptr_t start, size_t size,
                       struct mspan **spans)
{
	memset(h, 0, offsetof(struct mheap, central));
	h->node = node;
	h->os_node = os_node;
	h->arena_start = h->arena_used = start;
	h->arena_end = start + size;
	h->spans = spans;
	h->next_scavenge = UINT64_MAX;
	h->bitmap = nalloc__os_alloc(((size >> PSHIFT) + 63) / 64 * 8);
	if (!h->bitmap)
		return -1;
	for (int c = 0; c < NALLOC_NUM_CLASSES; c++)
		nalloc__mcentral_init(&h->central[c], h, c);
	return 0;
}

/* Check the heap's invariants (tests).  Takes the lock. */
void nalloc__mheap_check(struct mheap *h)
{
	nalloc__lock(&h->lock);
	uint64_t freepages = 0, dirty = 0;
	for (int i = 0; i < HEAP_FREE_LISTS; i++) {
		for (struct mspan *s = h->free[i].first; s; s = s->next) {
			NALLOC_ASSERT(s->state == SPAN_FREE);
			NALLOC_ASSERT(s->onlist == i + 1);
			NALLOC_ASSERT(list_of(s->npages) == i);
			size_t pg = page_index(h, s->base);
			NALLOC_ASSERT(h->spans[pg] == s && h->spans[pg + s->npages - 1] == s);
			for (size_t k = 0; k < s->npages; k++) {
				NALLOC_ASSERT(!bitmap_test(h, pg + k));
				if (k > 0 && k + 1 < s->npages)
					NALLOC_ASSERT(h->spans[pg + k] == NULL);
			}
			/* coalesced: neighbours are not free runs */
			if (pg > 0)
				NALLOC_ASSERT(bitmap_test(h, pg - 1));
			uintptr_t end = s->base + ((uintptr_t)s->npages << PSHIFT);
			if (end < h->arena_used)
				NALLOC_ASSERT(bitmap_test(h, pg + s->npages));
			freepages += s->npages;
			dirty += s->dirtyPages;
		}
	}
	uint64_t committed = (h->arena_used - h->arena_start) >> PSHIFT;
	NALLOC_ASSERT(freepages + h->pages_in_use == committed);
	NALLOC_ASSERT(dirty == h->dirty_free_pages);
	nalloc__unlock(&h->lock);
}
