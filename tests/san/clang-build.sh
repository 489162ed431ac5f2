#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/san/clang-build.sh CC "CFLAGS" "LIBS" OUT SOURCES...: build one
# sanitizer or fuzzer program with clang (make check's rules in san.am and
# fuzz.am).  Without clang it writes OUT as a script that exits 77, so the
# test is skipped rather than failed.  see src/malloc.c
cc=$1 cflags=$2 libs=$3 out=$4
shift 4
mkdir -p "$(dirname "$out")"
rm -f "$out"
if ! command -v "$cc" >/dev/null 2>&1; then
	printf '#!/bin/sh\necho "%s: %s not found (Debian package clang): skipped"\nexit 77\n' "$out" "$cc" >"$out"
	chmod +x "$out"
	exit 0
fi
# shellcheck disable=SC2086
exec "$cc" $cflags -o "$out" "$@" $libs
