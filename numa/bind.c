/* numa/bind.c: binding arena and metadata ranges to their node with mbind.  see src/malloc.c */
#include "internal.h"
#include <numaif.h>

/* Prefer node for the pages of [p, p+size) as they are first touched.
 * On a one-node machine there is nothing to choose. */
void nalloc__bind_range(void *p, size_t size, int node)
{
	if (nalloc__topo.nnodes <= 1)
		return;
	int os = nalloc__topo.os_node[node];
	unsigned long mask[NALLOC_MAX_NODES * 4 / (8 * sizeof(unsigned long)) + 1] = {0};
	if (os < 0 || (size_t)os >= sizeof mask * 8)
		return;
	mask[os / (8 * sizeof(unsigned long))] |= 1UL << (os % (8 * sizeof(unsigned long)));
	mbind(p, size, MPOL_PREFERRED, mask, sizeof mask * 8, 0);
}
