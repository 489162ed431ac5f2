#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/vm/test-vm-probe.sh: automake test of the multi-NUMA-node VM harness.
# Boots QEMU VMs with the 2node, 4node and cpuless layouts, runs
# tests/vm/probe in each, and checks the topology the guest reports (node
# count, CPUs per node, distances) and that mbind() placement worked.
#
# Exit: 0 pass, 77 skip (NALLOC_VM_SKIP=1, or the harness cannot be installed
# outside CI), 1 fail.  NALLOC_VM_LAYOUTS="2node 8node ..." picks the layouts.
# Console logs: $top_builddir/tests/vm/probe-<layout>.console.log
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
vm=$top_srcdir/tests/vm

. "$vm/lib.sh"
vm_ready || exit $?

probe=$top_builddir/tests/vm/probe
vm_built "$probe" || exit 1

# expected: node count | per-node cpu lists | distance rows ("a b c;d e f")
expect() {
    case $1 in
        1node)   echo "1|0-1|10" ;;
        2node)   echo "2|0-1 2-3|10 20;20 10" ;;
        4node)   echo "4|0 1 2 3|10 20 30 20;20 10 20 30;30 20 10 20;20 30 20 10" ;;
        cpuless) echo "3|0-1 2-3 -|10 20 30;20 10 30;30 30 10" ;;
        8node)   echo "8|0 1 2 3 4 5 6 7|10 20 30 40 50 40 30 20;20 10 20 30 40 50 40 30;30 20 10 20 30 40 50 40;40 30 20 10 20 30 40 50;50 40 30 20 10 20 30 40;40 50 40 30 20 10 20 30;30 40 50 40 30 20 10 20;20 30 40 50 40 30 20 10" ;;
        *) return 1 ;;
    esac
}

passed=0 failed=0
mkdir -p "$top_builddir/tests/vm"
for layout in ${NALLOC_VM_LAYOUTS:-2node 4node cpuless}; do
    if ! e=$(expect "$layout"); then
        echo "FAIL: unknown layout $layout"; failed=$((failed + 1)); continue
    fi
    want_nodes=${e%%|*}; rest=${e#*|}; want_cpus=${rest%%|*}; want_dist=${rest#*|}
    log=$top_builddir/tests/vm/probe-$layout.console.log
    out=$top_builddir/tests/vm/probe-$layout.out

    echo "=== $layout: run-vm.sh --layout $layout --files $probe -- probe"
    start=$(date +%s)
    "$vm/run-vm.sh" --layout "$layout" --timeout "${NALLOC_VM_TIMEOUT:-300}" --log "$log" \
        --files "$probe" -- probe >"$out"
    rc=$?
    secs=$(( $(date +%s) - start ))
    cat "$out"

    bad=
    [ "$rc" = 0 ] || bad="$bad probe-exit=$rc"
    grep -q "^probe: PASS" "$out" || bad="$bad no-PASS"
    grep -q "^probe: nodes=$want_nodes " "$out" || bad="$bad nodes!=$want_nodes"
    grep -q "^probe: hwloc numanodes=$want_nodes " "$out" || bad="$bad hwloc-nodes!=$want_nodes"
    n=0
    for c in $want_cpus; do
        grep -q "^probe: node=$n cpus=$c mem_mb=" "$out" || bad="$bad node$n-cpus!=$c"
        n=$((n + 1))
    done
    n=0
    echo "$want_dist" | tr ';' '\n' >"$out.dist"
    while read -r row; do
        grep -q "^probe: distance $n: $row\$" "$out" || bad="$bad distance-row$n!=($row)"
        n=$((n + 1))
    done <"$out.dist"
    rm -f "$out.dist"
    places=$(grep -c "^probe: place node=.* ok=" "$out")
    [ "$places" = "$want_nodes" ] || bad="$bad placed-on-$places-nodes"

    if [ -z "$bad" ]; then
        echo "--- $layout: ok ($want_nodes nodes, ${secs}s)"
        passed=$((passed + 1))
    else
        echo "--- $layout: FAILED:$bad (${secs}s, console log: $log)"
        failed=$((failed + 1))
    fi
done

echo "vm-probe: $passed passed, $failed failed"
[ "$failed" = 0 ] || exit 1
exit 0
