#!/bin/sh
# SPDX-License-Identifier: MIT
# The unit tests again under valgrind's memcheck: nalloc's own code runs
# (the test programs define malloc themselves, so valgrind does not replace
# it) and memcheck checks its reads, writes and jumps.
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not installed: skipped"; exit 77; }
rc=0
for t in test_mspan test_mheap test_spanmap; do
	prog="$top_builddir/tests/$t"
	[ -x "$prog" ] || { echo "$prog missing"; exit 99; }
	if valgrind -q --error-exitcode=3 --soname-synonyms=somalloc=nouserintercepts "$prog" >/dev/null 2>"$top_builddir/tests/$t.valgrind.log"; then
		echo "PASS under valgrind: $t"
	else
		echo "FAIL under valgrind: $t"; cat "$top_builddir/tests/$t.valgrind.log"; rc=1
	fi
done
exit $rc
