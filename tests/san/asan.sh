#!/bin/sh
# tests/san/asan.sh: the stress driver's own code under AddressSanitizer
# (ASan's malloc serves the test) driving nalloc's code, renamed and also
# instrumented, through nalloc_test_*.  Fails on any ASan report.
# see src/malloc.c
b=${top_builddir:-.}/tests/san
ASAN_OPTIONS="halt_on_error=1 detect_leaks=1 ${ASAN_OPTIONS:-}" \
	NALLOC_SAN_SECONDS=${NALLOC_SAN_SECONDS:-4} exec "$b/asan_stress"
