#!/bin/sh
# SPDX-License-Identifier: MIT
# perf/bench.sh: throughput of nalloc against glibc, jemalloc, tcmalloc and
# mimalloc on the perf/bench workloads (make bench).
#
# usage: perf/bench.sh [--lib PATH | PATH] [--bench PATH] [--runs R] [--quick]
#                      [--only LIST] [--workloads LIST] [--raw FILE]
#
#   --lib PATH        nalloc's shared library (default: $NALLOC_LIB, else
#                     ./.libs/libnalloc.so of the current build directory)
#   --bench PATH      the bench program (default: $BENCH, else ./perf/bench,
#                     else perf/bench next to this script)
#   --runs R          runs per allocator and workload (default 5); the table
#                     shows the median
#   --quick           short runs (3 runs, fewer operations) for a smoke test
#   --only LIST       comma-separated subset of nalloc,glibc,jemalloc,tcmalloc,mimalloc
#   --workloads LIST  comma-separated subset of tight,batch,xthread,tight-mt
#   --raw FILE        also append every raw result line to FILE
#
# Each allocator is loaded with LD_PRELOAD (glibc: nothing preloaded); a
# missing library is skipped with a notice.  Runs are interleaved (run 1 of
# every allocator, then run 2, ...) so that drift in machine load is spread
# evenly.  The ratio columns are nalloc/peer throughput: > 1 means nalloc is
# faster.
set -u

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }

here=$(cd "$(dirname "$0")" && pwd)
lib=${NALLOC_LIB:-}
bench=${BENCH:-}
runs=
quick=0
only=nalloc,glibc,jemalloc,tcmalloc,mimalloc
workloads=tight,batch,xthread,tight-mt
raw=

while [ $# -gt 0 ]; do
	case $1 in
	--lib) lib=$2; shift 2 ;;
	--lib=*) lib=${1#--lib=}; shift ;;
	--bench) bench=$2; shift 2 ;;
	--bench=*) bench=${1#--bench=}; shift ;;
	--runs) runs=$2; shift 2 ;;
	--runs=*) runs=${1#--runs=}; shift ;;
	--quick) quick=1; shift ;;
	--only) only=$2; shift 2 ;;
	--workloads) workloads=$2; shift 2 ;;
	--raw) raw=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	-*) echo "bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	*) lib=$1; shift ;;
	esac
done

. "$here/lib.sh"
perf_locate bench.sh

if [ -z "$runs" ]; then
	if [ $quick = 1 ]; then runs=3; else runs=5; fi
fi
case $runs in ''|*[!0-9]*|0) echo "bench.sh: bad --runs $runs" >&2; exit 2 ;; esac

# workload -> bench arguments
wargs() {
	if [ $quick = 1 ]; then
		case $1 in
		tight) echo "tight --iters 2000000" ;;
		batch) echo "batch --iters 200000 --rounds 5" ;;
		xthread) echo "xthread --iters 1000000" ;;
		tight-mt) echo "tight --threads 2 --iters 2000000" ;;
		esac
	else
		case $1 in
		tight) echo "tight --iters 20000000" ;;
		batch) echo "batch --iters 1000000 --rounds 10" ;;
		xthread) echo "xthread --iters 10000000" ;;
		tight-mt) echo "tight --threads 2 --iters 20000000" ;;
		esac
	fi
}

triplet=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
libpath() {
	case $1 in
	nalloc) echo "$lib" ;;
	glibc) echo "" ;;
	jemalloc) echo "/usr/lib/$triplet/libjemalloc.so.2" ;;
	tcmalloc) echo "/usr/lib/$triplet/libtcmalloc_minimal.so.4" ;;
	mimalloc) echo "/usr/lib/$triplet/libmimalloc.so.2" ;;
	*) echo "?" ;;
	esac
}

allocs=
for name in $(echo "$only" | tr ',' ' '); do
	p=$(libpath "$name")
	if [ "$p" = "?" ]; then
		echo "bench.sh: unknown allocator $name" >&2; continue
	fi
	if [ -n "$p" ] && [ ! -f "$p" ]; then
		echo "notice: $name not found ($p); skipped" >&2
		continue
	fi
	allocs="$allocs $name"
done
wl=
for w in $(echo "$workloads" | tr ',' ' '); do
	if [ -z "$(wargs "$w")" ]; then
		echo "bench.sh: unknown workload $w" >&2; exit 2
	fi
	wl="$wl $w"
done
[ -n "$allocs" ] || { echo "bench.sh: no allocator to run" >&2; exit 2; }

res=$(mktemp "${TMPDIR:-/tmp}/nalloc-bench.XXXXXX")
trap 'rm -f "$res"' EXIT INT TERM

echo "bench: $bench; $runs run(s) each; median Mops/s (million malloc+free per second)"
[ $quick = 1 ] && echo "(quick mode: short runs, noisy)"
fail=0
r=1
while [ $r -le "$runs" ]; do
	for w in $wl; do
		for a in $allocs; do
			p=$(libpath "$a")
			# shellcheck disable=SC2046
			if [ -n "$p" ]; then
				line=$(LD_PRELOAD=$p "$bench" $(wargs "$w") 2>&1)
			else
				line=$("$bench" $(wargs "$w") 2>&1)
			fi
			rc=$?
			m=$(echo "$line" | sed -n 's/.*mops=\([0-9.][0-9.]*\).*/\1/p' | tail -n 1)
			if [ $rc -ne 0 ] || [ -z "$m" ]; then
				echo "bench.sh: $a $w run $r failed (exit $rc): $(echo "$line" | tail -n 3)" >&2
				fail=1
				m=FAIL
			fi
			echo "$w $a $r $m" >>"$res"
			[ -z "$raw" ] || echo "alloc=$a run=$r $line" >>"$raw"
		done
	done
	printf '.' >&2
	r=$((r + 1))
done
echo >&2

# median per workload/allocator (FAIL if any run failed)
median() { # workload alloc
	awk -v w="$1" -v a="$2" '
		$1 == w && $2 == a { if ($4 == "FAIL") bad = 1; else v[n++] = $4 + 0 }
		END {
			if (bad || n == 0) { print "FAIL"; exit }
			for (i = 1; i < n; i++) {        # insertion sort
				x = v[i]; j = i - 1
				while (j >= 0 && v[j] > x) { v[j + 1] = v[j]; j-- }
				v[j + 1] = x
			}
			if (n % 2) m = v[(n - 1) / 2]; else m = (v[n / 2 - 1] + v[n / 2]) / 2
			printf "%.2f", m
		}' "$res"
}

echo
echo "Median throughput, Mops/s:"
printf '%-10s' workload
for a in $allocs; do printf ' %10s' "$a"; done
echo
for w in $wl; do
	printf '%-10s' "$w"
	for a in $allocs; do printf ' %10s' "$(median "$w" "$a")"; done
	echo
done

case " $allocs " in
*" nalloc "*)
	peers=$(echo "$allocs" | sed 's/ nalloc//')
	if [ -n "$peers" ]; then
		echo
		echo "Ratio nalloc/peer (> 1: nalloc is faster):"
		printf '%-10s' workload
		for a in $peers; do printf ' %10s' "$a"; done
		echo
		for w in $wl; do
			printf '%-10s' "$w"
			n=$(median "$w" nalloc)
			for a in $peers; do
				m=$(median "$w" "$a")
				awk -v n="$n" -v m="$m" 'BEGIN {
					if (n == "FAIL" || m == "FAIL" || m + 0 == 0) printf " %10s", "-"
					else printf " %10.2f", n / m }'
			done
			echo
		done
	fi
	;;
*)
	echo
	echo "(nalloc not run: no ratios; pass --lib PATH or NALLOC_LIB=PATH)"
	;;
esac
exit $fail
