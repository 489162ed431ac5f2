#!/bin/sh
# SPDX-License-Identifier: MIT
# regen-sizeclasses.sh: regenerate the size-class header with the built
# generator and compare it with the committed one.  Passes when they are
# identical; otherwise prints the diff and fails (refresh the header with
# `make regen-sizeclasses`).
#
# Environment (exported by TESTS_ENVIRONMENT in tests/tests.am):
#   top_srcdir    where include/internal/sizeclasses.h lives
#   top_builddir  where tools/mksizeclasses was built
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/..}
top_builddir=${top_builddir:-.}

gen=$top_builddir/tools/mksizeclasses
committed=$top_srcdir/include/internal/sizeclasses.h

if [ ! -x "$gen" ]; then
	echo "regen-sizeclasses: $gen not built" >&2
	exit 99
fi
if [ ! -f "$committed" ]; then
	echo "regen-sizeclasses: $committed missing" >&2
	exit 1
fi

tmp=$(mktemp "${TMPDIR:-/tmp}/sizeclasses.XXXXXX") || exit 99
trap 'rm -f "$tmp"' EXIT INT TERM

if ! "$gen" > "$tmp"; then
	echo "regen-sizeclasses: $gen failed" >&2
	exit 1
fi
if ! diff -u "$committed" "$tmp"; then
	echo "regen-sizeclasses: $committed is stale; run 'make regen-sizeclasses'" >&2
	exit 1
fi
echo "regen-sizeclasses: $committed is up to date"
exit 0
