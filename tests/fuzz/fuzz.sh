#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/fuzz/fuzz.sh: the fuzz targets for a bounded time (make check):
# fuzz_malloc NALLOC_TEST_FUZZ_SECONDS (default 40), fuzz_options a quarter of
# that, the nalloc-stat mutation test (fuzz_nalloc_stat.py) the same.  Fails
# on any crash, sanitizer report or shadow-model mismatch (the failing input
# is left in tests/fuzz/ of the build).  see src/malloc.c
b=${top_builddir:-.}/tests/fuzz
s=${top_srcdir:-.}/tests/fuzz
t=${NALLOC_TEST_FUZZ_SECONDS:-40}
t4=$((t / 4 > 0 ? t / 4 : 1))
status=0
for prog in fuzz_malloc fuzz_options; do
	[ -x "$b/$prog" ] || { echo "fuzz: $b/$prog missing"; exit 1; }
	secs=$t
	[ "$prog" = fuzz_options ] && secs=$t4
	work=$b/corpus-${prog#fuzz_}
	mkdir -p "$work"
	ASAN_OPTIONS="detect_leaks=0 ${ASAN_OPTIONS:-}" "$b/$prog" -max_total_time="$secs" -timeout=20 \
		-rss_limit_mb=3072 -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 -artifact_prefix="$b/$prog-" \
		"$work" "$s/seed-${prog#fuzz_}" >"$b/$prog.log" 2>&1
	rc=$?
	[ "$rc" = 77 ] && { cat "$b/$prog.log"; exit 77; }
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$b/$prog.log")
	if [ "$rc" != 0 ]; then
		echo "fuzz: $prog FAILED (exit $rc):"
		grep -v '^#[0-9]' "$b/$prog.log" | tail -40
		status=1
	else
		echo "fuzz: $prog ok: $runs runs in $secs s, corpus $(ls "$work" | wc -l) inputs"
	fi
done
. "${top_srcdir:-.}/tests/sh_util.sh"
find_python
if [ -z "$PY" ]; then
	echo "fuzz: no python3: nalloc-stat mutation test skipped"
elif ! "$PY" "$s/fuzz_nalloc_stat.py" "${top_builddir:-.}/tools/nalloc-stat" "$t4"; then
	status=1
fi
exit $status
