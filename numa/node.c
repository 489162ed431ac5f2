/* numa/node.c: which node heap a thread is homed on.  see src/malloc.c */
#include "internal.h"

/* The node of the CPU the calling thread runs on (index into the heaps). */
int nalloc__current_node(void)
{
	if (nalloc__g.nnodes <= 1)
		return 0;
	int n = nalloc__cpu_node(sched_getcpu());
	return n < nalloc__g.nnodes ? n : 0;
}
