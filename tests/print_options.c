/* SPDX-License-Identifier: MIT */
/* print_options.c: prints nalloc's option table (src/options.c) as README's markdown rows. */
#include "internal.h"
int main(void)
{
	nalloc__options_print(1);
	return 0;
}
