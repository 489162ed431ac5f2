# SPDX-License-Identifier: MIT
# perf/lib.sh: shared by perf/bench.sh and perf/callgrind.sh (sourced,
# POSIX sh).  see src/malloc.c

# perf_locate SCRIPT: settle $bench and $lib, or exit 2 with a message.
# $bench: as given, else ./perf/bench, else the one next to the scripts
# ($here).  $lib: as given, else ./.libs/libnalloc.so; made absolute, since
# LD_PRELOAD wants a path it can resolve from anywhere.
perf_locate() {
	if [ -z "$bench" ]; then
		for b in ./perf/bench "$here/bench"; do
			if [ -x "$b" ]; then bench=$b; break; fi
		done
	fi
	if [ -z "$bench" ] || [ ! -x "$bench" ]; then
		echo "$1: bench program not found (build it: make perf/bench, or pass --bench)" >&2
		exit 2
	fi
	[ -n "$lib" ] || lib=./.libs/libnalloc.so
	case $lib in /*) ;; *) [ -f "$lib" ] && lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib") ;; esac
}
