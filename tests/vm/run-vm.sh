#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/vm/run-vm.sh: boot a QEMU (TCG) VM with a given NUMA layout, run one
# shell command line inside it, and exit with that command's exit status.
#
#   run-vm.sh --layout LAYOUT [options] -- CMD...
#
# CMD... is joined with spaces (like ssh) and run by busybox sh inside the VM,
# in the same directory as on the host (created empty if need be).  Its stdout
# and stderr (merged) are streamed to this script's stdout as they come.
#
# Options:
#   --layout L       1node | 2node | 4node | cpuless | memless | 8node   (default 2node)
#                      1node    2 cpus, 1 node (a control run)
#                      2node    2 sockets x 2 cpus, nodes 0-1, 2 x 512M, distance 20
#                      4node    4 x 1 cpu, 4 x 256M, ring: 20 next, 30 opposite
#                      cpuless  nodes 0,1 with 2 cpus + 512M each, node 2 memory
#                               only (256M); distances 0-1 20, to node 2: 30
#                      memless  nodes 0,1 with 2 cpus + 512M each, node 2 with 2
#                               cpus and no memory; distances 0-1 20, 1-2 20,
#                               0-2 40 (node 1 is nearest to node 2)
#                      8node    8 x 1 cpu, 8 x 256M, ring: 10 + 10 x hops (20..50)
#   --node-mem SIZE  memory per node instead of the layout's (e.g. 384M)
#   --files 'F...'   files to put in the VM (repeatable). Each lands at its own
#                    absolute path; executables are also linked into
#                    /usr/local/bin (on PATH), shared libraries (*.so*) into /usr/lib
#                    (found by the loader, and LD_PRELOAD-able by absolute path).
#                    The libraries ldd lists for ELF files come along at their
#                    paths; a libtool wrapper script is replaced by its real
#                    binary and the uninstalled libraries it needs.
#   --env K=V        environment variable for CMD (repeatable)
#   --append ARGS    extra kernel command-line arguments
#   --numa-balancing on|off   automatic NUMA balancing (default off:
#                    numa_balancing=disable is put on the kernel command line)
#   --timeout SEC    kill the VM after SEC seconds of wall time (default 300)
#   --log FILE       copy the serial console log to FILE
#   --outdir DIR     CMD may write files under $NALLOC_VM_OUT (/out) in the VM;
#                    they are copied to DIR on the host afterwards
#   --keep           keep the work dir (initramfs, logs) and print its path
#   --verbose        also stream the console (kernel log) to stderr
#
# Inside the VM: NALLOC_VM=1, NALLOC_VM_LAYOUT=<layout>, NALLOC_VM_OUT (with
# --outdir), plus the --env variables.  busybox provides the usual tools
# (taskset, timeout, ...); bash scripts need bash passed with --files.
#
# Boot: the kernel gets no_timer_check (under host load the IO-APIC timer
# check can panic a TCG guest), and a boot that fails before CMD starts (a
# panic, qemu dying early) is retried once within the time-out.
#
# Exit status: CMD's own exit status; 124 when the time-out struck; 125 when
# the VM could not be set up, did not boot (twice: "harness error"), or died
# before CMD finished (a "NALLOC-VM ERROR:" line on stderr says which, with
# the console's last lines and where the console log is); 77 when setup.sh
# says the harness cannot be installed here (not in CI).
#
# Environment: NALLOC_VM_CACHE, NALLOC_VM_KERNEL (see setup.sh),
#   NALLOC_VM_QEMU (qemu binary), NALLOC_VM_QEMU_ARGS (extra qemu arguments),
#   NALLOC_VM_ACCEL=kvm (use KVM instead of TCG where /dev/kvm exists),
#   NALLOC_VM_FAULT_BOOTS=N (tests only: make the first N boots panic).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
cache=$(vm_cache_dir "$here")
qemu=${NALLOC_VM_QEMU:-qemu-system-x86_64}

die()  { echo "NALLOC-VM ERROR: $*" >&2; exit 125; }
note() { echo "nalloc-vm: $*" >&2; }
usage() { sed -n '2,/^set -u/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit "${1:-0}"; }

layout=2node node_mem= timeout=300 append= balancing=off log= outdir= keep=0 verbose=0
files=() envs=()
while [ $# -gt 0 ]; do
    case $1 in
        --layout)   layout=${2?}; shift 2 ;;
        --node-mem) node_mem=${2?}; shift 2 ;;
        --files)    read -r -a f <<<"${2?}"; files+=("${f[@]}"); shift 2 ;;
        --env)      case ${2?} in *=*) envs+=("$2");; *) die "--env wants K=V, got '$2'";; esac; shift 2 ;;
        --append)   append="$append ${2?}"; shift 2 ;;
        --numa-balancing) balancing=${2?}; shift 2 ;;
        --timeout)  timeout=${2?}; shift 2 ;;
        --log)      log=${2?}; shift 2 ;;
        --outdir)   outdir=${2?}; shift 2 ;;
        --keep)     keep=1; shift ;;
        --verbose)  verbose=1; shift ;;
        -h|--help)  usage 0 ;;
        --)         shift; break ;;
        *)          echo "run-vm.sh: unknown option '$1' (see --help)" >&2; exit 125 ;;
    esac
done
[ $# -gt 0 ] || die "no command given (run-vm.sh --layout L [options] -- CMD...)"
cmd="$*"
case $timeout in ''|*[!0-9]*) die "--timeout wants seconds, got '$timeout'";; esac
case $balancing in on|1|enable) balancing=on;; off|0|disable) balancing=off;;
    *) die "--numa-balancing wants on or off, got '$balancing'";; esac

# ------------------------------------------------------------ layout
# cpus per node ("" = memory-only), memory per node, distances "a-b:d ..."
smp= ; node_cpus=() ; mem=() ; dists=
ring_dists() {   # ring_dists N: 10 + 10 * hops on a ring of N nodes
    local n=$1 i j h out=
    for ((i = 0; i < n; i++)); do
        for ((j = i + 1; j < n; j++)); do
            h=$((j - i)); [ $((n - h)) -lt $h ] && h=$((n - h))
            out="$out $i-$j:$((10 + 10 * h))"
        done
    done
    echo "$out"
}
case $layout in
    1node)   smp="2,sockets=1,cores=2,threads=1"; node_cpus=(0-1); mem=(1G) ;;
    2node)   smp="4,sockets=2,cores=2,threads=1"; node_cpus=(0-1 2-3); mem=(512M 512M)
             dists="0-1:20" ;;
    4node)   smp="4,sockets=4,cores=1,threads=1"; node_cpus=(0 1 2 3); mem=(256M 256M 256M 256M)
             dists=$(ring_dists 4) ;;
    cpuless) smp="4,sockets=2,cores=2,threads=1"; node_cpus=(0-1 2-3 ""); mem=(512M 512M 256M)
             dists="0-1:20 0-2:30 1-2:30" ;;
    memless) smp="6,sockets=3,cores=2,threads=1"; node_cpus=(0-1 2-3 4-5); mem=(512M 512M 0)
             dists="0-1:20 0-2:40 1-2:20" ;;
    8node)   smp="8,sockets=8,cores=1,threads=1"; node_cpus=(0 1 2 3 4 5 6 7)
             mem=(256M 256M 256M 256M 256M 256M 256M 256M); dists=$(ring_dists 8) ;;
    *) die "unknown layout '$layout' (1node 2node 4node cpuless memless 8node)" ;;
esac
to_mb() {
    case $1 in
        *[Gg]) echo $(( ${1%[Gg]} * 1024 )) ;;
        *[Mm]) echo $(( ${1%[Mm]} )) ;;
        *[!0-9]*|'') die "bad memory size '$1' (use e.g. 256M or 1G)" ;;
        *) echo "$1" ;;
    esac
}
total_mb=0
numa_args=()
for i in "${!mem[@]}"; do
    if [ "${mem[$i]}" = 0 ]; then       # a node with CPUs and no memory
        numa_args+=(-numa "node,nodeid=$i,cpus=${node_cpus[$i]}")
        continue
    fi
    [ -n "$node_mem" ] && mem[$i]=$node_mem
    mb=$(to_mb "${mem[$i]}") || exit 125
    total_mb=$((total_mb + mb))
    numa_args+=(-object "memory-backend-ram,id=m$i,size=${mb}M")
    if [ -n "${node_cpus[$i]}" ]; then
        numa_args+=(-numa "node,nodeid=$i,cpus=${node_cpus[$i]},memdev=m$i")
    else
        numa_args+=(-numa "node,nodeid=$i,memdev=m$i")
    fi
done
for d in $dists; do       # qemu fills in the reverse direction
    numa_args+=(-numa "dist,src=${d%%-*},dst=$(t=${d#*-}; echo "${t%%:*}"),val=${d##*:}")
done

# ------------------------------------------------------------ prerequisites
# the decompressed vmlinux (PVH boot) when setup.sh could make it, else vmlinuz
kernel=${NALLOC_VM_KERNEL:-}
pick_kernel() {
    [ -n "${NALLOC_VM_KERNEL:-}" ] && return 0
    kernel=$cache/vmlinuz
    [ -r "$cache/vmlinux" ] && kernel=$cache/vmlinux
}
pick_kernel
if ! command -v "$qemu" >/dev/null 2>&1 || [ ! -r "$kernel" ]; then
    NALLOC_VM_QUIET=1 "$here/setup.sh" >&2
    rc=$?
    [ $rc = 0 ] || exit $rc
    pick_kernel
fi
command -v "$qemu" >/dev/null 2>&1 || die "$qemu not found (run tests/vm/setup.sh)"
[ -r "$kernel" ] || die "no kernel at $kernel (run tests/vm/setup.sh)"
busybox=
for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then busybox=$b; break; fi
done
[ -n "$busybox" ] || die "no static busybox (run tests/vm/setup.sh)"

work=$(mktemp -d "${TMPDIR:-/tmp}/nalloc-vm.XXXXXX") || die "mktemp failed"
root=$work/root
qpid= tpid= cpid= failed=0
cleanup() {
    local p
    for p in $qpid $tpid $cpid; do kill -TERM "$p" 2>/dev/null; done
    if [ "$keep" = 1 ]; then
        note "work dir kept: $work"
    elif [ "$failed" = 1 ]; then
        rm -rf "$work/root" "$work/initrd.cpio"     # keep the logs only
        note "logs kept in $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'note "interrupted"; exit 125' INT TERM HUP

# ------------------------------------------------------------ initramfs
# merged-/usr tree like the host's, so that the paths ldd prints work as they are
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,usr/local/lib,proc,sys,dev,tmp,run,root,etc/nalloc-vm} ||
    die "cannot create $root"
ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"; ln -s usr/lib64 "$root/lib64"
cp "$busybox" "$root/usr/bin/busybox" || die "cannot copy $busybox"
for a in $("$busybox" --list); do
    [ -e "$root/usr/bin/$a" ] || ln -s busybox "$root/usr/bin/$a"
done
cp "$here/init.sh" "$root/init" && chmod 755 "$root/init" || die "cannot install init"

declare -A have=()
add_path() {      # add_path SRC DEST: copy SRC (following links) to DEST in the VM
    local src=$1 dest=$2
    [ -n "${have[$dest]+x}" ] && return 0
    mkdir -p "$root$(dirname "$dest")" && cp -L "$src" "$root$dest" ||
        die "cannot copy $src into the initramfs"
    have[$dest]=1
}
is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }
is_lt_wrapper() { ! is_elf "$1" && head -c 4096 "$1" 2>/dev/null | grep -q 'Generated by libtool\|temporary wrapper script'; }
soname() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
is_syslib() { case $1 in /lib/*|/lib64/*|/usr/lib/*|/usr/lib64/*) return 0;; esac; return 1; }
add_lib() {       # a shared library at its path, and in /usr/lib when it is not a system one
    local p=$1 s
    add_path "$p" "$p"
    if ! is_syslib "$p" || [ "${2:-}" = always ]; then
        add_path "$p" "/usr/lib/$(basename "$p")"
        s=$(soname "$p"); [ -n "$s" ] && add_path "$p" "/usr/lib/$s"
    fi
}
add_deps() {      # add_deps FILE [LIBPATH]: the libraries FILE loads, per ldd
    local out line p
    if [ -n "${2:-}" ]; then
        out=$(LD_LIBRARY_PATH="$2${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$1" 2>&1) || return 0
    else
        out=$(ldd "$1" 2>&1) || return 0          # static or not dynamic
    fi
    while read -r line; do
        case $line in
            *'not found'*) die "$1: library not found: $line" ;;
            *'=> /'*)      p=${line#*=> }; p=${p%% (*}; add_lib "$p" ;;
            /*)            p=${line%% (*}; add_path "$p" "$p" ;;   # the loader
        esac
    done <<<"$out"
}
abspath() { case $1 in /*) echo "$1";; *) echo "$PWD/$1";; esac; }

for f in "${files[@]}"; do
    [ -e "$f" ] || die "--files: no such file '$f'"
    [ -d "$f" ] && die "--files: '$f' is a directory (list its files)"
    a=$(abspath "$f")
    base=$(basename "$a")
    if is_lt_wrapper "$a"; then
        real=
        for r in "$(dirname "$a")/.libs/lt-$base" "$(dirname "$a")/.libs/$base"; do
            [ -x "$r" ] && { real=$r; break; }
        done
        [ -n "$real" ] || die "$f is a libtool wrapper but its .libs binary is missing"
        # the uninstalled library dirs the wrapper puts on LD_LIBRARY_PATH
        ltpath=$(sed -n 's/^ *LD_LIBRARY_PATH="\(.*\)"$/\1/p' "$a" | head -n 1)
        ltpath=${ltpath//\$LD_LIBRARY_PATH/}; ltpath=${ltpath%%:}
        add_path "$real" "$a"
        add_deps "$real" "${ltpath:-$(dirname "$a")/.libs}"
        ln -sf "$a" "$root/usr/local/bin/$base" 2>/dev/null
        continue
    fi
    case $base in
        *.so|*.so.*) add_lib "$a" always; add_deps "$a" ;;
        *)  add_path "$a" "$a"
            is_elf "$a" && add_deps "$a"
            [ -x "$a" ] && [ ! -e "$root/usr/local/bin/$base" ] && ln -s "$a" "$root/usr/local/bin/$base" ;;
    esac
done

# the command and its environment
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
{
    echo "export NALLOC_VM=1 NALLOC_VM_LAYOUT=$(q "$layout") NALLOC_VM_CWD=$(q "$PWD")"
    [ -n "$outdir" ] && echo "export NALLOC_VM_OUT=/out"
    for e in "${envs[@]}"; do echo "export ${e%%=*}=$(q "${e#*=}")"; done
} >"$root/etc/nalloc-vm/env"
printf '%s\n' "$cmd" >"$root/etc/nalloc-vm/cmd"
mkdir -p "$root$PWD"

# uncompressed: quicker to make, and no decompression in the guest
initrd=$work/initrd.cpio
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$initrd" ||
    die "cannot build the initramfs"

# ------------------------------------------------------------ boot
console=$work/console.log
output=$work/output.log
# mitigations=off and cryptomgr.notests: about 0.5 s less boot under TCG.
# no_timer_check: under host load TCG's timer interrupts come late, and the
# kernel's IO-APIC timer check then panics ("IO-APIC + timer doesn't work").
cmdline="console=ttyS0 panic=-1 quiet mitigations=off cryptomgr.notests no_timer_check"
[ "$balancing" = off ] && cmdline="$cmdline numa_balancing=disable" || cmdline="$cmdline numa_balancing=enable"
cmdline="$cmdline${append}"
case ${NALLOC_VM_ACCEL:-tcg} in
    kvm) accel=kvm ;;                   # opt-in, where /dev/kvm exists
    *)   accel=tcg,thread=multi ;;
esac
qargs=(-machine q35 -accel "$accel" -cpu max
       -m "${total_mb}M" -smp "$smp" "${numa_args[@]}"
       -kernel "$kernel" -initrd "$initrd"
       -nodefaults -no-user-config -display none -nic none -no-reboot
       -chardev "file,id=con,path=$console" -serial chardev:con
       -chardev "file,id=out,path=$output" -serial chardev:out)
if [ -n "$outdir" ]; then
    qargs+=(-chardev "file,id=res,path=$work/outdir.b64" -serial chardev:res)
fi
# shellcheck disable=SC2206
[ -n "${NALLOC_VM_QEMU_ARGS:-}" ] && qargs+=($NALLOC_VM_QEMU_ARGS)
printf '%q ' "$qemu" "${qargs[@]}" -append "$cmdline" >"$work/qemu.cmd"; echo >>"$work/qemu.cmd"

# boot_once SECONDS: one boot; sets qrc, booted, rc (empty when the command
# did not finish).  The command's output streams to stdout as it comes.
# NALLOC_VM_FAULT_BOOTS=N (for tests/vm/test-vm-boot.sh): the first N boots
# get rdinit=/nonexistent, so that they panic before the command starts.
boots=0
boot_once() {
    local extra=
    boots=$((boots + 1))
    [ "$boots" -le "${NALLOC_VM_FAULT_BOOTS:-0}" ] && extra=" rdinit=/nonexistent"
    : >"$console"; : >"$output"; rm -f "$work/outdir.b64"
    timeout --foreground -k 5 "$1" "$qemu" "${qargs[@]}" -append "$cmdline$extra" \
        </dev/null >"$work/qemu.stderr" 2>&1 &
    qpid=$!
    tail -n +1 -s 0.2 -f --pid="$qpid" "$output" &
    tpid=$!
    [ "$verbose" = 1 ] && { tail -n +1 -s 0.2 -f --pid="$qpid" "$console" >&2 & cpid=$!; }
    wait "$qpid"
    qrc=$?
    qpid=
    wait "$tpid"; tpid=
    [ -n "$cpid" ] && wait "$cpid"; cpid=
    tr -d '\r' <"$console" >"$work/console.txt"
    booted=$(sed -n 's/^.*NALLOC_VM_BOOTED //p' "$work/console.txt" | tail -n 1)
    rc=$(sed -n 's/^.*NALLOC_VM_EXIT=\([0-9][0-9]*\).*$/\1/p' "$work/console.txt" | tail -n 1)
}

start=$(date +%s.%N)
boot_once "$timeout"
# A boot that failed before the command started (a kernel panic, qemu dying
# early; not the time-out) is retried once, with the time left: nothing of
# the command has run or been printed yet.
attempts=1
if [ -z "$booted" ] && [ -z "$rc" ] && [ "$qrc" != 124 ] && [ "$qrc" != 137 ]; then
    spent=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%d", b - a }')
    left=$((timeout - spent))
    if [ "$left" -ge 10 ]; then
        cp "$console" "$work/console.boot1.log"
        cp "$work/qemu.stderr" "$work/qemu.boot1.stderr"
        note "layout=$layout: the VM failed to boot (qemu exit status $qrc, ${spent}s); retrying once. Console tail:"
        tail -n 8 "$work/console.txt" | sed 's/^/nalloc-vm:   /' >&2
        attempts=2
        boot_once "$left"
    fi
fi
end=$(date +%s.%N)
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

[ -n "$log" ] && { cp "$console" "$log" || note "cannot write --log $log"; }
if [ -n "$log" ] && [ "$attempts" = 2 ]; then
    cp "$work/console.boot1.log" "${log%.console.log}.boot1.console.log" 2>/dev/null
fi
logref=${log:-$console}

# ------------------------------------------------------------ result
fail() {         # fail STATUS MESSAGE
    local st=$1; shift
    failed=1
    echo "NALLOC-VM ERROR: layout=$layout: $* after ${elapsed}s (console log: $logref)" >&2
    echo "---- last lines of the console ----" >&2
    tail -n 25 "$work/console.txt" >&2
    [ -s "$work/qemu.stderr" ] && { echo "---- qemu stderr ----" >&2; tail -n 10 "$work/qemu.stderr" >&2; }
    exit "$st"
}
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    fail 124 "timed out (--timeout $timeout), VM killed"
fi
if [ -z "$rc" ]; then
    if [ -z "$booted" ]; then
        msg="harness error: the VM did not boot to the command"
        [ "$attempts" = 2 ] && msg="$msg, twice (first console: $work/console.boot1.log)"
    else
        msg="VM died before the command finished"
    fi
    fail 125 "$msg (qemu exit status $qrc)"
fi
if [ -n "$outdir" ]; then
    mkdir -p "$outdir" && base64 -d <"$work/outdir.b64" | tar -xzf - -C "$outdir" ||
        note "could not unpack the VM's /out into $outdir"
fi
if grep -q -E 'Kernel panic|BUG:|Oops|general protection fault' "$work/console.txt"; then
    note "the kernel complained (console log: $logref):"
    grep -E -A 3 'Kernel panic|BUG:|Oops|general protection fault' "$work/console.txt" | head -n 20 >&2
    [ -z "$log" ] && failed=1
fi
again=
[ "$attempts" = 2 ] && again=" (booted at the second attempt)"
note "layout=$layout ${booted:+($booted) }exit=$rc wall=${elapsed}s$again"
exit "$rc"
