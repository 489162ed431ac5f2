/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_malloc.c: libFuzzer target driving nalloc's own code
 * (renamed entry points, nalloc_test_*) with random sequences of malloc,
 * calloc, realloc (growing and shrinking across the 32 KiB small/large
 * boundary), posix_memalign / aligned_alloc / memalign with power-of-two
 * alignments up to 1 MiB, free, malloc_usable_size, and blocks handed to a
 * second thread that checks and frees them.  A shadow model of every live
 * block (size, alignment, fill pattern) checks contents, alignment, usable
 * size and calloc zeroing (recycled memory too) at every step; a mismatch
 * aborts, so libFuzzer keeps the input.  Built with -fsanitize=fuzzer,address
 * (the harness's own memory is ASan's).  see src/malloc.c
 *
 * Input: a sequence of records, 4 bytes each: op, slot, size bytes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nalloc_renamed.h"

#define NSLOT 32
#define QCAP 64
#define BOUNDARY 32768

struct blk {
	unsigned char *p;
	size_t n;      /* requested size */
	size_t align;  /* requested alignment (16 for plain allocations) */
	uint8_t seed;
};

static struct blk slots[NSLOT];

/* ---- the second thread: checks and frees what it is given */
static pthread_mutex_t qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcv = PTHREAD_COND_INITIALIZER, qdone = PTHREAD_COND_INITIALIZER;
static struct blk q[QCAP];
static unsigned qn, qbusy;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void die(const char *what, const struct blk *b, size_t i)
{
	fprintf(stderr, "fuzz_malloc: %s: block %p size %zu align %zu at byte %zu\n", what, (void *)b->p, b->n,
	        b->align, i);
	abort();
}

/* Block contents: bytes seed .. seed + n of a fixed random buffer, so that
 * fill and check are one memcpy / memcmp each (fast enough to check every
 * byte of every block) and a block's bytes differ from its neighbours'. */
#define PATTERN_MAX ((size_t)4 << 20)
static unsigned char pattern[PATTERN_MAX + 256];
static const unsigned char zeros[65536];

static void fill(struct blk *b)
{
	memcpy(b->p, pattern + b->seed, b->n);
}

static void check(const struct blk *b, size_t upto, const char *what)
{
	if (upto > b->n)
		upto = b->n;
	if (memcmp(b->p, pattern + b->seed, upto) != 0) {
		size_t i = 0;
		while (b->p[i] == pattern[b->seed + i])
			i++;
		die(what, b, i);
	}
}

static void check_block(const struct blk *b)
{
	if (((uintptr_t)b->p & (b->align - 1)) != 0)
		die("misaligned", b, 0);
	size_t u = nalloc_test_malloc_usable_size(b->p);
	if (u < b->n)
		die("usable size below the request", b, u);
	if (nalloc_node_of(b->p) < 0)
		die("not nalloc's block", b, 0);
}

static void release(struct blk *b)
{
	check(b, b->n, "contents changed before free");
	check_block(b);
	nalloc_test_free(b->p);
	b->p = NULL;
}

static void *freer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&qmu);
	for (;;) {
		while (!qn)
			pthread_cond_wait(&qcv, &qmu);
		struct blk b = q[--qn];
		qbusy = 1;
		pthread_mutex_unlock(&qmu);
		release(&b);
		pthread_mutex_lock(&qmu);
		qbusy = 0;
		if (!qn)
			pthread_cond_broadcast(&qdone);
	}
	return NULL;
}

static void start(void)
{
	uint64_t r = 0x2545f4914f6cdd1dULL;
	for (size_t i = 0; i < sizeof pattern; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		pattern[i] = (unsigned char)(r >> 24);
	}
	pthread_t t;
	if (pthread_create(&t, NULL, freer, NULL))
		abort();
	pthread_detach(t);
}

static void hand_over(struct blk *b)
{
	pthread_mutex_lock(&qmu);
	while (qn == QCAP)
		pthread_cond_wait(&qdone, &qmu);
	q[qn++] = *b;
	pthread_cond_signal(&qcv);
	pthread_mutex_unlock(&qmu);
	b->p = NULL;
}

static void drain(void)
{
	pthread_mutex_lock(&qmu);
	while (qn || qbusy)
		pthread_cond_wait(&qdone, &qmu);
	pthread_mutex_unlock(&qmu);
}

/* sizes: mostly small, many near the small/large boundary, some large */
static size_t pick_size(uint8_t a, uint8_t b)
{
	unsigned v = (unsigned)a << 8 | b;
	switch (a >> 6) {
	case 0:
		return v & 0x1ff;                         /* 0 .. 511 */
	case 1:
		return (v & 0x3fff) * 2 + (b & 1);        /* 0 .. 32 KiB */
	case 2:
		return BOUNDARY - 2048 + (v & 0xfff);    /* the boundary +- 2 KiB */
	default:
		return (size_t)(b + 1) << (6 + (a & 15) % 9); /* 64 B .. 4 MiB, log-spread */
	}
}

static void calloc_check(const struct blk *b)
{
	for (size_t i = 0; i < b->n; i += sizeof zeros) {
		size_t k = b->n - i < sizeof zeros ? b->n - i : sizeof zeros;
		if (memcmp(b->p + i, zeros, k) != 0)
			die("calloc memory not zero", b, i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pthread_once(&once, start);
	for (size_t k = 0; k + 4 <= size; k += 4) {
		uint8_t op = data[k], si = data[k + 1];
		struct blk *b = &slots[si % NSLOT];
		size_t n = pick_size(data[k + 2], data[k + 3]);
		uint8_t seed = (uint8_t)(data[k + 2] * 7 + data[k + 3] + k);
		if (b->p) {
			switch (op % 8) {
			case 0: case 1:
				release(b);
				break;
			case 2: case 3: { /* realloc, prefix kept */
				size_t keep = b->n < n ? b->n : n;
				unsigned char *np = nalloc_test_realloc(b->p, n);
				if (!np) {
					if (n == 0) { /* realloc(p, 0) freed p (as glibc does) */
						b->p = NULL;
						break;
					}
					die("realloc failed", b, n);
				}
				b->p = np;
				check(b, keep, "realloc lost the prefix");
				b->n = n;
				b->align = 16;
				check_block(b);
				fill(b);
				break;
			}
			case 4: /* the usable size is usable: write up to it */
				check_block(b);
				{
					size_t u = nalloc_test_malloc_usable_size(b->p);
					if (u > b->n && u - b->n < (1 << 16))
						memset(b->p + b->n, 0xee, u - b->n);
				}
				check(b, b->n, "contents changed");
				break;
			case 5:
				hand_over(b);
				break;
			default:
				check(b, b->n, "contents changed");
				break;
			}
			continue;
		}
		b->seed = seed;
		b->n = n;
		b->align = 16;
		switch (op % 8) {
		case 0: case 1:
			b->p = nalloc_test_malloc(n);
			break;
		case 2: { /* calloc: zero, also of recycled memory */
			size_t m = 1 + (op >> 3) % 8;
			b->n = n / m * m;
			b->p = nalloc_test_calloc(m, n / m);
			if (b->p)
				calloc_check(b);
			break;
		}
		case 3: case 4: { /* posix_memalign, power-of-two alignments up to 1 MiB */
			size_t al = (size_t)1 << ((op >> 3) % 21);
			void *p = (void *)1;
			int rc = nalloc_test_posix_memalign(&p, al, n);
			if (al < sizeof(void *)) {
				if (rc != EINVAL || p != (void *)1)
					die("posix_memalign accepted a bad alignment", b, al);
				break;
			}
			if (rc)
				die("posix_memalign failed", b, al);
			b->p = p;
			b->align = al < 16 ? 16 : al;
			break;
		}
		case 5: { /* aligned_alloc */
			size_t al = (size_t)1 << ((op >> 3) % 21);
			b->p = nalloc_test_aligned_alloc(al, n);
			b->align = al < 16 ? 16 : al;
			break;
		}
		case 6: { /* memalign */
			size_t al = (size_t)1 << ((op >> 3) % 21);
			b->p = nalloc_test_memalign(al, n);
			b->align = al < 16 ? 16 : al;
			break;
		}
		default:
			b->p = nalloc_test_realloc(NULL, n);
			break;
		}
		if (!b->p)
			continue;
		check_block(b);
		fill(b);
	}
	for (unsigned i = 0; i < NSLOT; i++)
		if (slots[i].p)
			release(&slots[i]);
	drain();
	return 0;
}
