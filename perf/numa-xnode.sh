#!/bin/sh
# SPDX-License-Identifier: MIT
# perf/numa-xnode.sh: the cross-node producer/consumer benchmark inside a
# 2-node QEMU VM (tests/vm harness): the producer pinned on node 0's CPU 0
# allocates, the consumer pinned on node 1's CPU 2 frees.  Prints the
# throughput and nalloc's per-node table, whose lock_acquisitions /
# lock_waits rows show the locks taken (per span, not per object: the free
# path itself is lock-free) and remote_frees the cross-node frees.
# usage: perf/numa-xnode.sh BUILD_DIR [ITERS]
set -eu
build=${1:?usage: $0 BUILD_DIR [ITERS]}
iters=${2:-2M}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
exec "$top/tests/vm/run-vm.sh" --layout 2node --timeout 300 \
	--files "$build/perf/bench $build/.libs/libnalloc.so" -- \
	"NALLOC_STATS=1 LD_PRELOAD=$build/.libs/libnalloc.so bench xthread --iters $iters --pin-producer 0 --pin-consumer 2"
