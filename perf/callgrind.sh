#!/bin/sh
# SPDX-License-Identifier: MIT
# perf/callgrind.sh: instructions per malloc+free pair, counted with
# valgrind --tool=callgrind, for nalloc and the peer allocators.
#
# usage: perf/callgrind.sh [--lib PATH | PATH] [--bench PATH] [--iters N]
#                          [--only LIST] [--keep DIR]
#
#   --lib PATH    nalloc's shared library (default: $NALLOC_LIB, else
#                 ./.libs/libnalloc.so of the current build directory)
#   --bench PATH  the bench program (default: $BENCH, else ./perf/bench, else
#                 perf/bench next to this script)
#   --iters N     pairs in the measured run (default 1000000); the baseline
#                 run uses N/10, and
#                   instr/pair = (I(N) - I(N/10)) / (N - N/10)
#                 so that start-up, the allocator's initialisation and the
#                 program's own fixed costs cancel.
#   --only LIST   comma-separated subset of nalloc,glibc,jemalloc,tcmalloc,mimalloc
#   --keep DIR    keep the callgrind.out files in DIR
#
# Each allocator is loaded with LD_PRELOAD (glibc: nothing preloaded); a
# missing library is skipped with a notice.  Workloads: "bench tight
# --count-only" (malloc(32), touch, free, repeated) and "bench batch
# --count-only" (N malloc(32) into an array, then N frees).
set -u

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

here=$(cd "$(dirname "$0")" && pwd)
lib=${NALLOC_LIB:-}
bench=${BENCH:-}
iters=1000000
only=nalloc,glibc,jemalloc,tcmalloc,mimalloc
keep=

while [ $# -gt 0 ]; do
	case $1 in
	--lib) lib=$2; shift 2 ;;
	--lib=*) lib=${1#--lib=}; shift ;;
	--bench) bench=$2; shift 2 ;;
	--bench=*) bench=${1#--bench=}; shift ;;
	--iters|-n) iters=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--keep) keep=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	-*) echo "callgrind.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	*) lib=$1; shift ;;
	esac
done

if ! command -v valgrind >/dev/null 2>&1; then
	echo "callgrind.sh: valgrind not found (Debian package: valgrind); skipping" >&2
	exit 77
fi

. "$here/lib.sh"
perf_locate callgrind.sh

case $iters in ''|*[!0-9]*) echo "callgrind.sh: bad --iters $iters" >&2; exit 2 ;; esac
base=$((iters / 10))
if [ "$iters" -le "$base" ] || [ "$iters" -lt 10 ]; then
	echo "callgrind.sh: --iters must be >= 10" >&2; exit 2
fi

tmp=${keep:-$(mktemp -d "${TMPDIR:-/tmp}/nalloc-cg.XXXXXX")}
mkdir -p "$tmp"
[ -n "$keep" ] || trap 'rm -rf "$tmp"' EXIT INT TERM

# Total instructions (Ir) of one run, or nothing on failure.
count() { # name preload workload n
	out=$tmp/callgrind.$1.$3.$4
	if [ -n "$2" ]; then
		LD_PRELOAD=$2 valgrind --tool=callgrind --callgrind-out-file="$out" \
			"$bench" "$3" --count-only --iters "$4" >"$out.log" 2>&1
	else
		valgrind --tool=callgrind --callgrind-out-file="$out" \
			"$bench" "$3" --count-only --iters "$4" >"$out.log" 2>&1
	fi
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "callgrind.sh: $1 $3 --iters $4 failed (exit $rc); log:" >&2
		tail -n 15 "$out.log" >&2
		return 1
	fi
	sed -n 's/^summary: *\([0-9][0-9]*\).*/\1/p; s/^totals: *\([0-9][0-9]*\).*/\1/p' "$out" | head -n 1
}

# instr/pair for one allocator and workload, to one decimal
per_pair() { # name preload workload
	hi=$(count "$1" "$2" "$3" "$iters") || return 1
	lo=$(count "$1" "$2" "$3" "$base") || return 1
	[ -n "$hi" ] && [ -n "$lo" ] || return 1
	awk -v hi="$hi" -v lo="$lo" -v n="$iters" -v b="$base" \
		'BEGIN { printf "%.1f", (hi - lo) / (n - b) }'
}

libpath() { # name
	case $1 in
	nalloc) echo "$lib" ;;
	glibc) echo "" ;;
	jemalloc) echo /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ;;
	tcmalloc) echo /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 ;;
	mimalloc) echo /usr/lib/x86_64-linux-gnu/libmimalloc.so.2 ;;
	*) echo "?" ;;
	esac
}

# Debian multiarch: look the peers up for this machine's triplet
triplet=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
fixarch() { echo "$1" | sed "s|/usr/lib/x86_64-linux-gnu/|/usr/lib/$triplet/|"; }

printf 'callgrind instructions per malloc+free pair (size 32; N=%s, baseline N=%s)\n' "$iters" "$base"
printf 'bench: %s\n\n' "$bench"
rows=
for name in $(echo "$only" | tr ',' ' '); do
	p=$(libpath "$name")
	if [ "$p" = "?" ]; then
		echo "callgrind.sh: unknown allocator $name" >&2; continue
	fi
	p=$(fixarch "$p")
	if [ "$name" = nalloc ] || [ -n "$p" ]; then
		if [ ! -f "$p" ]; then
			echo "notice: $name not found ($p); skipped" >&2
			continue
		fi
	fi
	t=$(per_pair "$name" "$p" tight) || t=FAIL
	b=$(per_pair "$name" "$p" batch) || b=FAIL
	rows="$rows$name $t $b
"
done

printf '%-10s %16s %16s\n' allocator 'tight instr/pair' 'batch instr/pair'
printf '%s' "$rows" | while read -r n t b; do
	[ -n "$n" ] && printf '%-10s %16s %16s\n' "$n" "$t" "$b"
done
[ -z "$keep" ] || echo "callgrind output kept in $keep"
case $rows in *FAIL*) exit 1 ;; esac
exit 0
