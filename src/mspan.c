/* SPDX-License-Identifier: MIT */
/* mspan.c: a span's bitmaps, its allocation cursor and span lists.  see malloc.c */
#include "internal.h"
#include <string.h>

/* Every mcache slot starts here: allocCache == 0 sends malloc to the slow
 * path, owner == NULL matches no mcache, nelems == 0 holds nothing. */
struct mspan nalloc__empty_span; /* allocCache 0: never used */

static inline uint64_t word_mask(const struct mspan *s, uint32_t w)
{
	uint32_t left = s->nelems - w * 64;
	return left >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << left) - 1);
}

/* Turn a fresh in-use span from the heap into a span of class cls.
 * The caller owns s (it is not yet reachable by any mcache). */
void nalloc__mspan_init_small(struct mspan *s, int cls)
{
	NALLOC_ASSERT(cls > 0 && cls < NALLOC_NUM_CLASSES);
	NALLOC_ASSERT(s->npages == nalloc__class_npages[cls]);
	s->elemsize = nalloc__class_size[cls];
	s->nelems = nalloc__class_nelems[cls];
	s->divmagic = nalloc__class_divmagic[cls];
	s->nwords = (uint16_t)((s->nelems + 63) / 64);
	for (int w = 0; w < BITMAP_WORDS; w++) {
		STORE_RELAXED(&s->allocBits[w], 0);
		STORE_RELAXED(&s->remoteBits[w], 0);
	}
	STORE_RELAXED(&s->remote, REMOTE_BIAS);
	STORE_RELAXED(&s->centralCount, UINT32_MAX);
	STORE_RELAXED(&s->pendingNext, NULL);
	STORE_RELAXED(&s->owner, NULL);
	s->freeindex = 0;
	s->cacheBits = NULL;
	STORE_RELAXED(&s->allocCache, 0);
	STORE_REL(&s->spanclass, (uint8_t)cls);
	STORE_REL(&s->state, (uint8_t)SPAN_SMALL);
}

/* allocCache ran out: load the next 64-bit word of allocBits that has a free
 * object.  Returns false when the span has no free object past freeindex. */
bool nalloc__mspan_next_window(struct mspan *s)
{
	NALLOC_ASSERT((s->freeindex & 63) == 0 || s->freeindex == s->nelems);
	if (likely(s->nwords == 1)) {
		/* classes of 128 B and more: the only word, once per rewind */
		uint64_t freebits = 0;
		if (s->freeindex == 0)
			freebits = ~LOAD_RELAXED(&s->allocBits[0]) & word_mask(s, 0);
		s->freeindex = s->nelems;
		s->cacheBits = freebits ? &s->allocBits[0] : NULL;
		s->cacheAddr = s->base;
		STORE_RELAXED(&s->allocCache, freebits);
		return freebits != 0;
	}
	for (uint32_t idx = s->freeindex; idx < s->nelems; idx += 64) {
		uint32_t w = idx >> 6;
		uint64_t freebits = ~LOAD_RELAXED(&s->allocBits[w]) & word_mask(s, w);
		if (freebits) {
			s->freeindex = (uint16_t)(idx + 64);
			s->cacheBits = &s->allocBits[w];
			s->cacheAddr = s->base + (uintptr_t)idx * s->elemsize;
			STORE_RELAXED(&s->allocCache, freebits);
			return true;
		}
	}
	s->freeindex = s->nelems;
	s->cacheBits = NULL;
	STORE_RELAXED(&s->allocCache, 0);
	return false;
}

/* Start the cursor again from object 0 (after frees made room). */
void nalloc__mspan_rewind(struct mspan *s)
{
	s->freeindex = 0;
	s->cacheBits = NULL;
	STORE_RELAXED(&s->allocCache, 0);
}

/* Apply remote frees to allocBits.  Caller: the owner, or the mcentral lock
 * holder for an uncached span.  Returns the number of objects freed. */
uint32_t nalloc__mspan_sweep(struct mspan *s)
{
	uint32_t total = 0;
	for (;;) {
		uint32_t n = 0;
		for (uint32_t w = 0; w < s->nwords; w++) {
			if (!LOAD_RELAXED(&s->remoteBits[w]))
				continue;
			uint64_t f = __atomic_exchange_n(&s->remoteBits[w], 0, __ATOMIC_ACQ_REL);
			uint64_t bits = LOAD_RELAXED(&s->allocBits[w]);
			uint64_t bad = f & ~bits;
			while (unlikely(bad)) {
				/* freed remotely and also freed by the owner */
				uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bad);
				nalloc__report(ERR_DOUBLE_FREE, (void *)(s->base + (uintptr_t)i * s->elemsize), s);
				bad &= bad - 1;
			}
			STORE_RELAXED(&s->allocBits[w], bits & ~f);
			n += nalloc__popcount64(f);
		}
		int32_t after = nalloc__remote_count(__atomic_sub_fetch(&s->remote, n, __ATOMIC_ACQ_REL));
		total += n;
		/* after > 0: frees counted whose bits we have not seen yet; their
		 * bits are set before they count, so another pass finds them.
		 * after < 0: freers between their two atomics, seen already.
		 * A pass that finds nothing while after > 0 can only follow a
		 * fork that stopped a sweeper after it took the bits: give up
		 * (the span then never counts as free, so it is never released) */
		if (after <= 0 || n == 0)
			break;
	}
	return total;
}

/* Free the objects of mask m in word w of s on behalf of a thread that does
 * not own s: lock-free.  The caller checked their allocBits bits were set,
 * so the objects keep s filed until the count lands (after it, s is not
 * ours to read: what notify needs is read first).  Two atomics: the bits
 * (nalloc__mspan_remote_mark), then the count (nalloc__mspan_remote_count);
 * a sweep may come between them.  The first such free since the last sweep
 * queues the span; the one that frees the last object of an uncached span
 * drains it so its pages go back. */
void nalloc__mspan_remote_free(struct mspan *s, uint32_t w, uint64_t m)
{
	struct mcentral *mc = s->central;
	uint32_t cc = LOAD_RELAXED(&s->centralCount);
	m = nalloc__mspan_remote_mark(s, w, m);
	if (m)
		nalloc__mspan_remote_count(s, mc, cc, nalloc__popcount64(m));
}

/* Set the objects' remoteBits; returns the mask of those newly set (the
 * others were freed remotely twice before a sweep: reported). */
uint64_t nalloc__mspan_remote_mark(struct mspan *s, uint32_t w, uint64_t m)
{
	uint64_t old = __atomic_fetch_or(&s->remoteBits[w], m, __ATOMIC_ACQ_REL);
	if (unlikely(old & m)) {
		for (uint64_t dup = old & m; dup; dup &= dup - 1) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(dup);
			nalloc__report(ERR_DOUBLE_FREE, (void *)(s->base + (uintptr_t)i * s->elemsize), s);
		}
		m &= ~old;
	}
	return m;
}

/* Count k marked frees; mc and cc (centralCount) were read before the
 * mark, while the objects pinned the span. */
void nalloc__mspan_remote_count(struct mspan *s, struct mcentral *mc, uint32_t cc, uint32_t k)
{
	uint64_t r = LOAD_RELAXED(&s->remote), n;
	do {
		/* the first free since the last sweep queues the span; so does
		 * one that a sweep met between our two atomics (count < 0) */
		n = r + k;
		if (nalloc__remote_count(r) <= 0 && !(r & REMOTE_QUEUED))
			n |= REMOTE_QUEUED;
	} while (!__atomic_compare_exchange_n(&s->remote, &r, n, true, __ATOMIC_ACQ_REL,
	                                      __ATOMIC_RELAXED));
	if (unlikely((n & ~r & REMOTE_QUEUED) || (uint32_t)nalloc__remote_count(n) == cc ||
	             nalloc__remote_count(r) < 0))
		nalloc__mcentral_notify(s, mc, r, n, cc);
}

/* Objects allocated per allocBits.  Debian's x86-64 baseline has no
 * popcnt instruction, so __builtin_popcountll is a libgcc call; CPUs that
 * have it (all since 2008) get a version compiled for it. */
static ALWAYS_INLINE uint32_t count_words(const struct mspan *s)
{
	uint32_t n = 0;
	for (uint32_t w = 0; w < s->nwords; w++)
		n += (uint32_t)__builtin_popcountll(LOAD_RELAXED(&s->allocBits[w]));
	return n;
}

#if defined(__x86_64__)
__attribute__((target("popcnt"))) static uint32_t count_popcnt(const struct mspan *s)
{
	return count_words(s);
}
#endif

static uint32_t count_generic(const struct mspan *s)
{
	return count_words(s);
}

int nalloc__have_popcnt = -1; /* lazily set, any thread: relaxed atomics */

static int have_popcnt(void)
{
	int have = LOAD_RELAXED(&nalloc__have_popcnt);
#if defined(__x86_64__)
	if (unlikely(have < 0)) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("popcnt") ? 1 : 0;
		STORE_RELAXED(&nalloc__have_popcnt, have);
	}
#endif
	return have;
}

uint32_t nalloc__mspan_count_words(const struct mspan *s)
{
#if defined(__x86_64__)
	if (likely(have_popcnt() > 0))
		return count_popcnt(s);
#endif
	return count_generic(s);
}

uint32_t nalloc__popcount64_slow(uint64_t v)
{
	(void)have_popcnt(); /* the next calls take the inline popcnt */
	return (uint32_t)__builtin_popcountll(v);
}

/* ---------------------------------------------------------------- lists */
/* Caller holds the lock protecting l. */

void nalloc__spanlist_push(struct spanlist *l, struct mspan *s)
{
	s->prev = NULL;
	s->next = l->first;
	if (l->first)
		l->first->prev = s;
	else
		l->last = s;
	l->first = s;
	l->n++;
}

void nalloc__spanlist_push_last(struct spanlist *l, struct mspan *s)
{
	s->next = NULL;
	s->prev = l->last;
	if (l->last)
		l->last->next = s;
	else
		l->first = s;
	l->last = s;
	l->n++;
}

void nalloc__spanlist_remove(struct spanlist *l, struct mspan *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		l->first = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		l->last = s->prev;
	s->next = s->prev = NULL;
	l->n--;
}

struct mspan *nalloc__spanlist_pop(struct spanlist *l)
{
	struct mspan *s = l->first;
	if (s)
		nalloc__spanlist_remove(l, s);
	return s;
}
