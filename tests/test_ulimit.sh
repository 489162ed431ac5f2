#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_ulimit.sh: under a small address-space limit (ulimit -v 200000,
# ~195 MiB) preloaded programs start and run, and a program that mallocs
# until NULL gets ENOMEM at the limit instead of an abort.
set -u
unset NALLOC_STATS NALLOC_STATS_JSON 2>/dev/null || true
: "${NALLOC_LIB:=}"
. "$(dirname "$0")/sh_util.sh"
nalloc_lib test_ulimit
LIMITS=${top_builddir:-.}/tests/test_limits
fails=0
if ! (ulimit -v 200000 && /bin/true); then
	echo "test_ulimit: /bin/true does not run under ulimit -v 200000 even without nalloc: skipped"
	exit 77
fi
if ! out=$( (ulimit -v 200000 && LD_PRELOAD="$NALLOC_LIB" /bin/true) 2>&1); then
	echo "FAIL: LD_PRELOAD=libnalloc.so /bin/true under ulimit -v 200000: $out"
	fails=$((fails + 1))
fi
if [ -x "$LIMITS" ]; then
	if ! out=$( (ulimit -v 200000 && LD_PRELOAD="$NALLOC_LIB" "$LIMITS" until-null) 2>&1); then
		echo "FAIL: malloc until NULL under ulimit -v 200000:"
		echo "$out" | sed 's/^/    | /'
		fails=$((fails + 1))
	else
		echo "$out"
	fi
else
	echo "test_ulimit: $LIMITS not built: that part skipped"
fi
[ "$fails" -eq 0 ] && echo "test_ulimit: PASS" && exit 0
exit 1
