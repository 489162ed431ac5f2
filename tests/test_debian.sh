#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_debian.sh: the Debian packaging (debian/) builds and works, so
# that it cannot rot.  In a copy of the tracked files (git ls-files):
#   1. DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b
#      builds libnalloc0, libnalloc-dev and nalloc-tools;
#   2. debian/changelog's version is configure.ac's (AC_INIT);
#   3. each package holds what it should (dpkg-deb -c): the runtime library
#      only the SONAME'd library; -dev the header, the .so link, nalloc.pc
#      and nalloc(3); tools nalloc-stat, nalloc-stat(1) and
#      /usr/libexec/nalloc/nalloc-demo; nothing else in /usr/bin;
#   4. lintian reports no error (E:) on them;
#   5. dpkg -x of the three into a scratch root; a program built with
#      pkg-config from that root (PKG_CONFIG_SYSROOT_DIR) links and runs
#      with the extracted library; the extracted nalloc-stat runs a program
#      under it and finds /usr/lib/<multiarch>/libnalloc.so.0 by default.
# Exit: 0 pass, 1 fail, 77 skip: not a git checkout; inside a package build
# (NALLOC_TEST_IN_PACKAGE_BUILD=1, set by debian/rules); no dpkg-buildpackage; or
# the build dependencies are missing and cannot be installed (apt-get
# build-dep, as root).  Takes about a minute on 2 cores.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_srcdir=$(cd "$top_srcdir" && pwd)
. "$top_srcdir/tests/sh_util.sh"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }

if [ "${NALLOC_TEST_IN_PACKAGE_BUILD:-0}" = 1 ]; then
	echo "SKIP: inside a package build (no package build within a package build)"
	exit 77
fi
for t in dpkg-buildpackage dpkg-deb dpkg-checkbuilddeps dpkg-architecture; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not found (Debian package dpkg-dev)"; exit 77; }
done
# the top of a git checkout (not, as in make distcheck, a directory inside one)
if ! command -v git >/dev/null 2>&1 ||
	[ "$(git -C "$top_srcdir" rev-parse --show-toplevel 2>/dev/null)" != "$top_srcdir" ]; then
	echo "SKIP: $top_srcdir is not the top of a git checkout (the test copies its tracked files)"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_debian.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
src=$tmp/nalloc
mkdir -p "$src"
(cd "$top_srcdir" && git ls-files -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
	tar -xf - -C "$src" || { echo "FAIL: cannot copy the tracked files"; exit 1; }
[ -f "$src/debian/control" ] || { echo "FAIL: no debian/control in the tracked files"; exit 1; }

# ------------------------------------------------------------ build deps
if ! (cd "$src" && dpkg-checkbuilddeps) >"$tmp/deps.out" 2>&1; then
	cat "$tmp/deps.out"
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "== apt-get build-dep $src"
		if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 build-dep -y -q \
			--no-install-recommends "$src" >"$tmp/apt.out" 2>&1; then
			tail -n 20 "$tmp/apt.out"
			echo "SKIP: the build dependencies cannot be installed"
			exit 77
		fi
	else
		echo "SKIP: build dependencies missing, and not root to install them (apt-get build-dep ./)"
		exit 77
	fi
fi

# ------------------------------------------------------------ 1. build
echo "== DEB_BUILD_OPTIONS='nocheck parallel=2' dpkg-buildpackage -us -uc -b (in $src)"
start=$(date +%s)
if ! (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
	>"$tmp/build.log" 2>&1; then
	tail -n 40 "$tmp/build.log"
	echo "FAIL: dpkg-buildpackage failed"
	exit 1
fi
ok "dpkg-buildpackage: $(( $(date +%s) - start ))s"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
ver=$(cd "$src" && dpkg-parsechangelog -SVersion)
deb() { echo "$tmp/${1}_${ver}_${arch}.deb"; }
for p in libnalloc0 libnalloc-dev nalloc-tools; do
	[ -f "$(deb $p)" ] || bad "no $(basename "$(deb $p)") built"
done
[ "$fail" = 0 ] || { ls "$tmp"; exit 1; }

# ------------------------------------------------------------ 2. version
upstream=$(sed -n 's/^AC_INIT(\[nalloc\], *\[\([^]]*\)\].*/\1/p' "$src/configure.ac")
if [ -z "$upstream" ]; then
	upstream=$("$src/configure" --version 2>/dev/null | sed -n '1s/^nalloc configure //p')
fi
if [ "$ver" = "$upstream" ] || [ "${ver%-*}" = "$upstream" ]; then
	ok "debian/changelog version $ver matches configure.ac's $upstream"
else
	bad "debian/changelog says $ver but configure.ac says '$upstream': add a changelog entry (dch -v $upstream)"
fi

# ------------------------------------------------------------ 3. contents
contents() { dpkg-deb -c "$(deb "$1")" | awk '{ print $6 }' | sed 's|^\./|/|' | grep -v '/$' | sort; }
has() {  # has PKG PATH...: every PATH is in PKG
	_p=$1; shift
	for _f in "$@"; do
		grep -qx "$_f" "$tmp/$_p.list" || bad "$_p lacks $_f"
	done
}
hasnot() {  # hasnot PKG REGEX: no path of PKG matches
	_m=$(grep -E "$2" "$tmp/$1.list")
	[ -z "$_m" ] || bad "$1 should not contain: $_m"
}
for p in libnalloc0 libnalloc-dev nalloc-tools; do
	contents $p >"$tmp/$p.list"
	has $p /usr/share/doc/$p/copyright
done
has libnalloc0 /usr/lib/$ma/libnalloc.so.0 /usr/lib/$ma/libnalloc.so.0.0.0
hasnot libnalloc0 '/libnalloc\.so$|\.h$|\.pc$|\.la$|/man/|/bin/'
has libnalloc-dev /usr/include/nalloc.h /usr/lib/$ma/libnalloc.so /usr/lib/$ma/pkgconfig/nalloc.pc \
	/usr/share/man/man3/nalloc.3.gz
hasnot libnalloc-dev '\.so\.0|\.la$|/bin/'
has nalloc-tools /usr/bin/nalloc-stat /usr/share/man/man1/nalloc-stat.1.gz /usr/libexec/nalloc/nalloc-demo
hasnot nalloc-tools '/bin/nalloc-demo|/bin/[^n]|\.so'
dpkg-deb -f "$(deb libnalloc-dev)" Depends | grep -q "libnalloc0 (= $ver)" ||
	bad "libnalloc-dev does not depend on libnalloc0 (= $ver)"
dpkg-deb -f "$(deb nalloc-tools)" Depends | grep -q "python3" || bad "nalloc-tools does not depend on python3"
[ "$fail" = 0 ] && ok "package contents: $(cat "$tmp"/libnalloc0.list "$tmp"/libnalloc-dev.list \
	"$tmp"/nalloc-tools.list | grep -v /share/doc/ | tr '\n' ' ')"

# ------------------------------------------------------------ 4. lintian
if command -v lintian >/dev/null 2>&1; then
	lintian --tag-display-limit 0 "$tmp/nalloc_${ver}_${arch}.changes" >"$tmp/lintian.out" 2>&1
	grep -v 'running with root privileges' "$tmp/lintian.out"
	if grep -q '^E: ' "$tmp/lintian.out"; then
		bad "lintian reports errors"
	else
		ok "lintian: no error ($(grep -c '^W: ' "$tmp/lintian.out") warnings)"
	fi
elif [ "${CI:-}" = true ]; then
	bad "lintian not installed (./run test installs it)"
else
	echo "note: lintian not installed: not run"
fi

# ------------------------------------------------------------ 5. extract and use
root=$tmp/root
for p in libnalloc0 libnalloc-dev nalloc-tools; do
	dpkg -x "$(deb $p)" "$root" || bad "dpkg -x $p failed"
done
cat >"$tmp/prog.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <nalloc.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	void *p = malloc(4096);
	int node = nalloc_node_of(p);
	Dl_info info;
	if (!dladdr((void *)nalloc_node_of, &info))
		info.dli_fname = "?";
	printf("prog: node_of=%d lib=%s\n", node, info.dli_fname);
	free(p);
	return node >= 0 ? 0 : 3;
}
EOF
CC=${CC:-cc}
flags=$(PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/lib/$ma/pkgconfig \
	pkg-config --cflags --libs nalloc) || bad "pkg-config on the extracted nalloc.pc failed"
echo "== cc prog.c $flags"
# shellcheck disable=SC2086
if "$CC" -o "$tmp/prog" "$tmp/prog.c" $flags -ldl; then
	if LD_LIBRARY_PATH=$root/usr/lib/$ma "$tmp/prog" >"$tmp/out" 2>&1 &&
		grep -q "lib=$root/usr/lib/$ma/libnalloc.so.0" "$tmp/out"; then
		ok "linked against the extracted libnalloc-dev, ran with its libnalloc0: $(cat "$tmp/out")"
	else
		bad "prog with the extracted library: $(cat "$tmp/out")"
	fi
else
	bad "cc with the extracted -dev package failed"
fi
if LD_LIBRARY_PATH=$root/usr/lib/$ma "$root/usr/libexec/nalloc/nalloc-demo" -t 1 -d 1 >"$tmp/out" 2>&1; then
	ok "extracted nalloc-demo runs"
else
	bad "extracted nalloc-demo: $(tail -n 5 "$tmp/out")"
fi

stat=$root/usr/bin/nalloc-stat
[ "$(head -n 1 "$stat")" = "#!/usr/bin/python3" ] || bad "nalloc-stat's interpreter is $(head -n 1 "$stat"), not #!/usr/bin/python3"
grep -qx "LIBDIR = \"/usr/lib/$ma\"" "$stat" && grep -qx 'LIBNAME = "libnalloc.so.0"' "$stat" ||
	bad "the packaged nalloc-stat does not default to /usr/lib/$ma/libnalloc.so.0 (in libnalloc0)"
find_python
if [ -n "$PY" ] && [ -x "$tmp/prog" ]; then
	if env -u NALLOC_LIB "$PY" "$stat" run --lib "$root/usr/lib/$ma/libnalloc.so.0" --table-to-stderr \
		-- "$tmp/prog" >"$tmp/out" 2>"$tmp/err" && grep -q in_use_bytes "$tmp/err"; then
		ok "extracted nalloc-stat runs a program under the extracted library"
	else
		bad "extracted nalloc-stat run: $(cat "$tmp/out" "$tmp/err")"
	fi
fi

[ "$fail" = 0 ] && echo "PASS: Debian packages" && exit 0
exit 1
