#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/san/core-calls.sh: no object of the core refers to the process's
# allocator (malloc, calloc, realloc, free, strdup, ...) except stats.c's
# free of open_memstream's buffer (which libc allocated, through nalloc in the
# real build).  Checked on the renamed build, where such a reference is a
# call into the system malloc.  Covers: a core function calling malloc by
# accident (the malloc trap).  see src/malloc.c
lib=${top_builddir:-.}/.libs/libnalloc-renamed.a
[ -f "$lib" ] || { echo "core-calls: $lib not built: skipped"; exit 77; }
command -v nm >/dev/null || { echo "core-calls: nm not found: skipped"; exit 77; }
bad=$(nm -A "$lib" | grep -E ' U (malloc|calloc|realloc|reallocarray|free|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|strdup|strndup|asprintf|vasprintf|getline|getdelim|realpath|scandir)$' |
	grep -v 'stats\.o: *U free$')
if [ -n "$bad" ]; then
	echo "core-calls: the core calls the process's allocator:"
	echo "$bad"
	exit 1
fi
n=$(nm -A "$lib" | grep -c ' T nalloc_test_')
echo "core-calls: no calls to the system allocator in the core; $n renamed entry points"
[ "$n" -ge 20 ]
