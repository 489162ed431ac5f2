#!/bin/sh
# SPDX-License-Identifier: MIT
# doc/plot-2node.sh BUILDDIR: redraws doc/plot-2node.png, README's nalloc-stat
# plot picture, from a run in a 2-node VM (tests/vm/run-vm.sh): test_stats
# drift for 4 s with a document every 0.1 s.  see src/malloc.c
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
b=$(cd "${1:?usage: doc/plot-2node.sh BUILDDIR}" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$src/tests/vm/run-vm.sh" --layout 2node --timeout 240 --outdir "$out" --files "$b/tests/test_stats" -- \
	'NALLOC_STATS_INTERVAL=0.1 NALLOC_STATS_JSON=$NALLOC_VM_OUT/drift.jsonl test_stats drift 4'
"$b/tools/nalloc-stat" plot "$out/drift.jsonl" -o "$src/doc/plot-2node.png"
