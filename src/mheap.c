/* SPDX-License-Identifier: MIT */
/* mheap.c: the per-node page heap: arena growth, free runs, coalescing, dirty pages, return to the OS.  see malloc.c */
#include "internal.h"
#include <string.h>

#define PAGE NALLOC_PAGE_SIZE
#define PSHIFT NALLOC_PAGE_SHIFT
#define MAX_SPAN_PAGES ((size_t)1 << 31)    /* npages is 32 bits */
#define MAX_RESERVE ((size_t)1 << 42)       /* largest reservation (NALLOC_ARENA_GB max) */
#define ZERO_PURGE_MIN ARENA_COMMIT_CHUNK   /* calloc: dirty ranges this long
                                               are purged, not memset */

static inline uintptr_t round_up(uintptr_t v, uintptr_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* ---------------------------------------------------------------- units */
/* Pages of h lie in h's arena units; their records hold the page map and
 * the bitmaps.  Callers pass only addresses of pages h committed. */
static inline struct arena_unit *unit_rec(uintptr_t a)
{
	return nalloc__arena_unit(a);
}

static inline size_t upage(uintptr_t a)
{
	return (a >> PSHIFT) & (UNIT_PAGES - 1);
}

/* the record of a's unit if h owns it (a may be anything) */
static inline struct arena_unit *own_unit(struct mheap *h, uintptr_t a)
{
	struct arena_unit *u = nalloc__arena_unit(a);
	return u && u->heap == h ? u : NULL;
}

static inline uintptr_t frontier(const struct mheap *h)
{
	return h->next ? h->ext[h->next - 1].end : 0;
}

/* ---------------------------------------------------------------- bitmaps */
enum { BM_INUSE, BM_DIRTY };

static inline uint64_t *bm_word(struct arena_unit *u, int which, size_t pg)
{
	return which == BM_INUSE ? &u->inuse[pg >> 6] : &u->dirty[pg >> 6];
}

/* bits b .. b + k - 1 of a bitmap word (k >= 1, b + k <= 64) */
static inline uint64_t word_mask(size_t b, size_t k)
{
	return (k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << b;
}

enum bm_op { BM_CLEAR, BM_SET, BM_COUNT };

/* Apply op to the bits of n pages from base, a masked word at a time;
 * returns how many were set (BM_COUNT).  Set and clear: h->lock held
 * (words are stored whole: readers load them relaxed). */
static ALWAYS_INLINE size_t bm_apply(uint64_t *w, uint64_t m, enum bm_op op)
{
	uint64_t v = LOAD_RELAXED(w);
	if (op == BM_COUNT)
		return (size_t)__builtin_popcountll(v & m);
	STORE_RELAXED(w, op == BM_SET ? (v | m) : (v & ~m));
	return 0;
}

static size_t bits_walk(int which, uintptr_t base, size_t n, enum bm_op op)
{
	size_t pg = upage(base);
	if (likely(n <= 64 - (pg & 63))) /* one word: most spans */
		return bm_apply(bm_word(unit_rec(base), which, pg), word_mask(pg & 63, n), op);
	size_t c = 0;
	while (n) {
		struct arena_unit *u = unit_rec(base);
		pg = upage(base);
		size_t inunit = UNIT_PAGES - pg < n ? UNIT_PAGES - pg : n;
		base += (uintptr_t)inunit << PSHIFT;
		n -= inunit;
		while (inunit) {
			size_t b = pg & 63, k = 64 - b < inunit ? 64 - b : inunit;
			c += bm_apply(bm_word(u, which, pg), word_mask(b, k), op);
			pg += k;
			inunit -= k;
		}
	}
	return c;
}

/* Set or clear the bits of n pages from base.  h->lock held. */
static void bits_set(int which, uintptr_t base, size_t n, bool on)
{
	bits_walk(which, base, n, on ? BM_SET : BM_CLEAR);
}

/* set bits among n pages from base */
static size_t bits_count(int which, uintptr_t base, size_t n)
{
	return bits_walk(which, base, n, BM_COUNT);
}

/* first page in [a, end) whose bit is v, or end */
static uintptr_t bits_find(int which, uintptr_t a, uintptr_t end, bool v)
{
	while (a < end) {
		size_t pg = upage(a);
		uint64_t w = LOAD_RELAXED(bm_word(unit_rec(a), which, pg));
		w = (v ? w : ~w) >> (pg & 63);
		if (w) {
			a += (uintptr_t)__builtin_ctzll(w) << PSHIFT;
			return a < end ? a : end;
		}
		a += (uintptr_t)(64 - (pg & 63)) << PSHIFT;
	}
	return end;
}

static inline bool bit_test(struct arena_unit *u, int which, uintptr_t a)
{
	size_t pg = upage(a);
	return (LOAD_RELAXED(bm_word(u, which, pg)) >> (pg & 63)) & 1;
}

bool nalloc__mheap_page_in_use(struct mheap *h, uintptr_t p)
{
	struct arena_unit *u = own_unit(h, p);
	return u && bit_test(u, BM_INUSE, p);
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
	s->divmagic = 0;
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

/* the free run that ends just before a / starts at a, if h has one */
static struct mspan *free_run_ending_at(struct mheap *h, uintptr_t a)
{
	struct arena_unit *u = own_unit(h, a - PAGE);
	if (!u || bit_test(u, BM_INUSE, a - PAGE))
		return NULL;
	struct mspan *l = u->spans[upage(a - PAGE)];
	if (l && l->state == SPAN_FREE && l->onlist && l->base + ((uintptr_t)l->npages << PSHIFT) == a)
		return l;
	return NULL;
}

static struct mspan *free_run_starting_at(struct mheap *h, uintptr_t a)
{
	struct arena_unit *u = own_unit(h, a);
	if (!u || bit_test(u, BM_INUSE, a))
		return NULL;
	struct mspan *r = u->spans[upage(a)];
	if (r && r->state == SPAN_FREE && r->onlist && r->base == a)
		return r;
	return NULL;
}

/* Put free run s in the free lists, merged with free neighbours (h's own
 * pages only: a neighbour in another heap's unit or beyond the committed
 * memory has no entry here).  The page map keeps one invariant (see
 * spanmap.c): an entry is NULL or a span that covers its page; a free run
 * is entered at its two ends only, so the caller has cleared s's pages and
 * the ends that become interior here are cleared too. */
static void free_run(struct mheap *h, struct mspan *s)
{
	struct mspan *l = free_run_ending_at(h, s->base);
	if (l) {
		remove_free(h, l);
		nalloc__spanmap_clear(h, l->base, 1);
		nalloc__spanmap_clear(h, s->base - PAGE, 1);
		nalloc__spanmap_clear(h, s->base, 1);
		s->base = l->base;
		s->npages += l->npages;
		s->dirtyPages += l->dirtyPages;
		span_meta_free(h, l);
	}
	uintptr_t end = s->base + ((uintptr_t)s->npages << PSHIFT);
	struct mspan *r = free_run_starting_at(h, end);
	if (r) {
		remove_free(h, r);
		nalloc__spanmap_clear(h, end - PAGE, 1);
		nalloc__spanmap_clear(h, end, 1);
		nalloc__spanmap_clear(h, end + ((uintptr_t)(r->npages - 1) << PSHIFT), 1);
		s->npages += r->npages;
		s->dirtyPages += r->dirtyPages;
		span_meta_free(h, r);
	}
	insert_free(h, s);
}

/* ---------------------------------------------------------------- growth */
/* Address space comes in reservations of whole arena units (PROT_NONE,
 * unit-aligned, so a unit has one owner); memory is committed from the
 * current one in ARENA_COMMIT_CHUNK steps.  The first reservation is
 * first_reserve, each later one as large as all before it (both halved
 * until the OS grants them, never below the request): so the number of
 * reservations stays logarithmic and a small RLIMIT_AS gets small ones.
 * At most HEAP_MAX_EXTENTS separate ranges: past that, only extensions.
 * Each is asked for right after the current one first, so the heap stays
 * contiguous and a block larger than any one reservation still fits. */

/* RLIMIT_AS, read at every growth (setrlimit may come at any time).  The
 * kernel counts our PROT_NONE reservations in VmSize; they are not memory,
 * so what counts as used is VmSize less what the heaps reserved and did
 * not commit.  The heaps stop short of the limit by 8 MiB and 1/32 of
 * what is used, which their metadata (mspans, unit records) and the
 * program's own mappings may still take.  Returns the bytes that may be
 * committed or reserved (SIZE_MAX: no limit) and the current VmSize. */
#define AS_SLACK(used) (((uint64_t)8 << 20) + (used) / 32)
static size_t as_room(size_t *vm_out)
{
	uint64_t lim = nalloc__os_as_limit();
	*vm_out = 0;
	if (lim == UINT64_MAX)
		return SIZE_MAX;
	uint64_t vm = nalloc__os_vm_size();
	if (vm == 0)
		return SIZE_MAX;
	*vm_out = (size_t)vm;
	uint64_t unused = LOAD_RELAXED(&nalloc__uncommitted_bytes);
	uint64_t used = vm > unused ? vm - unused : 0;
	return used + AS_SLACK(used) < lim ? (size_t)(lim - AS_SLACK(used) - used) : 0;
}

/* May `more` bytes be committed under RLIMIT_AS?  If the reservation
 * itself takes VmSize past the limit (a limit set after it was made), the
 * part of it that cannot be committed under the limit goes back, so the
 * process's other mappings still fit. */
static bool as_limit_allows(struct mheap *h, size_t more)
{
	size_t vm, room = as_room(&vm);
	if (room == SIZE_MAX)
		return true;
	uintptr_t f = frontier(h);
	if (h->next && f + room < h->res_end) {
		uintptr_t keep = round_up(f + room, ARENA_COMMIT_CHUNK);
		if (keep < h->res_end) {
			size_t cut = h->res_end - keep;
			nalloc__os_unreserve((void *)keep, cut);
			h->res_end = keep;
			h->reserved_bytes -= cut;
			__atomic_fetch_sub(&nalloc__uncommitted_bytes, cut, __ATOMIC_RELAXED);
		}
	}
	return more <= room;
}

static void account_reserve(struct mheap *h, size_t size)
{
	h->reserved_bytes += size;
	ADD_RELAXED(&nalloc__uncommitted_bytes, size);
}

/* Where to ask for a new (not contiguous) reservation: a random unit in
 * [4 TiB, 64 TiB), far below where the kernel places mappings by itself
 * (top down from 128 TiB) and above the program and its brk heap, so the
 * space above it is usually free and later reservations extend it (a
 * mapping placed by the kernel usually has its previous one right above
 * it).  Random, so that the heap's addresses keep ASLR's entropy.  Only a
 * hint: taken, it falls back to wherever the kernel puts the range. */
static uintptr_t reserve_hint(struct mheap *h, size_t size)
{
	uint64_t x = __builtin_ia32_rdtsc() ^ (uintptr_t)h ^ ((uintptr_t)&x << 17) ^ h->reserved_bytes;
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	x ^= x >> 31;
	uintptr_t lo = (uintptr_t)1 << 42, hi = (uintptr_t)1 << 46;
	if (size >= hi - lo)
		return 0;
	uintptr_t span = (hi - lo - size) >> ARENA_UNIT_SHIFT;
	return lo + ((uintptr_t)(x % (span ? span : 1)) << ARENA_UNIT_SHIFT);
}

/* At least want more bytes of address space after the frontier.  New
 * reservations start on a unit boundary; their sizes (and the contiguous
 * extensions) are whole units, or whole commit chunks under RLIMIT_AS.
 * So a unit's pages are ever reserved by one heap: a range starts at a
 * unit's first byte or continues its own heap's range. */
static bool reserve(struct mheap *h, size_t want)
{
	size_t vm, room = as_room(&vm);
	size_t gran = room == SIZE_MAX ? ARENA_UNIT : ARENA_COMMIT_CHUNK;
	size_t need = round_up(want, gran);
	size_t target = round_up(h->reserved_bytes ? h->reserved_bytes : h->first_reserve, gran);
	if (target > MAX_RESERVE)
		target = MAX_RESERVE;
	if (room != SIZE_MAX && target > (room & ~(gran - 1)))
		target = room & ~(gran - 1); /* no more than the limit lets us use */
	if (target < need)
		target = need;
	if (room != SIZE_MAX && need > room)
		return false;
	for (size_t size = target;;) {
		uintptr_t limit = (uintptr_t)1 << ARENA_ADDR_BITS;
		if (h->next && h->res_end + size <= limit && h->res_end + size > h->res_end &&
		    nalloc__os_reserve_at(h->res_end, size)) {
			h->res_end += size;
			account_reserve(h, size);
			return true;
		}
		void *p = NULL;
		uintptr_t hint = h->next < HEAP_MAX_EXTENTS ? reserve_hint(h, size) : 0;
		if (hint)
			p = nalloc__os_reserve_at(hint, size);
		if (!p && h->next < HEAP_MAX_EXTENTS)
			p = nalloc__os_reserve(size, ARENA_UNIT);
		if (p) {
			uintptr_t a = (uintptr_t)p;
			if (a + size > limit) { /* beyond the unit index */
				nalloc__os_unreserve(p, size);
				return false;
			}
			if (h->next) {
				/* the old reservation past the frontier goes back (no
				 * other heap can take it: its ranges start on a unit
				 * boundary or continue their own) */
				uintptr_t keep = round_up(frontier(h), ARENA_COMMIT_CHUNK);
				if (h->res_end > keep) {
					size_t cut = h->res_end - keep;
					nalloc__os_unreserve((void *)keep, cut);
					h->reserved_bytes -= cut;
					__atomic_fetch_sub(&nalloc__uncommitted_bytes, cut, __ATOMIC_RELAXED);
				}
			}
			h->ext[h->next].start = h->ext[h->next].end = a;
			STORE_REL(&h->next, h->next + 1);
			h->res_end = a + size;
			account_reserve(h, size);
			return true;
		}
		if (size == need)
			return false;
		size = round_up(size / 2, gran);
		if (size < need)
			size = need;
	}
}

/* Commit at least npages more as one free run (its pages clean: fresh
 * memory reads as zero).  On failure h->full says so to the callers that
 * fall back to other nodes. */
static bool grow(struct mheap *h, size_t npages)
{
	size_t want = npages << PSHIFT;
	uintptr_t used = frontier(h);
	if ((!h->next || h->res_end - used < want) && !reserve(h, want))
		goto fail;
	used = frontier(h);
	size_t size = round_up(want, ARENA_COMMIT_CHUNK);
	if (size > h->res_end - used)
		size = h->res_end - used;
	/* the kernel's figures are read with the heap lock dropped (file
	 * reads); if another thread grew the heap meanwhile, the caller looks
	 * for a free run again before asking once more */
	nalloc__unlock(&h->lock);
	bool room = nalloc__node_has_room(h->node, size);
	nalloc__lock(&h->lock);
	if (!room)
		goto fail;
	if (frontier(h) != used)
		return true;
	if (!as_limit_allows(h, size))
		goto fail;
	if (nalloc__spanmap_add_units(h, used, size) != 0)
		goto fail;
	if (nalloc__os_commit((void *)used, size) != 0)
		goto fail;
	nalloc__bind_range((void *)used, size, h->node);
	struct mspan *s = nalloc__mheap_new_span_meta(h);
	if (!s)
		goto fail; /* committed, uncounted: the next growth commits it again */
	STORE_RELAXED(&h->full, 0);
	s->base = used;
	s->npages = (uint32_t)(size >> PSHIFT);
	s->dirtyPages = 0;
	s->unusedSince = nalloc__now_ms();
	STORE_RELAXED(&h->ext[h->next - 1].end, used + size);
	STORE_RELAXED(&h->mapped_bytes, h->mapped_bytes + size);
	__atomic_fetch_sub(&nalloc__uncommitted_bytes, size, __ATOMIC_RELAXED);
	free_run(h, s);
	return true;
fail:
	STORE_RELAXED(&h->full, 1); /* small spans and large blocks fall back */
	return false;
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
	/* count the head (the part asked for: usually the smaller) */
	uint32_t head = s->dirtyPages ? (uint32_t)bits_count(BM_DIRTY, s->base, npages) : 0;
	t->dirtyPages = s->dirtyPages - head;
	t->unusedSince = s->unusedSince;
	s->npages = (uint32_t)npages;
	s->dirtyPages = head;
	return t;
}

static void account_free_run(struct mheap *h, struct mspan *s, int sign)
{
	CNT_ADD(&h->dirty_free_pages, (uint64_t)(int64_t)sign * s->dirtyPages);
}

/* ---------------------------------------------------------------- scavenger */
/* Return the dirty pages of free run s (h->lock held); their bytes. */
static size_t purge_run(struct mspan *s)
{
	uintptr_t a = s->base, end = s->base + ((uintptr_t)s->npages << PSHIFT);
	while ((a = bits_find(BM_DIRTY, a, end, true)) < end) {
		uintptr_t b = bits_find(BM_DIRTY, a, end, false);
		nalloc__os_purge((void *)a, b - a);
		bits_set(BM_DIRTY, a, (b - a) >> PSHIFT, false);
		a = b;
	}
	size_t n = (size_t)s->dirtyPages << PSHIFT;
	s->dirtyPages = 0;
	return n;
}

static size_t scavenge_locked(struct mheap *h, uint64_t now, bool all)
{
	size_t returned = 0;
	uint64_t next = UINT64_MAX, delay = nalloc__opt.return_delay_ms;
	for (int i = 0; i < HEAP_FREE_LISTS; i++) {
		for (struct mspan *s = h->free[i].first; s; s = s->next) {
			if (!s->dirtyPages)
				continue;
			if (all || s->unusedSince + delay <= now) {
				CNT_ADD(&h->dirty_free_pages, -(uint64_t)s->dirtyPages);
				returned += purge_run(s); /* MADV_DONTNEED: zero on next touch */
			} else if (s->unusedSince + delay < next) {
				next = s->unusedSince + delay;
			}
		}
	}
	CNT_ADD(&h->returned_bytes, returned);
	STORE_RELAXED(&h->next_scavenge, next);
	return returned;
}

size_t nalloc__mheap_scavenge(struct mheap *h, uint64_t now, bool all)
{
	nalloc__lock(&h->lock);
	size_t n = scavenge_locked(h, now, all);
	nalloc__unlock(&h->lock);
	return n;
}

/* The purger: scavenge if due, unless someone holds the lock (then that
 * holder's own heap operation scavenges). */
void nalloc__mheap_scavenge_due(struct mheap *h, uint64_t now)
{
	if (LOAD_RELAXED(&h->next_scavenge) > now || !nalloc__trylock(&h->lock))
		return;
	if (h->next_scavenge <= now)
		scavenge_locked(h, now, false);
	nalloc__unlock(&h->lock);
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

/* Publish s as in use.  Its pages become dirty (the caller writes them),
 * except for calloc, which marks them once it has zeroed them. */
static void make_in_use(struct mheap *h, struct mspan *s, bool large, bool dirty)
{
	s->elemsize = s->npages << PSHIFT;
	s->nelems = 1;
	s->divmagic = 0;
	s->nwords = 0;
	STORE_RELAXED(&s->owner, NULL);
	s->onlist = 0;
	s->remote = REMOTE_BIAS;
	s->centralCount = UINT32_MAX;
	s->dirtyPages = 0;
	nalloc__spanmap_set(h, s, s->base, s->npages);
	bits_set(BM_INUSE, s->base, s->npages, true);
	if (dirty)
		bits_set(BM_DIRTY, s->base, s->npages, true);
	CNT_ADD(&h->pages_in_use, s->npages);
	CNT_ADD(&h->spans_in_use, 1);
	if (large) {
		CNT_ADD(&h->large_allocs, 1);
		CNT_ADD(&h->large_bytes_in_use, (uint64_t)s->npages << PSHIFT);
	}
	STORE_REL(&s->state, (uint8_t)SPAN_LARGE);
}

static struct mspan *alloc_pages(struct mheap *h, size_t npages, size_t align_pages, bool large,
                                 bool dirty)
{
	if (align_pages == 0)
		align_pages = 1;
	size_t need = npages + align_pages - 1;
	if (need < npages || need > MAX_SPAN_PAGES)
		return NULL;
	nalloc__lock(&h->lock);
	struct mspan *s;
	while (!(s = find_free(h, need))) {
		if (!grow(h, need)) {
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
	} else if (s->npages != npages) {
		/* no metadata for the rest: a span must have its exact size */
		account_free_run(h, s, +1);
		free_run(h, s);
		nalloc__unlock(&h->lock);
		return NULL;
	}
	make_in_use(h, s, large, dirty);
	maybe_scavenge(h);
	nalloc__unlock(&h->lock);
	return s;
}

struct mspan *nalloc__mheap_alloc(struct mheap *h, size_t npages, size_t align_pages, bool large)
{
	return alloc_pages(h, npages, align_pages, large, true);
}

/* calloc's large block: only the pages that may hold data need zeroing.
 * Short dirty ranges are cleared, long ones go back to the OS (they read
 * as zero and cost memory again only where the caller touches them), so
 * calloc costs what it touches.  Done outside the heap lock: the span's
 * dirty bits change only under the lock, and no one else writes them
 * while the span is in use. */
struct mspan *nalloc__mheap_alloc_zeroed(struct mheap *h, size_t npages, size_t align_pages)
{
	struct mspan *s = alloc_pages(h, npages, align_pages, true, false);
	if (!s)
		return NULL;
	uintptr_t a = s->base, end = s->base + ((uintptr_t)npages << PSHIFT);
	uint64_t purged = 0;
	while ((a = bits_find(BM_DIRTY, a, end, true)) < end) {
		uintptr_t b = bits_find(BM_DIRTY, a, end, false);
		if (b - a >= ZERO_PURGE_MIN) {
			nalloc__os_purge((void *)a, b - a);
			purged += b - a;
		} else {
			memset((void *)a, 0, b - a);
		}
		a = b;
	}
	nalloc__lock(&h->lock);
	bits_set(BM_DIRTY, s->base, npages, true);
	CNT_ADD(&h->returned_bytes, purged);
	h->purged_for_zero += purged;
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
	bits_set(BM_INUSE, s->base, s->npages, false);
	CNT_ADD(&h->pages_in_use, -(uint64_t)(s->npages));
	CNT_ADD(&h->spans_in_use, (uint64_t)-1);
	if (s->spanclass == 0) {
		CNT_ADD(&h->large_frees, 1);
		CNT_ADD(&h->large_bytes_in_use, -(uint64_t)((uint64_t)s->npages << PSHIFT));
	}
	run->base = s->base;
	run->npages = s->npages;
	run->dirtyPages = s->npages; /* handed out: every page dirty */
	run->unusedSince = now;
	nalloc__spanmap_clear(h, s->base, s->npages);
	span_meta_free(h, s);
	CNT_ADD(&h->dirty_free_pages, run->dirtyPages);
	free_run(h, run);
	if (h->next_scavenge > now + nalloc__opt.return_delay_ms)
		STORE_RELAXED(&h->next_scavenge, now + nalloc__opt.return_delay_ms);
	maybe_scavenge(h);
	nalloc__unlock(&h->lock);
}

bool nalloc__mheap_grow_inplace(struct mheap *h, struct mspan *s, size_t npages)
{
	size_t need = npages - s->npages;
	nalloc__lock(&h->lock);
	uintptr_t end = s->base + ((uintptr_t)s->npages << PSHIFT);
	if (end == frontier(h) && !grow(h, need)) {
		nalloc__unlock(&h->lock);
		return false;
	}
	bool ok = false;
	struct mspan *r = free_run_starting_at(h, end);
	if (r && r->npages >= need) {
		remove_free(h, r);
		account_free_run(h, r, -1);
		struct mspan *rest = split_tail(h, r, need);
		if (rest) {
			account_free_run(h, rest, +1);
			free_run(h, rest);
		}
		if (r->npages == need) {
			nalloc__spanmap_set(h, s, end, need);
			bits_set(BM_INUSE, end, need, true);
			bits_set(BM_DIRTY, end, need, true);
			CNT_ADD(&h->pages_in_use, need);
			CNT_ADD(&h->large_bytes_in_use, (uint64_t)need << PSHIFT);
			s->npages = (uint32_t)npages;
			s->elemsize = s->npages << PSHIFT;
			span_meta_free(h, r);
			ok = true;
		} else { /* no metadata to split: put it back */
			account_free_run(h, r, +1);
			free_run(h, r);
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
		t->unusedSince = nalloc__now_ms();
		bits_set(BM_INUSE, t->base, tail, false);
		nalloc__spanmap_clear(h, t->base, tail);
		CNT_ADD(&h->pages_in_use, -(uint64_t)(tail));
		CNT_ADD(&h->large_bytes_in_use, -(uint64_t)((uint64_t)tail << PSHIFT));
		s->npages = (uint32_t)npages;
		s->elemsize = s->npages << PSHIFT;
		CNT_ADD(&h->dirty_free_pages, t->dirtyPages);
		free_run(h, t);
		if (h->next_scavenge > t->unusedSince + nalloc__opt.return_delay_ms)
			STORE_RELAXED(&h->next_scavenge, t->unusedSince + nalloc__opt.return_delay_ms);
	}
	nalloc__unlock(&h->lock);
}

int nalloc__mheap_init(struct mheap *h, int node, int os_node, size_t first_reserve)
{
	memset(h, 0, offsetof(struct mheap, central));
	h->node = node;
	h->os_node = os_node;
	h->first_reserve = first_reserve;
	h->next_scavenge = UINT64_MAX;
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
			uintptr_t end = s->base + ((uintptr_t)s->npages << PSHIFT);
			NALLOC_ASSERT(own_unit(h, s->base) && own_unit(h, end - PAGE));
			NALLOC_ASSERT(unit_rec(s->base)->spans[upage(s->base)] == s);
			NALLOC_ASSERT(unit_rec(end - PAGE)->spans[upage(end - PAGE)] == s);
			NALLOC_ASSERT(bits_count(BM_INUSE, s->base, s->npages) == 0);
			for (uintptr_t a = s->base + PAGE; a + PAGE < end; a += PAGE)
				NALLOC_ASSERT(unit_rec(a)->spans[upage(a)] == NULL);
			NALLOC_ASSERT(bits_count(BM_DIRTY, s->base, s->npages) == s->dirtyPages);
			/* coalesced: neighbours are not free runs */
			NALLOC_ASSERT(!free_run_ending_at(h, s->base));
			NALLOC_ASSERT(!free_run_starting_at(h, end));
			freepages += s->npages;
			dirty += s->dirtyPages;
		}
	}
	uint64_t committed = 0;
	for (uint32_t i = 0; i < h->next; i++) {
		NALLOC_ASSERT(h->ext[i].start <= h->ext[i].end);
		committed += h->ext[i].end - h->ext[i].start;
	}
	NALLOC_ASSERT(committed == h->mapped_bytes);
	NALLOC_ASSERT(!h->next || frontier(h) <= h->res_end);
	NALLOC_ASSERT(freepages + h->pages_in_use == committed >> PSHIFT);
	NALLOC_ASSERT(dirty == h->dirty_free_pages);
	nalloc__unlock(&h->lock);
}
