/* SPDX-License-Identifier: MIT */
/* init.c: start-up, the bootstrap region, locks' slow path, fork.  see malloc.c */
#include "internal.h"
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static nalloc__lock_t init_lock;
static __thread int tls_in_init __attribute__((tls_model("initial-exec")));
static int init_failed;

/* ---------------------------------------------------------------- locks */
/* Spin a little (a holder on another CPU is about to let go), then mark
 * the lock contended (2) and sleep on it: the unlocker wakes one sleeper.
 * A holder descheduled on an oversubscribed machine costs its waiters no
 * CPU.  The 2 stays until an unlock: a woken waiter takes the lock as 2,
 * since others may still sleep. */
NOINLINE void nalloc__lock_slow(nalloc__lock_t *l)
{
	for (int spins = 0; spins < 100; spins++) {
		int expect = 0;
		if (LOAD_RELAXED(&l->v) == 0 &&
		    __atomic_compare_exchange_n(&l->v, &expect, 1, false, __ATOMIC_ACQUIRE,
		                                __ATOMIC_RELAXED))
			goto got;
		__builtin_ia32_pause();
	}
	while (__atomic_exchange_n(&l->v, 2, __ATOMIC_ACQUIRE) != 0)
		syscall(SYS_futex, &l->v, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
got:
	STORE_RELAXED(&l->contended, l->contended + 1);
}

NOINLINE void nalloc__lock_wake(nalloc__lock_t *l)
{
	syscall(SYS_futex, &l->v, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ---------------------------------------------------------------- bootstrap */
/* Allocations made while nalloc itself initialises (hwloc, libc, the
 * dynamic loader) come from here.  They are never reused: free ignores
 * them, realloc copies them out.  Each block has a 16-byte size header. */
#define BOOT_SIZE ((size_t)1 << 20)
#define BOOT_EXTRA 16
static char boot_area[BOOT_SIZE] __attribute__((aligned(4096)));
static size_t boot_used;                     /* atomic bump */
static struct {
	uintptr_t start, end, used;
} boot_extra[BOOT_EXTRA];                    /* overflow chunks: boot_lock */
static int boot_nextra;
static nalloc__lock_t boot_lock;

static void *boot_place(uintptr_t start, size_t size)
{
	((size_t *)start)[-2] = size;
	return (void *)start;
}

void *nalloc__bootstrap_alloc(size_t size, size_t align)
{
	if (align < 16)
		align = 16;
	if (size > ((size_t)1 << 40) || align > ((size_t)1 << 30)) {
		errno = ENOMEM;
		return NULL;
	}
	size_t cur = LOAD_RELAXED(&boot_used);
	for (;;) {
		uintptr_t start = ((uintptr_t)boot_area + cur + 16 + align - 1) & ~(uintptr_t)(align - 1);
		size_t end = start + size - (uintptr_t)boot_area;
		if (end > BOOT_SIZE)
			break;
		if (__atomic_compare_exchange_n(&boot_used, &cur, end, false, __ATOMIC_ACQ_REL,
		                                __ATOMIC_RELAXED))
			return boot_place(start, size);
	}
	/* overflow: chunks of fresh memory */
	nalloc__lock(&boot_lock);
	void *res = NULL;
	for (int i = 0; i < boot_nextra && !res; i++) {
		uintptr_t start = (boot_extra[i].used + 16 + align - 1) & ~(uintptr_t)(align - 1);
		if (start + size <= boot_extra[i].end) {
			boot_extra[i].used = start + size;
			res = boot_place(start, size);
		}
	}
	if (!res && boot_nextra < BOOT_EXTRA) {
		size_t len = (size + align + 16 + BOOT_SIZE - 1) & ~(BOOT_SIZE - 1);
		char *m = nalloc__os_alloc(len);
		if (m) {
			int i = boot_nextra;
			boot_extra[i].start = (uintptr_t)m;
			boot_extra[i].end = (uintptr_t)m + len;
			uintptr_t start = ((uintptr_t)m + 16 + align - 1) & ~(uintptr_t)(align - 1);
			boot_extra[i].used = start + size;
			STORE_REL(&boot_nextra, i + 1);
			res = boot_place(start, size);
		}
	}
	nalloc__unlock(&boot_lock);
	if (!res)
		errno = ENOMEM;
	return res;
}

bool nalloc__is_bootstrap(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (a >= (uintptr_t)boot_area && a < (uintptr_t)boot_area + BOOT_SIZE)
		return true;
	int n = LOAD_ACQ(&boot_nextra);
	for (int i = 0; i < n; i++)
		if (a >= boot_extra[i].start && a < boot_extra[i].end)
			return true;
	return false;
}

size_t nalloc__bootstrap_size(const void *p)
{
	return ((const size_t *)p)[-2];
}

/* ---------------------------------------------------------------- fork */
/* Every lock, in the lock order; released in reverse. */
static void fork_prepare(void)
{
	nalloc__lock(&init_lock);
	nalloc__mcache_fork_prepare();
	for (int i = 0; i < nalloc__g.nnodes; i++)
		for (int c = 0; c < NALLOC_NUM_CLASSES; c++)
			nalloc__lock(&nalloc__g.heaps[i]->central[c].lock);
	for (int i = 0; i < nalloc__g.nnodes; i++)
		nalloc__lock(&nalloc__g.heaps[i]->lock);
	nalloc__lock(&boot_lock);
}

static void unlock_heaps(void)
{
	nalloc__unlock(&boot_lock);
	for (int i = nalloc__g.nnodes; i-- > 0;)
		nalloc__unlock(&nalloc__g.heaps[i]->lock);
	for (int i = nalloc__g.nnodes; i-- > 0;)
		for (int c = NALLOC_NUM_CLASSES; c-- > 0;)
			nalloc__unlock(&nalloc__g.heaps[i]->central[c].lock);
}

static void fork_parent(void)
{
	unlock_heaps();
	nalloc__mcache_fork_parent();
	nalloc__unlock(&init_lock);
}

static void fork_child(void)
{
	unlock_heaps();
	nalloc__epoch_fork_child();  /* forgets the vanished threads' sections */
	nalloc__purger_fork_child();
	nalloc__mcache_fork_child(); /* abandons the vanished threads' caches */
	nalloc__unlock(&init_lock);
}

/* ---------------------------------------------------------------- init */
bool nalloc__in_init(void)
{
	return tls_in_init != 0;
}

static void init_locked(void)
{
	nalloc__start_ms = nalloc__now_ms();
	nalloc__options_parse();
	nalloc__topology_load(); /* hwloc: its mallocs come from the bootstrap */
	if (!nalloc__opt.numa_set && nalloc__topo.process_interleave)
		nalloc__opt.numa = NUMA_INTERLEAVE; /* numactl --interleave */
	int nnodes = nalloc__topo.nnodes;
	/* no address space yet: each heap reserves its own as it grows, from
	 * NALLOC_ARENA_GB down to what an address-space limit leaves */
	for (int i = 0; i < nnodes; i++) {
		struct mheap *h = nalloc__os_alloc(sizeof(struct mheap));
		if (!h)
			nalloc__fatal("cannot map the node heaps");
		nalloc__bind_range(h, sizeof *h, i);
		nalloc__mheap_init(h, i, nalloc__topo.os_node[i], (size_t)nalloc__opt.arena_gb << 30);
		nalloc__g.heaps[i] = h;
	}
	nalloc__g.nnodes = nnodes;
	nalloc__mcache_global_init();
	nalloc__epoch_init();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void nalloc__init(void)
{
	if (LOAD_ACQ(&nalloc__g.ready) || tls_in_init)
		return;
	nalloc__lock(&init_lock);
	if (!LOAD_ACQ(&nalloc__g.ready) && !init_failed) {
		tls_in_init = 1;
		init_locked();
		tls_in_init = 0;
		STORE_REL(&nalloc__g.ready, 1);
	}
	nalloc__unlock(&init_lock);
}

__attribute__((constructor)) static void nalloc_constructor(void)
{
	nalloc__init();
	if (LOAD_ACQ(&nalloc__g.ready))
		nalloc__stats_start_interval();
}

__attribute__((destructor)) static void nalloc_destructor(void)
{
	if (LOAD_ACQ(&nalloc__g.ready))
		nalloc__stats_at_exit();
}
