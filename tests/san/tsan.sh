#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/san/tsan.sh: the concurrent stress (san_stress.c: cross-thread frees of
# many classes, large blocks, realloc, aligned blocks, thread exit, forks) on
# nalloc's own code built with -fsanitize=thread and renamed entry points.
# Fails on any ThreadSanitizer report (no suppressions); the distinct races
# are listed at the end of the log.  NALLOC_TEST_SAN_SECONDS sets the length.
# see src/malloc.c
b=${top_builddir:-.}/tests/san
s=${top_srcdir:-.}/tests/san
log=$b/tsan_stress.log
# clang 14's TSan turns a hinted mmap outside its application ranges into a
# hint of 0 (keeping MAP_FIXED_NOREPLACE); nalloc's arena hints (4..64 TiB)
# are outside them, and root may map page 0, which TSan then rejects with
# "mmap at bad address".  Without CAP_SYS_RAWIO the kernel refuses page 0
# and nalloc falls back to an unhinted reservation.
# More than twice as many threads as CPUs (16 at most) and a small cache
# budget, so the budget's paths run too: caches giving classes back, and
# allocations one at a time from the mcentrals (their counter once raced
# with the statistics reader).
ncpu=$(nproc 2>/dev/null || echo 2)
NALLOC_TEST_SAN_THREADS=${NALLOC_TEST_SAN_THREADS:-$((2 * ncpu + 2))}
NALLOC_THREAD_CACHE_MB=${NALLOC_THREAD_CACHE_MB:-1}
export NALLOC_TEST_SAN_THREADS NALLOC_THREAD_CACHE_MB
drop=
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	drop="setpriv --bounding-set -sys_rawio --inh-caps -sys_rawio"
fi
TSAN_OPTIONS="exitcode=66 halt_on_error=0 report_signal_unsafe=0 die_after_fork=0 ${TSAN_OPTIONS:-}" \
	NALLOC_TEST_SAN_SECONDS=${NALLOC_TEST_SAN_SECONDS:-8} $drop "$b/tsan_stress" >"$log" 2>&1
rc=$?
# clang 14's TSan cannot run with some kernels' mmap randomisation: run it
# again without address-space randomisation
if grep -q 'unexpected memory mapping' "$log" && command -v setarch >/dev/null; then
	TSAN_OPTIONS="exitcode=66 halt_on_error=0 report_signal_unsafe=0 die_after_fork=0 ${TSAN_OPTIONS:-}" \
		NALLOC_TEST_SAN_SECONDS=${NALLOC_TEST_SAN_SECONDS:-8} $drop setarch "$(uname -m)" -R "$b/tsan_stress" >"$log" 2>&1
	rc=$?
fi
grep -v '^    #\|^  \|^$\|^==\|^SUMMARY' "$log" | tail -5
if [ "$rc" = 77 ]; then exit 77; fi
if grep -q 'ThreadSanitizer: mmap at bad address\|FATAL: ThreadSanitizer' "$log"; then
	echo "tsan: ThreadSanitizer could not run nalloc:"
	grep 'ThreadSanitizer' "$log" | head -5
	exit 1
fi
if grep -q 'WARNING: ThreadSanitizer' "$log"; then
	echo "tsan: distinct reports (count, kind, the two accesses):"
	awk -f "$s/tsan-races.awk" "$log" | sort | uniq -c | sort -rn
	echo "tsan: full reports in $log"
	exit 1
fi
exit "$rc"
