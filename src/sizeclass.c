/* SPDX-License-Identifier: MIT */
/* sizeclass.c: size-class queries beyond the generated tables.  see malloc.c */
#include "internal.h"

/* Objects of class c start at span base + i * size with the base 8 KiB
 * aligned, so every object is aligned to the largest power of two dividing
 * the size, capped at the page size. */
int nalloc__size_class_aligned(size_t size, size_t align)
{
	if (size > NALLOC_MAX_SMALL_SIZE || align > NALLOC_PAGE_SIZE)
		return 0;
	for (int c = nalloc__size_class(size); c < NALLOC_NUM_CLASSES; c++)
		if ((nalloc__class_size[c] & (align - 1)) == 0)
			return c;
	return 0;
}
