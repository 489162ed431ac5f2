#!/bin/sh
# SPDX-License-Identifier: MIT
# perf/servers.sh: throughput of real servers under nalloc next to glibc and
# the peers (jemalloc, tcmalloc, mimalloc): redis-server with redis-benchmark
# (SET, GET, LPUSH, LPOP at 16 B and 1000 B values) and memcached (4
# threads) with memcslap (set, get).  A benchmark, not a test: numbers only.
# Loopback only, bounded requests, servers stopped at the end.
#   perf/servers.sh [--lib PATH] [--requests N] [--out FILE.csv] [--only LIST]
# LIST: comma-separated subset of nalloc,glibc,jemalloc,tcmalloc,mimalloc.
# Writes CSV (allocator,server,test,value,unit) to --out (default
# perf/results/servers.csv) and prints a table.  see src/malloc.c
set -u
here=$(cd "$(dirname "$0")" && pwd)
lib=./.libs/libnalloc.so
N=100000
out=$here/results/servers.csv
only=nalloc,glibc,jemalloc,tcmalloc,mimalloc
while [ $# -gt 0 ]; do
	case $1 in
	--lib) lib=$2; shift 2 ;;
	--requests) N=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	*) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
case $lib in /*) ;; *) lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib") ;; esac
triplet=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
PY=/usr/bin/python3
. "$here/../tests/servers/server_util.sh"

preload_of() {
	case $1 in
	nalloc) echo "$lib" ;;
	# redis-server links jemalloc: libc first in the search order wins
	glibc) echo "/lib/$triplet/libc.so.6" ;;
	jemalloc) echo "/usr/lib/$triplet/libjemalloc.so.2" ;;
	tcmalloc) echo "/usr/lib/$triplet/libtcmalloc_minimal.so.4" ;;
	mimalloc) echo "/usr/lib/$triplet/libmimalloc.so.2" ;;
	esac
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nalloc-servers.XXXXXX") || exit 1
pid=
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
mkdir -p "$(dirname "$out")"
echo "allocator,server,test,value,unit" >"$out"
user=
[ "$(id -u)" = 0 ] && user="-u root"

for a in $(echo "$only" | tr , ' '); do
	pre=$(preload_of "$a")
	[ -f "$pre" ] || { echo "servers: $a: $pre not found, skipped" >&2; continue; }
	if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
		port=$(free_port)
		LD_PRELOAD=$pre redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$TMP" --logfile "$TMP/redis.log" &
		pid=$!
		if wait_port "$port" "$pid"; then
			for d in 16 1000; do
				redis-benchmark -h 127.0.0.1 -p "$port" -n "$N" -c 16 -r 100000 -d $d \
					-t set,get,lpush,lpop --csv 2>/dev/null | sed -n 's/^"\([A-Z]*\)[^"]*","\([0-9.]*\)".*/\1 \2/p' |
					while read -r t v; do echo "$a,redis,$t-$d,$v,req/s" >>"$out"; done
			done
		else
			echo "servers: $a: redis-server did not start" >&2
		fi
		stop_server "$pid"
		pid=
	fi
	if command -v memcached >/dev/null && command -v memcslap >/dev/null; then
		port=$(free_port)
		LD_PRELOAD=$pre memcached $user -l 127.0.0.1 -p "$port" -U 0 -t 4 -m 512 >/dev/null 2>&1 &
		pid=$!
		if wait_port "$port" "$pid"; then
			for t in set get; do
				s=$(memcslap --servers=127.0.0.1:"$port" --concurrency=8 --execute-number=$((N / 8)) --test=$t 2>/dev/null |
					sed -n 's/.*keys by .*: *\([0-9.]*\) seconds.*/\1/p')
				[ -n "$s" ] && echo "$a,memcached,$t,$(awk -v n="$N" -v s="$s" 'BEGIN { printf "%.0f", n / s }'),req/s" >>"$out"
			done
		else
			echo "servers: $a: memcached did not start" >&2
		fi
		stop_server "$pid"
		pid=
	fi
done
# table: one row per test, one column per allocator
awk -F, 'NR > 1 { k = $2 " " $3; v[k, $1] = $4; if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
	if (!($1 in sa)) { sa[$1] = 1; al[++na] = $1 } }
	END { printf "%-22s", "req/s"; for (j = 1; j <= na; j++) printf " %10s", al[j]; print ""
	for (i = 1; i <= nk; i++) { printf "%-22s", keys[i]; for (j = 1; j <= na; j++) printf " %10s", v[keys[i], al[j]]; print "" } }' "$out"
echo "servers: CSV in $out"
