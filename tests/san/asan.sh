#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/san/asan.sh: the tests' own code under AddressSanitizer where they do
# not replace malloc (ASan's malloc serves the test program; nalloc's code,
# renamed and also instrumented, is driven through nalloc_test_* or its
# layers' functions): san_stress.c, and the mspan and mheap layer tests.
# Fails on any ASan report.  see src/malloc.c
b=${top_builddir:-.}/tests/san
export ASAN_OPTIONS="halt_on_error=1 detect_leaks=1 ${ASAN_OPTIONS:-}"
status=0
for t in asan_mspan asan_mheap asan_stress; do
	NALLOC_TEST_SAN_SECONDS=${NALLOC_TEST_SAN_SECONDS:-4} "$b/$t" >"$b/$t.log" 2>&1
	rc=$?
	[ "$rc" = 77 ] && { cat "$b/$t.log"; exit 77; }
	if [ "$rc" != 0 ] || grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer' "$b/$t.log"; then
		echo "asan: $t FAILED (exit $rc):"
		grep -A20 'ERROR: ' "$b/$t.log" | head -40
		tail -5 "$b/$t.log"
		status=1
	else
		echo "asan: $t ok: $(tail -1 "$b/$t.log")"
	fi
done
exit $status
