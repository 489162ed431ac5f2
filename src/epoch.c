/* SPDX-License-Identifier: MIT */
/* epoch.c: nalloc's own RCU: epoch-based read-side sections and deferred reuse of span metadata.  see malloc.c
 *
 * A reader is a per-thread record holding the global epoch it entered its
 * outermost section at (0: not in a section).  Retiring an mspan stamps it
 * with the global epoch and advances that epoch; the struct may be reused
 * once every reader is either outside a section or entered after the stamp
 * (nalloc__epoch_safe).  Nobody ever waits for a reader: the metadata pool
 * asks how far reuse is safe and takes what is (mheap.c).
 *
 * Records live in chunks of fresh metadata that are never unmapped, linked
 * on one push-only list; a thread claims a free record with a CAS on first
 * use and gives it back from a pthread key destructor, so threads that
 * never allocated, TLS destructors and threads of the application's own
 * liburcu all work, and nothing here takes a lock.
 */
#include "internal.h"
#include <string.h>

struct reader {
	uint64_t epoch;          /* epoch at entry of the outermost section, 0
	                            outside: written by the owner (relaxed, then a
	                            fence), read by scanners (relaxed) */
	uint32_t nest;           /* section depth: owner only */
	int claimed;             /* 1 while a thread uses the record (CAS) */
	struct reader *next;     /* the list of all records: set before the
	                            record is published, then immutable */
} __attribute__((aligned(CACHELINE)));

#define READERS_PER_CHUNK (65536 / sizeof(struct reader))

static uint64_t global_epoch = 1;     /* atomic; only grows */
static struct reader *readers;        /* atomic push-only list head */
static uint64_t anon_readers;         /* sections of threads that got no
                                         record (out of memory): atomic */
static pthread_key_t reader_key;
static int reader_key_ok;             /* set once by init */
static __thread struct reader *tls_reader __attribute__((tls_model("initial-exec")));
static __thread uint32_t tls_anon_nest __attribute__((tls_model("initial-exec")));

static void reader_release(void *arg)
{
	struct reader *r = arg;
	if (r == NULL || r != tls_reader)
		return;
	NALLOC_ASSERT(r->nest == 0);
	tls_reader = NULL;
	STORE_RELAXED(&r->epoch, 0);
	STORE_REL(&r->claimed, 0);
}

void nalloc__epoch_init(void)
{
	/* glibc's first 32 keys live in the thread descriptor: no malloc */
	reader_key_ok = pthread_key_create(&reader_key, reader_release) == 0;
}

static struct reader *claim_existing(void)
{
	for (struct reader *r = LOAD_ACQ(&readers); r; r = r->next) {
		int expect = 0;
		if (LOAD_RELAXED(&r->claimed) == 0 &&
		    __atomic_compare_exchange_n(&r->claimed, &expect, 1, false, __ATOMIC_ACQUIRE,
		                                __ATOMIC_RELAXED))
			return r;
	}
	return NULL;
}

static NOINLINE struct reader *reader_register(void)
{
	struct reader *r = claim_existing();
	if (!r) {
		struct reader *chunk = nalloc__os_alloc(READERS_PER_CHUNK * sizeof *chunk);
		if (!chunk)
			return NULL;
		/* record 0 is ours; the chain goes on the list in one CAS */
		chunk[0].claimed = 1;
		for (size_t i = 0; i + 1 < READERS_PER_CHUNK; i++)
			chunk[i].next = &chunk[i + 1];
		struct reader *head = LOAD_RELAXED(&readers);
		do {
			chunk[READERS_PER_CHUNK - 1].next = head;
		} while (!__atomic_compare_exchange_n(&readers, &head, chunk, true, __ATOMIC_RELEASE,
		                                      __ATOMIC_RELAXED));
		r = &chunk[0];
	}
	tls_reader = r;
	if (LOAD_RELAXED(&reader_key_ok))
		pthread_setspecific(reader_key, r);
	return r;
}

void nalloc__rcu_read_lock(void)
{
	struct reader *r = tls_reader;
	if (unlikely(r == NULL) && (r = reader_register()) == NULL) {
		if (tls_anon_nest++ == 0) {
			ADD_RELAXED(&anon_readers, 1);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		}
		return;
	}
	if (r->nest++ == 0) {
		/* acquire: a section that sees an epoch sees every retirement
		 * stamped below it, with the page map entries it cleared */
		STORE_RELAXED(&r->epoch, LOAD_ACQ(&global_epoch));
		__atomic_thread_fence(__ATOMIC_SEQ_CST); /* epoch visible before reads */
	}
}

void nalloc__rcu_read_unlock(void)
{
	struct reader *r = tls_reader;
	if (unlikely(r == NULL)) {
		NALLOC_ASSERT(tls_anon_nest > 0);
		if (--tls_anon_nest == 0)
			__atomic_fetch_sub(&anon_readers, 1, __ATOMIC_RELEASE);
		return;
	}
	NALLOC_ASSERT(r->nest > 0);
	if (--r->nest == 0)
		STORE_REL(&r->epoch, 0);
}

bool nalloc__rcu_read_ongoing(void)
{
	return (tls_reader && tls_reader->nest) || tls_anon_nest;
}

/* The stamp for metadata retired now (the caller has already unpublished
 * it: cleared its page map entries).  Release: a reader that sees the new
 * epoch sees those stores. */
uint64_t nalloc__epoch_retire_stamp(void)
{
	return __atomic_fetch_add(&global_epoch, 1, __ATOMIC_ACQ_REL);
}

/* Metadata stamped below the returned epoch can no longer be read by any
 * section: lock-free, one pass over the reader records, never waits. */
uint64_t nalloc__epoch_safe(void)
{
	uint64_t safe = LOAD_ACQ(&global_epoch);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* pairs with the readers' fence */
	if (LOAD_RELAXED(&anon_readers))
		return 0;
	for (struct reader *r = LOAD_ACQ(&readers); r; r = r->next) {
		/* acquire: pairs with the release that ends a section, so what
		 * the section read happens before what reuse writes */
		uint64_t e = LOAD_ACQ(&r->epoch);
		if (e && e < safe)
			safe = e;
	}
	return safe;
}

/* fork child: the other threads are gone, and so are their sections */
void nalloc__epoch_fork_child(void)
{
	for (struct reader *r = LOAD_ACQ(&readers); r; r = r->next) {
		if (r == tls_reader)
			continue;
		r->nest = 0;
		STORE_RELAXED(&r->epoch, 0);
		STORE_RELAXED(&r->claimed, 0);
	}
	STORE_RELAXED(&anon_readers, tls_anon_nest ? 1 : 0);
}
