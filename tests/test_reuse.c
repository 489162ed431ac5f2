/* SPDX-License-Identifier: MIT */
/* tests/test_reuse.c: a block its owner frees is handed out again soon.
 *
 * malloc takes the lowest free object of its current bitmap word, read
 * afresh each time (src/malloc.c, MALLOC), so a block freed by the thread
 * that allocated it comes back at the next malloc of its class while its
 * cache lines are hot, and a thread that keeps only a few blocks of a class
 * at a time keeps touching the same few (the same pages: what a server
 * thread that allocates and frees one request's buffers keeps resident).
 * Checked for every size class, in a fresh thread and in the main thread:
 *   - malloc, free, malloc gives the same block back;
 *   - 1000 rounds of two mallocs and their frees touch two blocks;
 *   - a block freed among live ones is handed out before any new one when
 *     it lies in the word being allocated from.
 * Against the old cursor (a window copied from the bitmap word, handing out
 * every object of the span before coming back) each gave new blocks.
 * Exit 0 pass, 1 fail.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"

#define KiB ((size_t)1024)

/* sizes from 16 B to 32 KiB: every small class's range is met */
static size_t size_at(int i)
{
	size_t s = 16;
	for (int k = 0; k < i; k++)
		s += s / 8 + 8;
	return s;
}

static void check_size(size_t n, const char *who)
{
	/* malloc, free, malloc: the same block */
	char *p = malloc(OPAQUE(n));
	CHECK(p != NULL, "%s: malloc(%zu)", who, n);
	if (!p)
		return;
	memset(p, 0x5a, n);
	free(p);
	char *q = malloc(OPAQUE(n));
	CHECK_NALLOC(q == p, "%s: malloc(%zu) after its free gave %p, not the freed %p", who, n,
	             (void *)q, (void *)p);
	free(q);

	/* two live at a time for 1000 rounds: two blocks */
	void *seen[3] = {0};
	int nseen = 0, extra = 0;
	for (int r = 0; r < 1000; r++) {
		void *a = malloc(OPAQUE(n)), *b = malloc(OPAQUE(n));
		CHECK(a && b, "%s: malloc(%zu) round %d", who, n, r);
		void *v[2] = {a, b};
		for (int k = 0; k < 2; k++) {
			int j = 0;
			while (j < nseen && seen[j] != v[k])
				j++;
			if (j == nseen) {
				if (nseen < 3)
					seen[nseen++] = v[k];
				else
					extra++;
			}
		}
		memset(a, 1, n);
		memset(b, 2, n);
		free(a);
		free(b);
	}
	CHECK_NALLOC(nseen + extra <= 2,
	             "%s: size %zu: two blocks live at a time, %d distinct blocks used", who, n,
	             nseen + extra);

	/* a hole among live blocks of the current word is filled first */
	enum { N = 8 };
	char *b[N];
	for (int i = 0; i < N; i++)
		b[i] = malloc(OPAQUE(n));
	/* the last two were allocated one after the other from one span: the
	 * word being allocated from holds the last one */
	free(b[N - 1]);
	char *c = malloc(OPAQUE(n));
	CHECK_NALLOC(c == b[N - 1], "%s: size %zu: freed %p among live blocks, got %p", who, n,
	             (void *)b[N - 1], (void *)c);
	b[N - 1] = c;
	for (int i = 0; i < N; i++)
		free(b[i]);
}

static void check_all(const char *who)
{
	for (int i = 0; size_at(i) <= 32 * KiB; i++)
		check_size(size_at(i), who);
}

static void *thread_main(void *arg)
{
	(void)arg;
	check_all("fresh thread");
	return NULL;
}

int main(void)
{
	t_init("test_reuse");
	pthread_t t;
	CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0, "pthread_create");
	pthread_join(t, NULL);
	check_all("main thread");
	return t_finish("test_reuse");
}
