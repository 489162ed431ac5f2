#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/vm/test-vm-numa.sh: automake test of nalloc's NUMA placement (issue 3).
# Boots QEMU VMs with several NUMA layouts and runs tests/vm/numa_place's
# checks in them, several checks per boot:
#
#   2node      local crossfree migrate sethome onnode membind cpunodebind
#              interleave strict strictfill (another process fills the node
#              a strict-mode process allocates on: NULL/ENOMEM, no OOM kill)
#   2node-nb   local with automatic NUMA balancing on (pass at >= 95%)
#   4node      local onnode (ring distances) crossfree interleave spill
#              (local mode falls back to the nearest node)
#   cpuless    local (threads on the CPU nodes), onnode (the memory-only
#              node too), interleave (over the 3 nodes), onnode with
#              NALLOC_NODES=0,2
#   memless    (node 2: CPUs, no memory; the shell joins a cpuset cgroup
#              first, as on a systemd server, so that hwloc shows no node 2)
#              memless (node 2's threads homed on node 1, the nearest),
#              local, hotplug (CPUs 3 and 5 offline when numa_place starts,
#              then online: their threads homed on node 1)
#
# Each check prints one "RESULT check=... frac=... PASS|FAIL" line; this
# script collects them and prints a table of the placement fractions per
# layout at the end.
#
# Exit: 0 pass, 77 skip (NALLOC_VM_SKIP=1, or the harness cannot be
# installed outside CI), 1 fail.
# Knobs: NALLOC_VM_NUMA_RUNS="2node 2node-nb 4node cpuless memless" picks the boots;
#   NALLOC_VM_TIMEOUT (per boot, default 300).
# Output of each boot: $top_builddir/tests/vm/numa-<run>.out, console log
# numa-<run>.console.log.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
vm=$top_srcdir/tests/vm

. "$vm/lib.sh"
vm_ready || exit $?

prog=$top_builddir/tests/vm/numa_place
vm_built "$prog" || exit 1
numactl=$(command -v numactl 2>/dev/null)
files=$prog
[ -n "$numactl" ] && files="$files $numactl"
# without numactl (Debian package numactl) membind and cpunodebind cannot
# run: they are listed as SKIP (a failure in CI)
no_numactl() { [ -z "$numactl" ] && case $1 in membind|cpunodebind) return 0;; esac; return 1; }

# The command run inside a VM: t ID CMD... frames each check's output with
# BEGIN/END lines (END carries its exit status), so that a check that dies
# without a RESULT line is noticed.
T='t() { id=$1; shift; echo "BEGIN $id"; s=$(date +%s); "$@"; echo "END $id rc=$? secs=$(($(date +%s) - s))"; };'

# run: LAYOUT | run-vm.sh options | the t lines
plan() {
    case $1 in
        2node)
            echo "2node||t local numa_place local; t crossfree numa_place crossfree;
                t migrate numa_place migrate; t sethome numa_place sethome; t onnode numa_place --small-mb 16 --large 16 onnode;
                t membind numactl --membind=1 numa_place --node 1 --small-mb 16 --large 16 membind;
                t cpunodebind numactl --cpunodebind=1 numa_place --node 1 --small-mb 16 --large 16 cpunodebind;
                t interleave env NALLOC_NUMA=interleave numa_place interleave;
                t strict env NALLOC_NUMA=strict numa_place strict;
                t strictfill env NALLOC_NUMA=strict numa_place strictfill" ;;
        2node-nb)
            echo "2node|--numa-balancing on|cat /proc/sys/kernel/numa_balancing;
                t local-nb numa_place --min 0.95 --hold 4 --small-mb 32 --large 16 local" ;;
        4node)
            echo "4node||t local numa_place --small-mb 32 --large 16 local;
                t onnode numa_place --small-mb 16 --large 16 onnode;
                t crossfree numa_place --seconds 1.5 crossfree;
                t interleave env NALLOC_NUMA=interleave numa_place interleave;
                t spill env NALLOC_NUMA=local numa_place spill" ;;
        cpuless)
            echo "cpuless||t local numa_place local;
                t onnode numa_place --small-mb 16 --large 16 onnode;
                t interleave env NALLOC_NUMA=interleave numa_place interleave;
                t onnode-nodes02 env NALLOC_NODES=0,2 numa_place --small-mb 8 --large 8 onnode" ;;
        memless)
            echo "memless||mount -t cgroup2 none /sys/fs/cgroup && echo +cpuset >/sys/fs/cgroup/cgroup.subtree_control &&
                mkdir -p /sys/fs/cgroup/t && echo \$\$ >/sys/fs/cgroup/t/cgroup.procs ||
                echo 'numa_place: memless: no cpuset cgroup';
                t memless numa_place memless; t local numa_place --small-mb 32 --large 16 local;
                echo 0 >/sys/devices/system/cpu/cpu3/online; echo 0 >/sys/devices/system/cpu/cpu5/online;
                t hotplug numa_place --small-mb 32 --large 16 hotplug" ;;
        *) return 1 ;;
    esac
}

# the checks each run must report (a missing one is a failure)
expected() {
    case $1 in
        2node)    echo "local crossfree migrate sethome onnode membind cpunodebind interleave strict strictfill" ;;
        2node-nb) echo "local-nb" ;;
        4node)    echo "local onnode crossfree interleave spill" ;;
        cpuless)  echo "local onnode interleave onnode-nodes02" ;;
        memless)  echo "memless local hotplug" ;;
    esac
}

mkdir -p "$top_builddir/tests/vm"
table=$top_builddir/tests/vm/numa-table.out
: >"$table"
failed=0 passed=0
for run in ${NALLOC_VM_NUMA_RUNS:-2node 2node-nb 4node cpuless memless}; do
    if ! p=$(plan "$run"); then
        echo "FAIL: unknown run $run"; failed=$((failed + 1)); continue
    fi
    layout=${p%%|*}; rest=${p#*|}; opts=${rest%%|*}; cmds=${rest#*|}
    cmds=$(printf '%s\n' "$cmds" | tr '\n' ' ' | sed 's/  */ /g')
    [ -z "$numactl" ] && cmds=$(printf '%s\n' "$cmds" | sed 's/t membind [^;]*;//; s/t cpunodebind [^;]*;//')
    out=$top_builddir/tests/vm/numa-$run.out
    log=$top_builddir/tests/vm/numa-$run.console.log
    echo "=== $run: run-vm.sh --layout $layout $opts --files '$files' -- ..."
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$vm/run-vm.sh" --layout "$layout" $opts --timeout "${NALLOC_VM_TIMEOUT:-300}" --log "$log" \
        --files "$files" -- "$T $cmds" >"$out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    cat "$out"
    if [ "$rc" = 77 ]; then
        echo "SKIP: the VM harness is not available"; exit 77
    fi
    if [ "$rc" != 0 ]; then
        echo "--- $run: run-vm.sh exited $rc (console log: $log)"
    fi
    for id in $(expected "$run"); do
        if no_numactl "$id"; then
            if [ "${CI:-}" = true ]; then
                printf '%-9s %-15s %-8s %-5s %s\n' "$run" "$id" - FAIL "numactl not installed" >>"$table"
                failed=$((failed + 1))
            else
                printf '%-9s %-15s %-8s %-5s %s\n' "$run" "$id" - SKIP "numactl not installed" >>"$table"
            fi
            continue
        fi
        # the RESULT line and END status between BEGIN id and END id
        r=$(awk -v id="$id" '
            $1 == "BEGIN" && $2 == id { on = 1; next }
            on && $1 == "END" && $2 == id { end = $3; on = 0 }
            on && /^RESULT / { res = $0 }
            END { print (res == "" ? "-" : res) "|" (end == "" ? "rc=none" : end) }' "$out")
        res=${r%|*}; end=${r##*|}
        frac=$(printf '%s\n' "$res" | sed -n 's/.* frac=\([0-9.]*\) .*/\1/p')
        verdict=FAIL
        case $res in
            *" PASS"*) [ "$end" = rc=0 ] && verdict=PASS ;;
        esac
        note=
        [ "$res" = - ] && note="no RESULT line ($end)"
        [ "$verdict" = FAIL ] && [ -z "$note" ] &&
            note=$(printf '%s\n' "$res" | sed 's/.* FAIL *//; s/.* PASS *//')
        printf '%-9s %-15s %-8s %-5s %s\n' "$run" "$id" "${frac:--}" "$verdict" "$note" >>"$table"
        if [ "$verdict" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
    echo "--- $run: done in ${secs}s"
done

echo
echo "NUMA placement (frac: worst fraction of pages on the expected node;"
echo "interleave: smallest node share / even share; spill: share of the"
echo "overflow on the nearest nodes)"
printf '%-9s %-15s %-8s %-5s %s\n' run check frac verdict note
cat "$table"
echo "vm-numa: $passed passed, $failed failed"
[ "$failed" = 0 ] || exit 1
exit 0
