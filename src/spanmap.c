/* SPDX-License-Identifier: MIT */
/* spanmap.c: the arena-unit index over the address space and each unit's page -> span map.  see malloc.c
 *
 * Invariant: an entry is NULL or points at a span (in use or a free run)
 * that covers the entry's page.  In-use spans are entered on every page,
 * free runs on their first and last page.  So free() can trust that the
 * span it finds contains the pointer, and an mspan on the metadata free
 * list is never referenced from the map. */
#include "internal.h"

struct nalloc_globals nalloc__g;
uintptr_t nalloc__unit_table[ARENA_UNITS];
uint64_t nalloc__uncommitted_bytes;

static void set_range(struct mheap *h, struct mspan *s, uintptr_t base, size_t npages)
{
	NALLOC_ASSERT(nalloc__lock_held(&h->lock));
	while (npages) {
		struct arena_unit *u = nalloc__arena_unit(base);
		NALLOC_ASSERT(u && u->heap == h);
		size_t i = (base >> NALLOC_PAGE_SHIFT) & (UNIT_PAGES - 1);
		size_t k = UNIT_PAGES - i < npages ? UNIT_PAGES - i : npages;
		struct mspan **e = &u->spans[i];
		for (size_t j = 0; j < k; j++)
			STORE_REL(&e[j], s);
		base += k << NALLOC_PAGE_SHIFT;
		npages -= k;
	}
}

/* Point npages pages from base at s.  h->lock held. */
void nalloc__spanmap_set(struct mheap *h, struct mspan *s, uintptr_t base, size_t npages)
{
	set_range(h, s, base, npages);
}

/* Forget npages pages from base.  h->lock held. */
void nalloc__spanmap_clear(struct mheap *h, uintptr_t base, size_t npages)
{
	set_range(h, NULL, base, npages);
}

/* A free run is found from its neighbours through its first and last page. */
void nalloc__spanmap_set_ends(struct mheap *h, struct mspan *s)
{
	set_range(h, s, s->base, 1);
	set_range(h, s, s->base + ((uintptr_t)(s->npages - 1) << NALLOC_PAGE_SHIFT), 1);
}

/* Records for the units of [base, base + size) that have none yet, owned
 * by h and bound to its node; published before any span lies in them.
 * h->lock held.  Units are never given back: a record, once published,
 * stays valid for lock-free readers. */
int nalloc__spanmap_add_units(struct mheap *h, uintptr_t base, size_t size)
{
	NALLOC_ASSERT(nalloc__lock_held(&h->lock));
	uintptr_t first = base >> ARENA_UNIT_SHIFT, last = (base + size - 1) >> ARENA_UNIT_SHIFT;
	NALLOC_ASSERT(last < ARENA_UNITS);
	for (uintptr_t i = first; i <= last; i++) {
		if (LOAD_RELAXED(&nalloc__unit_table[i])) {
			/* reservations are whole units: one owner each */
			NALLOC_ASSERT(nalloc__arena_unit(i << ARENA_UNIT_SHIFT)->heap == h);
			continue;
		}
		struct arena_unit *u = nalloc__os_alloc(sizeof *u);
		if (u && (uintptr_t)u == UNIT_BIAS(i)) { /* its entry would read 0 */
			struct arena_unit *v = nalloc__os_alloc(sizeof *u);
			nalloc__os_free(u, sizeof *u);
			u = v;
		}
		if (!u)
			return -1;
		nalloc__bind_range(u, sizeof *u, h->node);
		u->heap = h;
		u->base = i << ARENA_UNIT_SHIFT;
		STORE_REL(&nalloc__unit_table[i], (uintptr_t)u - UNIT_BIAS(i));
	}
	return 0;
}
