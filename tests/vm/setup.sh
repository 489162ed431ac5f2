#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/vm/setup.sh: make sure the multi-NUMA-node VM harness can run.
#
#  - installs the Debian packages it needs when a tool is missing
#    (qemu-system-x86 with its firmware, busybox-static, cpio, gzip),
#    running 'apt-get update' at most once;
#  - downloads the Debian kernel that linux-image-amd64 depends on
#    (linux-image-6.1.*-amd64) with 'apt-get download' and extracts only its
#    vmlinuz into the cache dir ($NALLOC_VM_CACHE, default tests/vm/cache/).
#
# Idempotent: a second run finds everything and returns at once (no network).
# Exit status: 0 ready; 77 (automake "skip") when something cannot be installed
# and we are not in CI; 1 on any failure in CI (CI=true), where skipping would
# hide a broken install step.
#
# Environment:
#   NALLOC_VM_CACHE   cache dir (default: <this dir>/cache)
#   NALLOC_VM_KERNEL  use this kernel image instead of downloading one
#   NALLOC_VM_REFRESH=1  re-resolve and re-download the kernel
#   NALLOC_VM_QUIET=1 print only problems
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
cache=$(vm_cache_dir "$here")
quiet=${NALLOC_VM_QUIET:-0}

say()  { [ "$quiet" = 1 ] || echo "vm-setup: $*"; }
warn() { echo "vm-setup: $*" >&2; }
in_ci() { case "${CI:-}" in true|1|yes) return 0;; esac; return 1; }
give_up() {     # give_up MESSAGE: skip outside CI, fail inside CI
    if in_ci; then
        warn "ERROR: $* (CI=true: failing instead of skipping)"
        exit 1
    fi
    warn "SKIP: $*"
    exit 77
}

# Run as root directly, or through password-less sudo.
as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 126
    fi
}

apt_updated=0
apt_update_once() {
    [ "$apt_updated" = 1 ] && return 0
    say "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$cache/apt-update.log" 2>&1 ||
        { warn "apt-get update failed (see $cache/apt-update.log)"; return 1; }
    apt_updated=1
}

mkdir -p "$cache" || give_up "cannot create cache dir $cache"

# ------------------------------------------------------------ packages
# busybox must be the static one: it goes into the initramfs alone.
busybox_static() {
    for b in /bin/busybox /usr/bin/busybox; do
        if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then
            echo "$b"
            return 0
        fi
    done
    return 1
}

missing=
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing="$missing qemu-system-x86"
# SeaBIOS (bios-256k.bin) comes with qemu-system-x86 as a dependency; check it anyway
[ -e /usr/share/seabios/bios-256k.bin ] || [ -e /usr/share/qemu/bios-256k.bin ] ||
    missing="$missing seabios"
busybox_static >/dev/null || missing="$missing busybox-static"
command -v cpio >/dev/null 2>&1 || missing="$missing cpio"
command -v gzip >/dev/null 2>&1 || missing="$missing gzip"
command -v xz >/dev/null 2>&1 || missing="$missing xz-utils"
command -v timeout >/dev/null 2>&1 || missing="$missing coreutils"
command -v apt-get >/dev/null 2>&1 || give_up "apt-get not found: not a Debian system, cannot install$missing"

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ] && ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
        give_up "need root (or password-less sudo) to install:$missing"
    fi
    say "installing:$missing"
    apt_update_once || give_up "apt-get update failed, cannot install:$missing"
    # shellcheck disable=SC2086
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            $missing >"$cache/apt-install.log" 2>&1; then
        tail -n 20 "$cache/apt-install.log" >&2
        give_up "apt-get install$missing failed (see $cache/apt-install.log)"
    fi
    command -v qemu-system-x86_64 >/dev/null 2>&1 || give_up "qemu-system-x86_64 still missing after install"
    busybox_static >/dev/null || give_up "no static busybox after installing busybox-static"
    say "installed:$missing"
else
    say "packages present: qemu-system-x86_64 ($(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')), busybox-static, cpio, gzip, xz"
fi

# ------------------------------------------------------------ kernel
# The cache holds kernel/vmlinuz-<version> and the link vmlinuz -> it.
if [ -n "${NALLOC_VM_KERNEL:-}" ]; then
    [ -r "$NALLOC_VM_KERNEL" ] || give_up "NALLOC_VM_KERNEL=$NALLOC_VM_KERNEL is not readable"
    say "kernel: $NALLOC_VM_KERNEL (from NALLOC_VM_KERNEL)"
    exit 0
fi

# vmlinux: the decompressed ELF image of vmlinuz.  QEMU boots it through the
# PVH entry point, which skips the in-guest XZ decompression (about 3 s under
# TCG).  run-vm.sh uses it when present, else vmlinuz.
extract_vmlinux() {     # extract_vmlinux BZIMAGE OUT
    img=$1 out=$2
    grep -q '^CONFIG_PVH=y' "$cache"/kernel/config-* 2>/dev/null || return 1
    setup_sects=$(od -An -t u1 -j 497 -N 1 "$img" | tr -d ' ')          # 0x1f1
    [ "$setup_sects" = 0 ] && setup_sects=4
    poff=$(od -An -t u4 -j 584 -N 4 "$img" | tr -d ' ')                 # 0x248
    plen=$(od -An -t u4 -j 588 -N 4 "$img" | tr -d ' ')                 # 0x24c
    [ -n "$poff" ] && [ -n "$plen" ] || return 1
    start=$(( (setup_sects + 1) * 512 + poff ))
    magic=$(tail -c +$((start + 1)) "$img" | head -c 4 | od -An -t x1 | tr -d ' \n')
    case $magic in
        fd377a58) dec="xz -dc --single-stream" ;;
        1f8b*)    dec="gzip -dc" ;;
        28b52ffd) dec="zstd -dc" ;;
        *)        return 1 ;;
    esac
    # gzip/zstd may complain about the 4-byte size trailer: judge the output
    tail -c +$((start + 1)) "$img" | head -c "$plen" | $dec >"$out.$$" 2>/dev/null
    if [ "$(head -c 4 "$out.$$" | od -An -c | tr -d ' ')" = '177ELF' ]; then
        mv -f "$out.$$" "$out"        # atomic: concurrent setups do not clash
    else
        rm -f "$out.$$"
        return 1
    fi
}
ensure_vmlinux() {
    [ -e "$cache/vmlinux" ] || [ -e "$cache/kernel/NO-VMLINUX" ] && return 0
    ver=$(readlink "$cache/vmlinuz"); ver=${ver##*/vmlinuz-}
    if extract_vmlinux "$cache/vmlinuz" "$cache/kernel/vmlinux-$ver"; then
        ln -sfn "kernel/vmlinux-$ver" "$cache/vmlinux"
        say "kernel: decompressed to $cache/kernel/vmlinux-$ver (PVH boot, faster)"
    else
        : >"$cache/kernel/NO-VMLINUX"
        say "kernel: cannot decompress vmlinuz for PVH boot; booting vmlinuz (slower)"
    fi
}

if [ -r "$cache/vmlinuz" ] && [ "${NALLOC_VM_REFRESH:-0}" != 1 ]; then
    ensure_vmlinux
    if [ -r "$cache/vmlinux" ]; then
        say "kernel: $cache/$(readlink "$cache/vmlinux") (cached; PVH boot)"
    else
        say "kernel: $cache/$(readlink "$cache/vmlinuz") (cached)"
    fi
    exit 0
fi

# Which versioned image does the linux-image-amd64 metapackage pull in?
resolve_kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}
pkg=$(resolve_kernel_pkg)
if [ -z "$pkg" ]; then
    apt_update_once || give_up "apt-get update failed, cannot find the kernel package"
    pkg=$(resolve_kernel_pkg)
fi
[ -n "$pkg" ] || give_up "cannot resolve linux-image-amd64 to a linux-image-6.1.*-amd64 package"

say "downloading $pkg (apt-get download, ~70 MB; only vmlinuz is kept)"
tmp=$(mktemp -d "$cache/dl.XXXXXX") || give_up "mktemp failed in $cache"
trap 'rm -rf "$tmp"' EXIT
# apt-get download writes into the current dir; _apt cannot write there as
# root-owned mktemp dir, hence the harmless "unsandboxed" warning is filtered.
if ! (cd "$tmp" && apt-get download -q "$pkg" >download.log 2>&1); then
    # the package lists may be stale (a newer ABI replaced the old one)
    if [ "$apt_updated" = 0 ] && apt_update_once; then
        pkg=$(resolve_kernel_pkg)
        (cd "$tmp" && apt-get download -q "$pkg" >download.log 2>&1) ||
            { cat "$tmp/download.log" >&2; give_up "apt-get download $pkg failed"; }
    else
        cat "$tmp/download.log" >&2
        give_up "apt-get download $pkg failed"
    fi
fi
deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || give_up "apt-get download $pkg produced no .deb"

# Extract ./boot only (dpkg-deb --fsys-tarfile is much cheaper than dpkg -x of
# the whole 400 MB module tree).
mkdir -p "$tmp/x"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" --wildcards './boot/vmlinuz-*' './boot/config-*' ||
    give_up "cannot extract the kernel from $deb"
img=$(ls "$tmp"/x/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$img" ] || give_up "no vmlinuz in $deb"
ver=${img##*/vmlinuz-}
mkdir -p "$cache/kernel"
rm -f "$cache"/kernel/vmlinu[xz]-* "$cache"/kernel/config-*     # an older version
mv -f "$img" "$cache/kernel/vmlinuz-$ver"
mv -f "$tmp"/x/boot/config-* "$cache/kernel/" 2>/dev/null || true
ln -sfn "kernel/vmlinuz-$ver" "$cache/vmlinuz"
rm -f "$cache/vmlinux" "$cache/kernel/NO-VMLINUX"
echo "$pkg $(dpkg-deb -f "$deb" Version)" >"$cache/kernel/PACKAGE"
say "kernel: $cache/kernel/vmlinuz-$ver (from $pkg $(dpkg-deb -f "$deb" Version))"
ensure_vmlinux
exit 0
