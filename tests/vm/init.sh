#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/vm/init.sh: /init (PID 1) of the initramfs that tests/vm/run-vm.sh
# builds.  Runs under the static busybox sh.  Do not run it on a host.
#
# Serial ports (the host side is set up by run-vm.sh):
#   ttyS0  console: kernel messages and this script's markers -> console log
#   ttyS1  the command's stdout+stderr, raw                   -> output file
#   ttyS2  (only with --outdir) base64 of a gzipped tar of $NALLOC_VM_OUT
# The command's exit status is reported on the console as NALLOC_VM_EXIT=<n>.
export PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
export HOME=/root TERM=dumb

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /tmp /run
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
chmod 1777 /tmp
hostname nalloc-vm
ln -sf /proc/self/fd /dev/fd 2>/dev/null

# Write our markers to ttyS0 through a file of our own instead of the
# /dev/console the kernel handed us: when this script closes it at the end, it
# is the last user of the port, and the tty layer then waits for the UART to
# drain, so nothing is lost at power-off.
exec 0</dev/null >/dev/ttyS0 2>&1

up() { read -r u _ </proc/uptime; echo "$u"; }
# raw: no \n -> \r\n translation of the command's output
stty -F /dev/ttyS1 raw -echo 2>/dev/null

. /etc/nalloc-vm/env
[ -n "${NALLOC_VM_OUT:-}" ] && mkdir -p "$NALLOC_VM_OUT"
cd "${NALLOC_VM_CWD:-/}" 2>/dev/null || cd /

nodes=$(cat /sys/devices/system/node/online 2>/dev/null)
echo "NALLOC_VM_BOOTED uptime=$(up)s nodes=$nodes cpus=$(cat /sys/devices/system/cpu/online) numa_balancing=$(cat /proc/sys/kernel/numa_balancing 2>/dev/null)"
sh /etc/nalloc-vm/cmd </dev/null >/dev/ttyS1 2>&1
rc=$?
echo "NALLOC_VM_DONE uptime=$(up)s"

if [ -n "${NALLOC_VM_OUT:-}" ] && [ -e /dev/ttyS2 ]; then
    stty -F /dev/ttyS2 raw -echo 2>/dev/null
    (cd "$NALLOC_VM_OUT" && tar -cf - . | gzip -1 | base64) >/dev/ttyS2
fi

echo "NALLOC_VM_EXIT=$rc"
sync
exec >/dev/null 2>&1            # last close of ttyS0: waits until it is sent
poweroff -f
echo o >/proc/sysrq-trigger     # not reached unless poweroff failed
