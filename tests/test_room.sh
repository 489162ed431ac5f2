#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_room.sh: the room check before an arena grows counts memory as
# the kernel does (numa/bind.c).  see src/malloc.c
#
# In a private mount namespace (unshare -m, as root) fake /proc/zoneinfo,
# /proc/meminfo and /sys/devices/system/node/node*/meminfo files
# (tests/fake_meminfo.py) are bind-mounted over the real ones:
#   cache  a full page cache: 48 MiB free a node, 90% of it clean file
#          pages.  NALLOC_NUMA=strict: /bin/true under LD_PRELOAD exits 0
#          (libnuma's constructor mallocs), malloc(4 MiB) and malloc of a
#          quarter of the node work (the cache counts as room).
#   huge   a /proc/zoneinfo of 1500 CPUs' pagesets per zone (> 256 KiB
#          before the Normal zone, whose high watermark is 40% of the node;
#          half the node free): strict /bin/true works, a 4 MiB and a 5%
#          malloc work, a 30% one gives NULL/ENOMEM (the watermark far down
#          the file was read).
# The blocks are never touched (the figures are fake).  Skips (77) when not
# root, without unshare/mount or python3, or when the namespace cannot be
# made (an unprivileged container).
set -u
: "${NALLOC_LIB:=}"
. "$(dirname "$0")/sh_util.sh"
nalloc_lib test_room
find_python
[ -n "$PY" ] || { echo "test_room: no python3: skipped"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "test_room: needs root (unshare -m, mount --bind): skipped"; exit 77; }
command -v unshare >/dev/null 2>&1 || { echo "test_room: no unshare: skipped"; exit 77; }
if ! unshare -m true 2>/dev/null; then
	echo "test_room: unshare -m not permitted here: skipped"
	exit 77
fi
srcdir=$(cd "$(dirname "$0")" && pwd)
prog=${top_builddir:-.}/tests/room_alloc
[ -x "$prog" ] || { echo "FAIL: $prog not built"; exit 1; }
prog=$(cd "$(dirname "$prog")" && pwd)/room_alloc

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nalloc-room.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT INT TERM
fails=0

# run SCENARIO CMD...: CMD inside a namespace with the fake files mounted
run() {
	_s=$1
	shift
	unshare -m sh -c '
		d=$1; shift
		mount --bind "$d/zoneinfo" /proc/zoneinfo || exit 90
		mount --bind "$d/meminfo" /proc/meminfo || exit 90
		for f in "$d"/node*.meminfo; do
			[ -e "$f" ] || continue
			n=$(basename "$f" .meminfo)
			mount --bind "$f" "/sys/devices/system/node/$n/meminfo" || exit 90
		done
		exec "$@"' sh "$TMP/$_s" "$@"
}

check() { # check WHAT EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		echo "ok: $1: $3"
	else
		echo "FAIL: $1: expected '$2', got '$3'"
		fails=$((fails + 1))
	fi
}

for s in cache huge; do
	mkdir -p "$TMP/$s"
	mt=$("$PY" "$srcdir/fake_meminfo.py" "$s" "$TMP/$s") || { echo "FAIL: fake_meminfo.py $s"; exit 1; }
	mt=${mt#MemTotal_MiB=}
	echo "== $s (smallest node: $mt MiB; zoneinfo $(wc -c <"$TMP/$s/zoneinfo") bytes)"
	run "$s" sh -c 'head -c 0 /proc/zoneinfo' || { echo "FAIL: cannot mount the fake files"; exit 1; }
	run "$s" env NALLOC_NUMA=strict LD_PRELOAD="$NALLOC_LIB" /bin/true 2>"$TMP/err"
	check "$s: strict /bin/true exit status" 0 "$?"
	[ -s "$TMP/err" ] && sed 's/^/    | /' "$TMP/err" | head -5
	if [ "$s" = cache ]; then
		sizes="4 $((mt / 4))"
		want="4 ok|$((mt / 4)) ok|"
	else
		sizes="4 $((mt / 20)) $((mt * 3 / 10))"
		want="4 ok|$((mt / 20)) ok|$((mt * 3 / 10)) NULL errno=ENOMEM|"
	fi
	# shellcheck disable=SC2086
	got=$(run "$s" env NALLOC_NUMA=strict LD_PRELOAD="$NALLOC_LIB" "$prog" $sizes 2>&1 | tr '\n' '|')
	check "$s: strict malloc of $sizes MiB" "$want" "$got"
done
[ "$fails" = 0 ] || exit 1
echo "test_room: all passed"
