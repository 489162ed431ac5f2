#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_introspect.sh: malloc_info's XML (well-formed, one <heap nr=..>
# per node), mallinfo2 and malloc_stats' table agree with the stats JSON
# document of the same moment (tests/test_introspect.py): here, and in a
# 4-node VM (tests/vm) so that there are several heaps.  The VM part is
# skipped like the VM tests (NALLOC_VM_SKIP=1, or no harness outside CI).
# see src/malloc.c
. "$top_srcdir/tests/sh_util.sh"
find_python
if [ -z "$PY" ]; then
	echo "test_introspect.sh: no python3: skipped"
	exit 77
fi
prog=$top_builddir/tests/test_introspect
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

check_dir() { # DIR WHERE
	"$PY" "$top_srcdir/tests/test_introspect.py" "$1" && return 0
	echo "--- $2: malloc_info:"; cat "$1/info.xml"
	echo "--- $2: malloc_stats:"; cat "$1/stats.txt"
	return 1
}

mkdir "$tmp/here"
"$prog" dump "$tmp/here" 2>"$tmp/here/stats.txt" || {
	echo "FAIL: test_introspect dump exited $?"
	cat "$tmp/here/stats.txt"
	exit 1
}
check_dir "$tmp/here" "this machine" || exit 1

. "$top_srcdir/tests/vm/lib.sh"
vm_ready
case $? in
0) ;;
77) echo "test_introspect.sh: no VM: the multi-node part is skipped"; exit 0 ;;
*) exit 1 ;;
esac
mkdir "$tmp/vm"
"$top_srcdir/tests/vm/run-vm.sh" --layout 4node --outdir "$tmp/vm" --files "$prog $NALLOC_LIB" \
	--timeout "${NALLOC_VM_TIMEOUT:-300}" -- \
	'test_introspect dump $NALLOC_VM_OUT 2>$NALLOC_VM_OUT/stats.txt' || {
	echo "FAIL: test_introspect dump in the 4node VM exited $?"
	exit 1
}
check_dir "$tmp/vm" "4node VM" || exit 1
