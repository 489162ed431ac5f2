#!/bin/sh
# tests/test_introspect.sh: malloc_info's XML (well-formed, one <heap nr=..>
# per node), mallinfo2 and malloc_stats' table agree with the stats JSON
# document of the same moment (tests/test_introspect.py).  see src/malloc.c
. "$top_srcdir/tests/sh_util.sh"
find_python
if [ -z "$PY" ]; then
	echo "test_introspect.sh: no python3: skipped"
	exit 77
fi
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
"$top_builddir/tests/test_introspect" dump "$tmp" 2>"$tmp/stats.txt" || {
	echo "FAIL: test_introspect dump exited $?"
	cat "$tmp/stats.txt"
	exit 1
}
"$PY" "$top_srcdir/tests/test_introspect.py" "$tmp" || {
	echo "--- malloc_info:"; cat "$tmp/info.xml"
	echo "--- malloc_stats:"; cat "$tmp/stats.txt"
	exit 1
}
