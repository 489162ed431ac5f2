/* SPDX-License-Identifier: MIT */
/* test_mheap.c: the page allocator against a simple model: random allocations (with alignments), frees, in-place growth and shrinking over a heap whose first reservation is one arena unit (so it grows by more reservations); invariants checked throughout; dirty-page tracking and calloc's zeroing. */
#include "internal.h"
#include "unit_util.h"
#include <string.h>

#define MAXLIVE 400
#define MODEL_SLOTS ((size_t)1 << 20) /* pages in use at most ~240k */

static struct mheap *h;
static struct mspan *live[MAXLIVE];
static uintptr_t model[MODEL_SLOTS]; /* open addressing: in-use page addresses */

static size_t slot_of(uintptr_t a)
{
	size_t i = (size_t)((a >> NALLOC_PAGE_SHIFT) * 0x9E3779B97F4A7C15ULL >> 44) & (MODEL_SLOTS - 1);
	while (model[i] && model[i] != a)
		i = (i + 1) & (MODEL_SLOTS - 1);
	return i;
}

static bool model_has(uintptr_t a)
{
	return model[slot_of(a)] == a;
}

static void model_del(uintptr_t a)
{
	size_t i = slot_of(a);
	CHECK(model[i] == a, "page %#lx not in the model", (unsigned long)a);
	model[i] = 0;
	/* re-insert the cluster after it */
	for (size_t j = (i + 1) & (MODEL_SLOTS - 1); model[j]; j = (j + 1) & (MODEL_SLOTS - 1)) {
		uintptr_t v = model[j];
		model[j] = 0;
		model[slot_of(v)] = v;
	}
}

static void model_mark(struct mspan *s, int v)
{
	for (size_t i = 0; i < s->npages; i++) {
		uintptr_t a = s->base + (i << NALLOC_PAGE_SHIFT);
		if (v) {
			size_t k = slot_of(a);
			CHECK(model[k] != a, "page %#lx handed out twice", (unsigned long)a);
			model[k] = a;
		} else {
			model_del(a);
		}
	}
}

static size_t free_runs(void)
{
	size_t runs = 0;
	for (int i = 0; i < HEAP_FREE_LISTS; i++)
		for (struct mspan *s = h->free[i].first; s; s = s->next)
			runs++;
	return runs;
}

static void random_churn(void)
{
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
			CHECK(s->base % (al << NALLOC_PAGE_SHIFT) == 0, "alignment %zu pages not honoured", al);
			for (size_t i = 0; i < np; i++)
				CHECK(nalloc__span_of((void *)(s->base + (i << NALLOC_PAGE_SHIFT))) == s, "page map");
			CHECK(nalloc__heap_of((void *)s->base) == h, "heap of");
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
			for (uint32_t e = 0; e < h->next; e++)
				for (uintptr_t a = h->ext[e].start; a < h->ext[e].end; a += NALLOC_PAGE_SIZE)
					CHECK(nalloc__mheap_page_in_use(h, a) == model_has(a),
					      "bitmap and model disagree at %#lx", (unsigned long)a);
		}
	}
	while (nlive) {
		struct mspan *s = live[--nlive];
		model_mark(s, 0);
		s->state = SPAN_FREE;
		nalloc__mheap_free(h, s);
	}
}

static void free_span(struct mspan *s)
{
	s->state = SPAN_FREE;
	nalloc__mheap_free(h, s);
}

int main(void)
{
	nalloc__opt.return_delay_ms = 1000000;
	h = nalloc__os_alloc(sizeof *h);
	CHECK(h != NULL, "heap");
	/* first reservation: one 64 MiB unit; the churn needs more */
	CHECK(nalloc__mheap_init(h, 0, 0, ARENA_UNIT) == 0, "init");
	random_churn();
	nalloc__mheap_check(h);
	printf("churn: %u extents, %llu MiB reserved, %llu MiB committed\n", h->next,
	       (unsigned long long)h->reserved_bytes >> 20, (unsigned long long)h->mapped_bytes >> 20);
	CHECK(h->reserved_bytes > ARENA_UNIT, "the heap never grew past its first reservation");
	/* everything coalesced: one run per contiguous committed range */
	CHECK(free_runs() <= h->next, "%zu free runs after freeing everything, %u extents", free_runs(),
	      h->next);
	CHECK(h->pages_in_use == 0, "pages in use %llu", (unsigned long long)h->pages_in_use);
	/* returning to the OS: all dirty pages go, counted */
	size_t back = nalloc__mheap_scavenge(h, nalloc__now_ms(), true);
	CHECK(back > 0 && h->dirty_free_pages == 0, "scavenge returned %zu", back);
	nalloc__mheap_check(h);

	/* a block larger than everything reserved so far: a new reservation,
	 * contiguous or not, holds it whole */
	size_t big = (h->reserved_bytes + ((size_t)64 << 20)) >> NALLOC_PAGE_SHIFT;
	struct mspan *b = nalloc__mheap_alloc(h, big, 1, true);
	CHECK(b != NULL && b->npages == big, "block of %zu pages past the reservations", big);
	if (b) {
		CHECK(nalloc__span_of((void *)(b->base + ((big - 1) << NALLOC_PAGE_SHIFT))) == b, "last page");
		free_span(b);
	}
	nalloc__mheap_check(h);

	/* dirty tracking: a freed block's pages are dirty, fresh pages not;
	 * a zeroed allocation over both reads zero everywhere */
	nalloc__mheap_scavenge(h, nalloc__now_ms(), true);
	struct mspan *d = nalloc__mheap_alloc(h, 64, 1, true);
	CHECK(d != NULL, "alloc");
	memset((void *)d->base, 0x5a, 64 * NALLOC_PAGE_SIZE);
	uintptr_t dbase = d->base;
	free_span(d);
	CHECK(h->dirty_free_pages == 64, "dirty free pages %llu after one free of 64",
	      (unsigned long long)h->dirty_free_pages);
	nalloc__mheap_check(h);
	struct mspan *z = nalloc__mheap_alloc_zeroed(h, 512, 1);
	CHECK(z != NULL, "zeroed alloc");
	if (z) {
		CHECK(z->base <= dbase && dbase < z->base + (512 << NALLOC_PAGE_SHIFT),
		      "the zeroed block does not reuse the dirty pages (test assumption)");
		for (size_t i = 0; i < 512 * NALLOC_PAGE_SIZE; i += 512)
			if (((unsigned char *)z->base)[i]) {
				CHECK(0, "byte %zu of a zeroed block is %d", i, ((unsigned char *)z->base)[i]);
				break;
			}
		CHECK(h->dirty_free_pages == 0, "dirty pages left free: %llu",
		      (unsigned long long)h->dirty_free_pages);
		free_span(z);
		CHECK(h->dirty_free_pages == 512, "freed block: %llu dirty",
		      (unsigned long long)h->dirty_free_pages);
	}
	nalloc__mheap_check(h);
	/* an impossible request fails cleanly */
	CHECK(nalloc__mheap_alloc(h, (size_t)1 << 40, 1, true) == NULL, "oversized request");
	nalloc__mheap_check(h);
	UNIT_DONE("test_mheap");
}
