#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/san/ubsan.sh: nalloc's unit tests, API tests and the renamed stress
# driver built with -fsanitize=undefined -fno-sanitize-recover=all: any
# undefined behaviour found stops the program with a report and fails.
# see src/malloc.c
b=${top_builddir:-.}/tests/san
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 ${UBSAN_OPTIONS:-}"
status=0
for t in ubsan_mspan ubsan_mheap ubsan_spanmap ubsan_api ubsan_threads ubsan_stress; do
	NALLOC_STRESS_SECONDS=3 NALLOC_TEST_SAN_SECONDS=${NALLOC_TEST_SAN_SECONDS:-4} "$b/$t" >"$b/$t.log" 2>&1
	rc=$?
	[ "$rc" = 77 ] && { cat "$b/$t.log"; exit 77; }
	if [ "$rc" != 0 ] || grep -q 'runtime error' "$b/$t.log"; then
		echo "ubsan: $t FAILED (exit $rc):"
		grep -A8 'runtime error' "$b/$t.log" | head -40
		tail -5 "$b/$t.log"
		status=1
	else
		echo "ubsan: $t ok: $(tail -1 "$b/$t.log")"
	fi
done
exit $status
