#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/servers/test_redis.sh: redis-server (Debian) under nalloc, on
# 127.0.0.1 only.  A known data set goes in (kvcheck.py: strings of 1 B ..
# 512 KiB, lists), redis-benchmark then loads the server (SET, GET, LPUSH,
# LPOP, values of 16 B, 1000 B and 40000 B, a bounded number of requests),
# and the data set must come back byte for byte (GET, LLEN, LPOP); the
# server must exit cleanly on SIGTERM and nalloc's statistics must show it
# served the allocations.  The same run on Debian's own build (jemalloc)
# first checks the test itself.  Skipped without redis-server.
# Covers: corruption or a crash of a real single-threaded server's heap
# (many sizes, realloc-heavy SDS strings, lists).  see src/malloc.c
set -u
. "${top_srcdir:-.}/tests/sh_util.sh"
. "${top_srcdir:-.}/tests/servers/server_util.sh"
nalloc_lib test_redis
find_python
for p in redis-server redis-benchmark; do
	command -v $p >/dev/null 2>&1 || { echo "test_redis: $p not found (Debian package redis-server): skipped"; exit 77; }
done
[ -n "$PY" ] || { echo "test_redis: no python3: skipped"; exit 77; }
check=${top_srcdir:-.}/tests/servers/kvcheck.py
N=${NALLOC_TEST_REDIS_REQUESTS:-20000}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nalloc-redis.XXXXXX") || exit 99
pid=
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM

one() { # one NAME PRELOAD: 0 if every step passed
	name=$1 pre=$2
	port=$(free_port)
	env ${pre:+LD_PRELOAD=$pre} NALLOC_STATS_JSON="$TMP/stats-$name.json" redis-server --port "$port" \
		--bind 127.0.0.1 --protected-mode yes --save '' --appendonly no --dir "$TMP" \
		--logfile "$TMP/redis-$name.log" --daemonize no &
	pid=$!
	if ! wait_port "$port" "$pid"; then
		echo "test_redis: $name: redis-server did not start:"; tail -20 "$TMP/redis-$name.log"; return 1
	fi
	ok=0
	"$PY" "$check" redis "$port" load || ok=1
	for d in 16 1000 40000; do
		n=$N
		[ $d = 40000 ] && n=$((N / 10)) # one list of 40 KB values: bounded memory
		redis-benchmark -h 127.0.0.1 -p "$port" -q -n "$n" -c 8 -r 10000 -d $d -t set,get,lpush,lpop \
			>"$TMP/bench-$name-$d.txt" 2>&1 || { echo "test_redis: $name: redis-benchmark -d $d failed"; ok=1; }
		echo "test_redis: $name: -d $d: $(tr '\r' '\n' <"$TMP/bench-$name-$d.txt" | grep 'requests per second' | sed 's/ requests per second.*//' | tr '\n' ' ')"
	done
	"$PY" "$check" redis "$port" verify || ok=1
	stop_server "$pid"
	st=$?
	pid=
	if [ "$st" != 0 ]; then
		echo "test_redis: $name: redis-server exited with status $st:"; tail -20 "$TMP/redis-$name.log"; ok=1
	fi
	return $ok
}

one system "" || { echo "test_redis: the test fails on Debian's own redis-server: test broken"; exit 99; }
one nalloc "$NALLOC_LIB" || exit 1
allocs=$("$PY" -c 'import json,sys; print(sum(n["allocs"] for n in json.load(open(sys.argv[1]))["nodes"]))' "$TMP/stats-nalloc.json" 2>/dev/null)
if [ -z "$allocs" ] || [ "$allocs" -lt 10000 ]; then
	echo "test_redis: nalloc did not serve redis-server's allocations (stats allocs: ${allocs:-none})"
	exit 1
fi
echo "test_redis: PASS (nalloc served $allocs allocations)"
