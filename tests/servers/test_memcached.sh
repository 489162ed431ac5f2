#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/servers/test_memcached.sh: memcached (Debian; 4 worker threads) under
# nalloc on 127.0.0.1 only.  A known data set goes in (kvcheck.py: values of
# 1 B .. 512 KiB), memcslap loads it with 8 client threads (set, then get;
# a bounded number of requests each), and the data set must come back byte
# for byte; the server must exit cleanly on SIGTERM and nalloc's statistics
# must show it served the allocations (memcached keeps items in its own
# slabs: a few hundred large mallocs, and its connection buffers).  Debian's build on glibc runs first to check the test
# itself.  Skipped without memcached / memcslap.
# Covers: a multithreaded server's heap under nalloc (connection buffers
# allocated and freed by different worker threads).  see src/malloc.c
set -u
. "${top_srcdir:-.}/tests/sh_util.sh"
. "${top_srcdir:-.}/tests/servers/server_util.sh"
nalloc_lib test_memcached
find_python
for p in memcached memcslap; do
	command -v $p >/dev/null 2>&1 || { echo "test_memcached: $p not found (Debian packages memcached, libmemcached-tools): skipped"; exit 77; }
done
[ -n "$PY" ] || { echo "test_memcached: no python3: skipped"; exit 77; }
check=${top_srcdir:-.}/tests/servers/kvcheck.py
N=${NALLOC_TEST_MEMCACHED_REQUESTS:-10000}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nalloc-memcached.XXXXXX") || exit 99
pid=
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
user=
[ "$(id -u)" = 0 ] && user="-u root"

one() { # one NAME PRELOAD
	name=$1 pre=$2
	port=$(free_port)
	env ${pre:+LD_PRELOAD=$pre} NALLOC_STATS_JSON="$TMP/stats-$name.json" memcached $user -l 127.0.0.1 \
		-p "$port" -U 0 -t 4 -m 256 -I 1m -c 256 >"$TMP/memcached-$name.log" 2>&1 &
	pid=$!
	if ! wait_port "$port" "$pid"; then
		echo "test_memcached: $name: memcached did not start:"; tail -20 "$TMP/memcached-$name.log"; return 1
	fi
	ok=0
	"$PY" "$check" memcached "$port" load || ok=1
	for t in set get; do
		start=$("$PY" -c 'import time; print(time.time())')
		memcslap --servers=127.0.0.1:"$port" --concurrency=8 --execute-number="$N" --test=$t \
			>"$TMP/slap-$name-$t.txt" 2>&1 || { echo "test_memcached: $name: memcslap --test=$t failed:"; tail -5 "$TMP/slap-$name-$t.txt"; ok=1; }
		echo "test_memcached: $name: $t: $(grep 'keys by' "$TMP/slap-$name-$t.txt" | sed 's/  */ /g')"
	done
	"$PY" "$check" memcached "$port" verify || ok=1
	stop_server "$pid"
	st=$?
	pid=
	if [ "$st" != 0 ]; then
		echo "test_memcached: $name: memcached exited with status $st:"; tail -20 "$TMP/memcached-$name.log"; ok=1
	fi
	return $ok
}

one system "" || { echo "test_memcached: the test fails on plain memcached: test broken"; exit 99; }
one nalloc "$NALLOC_LIB" || exit 1
read -r allocs unowned <<EOT
$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))["nodes"]; print(sum(n["allocs"] for n in d), sum(n["unowned_frees"] for n in d))' "$TMP/stats-nalloc.json" 2>/dev/null)
EOT
if [ -z "${allocs:-}" ] || [ "$allocs" -lt 100 ]; then
	echo "test_memcached: nalloc did not serve memcached's allocations (stats allocs: ${allocs:-none})"
	exit 1
fi
echo "test_memcached: PASS (nalloc served $allocs allocations, $unowned frees by another thread)"
