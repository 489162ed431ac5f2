#!/bin/sh
# SPDX-License-Identifier: MIT
# README.md's options table is the one in src/options.c, row for row.
readme="$top_srcdir/README.md"
want=$(sed -n '/<!-- options-table-begin -->/,/<!-- options-table-end -->/p' "$readme" | grep '^| `')
have=$("$top_builddir/tests/print_options") || exit 99
if [ "$want" = "$have" ]; then
	echo "README options table matches src/options.c"
	exit 0
fi
echo "README.md options table differs from src/options.c; expected rows:"
echo "$have"
exit 1
