#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/servers/test_cpython.sh: a chosen subset of CPython's own regression
# tests (Debian's libpython3.11-testsuite) with PYTHONMALLOC=malloc, so that
# every object goes through malloc: once on glibc, once with nalloc
# preloaded (the -j2 worker processes inherit it).  No test may fail (or
# crash, or go missing) under nalloc that passes under glibc.  The subset:
# containers, strings, bytes, regular expressions, json, gc and weakrefs,
# threads and queues (multithreaded frees).  NALLOC_TEST_CPYTHON_TESTS overrides
# it.  Skipped without the test suite.
# Covers: a real interpreter's heap on nalloc (millions of small objects,
# realloc of lists and strings, threads).  see src/malloc.c
set -u
. "${top_srcdir:-.}/tests/sh_util.sh"
nalloc_lib test_cpython
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "test_cpython: $PY not found: skipped"; exit 77; }
if ! "$PY" -c 'import test.regrtest, test.test_list' 2>/dev/null; then
	echo "test_cpython: CPython's test suite not installed (Debian package libpython3.11-testsuite): skipped"
	exit 77
fi
TESTS_=${NALLOC_TEST_CPYTHON_TESTS:-"test_list test_dict test_set test_tuple test_bytes test_deque test_heapq
	test_sort test_array test_struct test_json test_re test_itertools test_collections test_weakref test_gc
	test_threading test_queue test_memoryview test_unicode"}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nalloc-cpython.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT INT TERM

run() { # run NAME PRELOAD: results in $TMP/NAME.{out,status}
	(cd "$TMP" && env ${2:+LD_PRELOAD=$2} PYTHONMALLOC=malloc "$PY" -m test -j2 --timeout 180 $TESTS_ \
		>"$TMP/$1.out" 2>&1)
	echo "test_cpython: $1: exit $?, $(grep -E 'tests? (OK|failed)' "$TMP/$1.out" | tr '\n' ' ')"
	# one line per test: name and outcome
	sed -n 's/.*\] \(test_[A-Za-z0-9_]*\) \(passed\|failed\|crashed\|skipped\|timed out\|resource denied\).*/\1 \2/p' \
		"$TMP/$1.out" | sort >"$TMP/$1.status"
}

run glibc ""
run nalloc "$NALLOC_LIB"
bad=0
for t in $TESTS_; do
	g=$(sed -n "s/^$t //p" "$TMP/glibc.status" | head -1)
	n=$(sed -n "s/^$t //p" "$TMP/nalloc.status" | head -1)
	printf 'test_cpython: %-20s glibc: %-10s nalloc: %s\n' "$t" "${g:-(none)}" "${n:-(none)}"
	if [ "$g" = passed ] && [ "$n" != passed ]; then
		bad=1
	fi
done
if [ $bad != 0 ]; then
	echo "test_cpython: FAIL: tests that pass on glibc do not on nalloc; nalloc's log:"
	grep -v '^0:' "$TMP/nalloc.out" | tail -60
	exit 1
fi
echo "test_cpython: PASS"
