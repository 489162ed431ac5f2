#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_vm_boot.sh: the VM harness's boot reliability (tests/vm/run-vm.sh).
#   1. the kernel command line has no_timer_check (a TCG guest under host
#      load can otherwise panic with "IO-APIC + timer doesn't work");
#   2. a boot that panics before the command (NALLOC_VM_FAULT_BOOTS=1 makes
#      the first boot's init missing) is retried once: the command runs,
#      exit 0, its output once, and a note says the boot was retried;
#   3. when both boots fail (NALLOC_VM_FAULT_BOOTS=2), run-vm.sh exits 125
#      with a "harness error" line and the console's last lines (the panic).
# Exit: 0 pass, 77 skip (VM harness not installable, NALLOC_VM_SKIP=1), 1 fail.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
vm=$top_srcdir/tests/vm
. "$vm/lib.sh"
vm_ready || exit $?
fail=0
bad() { echo "FAIL: $*"; fail=1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_vm_boot.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

echo "== 1node, first boot made to panic: retried"
NALLOC_VM_FAULT_BOOTS=1 "$vm/run-vm.sh" --layout 1node --timeout "${NALLOC_VM_TIMEOUT:-300}" \
	--log "$tmp/vm.console.log" -- 'echo vm-command-ran; cat /proc/cmdline' >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out" "$tmp/err"
grep -q 'no_timer_check' "$tmp/out" || bad "no_timer_check is not on the guest's /proc/cmdline"
[ $rc = 0 ] || bad "run-vm.sh exited $rc after a retried boot"
[ "$(grep -c '^vm-command-ran$' "$tmp/out")" = 1 ] || bad "the command's output is not there exactly once"
grep -q 'failed to boot.*retrying once' "$tmp/err" || bad "no note that the boot was retried"
grep -q 'booted at the second attempt' "$tmp/err" || bad "the summary line does not say the second boot worked"
grep -q 'Kernel panic' "$tmp/vm.boot1.console.log" 2>/dev/null ||
	bad "the failed boot's console (with its panic) was not kept next to --log as vm.boot1.console.log"

echo "== 1node, both boots made to panic: harness error"
# TMPDIR: run-vm.sh keeps a failed run's logs in its work dir
TMPDIR=$tmp NALLOC_VM_FAULT_BOOTS=2 "$vm/run-vm.sh" --layout 1node --timeout "${NALLOC_VM_TIMEOUT:-300}" \
	-- 'echo vm-command-ran' >"$tmp/out2" 2>"$tmp/err2"
rc=$?
cat "$tmp/out2" "$tmp/err2"
[ $rc = 125 ] || bad "run-vm.sh exited $rc, not 125, when the VM never booted"
grep -q 'NALLOC-VM ERROR: .*harness error: the VM did not boot to the command, twice' "$tmp/err2" ||
	bad "no 'harness error ... twice' line"
grep -q -- '---- last lines of the console ----' "$tmp/err2" && grep -q 'Kernel panic' "$tmp/err2" ||
	bad "the console tail (with the panic) is not reported"
grep -q 'vm-command-ran' "$tmp/out2" && bad "the command ran although no boot worked"

[ "$fail" = 0 ] && echo "PASS: VM boot retry and harness error" && exit 0
exit 1
