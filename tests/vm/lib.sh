# SPDX-License-Identifier: MIT
# tests/vm/lib.sh: shared by the tests that boot VMs and by setup.sh and
# run-vm.sh (sourced, POSIX sh).
# vm_ready: 0 when the VM harness is installed and ready; 77 (skip) when
# NALLOC_VM_SKIP=1 or it cannot be installed outside CI; 1 on failure.
# Prints why.  Expects $top_srcdir.
vm_ready() {
    if [ "${NALLOC_VM_SKIP:-0}" = 1 ]; then
        echo "SKIP: NALLOC_VM_SKIP=1"
        return 77
    fi
    "$top_srcdir/tests/vm/setup.sh"
    _rc=$?
    case $_rc in
        0) return 0 ;;
        77) echo "SKIP: the VM harness cannot be installed here (see above)"; return 77 ;;
        *) echo "FAIL: tests/vm/setup.sh exited $_rc"; return 1 ;;
    esac
}

# vm_built PROG: fail clearly when a program the VM needs was not built
vm_built() {
    if [ ! -x "$1" ]; then
        echo "FAIL: $1 not built (make check builds it)"
        return 1
    fi
}

# vm_cache_dir HERE: where the kernel, busybox and packages are kept:
# $NALLOC_VM_CACHE, else HERE/cache (HERE: tests/vm in the source tree),
# else (read-only source tree, as in 'make distcheck') ~/.cache/nalloc-vm
vm_cache_dir() {
    if [ -n "${NALLOC_VM_CACHE:-}" ]; then
        echo "$NALLOC_VM_CACHE"
    elif [ -r "$1/cache/vmlinuz" ] || [ -w "$1/cache" ] || { [ ! -e "$1/cache" ] && [ -w "$1" ]; }; then
        echo "$1/cache"
    else
        echo "${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/nalloc-vm"
    fi
}
