#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_run_intree.sh: ./run still works after README's in-tree build
# (autoreconf -fi && ./configure && make in the source tree), which used to
# stop it with "source directory already configured".  In a copy of the
# tracked files (git ls-files) under $TMPDIR:
#   1. autoreconf -fi && ./configure -q && make: the in-tree build;
#   2. ./run demo -t 2 -d 1 succeeds, prints the per-node table, and built
#      in place (no ./build/Makefile);
#   3. with NALLOC_BUILD_DIR set to another directory, ./run stops with a
#      message that says what to do, before building anything.
# Exit: 0 pass, 77 skip (not a git checkout, inside a package build, or
# ./run's Debian packages are missing: ./run would install them), 1 fail.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_srcdir=$(cd "$top_srcdir" && pwd)
fail=0
bad() { echo "FAIL: $*"; fail=1; }

if [ "${NALLOC_TEST_IN_PACKAGE_BUILD:-0}" = 1 ]; then
	echo "SKIP: inside a package build (debian/rules)"
	exit 77
fi
# the top of a git checkout (not, as in make distcheck, a directory inside one)
if ! command -v git >/dev/null 2>&1 ||
	[ "$(git -C "$top_srcdir" rev-parse --show-toplevel 2>/dev/null)" != "$top_srcdir" ]; then
	echo "SKIP: $top_srcdir is not the top of a git checkout (the test copies its tracked files)"
	exit 77
fi
pkgs=$(sed -n '/^PKGS="/,/"$/p' "$top_srcdir/run" | tr -d '"' | sed 's/^PKGS=//')
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "SKIP: ./run would install Debian packages first:$missing"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_run_intree.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
src=$tmp/nalloc
mkdir -p "$src"
(cd "$top_srcdir" && git ls-files -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
	tar -xf - -C "$src" || { echo "FAIL: cannot copy the tracked files"; exit 1; }
[ -x "$src/run" ] || { echo "FAIL: no ./run in the copy"; exit 1; }

echo "== in-tree: autoreconf -fi && ./configure -q && make (in $src)"
if ! (cd "$src" && autoreconf -fi >"$tmp/autoreconf.out" 2>&1 && ./configure -q >"$tmp/configure.out" 2>&1 &&
	make -s -j2 >"$tmp/make.out" 2>&1); then
	tail -n 30 "$tmp"/*.out
	echo "FAIL: the in-tree build itself failed"
	exit 1
fi

echo "== ./run demo -t 2 -d 1"
(cd "$src" && unset NALLOC_BUILD_DIR && ./run demo -t 2 -d 1) >"$tmp/run.out" 2>&1
rc=$?
cat "$tmp/run.out"
if [ $rc != 0 ]; then
	bad "./run demo after an in-tree configure exited $rc"
elif ! grep -q 'in_use_bytes' "$tmp/run.out"; then
	bad "./run demo printed no per-node table"
elif [ -f "$src/build/Makefile" ]; then
	bad "./run configured ./build although the tree is configured in place"
else
	echo "ok: ./run demo works after the in-tree build, and built in place"
fi

echo "== NALLOC_BUILD_DIR=$tmp/elsewhere ./run demo"
(cd "$src" && NALLOC_BUILD_DIR=$tmp/elsewhere ./run demo -t 1 -d 1) >"$tmp/run2.out" 2>&1
rc=$?
cat "$tmp/run2.out"
if [ $rc = 0 ]; then
	bad "./run built in NALLOC_BUILD_DIR next to an in-tree configure"
elif ! grep -q "make distclean" "$tmp/run2.out"; then
	bad "./run's refusal does not say what to do (make distclean / unset NALLOC_BUILD_DIR)"
elif [ -e "$tmp/elsewhere/Makefile" ]; then
	bad "./run configured $tmp/elsewhere before refusing"
else
	echo "ok: NALLOC_BUILD_DIR next to an in-tree configure: refused with advice"
fi

[ "$fail" = 0 ] && echo "PASS: ./run after an in-tree build" && exit 0
exit 1
