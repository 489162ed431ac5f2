/* test_mheap.c: the page allocator against a simple model: random allocations (with alignments), frees, in-place growth and shrinking; invariants checked throughout. */
#include "internal.h"
#include "unit_util.h"
#include <string.h>

#define ARENA ((size_t)1 << 30)
#define NPAGES (ARENA >> NALLOC_PAGE_SHIFT)
#define MAXLIVE 400

static struct mheap *h;
static struct mspan *live[MAXLIVE];
static unsigned char model[NPAGES]; /* 1: page in use, per the model */

static void model_mark(struct mspan *s, int v)
{
	size_t pg = (s->base - h->arena_start) >> NALLOC_PAGE_SHIFT;
	for (size_t i = 0; i < s->npages; i++) {
		if (v)
			CHECK(model[pg + i] == 0, "page %zu handed out twice", pg + i);
		model[pg + i] = (unsigned char)v;
	}
}

int main(void)
{
	nalloc__opt.return_delay_ms = 1000000;
	void *arena = nalloc__os_reserve(ARENA, (size_t)1 << 21);
	struct mspan **spans = nalloc__os_alloc(NPAGES * sizeof *spans);
	h = nalloc__os_alloc(sizeof *h);
	CHECK(arena && spans && h, "reservation");
	CHECK(nalloc__mheap_init(h, 0, 0, (uintptr_t)arena, ARENA, spans) == 0, "init");
	unsigned long long seed = 7;
	int nlive = 0;
	for (int step = 0; step < 20000; step++) {
		unsigned r = (unsigned)(unit_rand(&seed) % 100);
		if (r < 50 && nlive < MAXLIVE) {
			size_t np = 1 + unit_rand(&seed) % (unit_rand(&seed) % 8 == 0 ? 600 : 20);
			size_t al = unit_rand(&seed) % 10 == 0 ? ((size_t)1 << (unit_rand(&seed) % 8)) : 1;
			struct mspan *s = nalloc__mheap_alloc(h, np, al, true);
			CHECK(s != NULL, "alloc %zu pages failed", np);
			if (!s)
				continue;
			CHECK(s->npages == np, "got %u pages, asked %zu", s->npages, np);
			CHECK(((s->base - h->arena_start) & ((al << NALLOC_PAGE_SHIFT) - 1)) == 0 ||
			      ((s->base) & ((al << NALLOC_PAGE_SHIFT) - 1)) == 0,
			      "alignment %zu pages not honoured", al);
			CHECK(s->base % (al << NALLOC_PAGE_SHIFT) == 0, "alignment");
			CHECK(s->base >= h->arena_start && s->base + np * NALLOC_PAGE_SIZE <= h->arena_used,
			      "outside the committed arena");
			for (size_t i = 0; i < np; i++)
				CHECK(spans[((s->base - h->arena_start) >> NALLOC_PAGE_SHIFT) + i] == s,
				      "page map");
			model_mark(s, 1);
			/* touch first and last byte: committed memory */
			((char *)s->base)[0] = 1;
			((char *)s->base)[np * NALLOC_PAGE_SIZE - 1] = 1;
			live[nlive++] = s;
		} else if (r < 60 && nlive) {
			/* grow or shrink in place */
			int i = (int)(unit_rand(&seed) % (unsigned)nlive);
			struct mspan *s = live[i];
			size_t old = s->npages;
			if (unit_rand(&seed) & 1) {
				size_t np = old + 1 + unit_rand(&seed) % 16;
				model_mark(s, 0);
				bool ok = nalloc__mheap_grow_inplace(h, s, np);
				CHECK(!ok || s->npages == np, "grow result");
				model_mark(s, 1);
			} else if (old > 1) {
				size_t np = 1 + unit_rand(&seed) % (old - 1);
				model_mark(s, 0);
				nalloc__mheap_shrink(h, s, np);
				CHECK(s->npages == np, "shrink result");
				model_mark(s, 1);
			}
		} else if (nlive) {
			int i = (int)(unit_rand(&seed) % (unsigned)nlive);
			struct mspan *s = live[i];
			model_mark(s, 0);
			s->state = SPAN_FREE; /* as free() does before handing it back */
			nalloc__mheap_free(h, s);
			live[i] = live[--nlive];
		}
		if (step % 500 == 0)
			nalloc__mheap_check(h);
		/* model and bitmap agree on every committed page */
		if (step % 2000 == 0) {
			size_t used = (h->arena_used - h->arena_start) >> NALLOC_PAGE_SHIFT;
			for (size_t pg = 0; pg < used; pg++)
				CHECK(nalloc__mheap_page_in_use(h, h->arena_start + pg * NALLOC_PAGE_SIZE) ==
				          (model[pg] != 0),
				      "bitmap and model disagree at page %zu", pg);
		}
	}
	while (nlive) {
		struct mspan *s = live[--nlive];
		s->state = SPAN_FREE;
		nalloc__mheap_free(h, s);
	}
	nalloc__mheap_check(h);
	/* everything coalesced back into one run */
	size_t runs = 0;
	for (int i = 0; i < HEAP_FREE_LISTS; i++)
		for (struct mspan *s = h->free[i].first; s; s = s->next)
			runs++;
	CHECK(runs == 1, "%zu free runs after freeing everything", runs);
	CHECK(h->pages_in_use == 0, "pages in use %llu", (unsigned long long)h->pages_in_use);
	/* returning to the OS: all dirty pages go, counted */
	size_t back = nalloc__mheap_scavenge(h, nalloc__now_ms(), true);
	CHECK(back > 0 && h->dirty_free_pages == 0, "scavenge returned %zu", back);
	nalloc__mheap_check(h);
	/* an impossible request fails cleanly */
	CHECK(nalloc__mheap_alloc(h, NPAGES + 1, 1, true) == NULL, "oversized request");
	UNIT_DONE("test_mheap");
}
