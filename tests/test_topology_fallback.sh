#!/bin/sh
# SPDX-License-Identifier: MIT
# Where sysfs has no NUMA node files (some containers), the topology comes
# from hwloc, which nalloc opens with dlopen (it is not linked, so that a
# preloaded program does not pay for it): in a private mount namespace with
# an empty /sys/devices/system/node, the tables must come from hwloc (source
# 1), and a preloaded program must run.  Normally they come from sysfs (2).
# Root only (unshare -m); skips otherwise.
b=${top_builddir:-.}
lib=${NALLOC_LIB:-$b/.libs/libnalloc.so}
[ "$(id -u)" = 0 ] && command -v unshare >/dev/null || { echo "SKIP: needs root and unshare"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: unshare -m not permitted"; exit 77; }
rc=0
normal=$("$b/tests/test_numa" source) || rc=1
echo "normal: $normal"
case "$normal" in "source 2 "*) ;; *) echo "FAIL: expected the sysfs tables"; rc=1 ;; esac
# no node directory at all (the CPUs' directory kept): hwloc's tables
hide_nodes='d=$(mktemp -d) && mount --bind /sys/devices/system/cpu "$d" &&
	mount -t tmpfs none /sys/devices/system && mkdir /sys/devices/system/cpu &&
	mount --bind "$d" /sys/devices/system/cpu'
fallback=$(unshare -m sh -c "$hide_nodes && '$b/tests/test_numa' source") || rc=1
echo "no node directory: $fallback"
case "$fallback" in "source 1 nodes 1") ;; *) echo "FAIL: expected hwloc's tables (source 1, one node)"; rc=1 ;; esac
# an empty node directory (hwloc 2.9 asserts on it): one node, no abort
empty=$(unshare -m sh -c "mount -t tmpfs none /sys/devices/system/node && '$b/tests/test_numa' source") || rc=1
echo "empty node directory: $empty"
case "$empty" in "source 0 nodes 1") ;; *) echo "FAIL: expected the single-node fallback"; rc=1 ;; esac
out=$(unshare -m sh -c "$hide_nodes && LD_PRELOAD='$lib' /bin/echo preloaded") || rc=1
[ "$out" = preloaded ] || { echo "FAIL: preloaded echo printed '$out'"; rc=1; }
if ldd "$lib" | grep -E 'libhwloc|libnuma'; then
	echo "FAIL: the library links hwloc or libnuma"
	rc=1
fi
[ $rc = 0 ] && echo "PASS: topology from sysfs, hwloc opened only as the fallback"
exit $rc
