#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_options.sh: options that talk back (src/options.c).  A tiny
# program (true) runs under LD_PRELOAD=libnalloc.so in an empty environment
# with one variable set; its stderr must be exactly the expected line: a bad
# value names itself and what is accepted, a clamped value says so, an
# unknown NALLOC_* variable gets one line (with the nearest option's name),
# and good values, and the names nalloc's tests use, print nothing.
# see src/malloc.c
. "$top_srcdir/tests/sh_util.sh"
nalloc_lib test_options.sh
prog=
for p in /bin/true /usr/bin/true; do
	[ -x "$p" ] && prog=$p && break
done
[ -n "$prog" ] || { echo "test_options.sh: no true program: skipped"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fails=0
n=0

# expect 'VAR=VALUE' 'stderr line' ('' for none)
expect() {
	n=$((n + 1))
	# $3: another VAR=value the case needs
	env -i "$1" ${3:+"$3"} LD_PRELOAD="$NALLOC_LIB" "$prog" 2>"$tmp/err"
	rc=$?
	want=$2
	got=$(cat "$tmp/err")
	if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
		echo "FAIL: $1 (exit $rc)"
		echo "  want: ${want:-(nothing)}"
		echo "  got:  ${got:-(nothing)}"
		fails=$((fails + 1))
	else
		echo "ok: $1 -> ${want:-(nothing)}"
	fi
}

# bad values: the value, what is accepted, what is used instead
expect NALLOC_NUMA=bogus 'nalloc: NALLOC_NUMA=bogus is not one of local|strict|interleave|off; using local'
expect NALLOC_ON_ERROR=crash 'nalloc: NALLOC_ON_ERROR=crash is not one of abort|warn; using abort'
expect NALLOC_STATS=yes 'nalloc: NALLOC_STATS=yes is not 0 or 1; using 0'
expect NALLOC_STATS=2 'nalloc: NALLOC_STATS=2 is not 0 or 1; using 0'
expect NALLOC_RETURN_DELAY_MS=10s 'nalloc: NALLOC_RETURN_DELAY_MS=10s is not a whole number (digits only); using 10000'
expect NALLOC_RETURN_DELAY_MS=-1 'nalloc: NALLOC_RETURN_DELAY_MS=-1 is not a whole number (digits only); using 10000'
expect NALLOC_RETURN_DELAY_MS=99999999999999999999 'nalloc: NALLOC_RETURN_DELAY_MS=99999999999999999999 is not a whole number (digits only); using 10000'
expect NALLOC_STATS_INTERVAL=1s 'nalloc: NALLOC_STATS_INTERVAL=1s is not a number of seconds (e.g. 10 or 0.5); using 0'
expect NALLOC_STATS_INTERVAL=. 'nalloc: NALLOC_STATS_INTERVAL=. is not a number of seconds (e.g. 10 or 0.5); using 0'
expect 'NALLOC_NODES=0;1' 'nalloc: NALLOC_NODES=0;1 is not a comma-separated list of node numbers (e.g. 0,2); ignored'
long=$(printf '%0300d' 0)
expect "NALLOC_STATS_JSON=/tmp/$long" "nalloc: NALLOC_STATS_JSON=/tmp/$(printf '%059d' 0)... is longer than 255 bytes; ignored"
expect "NALLOC_NUMA=$(printf 'lo\tcal')" 'nalloc: NALLOC_NUMA=lo?cal is not one of local|strict|interleave|off; using local'
# clamped or rounded values say so
expect NALLOC_ARENA_GB=0 'nalloc: NALLOC_ARENA_GB=0 is below the minimum 1; using 1'
expect NALLOC_ARENA_GB=100000 'nalloc: NALLOC_ARENA_GB=100000 is above the maximum 4096; using 4096'
expect NALLOC_STATS_INTERVAL=0.0001 'nalloc: NALLOC_STATS_INTERVAL=0.0001 is below the resolution (0.001); using 0.001' NALLOC_STATS_JSON=/dev/null
expect NALLOC_STATS_INTERVAL=1.23456 'nalloc: NALLOC_STATS_INTERVAL=1.23456 has more than 3 decimals; using 1.234' NALLOC_STATS_JSON=/dev/null
# unknown NALLOC_* variables: one line, with the nearest option when it is close
expect NALLOC_STAT=1 'nalloc: NALLOC_STAT=1 is not a nalloc option (did you mean NALLOC_STATS?); ignored'
expect NALLOC_NUMA_MODE=local 'nalloc: NALLOC_NUMA_MODE=local is not a nalloc option; ignored'
expect NALLOC_RETURN_DELAY=5 'nalloc: NALLOC_RETURN_DELAY=5 is not a nalloc option; ignored'
expect NALLOC_STATS_JSN=/tmp/x 'nalloc: NALLOC_STATS_JSN=/tmp/x is not a nalloc option (did you mean NALLOC_STATS_JSON?); ignored'
expect NALLOC_ONERROR=warn 'nalloc: NALLOC_ONERROR=warn is not a nalloc option (did you mean NALLOC_ON_ERROR?); ignored'
# good values, empty values and the names nalloc's own tests read: silent
expect NALLOC_NUMA=interleave ''
expect NALLOC_ON_ERROR=warn ''
expect NALLOC_STATS_INTERVAL=0.5 '' NALLOC_STATS_JSON=/dev/null
expect NALLOC_STATS_INTERVAL=2.000 '' NALLOC_STATS_JSON=/dev/null
expect NALLOC_ARENA_GB=1 ''
expect NALLOC_NODES=0 ''
expect NALLOC_NUMA= ''
expect NALLOC_TEST_ALLOW_LIBC=1 ''
expect NALLOC_LIB=/x ''
expect NALLOC_STRESS_SECONDS=1 ''
expect NALLOC_VM_LAYOUT=2node ''
expect OTHER_NALLOC_THING=1 ''

# several problems at once: one line each, in table order then the unknown
n=$((n + 1))
env -i NALLOC_STAT=1 NALLOC_NUMA=bogus NALLOC_ARENA_GB=0 LD_PRELOAD="$NALLOC_LIB" "$prog" 2>"$tmp/err"
want='nalloc: NALLOC_NUMA=bogus is not one of local|strict|interleave|off; using local
nalloc: NALLOC_ARENA_GB=0 is below the minimum 1; using 1
nalloc: NALLOC_STAT=1 is not a nalloc option (did you mean NALLOC_STATS?); ignored'
if [ "$(cat "$tmp/err")" != "$want" ]; then
	echo "FAIL: three problems at once; got:"
	cat "$tmp/err"
	fails=$((fails + 1))
else
	echo "ok: three problems at once, three lines"
fi

echo "test_options.sh: $n cases, $fails failed"
[ $fails -eq 0 ]
