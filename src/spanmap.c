/* spanmap.c: the page -> span map of every node's arena.  see malloc.c
 *
 * Invariant: an entry is NULL or points at a span (in use or a free run)
 * that covers the entry's page.  In-use spans are entered on every page,
 * free runs on their first and last page.  So free() can trust that the
 * span it finds contains the pointer, and an mspan on the metadata free
 * list is never referenced from the map. */
#include "internal.h"

struct nalloc_globals nalloc__g;

/* Point npages pages from base at s.  h->lock held. */
void nalloc__spanmap_set(struct mheap *h, struct mspan *s, uintptr_t base, size_t npages)
{
	NALLOC_ASSERT(nalloc__lock_held(&h->lock));
	size_t pg = (base - h->arena_start) >> NALLOC_PAGE_SHIFT;
	for (size_t i = 0; i < npages; i++)
		STORE_REL(&h->spans[pg + i], s);
}

/* Forget npages pages from base.  h->lock held. */
void nalloc__spanmap_clear(struct mheap *h, uintptr_t base, size_t npages)
{
	NALLOC_ASSERT(nalloc__lock_held(&h->lock));
	size_t pg = (base - h->arena_start) >> NALLOC_PAGE_SHIFT;
	for (size_t i = 0; i < npages; i++)
		STORE_REL(&h->spans[pg + i], NULL);
}

/* A free run is found from its neighbours through its first and last page. */
void nalloc__spanmap_set_ends(struct mheap *h, struct mspan *s)
{
	NALLOC_ASSERT(nalloc__lock_held(&h->lock));
	size_t pg = (s->base - h->arena_start) >> NALLOC_PAGE_SHIFT;
	STORE_REL(&h->spans[pg], s);
	STORE_REL(&h->spans[pg + s->npages - 1], s);
}

/* Reserve the arenas of nnodes nodes and the page map covering them.
 * Halves the per-node size until the reservation succeeds (ulimit -v).
 * Returns the per-node size's log2, or -1. */
int nalloc__spanmap_reserve(size_t per_node, int nnodes)
{
	unsigned shift = 63 - (unsigned)__builtin_clzll(per_node);
	for (; shift >= 28; shift--) {
		size_t each = (size_t)1 << shift, total = each * (size_t)nnodes;
		void *arena = nalloc__os_reserve(total, (size_t)2 << 20);
		if (!arena)
			continue;
		void *map = nalloc__os_alloc((total >> NALLOC_PAGE_SHIFT) * sizeof(struct mspan *));
		if (!map) {
			nalloc__os_free(arena, total);
			continue;
		}
		nalloc__g.arena_base = (uintptr_t)arena;
		nalloc__g.spans = map;
		nalloc__g.arena_shift = shift;
		/* arena_total is published last, by init, once the heaps exist */
		return (int)shift;
	}
	return -1;
}
