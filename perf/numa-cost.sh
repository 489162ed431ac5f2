#!/bin/sh
# SPDX-License-Identifier: MIT
# perf/numa-cost.sh: what the NUMA machinery costs on this machine.
# Runs each perf/bench workload alternately under NALLOC_NUMA=local (the
# default) and NALLOC_NUMA=off, RUNS times each, and prints the medians and
# the ratio local/off (1.00 = no cost; the target is >= 0.97).
# usage: perf/numa-cost.sh [--lib LIBNALLOC] [--bench BENCH] [--runs N]
set -eu
lib=${NALLOC_LIB:-}
bench=${BENCH:-}
runs=7
while [ $# -gt 0 ]; do
	case $1 in
	--lib) lib=$2; shift 2 ;;
	--bench) bench=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	*) echo "usage: $0 [--lib PATH] [--bench PATH] [--runs N]" >&2; exit 2 ;;
	esac
done
[ -n "$lib" ] && [ -f "$lib" ] || { echo "numa-cost: give --lib path/to/libnalloc.so" >&2; exit 2; }
[ -n "$bench" ] && [ -x "$bench" ] || { echo "numa-cost: give --bench path/to/perf/bench" >&2; exit 2; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-10s %12s %12s %10s\n' workload "local Mops" "off Mops" local/off
for w in "tight --iters 20M" "batch --rounds 5" "xthread --iters 4M"; do
	name=${w%% *}
	i=0
	while [ $i -lt "$runs" ]; do
		for mode in local off; do
			NALLOC_NUMA=$mode LD_PRELOAD=$lib "$bench" $w | sed -n 's/.*mops=//p' >>"$tmp/$name.$mode"
		done
		i=$((i + 1))
	done
	l=$(median <"$tmp/$name.local")
	o=$(median <"$tmp/$name.off")
	printf '%-10s %12s %12s %10s\n' "$name" "$l" "$o" "$(awk "BEGIN {printf \"%.3f\", $l / $o}")"
done
