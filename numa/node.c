/* SPDX-License-Identifier: MIT */
/* numa/node.c: thread homes (automatic and pinned), re-homing, and the per-node API.  see src/malloc.c */
#include "internal.h"
#include <errno.h>
#include <string.h>

/* The home index of the CPU the calling thread runs on. */
int nalloc__current_node(void)
{
	if (nalloc__g.nnodes <= 1)
		return 0;
	unsigned cpu = 0, node = 0;
	if (getcpu(&cpu, &node) != 0) /* the vDSO, like sched_getcpu */
		return 0;
	int n = nalloc__cpu_home((int)cpu, (int)node);
	return n < nalloc__g.nnodes ? n : 0;
}

/* Move c's home to node: its cached spans go back to their own mcentrals
 * (on their own nodes), and the next refills come from node.  Owner only. */
void nalloc__mcache_rehome(struct mcache *c, int node)
{
	if (node == c->node)
		return;
	nalloc__mcache_flush(c);
	nalloc__mcache_move_counters(c); /* they stay with the old node */
	ADD_RELAXED(&c->heap->nthreads, (uint64_t)-1);
	ADD_RELAXED(&nalloc__g.heaps[node]->nthreads, 1);
	c->node = node;
	STORE_REL(&c->heap, nalloc__g.heaps[node]);
	c->rehomes++;
}

/* Called every 64 refills of an automatically homed thread. */
void nalloc__mcache_check_home(struct mcache *c)
{
	int n = nalloc__current_node();
	if (n != c->node)
		nalloc__mcache_rehome(c, n);
}

static struct mcache *own_mcache(void)
{
	struct mcache *c = nalloc__tls_mcache;
	if (c == &nalloc__empty_mcache && nalloc__tls_state != TLS_DEAD)
		c = nalloc__mcache_create();
	return c == &nalloc__empty_mcache ? NULL : c;
}

int nalloc_thread_set_home(int node)
{
	if (!LOAD_ACQ(&nalloc__g.ready))
		nalloc__init();
	int idx = node < 0 ? nalloc__current_node() : nalloc__node_index(node);
	if (idx < 0 || idx >= nalloc__g.nnodes) {
		errno = EINVAL;
		return -1;
	}
	struct mcache *c = own_mcache();
	if (!c) {
		errno = ENOMEM;
		return -1;
	}
	c->pinned = node >= 0;
	nalloc__mcache_rehome(c, idx);
	return 0;
}

int nalloc_thread_home(void)
{
	if (!LOAD_ACQ(&nalloc__g.ready))
		nalloc__init();
	struct mcache *c = nalloc__tls_mcache;
	if (c == &nalloc__empty_mcache)
		return nalloc__topo.os_node[nalloc__current_node()];
	/* where the next allocation goes: re-home now if the thread moved */
	if (nalloc__g.nnodes > 1 && !c->pinned)
		nalloc__mcache_check_home(c);
	return nalloc__topo.os_node[c->node];
}

int nalloc_node_of(const void *p)
{
	if (!LOAD_ACQ(&nalloc__g.ready) || p == NULL)
		return -1;
	if (!nalloc__arena_unit((uintptr_t)p))
		return -1;
	nalloc__rcu_read_lock();
	struct mspan *s = nalloc__span_of(p);
	int node = -1;
	if (s && LOAD_ACQ(&s->state) >= SPAN_SMALL)
		node = nalloc__topo.os_node[s->node];
	nalloc__rcu_read_unlock();
	return node;
}

int nalloc_node_id(int i)
{
	if (!LOAD_ACQ(&nalloc__g.ready))
		nalloc__init();
	if (i < 0 || i >= nalloc__g.nnodes)
		return -1;
	return nalloc__topo.os_node[i];
}

void *nalloc_malloc_onnode(size_t size, int node)
{
	if (!LOAD_ACQ(&nalloc__g.ready))
		nalloc__init();
	int idx = nalloc__node_index(node);
	if (idx < 0 || idx >= nalloc__g.nnodes) {
		errno = EINVAL;
		return NULL;
	}
	return nalloc__alloc_onnode(size, idx, false);
}
