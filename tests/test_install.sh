#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_install.sh: README's install and link instructions, followed
# literally in a scratch prefix.
#   - configure --prefix=TMP/prefix (out of tree), make, make install;
#   - the files land where README and nalloc(3) say: library, header,
#     nalloc.pc, nalloc-stat in bin/, the man pages, nalloc-demo under
#     libexec/nalloc/ and NOT in bin/;
#   - a program built with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig and
#     $(pkg-config --cflags --libs nalloc) fails to start without help
#     ("libnalloc.so.0: cannot open shared object file", as README says),
#     runs with LD_LIBRARY_PATH=$(pkg-config --variable=libdir
#     nalloc), and runs alone when linked with -Wl,-rpath,that dir; in each
#     run malloc is nalloc's;
#   - LD_PRELOAD=PREFIX/lib/libnalloc.so works, the installed nalloc-stat
#     finds the installed library by itself, man finds both pages.
# Exit: 0 pass, 77 skip (no C compiler or pkg-config), 1 fail.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_srcdir=$(cd "$top_srcdir" && pwd)
. "$top_srcdir/tests/sh_util.sh"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }

CC=${CC:-cc}
for t in "$CC" pkg-config make; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not found"; exit 77; }
done
[ -x "$top_srcdir/configure" ] || { echo "FAIL: $top_srcdir/configure missing (autoreconf -fi)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_install.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
build=$tmp/build
mkdir -p "$build"

# ------------------------------------------------------------ build, install
echo "== configure --prefix=$prefix && make && make install (in $build)"
if ! (cd "$build" && "$top_srcdir/configure" -q --prefix="$prefix" >configure.out 2>&1 &&
	make -s -j2 >make.out 2>&1 && make -s install >install.out 2>&1); then
	tail -n 30 "$build"/configure.out "$build"/make.out "$build"/install.out 2>/dev/null
	echo "FAIL: the build or make install failed"
	exit 1
fi

for f in lib/libnalloc.so lib/libnalloc.so.0 lib/pkgconfig/nalloc.pc include/nalloc.h \
	bin/nalloc-stat share/man/man3/nalloc.3 share/man/man1/nalloc-stat.1 \
	libexec/nalloc/nalloc-demo; do
	[ -e "$prefix/$f" ] || bad "make install did not install $f"
done
[ -e "$prefix/bin/nalloc-demo" ] && bad "nalloc-demo installed in bin/ (an example, not a command)"
extra=$(ls "$prefix/bin" | grep -v '^nalloc-stat$')
[ -z "$extra" ] || bad "unexpected commands in bin/: $extra"
[ "$fail" = 0 ] && ok "installed files: $(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"

# ------------------------------------------------------------ link with pkg-config
cat >"$tmp/prog.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <nalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void)
{
	char *p = malloc(100);
	if (p == NULL)
		return 2;
	strcpy(p, "hello");
	int node = nalloc_node_of(p);  /* -1 unless p came from nalloc */
	Dl_info info;
	if (!dladdr((void *)nalloc_node_of, &info))
		info.dli_fname = "?";
	printf("prog: node_of=%d nodes=%d %s lib=%s\n", node, nalloc_num_nodes(), p, info.dli_fname);
	free(p);
	return node >= 0 ? 0 : 3;
}
EOF
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
unset LD_LIBRARY_PATH LD_PRELOAD
flags=$(pkg-config --cflags --libs nalloc) || { bad "pkg-config --cflags --libs nalloc failed"; flags=; }
libdir=$(pkg-config --variable=libdir nalloc)
[ "$libdir" = "$prefix/lib" ] || bad "pkg-config --variable=libdir nalloc is '$libdir', not $prefix/lib"
echo "== cc prog.c $flags"
# shellcheck disable=SC2086
"$CC" -o "$tmp/prog" "$tmp/prog.c" $flags -ldl || bad "cc with pkg-config flags failed"
# shellcheck disable=SC2086
"$CC" -o "$tmp/prog-rpath" "$tmp/prog.c" $flags -ldl -Wl,-rpath,"$libdir" || bad "cc with -Wl,-rpath failed"

# from_prefix FILE: the run's output says the library came from $libdir
from_prefix() { grep -q "lib=$libdir/libnalloc.so" "$1"; }
if [ -x "$tmp/prog" ]; then
	"$tmp/prog" >"$tmp/out" 2>&1
	rc=$?
	if ldconfig -p 2>/dev/null | grep -q 'libnalloc\.so\.0 '; then
		echo "note: a libnalloc.so.0 is installed system-wide (ldconfig -p): the failure without LD_LIBRARY_PATH cannot be shown"
	elif [ $rc != 0 ] && grep -q 'libnalloc.so.0: cannot open shared object file' "$tmp/out"; then
		ok "without LD_LIBRARY_PATH or rpath: fails as README says ($(head -n 1 "$tmp/out"))"
	else
		bad "expected 'libnalloc.so.0: cannot open shared object file', got rc=$rc: $(cat "$tmp/out")"
	fi
	if LD_LIBRARY_PATH=$libdir "$tmp/prog" >"$tmp/out" 2>&1 && from_prefix "$tmp/out"; then
		ok "LD_LIBRARY_PATH=$libdir: $(cat "$tmp/out")"
	else
		bad "LD_LIBRARY_PATH=$libdir prog: $(cat "$tmp/out")"
	fi
fi
if [ -x "$tmp/prog-rpath" ]; then
	if "$tmp/prog-rpath" >"$tmp/out" 2>&1 && from_prefix "$tmp/out"; then
		ok "-Wl,-rpath,$libdir: $(cat "$tmp/out")"
	else
		bad "prog linked with -Wl,-rpath: $(cat "$tmp/out")"
	fi
fi

# ------------------------------------------------------------ preload, nalloc-stat, man
cat >"$tmp/plain.c" <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	/* nalloc_node_of is found only when libnalloc is preloaded */
	int (*node_of)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "nalloc_node_of");
	void *p = malloc(64);
	int n = node_of ? node_of(p) : -2;
	free(p);
	printf("plain: node_of=%d\n", n);
	return n >= 0 ? 0 : 3;
}
EOF
if "$CC" -o "$tmp/plain" "$tmp/plain.c" -ldl 2>"$tmp/cc.err"; then
	if LD_PRELOAD=$prefix/lib/libnalloc.so "$tmp/plain" >"$tmp/out" 2>&1; then
		ok "LD_PRELOAD=$prefix/lib/libnalloc.so: $(cat "$tmp/out")"
	else
		bad "LD_PRELOAD=$prefix/lib/libnalloc.so plain: $(cat "$tmp/out")"
	fi
else
	bad "cc plain.c: $(cat "$tmp/cc.err")"
fi

find_python
if [ -n "$PY" ]; then
	unset NALLOC_LIB
	if "$PY" "$prefix/bin/nalloc-stat" run --table-to-stderr -- "$tmp/plain" >"$tmp/out" 2>"$tmp/err" &&
		grep -q 'in_use_bytes' "$tmp/err"; then
		ok "installed nalloc-stat run preloads the installed library"
	else
		bad "installed nalloc-stat run: $(cat "$tmp/out" "$tmp/err")"
	fi
fi

if command -v man >/dev/null 2>&1; then
	for pg in 3:nalloc 1:nalloc-stat; do
		w=$(MANPATH=$prefix/share/man man -w "${pg%%:*}" "${pg#*:}" 2>/dev/null)
		[ "$w" = "$prefix/share/man/man${pg%%:*}/${pg#*:}.${pg%%:*}" ] ||
			bad "MANPATH=$prefix/share/man man -w ${pg%%:*} ${pg#*:} gives '$w'"
	done
	[ "$fail" = 0 ] && ok "man finds nalloc(3) and nalloc-stat(1) under $prefix/share/man"
fi

# ------------------------------------------------------------ uninstall
(cd "$build" && make -s uninstall >/dev/null 2>&1) || bad "make uninstall failed"
left=$(cd "$prefix" 2>/dev/null && find . -type f -o -type l)
[ -z "$left" ] || bad "make uninstall left: $left"

[ "$fail" = 0 ] && echo "PASS: install and link" && exit 0
exit 1
