#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_man.sh: the man pages doc/nalloc.3 and doc/nalloc-stat.1.
#  1. groff -ww (every warning) formats them without a single warning, and
#     so does man --warnings when man-db is there;
#  2. nalloc(3)'s ENVIRONMENT section lists exactly the options of
#     src/options.c's table (tests/print_options prints it), in its order,
#     each with the table's default;
#  3. nalloc-stat(1) has an entry for every command nalloc-stat --help lists.
# Exit: 0 pass, 77 skip (no groff), 1 fail.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
. "$top_srcdir/tests/sh_util.sh"
man3=$top_srcdir/doc/nalloc.3
man1=$top_srcdir/doc/nalloc-stat.1
fail=0
bad() { echo "FAIL: $*"; fail=1; }

if ! command -v groff >/dev/null 2>&1; then
	echo "SKIP: groff not installed (Debian package groff-base)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# ------------------------------------------------------------ 1. warnings
for page in "$man3" "$man1"; do
	[ -f "$page" ] || { bad "$page missing"; continue; }
	LC_ALL=C.UTF-8 groff -ww -man -Tutf8 -z "$page" >"$tmp/groff.err" 2>&1
	if [ -s "$tmp/groff.err" ]; then
		bad "groff -ww -man warns about $page:"
		cat "$tmp/groff.err"
	else
		echo "ok: groff -ww -man: no warning in $(basename "$page")"
	fi
	if command -v man >/dev/null 2>&1; then
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" >"$tmp/man.out" 2>"$tmp/man.err"
		if [ -s "$tmp/man.err" ]; then
			bad "man --warnings -l warns about $page:"
			cat "$tmp/man.err"
		elif [ ! -s "$tmp/man.out" ]; then
			bad "man -l $page printed nothing"
		else
			echo "ok: man --warnings -l: no warning in $(basename "$page")"
		fi
	fi
done

# ------------------------------------------------------------ 2. options
# nalloc(3)'s entries are ".TP / .B NAME / (default VALUE)" where VALUE is
# ".BR value )" on the next line or the word "empty".
sed -n '/^\.SH ENVIRONMENT/,/^\.SH /p' "$man3" | awk '
	prev == ".TP" && $1 == ".B" && $2 ~ /^NALLOC_/ { name = $2; want = 1; prev = $0; next }
	want == 1 && /^\(default empty/ { print name "|"; want = 0; prev = $0; next }
	want == 1 && /^\(default$/ { want = 2; prev = $0; next }
	want == 2 && $1 == ".BR" { v = $2; gsub(/\\-/, "-", v); print name "|" v; want = 0; prev = $0; next }
	want != 0 { print name "|?"; want = 0 }
	{ prev = $0 }
' >"$tmp/man.opts"
opts=$top_builddir/tests/print_options
if [ ! -x "$opts" ]; then
	bad "$opts not built (make check builds it)"
else
	"$opts" | sed -n 's/^| `\([^`]*\)` | `\([^`]*\)` |.*/\1|\2/p' >"$tmp/table.opts"
	if [ ! -s "$tmp/table.opts" ]; then
		bad "$opts printed no option"
	elif cmp -s "$tmp/table.opts" "$tmp/man.opts"; then
		echo "ok: nalloc(3) ENVIRONMENT lists the $(wc -l <"$tmp/table.opts") options of src/options.c with their defaults"
	else
		bad "nalloc(3) ENVIRONMENT differs from src/options.c's table (NAME|DEFAULT; - table, + man page):"
		diff -u "$tmp/table.opts" "$tmp/man.opts" | sed -n '3,$p'
	fi
fi

# ------------------------------------------------------------ 3. commands
stat=$top_builddir/tools/nalloc-stat
find_python
if [ -z "$PY" ] || [ ! -f "$stat" ]; then
	echo "note: no python3 or no $stat: nalloc-stat's commands not compared"
else
	# argparse lists the commands under "  COMMAND", one per line
	cmds=$("$PY" "$stat" --help | sed -n '/^  COMMAND$/,/^$/p' | awk 'NR > 1 && NF { print $1 }' | tr '\n' ' ')
	[ -n "$cmds" ] || bad "nalloc-stat --help lists no command under COMMAND"
	for c in $cmds; do
		if sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$man1" |
			grep -q -E "^(\\.BI? $c( |\$)|\\\\fB$c\\\\fR)"; then
			:
		else
			bad "nalloc-stat(1) COMMANDS has no entry for '$c' (nalloc-stat --help lists it)"
		fi
	done
	[ "$fail" = 0 ] && [ -n "$cmds" ] && echo "ok: nalloc-stat(1) documents the commands: $cmds"
fi

[ "$fail" = 0 ] && echo "PASS: man pages" && exit 0
exit 1
