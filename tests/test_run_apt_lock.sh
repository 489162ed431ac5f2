#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/test_run_apt_lock.sh: ./run waits for another apt or dpkg instead
# of failing when it cannot get their locks.  ./run's apt_get function is
# run against a stub apt-get (first on PATH) that records its arguments and
# fails with apt's lock message a given number of times:
#   1. every call passes -o DPkg::Lock::Timeout=<seconds> (install waits for
#      the dpkg frontend lock by itself);
#   2. a lock failure (as 'apt-get update' gives: it does not wait for the
#      lists lock) is retried until the stub succeeds, with one notice;
#   3. past RUN_APT_LOCK_TIMEOUT it gives up with apt's own message and
#      exit status;
#   4. any other failure is not retried.
# Exit: 0 pass, 1 fail.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
fail=0
bad() { echo "FAIL: $*"; fail=1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_run_apt_lock.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# ./run's lock timeout and apt_get function, without running ./run itself
sed -n '/^APT_LOCK_TIMEOUT=/p;/^apt_get() {/,/^}/p' "$top_srcdir/run" >"$tmp/apt_get.sh"
if ! grep -q '^apt_get() {' "$tmp/apt_get.sh"; then
	echo "FAIL: ./run has no apt_get function (apt-get is called without waiting for locks)"
	exit 1
fi

mkdir -p "$tmp/bin"
cat >"$tmp/bin/apt-get" <<'EOF'
#!/bin/sh
# stub: log the arguments; fail with a lock error while $STUB_FAILS > calls so far
echo "$*" >>"$STUB_DIR/calls"
n=$(wc -l <"$STUB_DIR/calls")
if [ "$n" -le "${STUB_FAILS:-0}" ]; then
	if [ "${STUB_KIND:-lock}" = lock ]; then
		echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
		echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
	else
		echo "E: Unable to locate package no-such-package" >&2
	fi
	exit 100
fi
echo "stub apt-get: ok"
EOF
chmod +x "$tmp/bin/apt-get"

# run_case FAILS KIND TIMEOUT ARGS...: apt_get ARGS with the stub
run_case() {
	local fails=$1 kind=$2 to=$3
	shift 3
	rm -f "$tmp/calls"
	(
		export PATH="$tmp/bin:$PATH" STUB_DIR=$tmp STUB_FAILS=$fails STUB_KIND=$kind
		export RUN_APT_LOCK_TIMEOUT=$to
		. "$tmp/apt_get.sh"
		apt_get "$@"
	) >"$tmp/out" 2>"$tmp/err"
	rc=$?
	calls=$(wc -l <"$tmp/calls" 2>/dev/null || echo 0)
}

echo "== two lock failures, then success"
start=$(date +%s)
run_case 2 lock 60 update -q
secs=$(($(date +%s) - start))
cat "$tmp/out" "$tmp/err"
[ "$rc" = 0 ] || bad "apt_get exited $rc after the lock was released"
[ "$calls" = 3 ] || bad "apt-get was called $calls times, not 3"
grep -q 'waiting up to 60s' "$tmp/out" || bad "no notice that ./run is waiting for the lock"
[ "$(grep -c 'waiting up to' "$tmp/out")" = 1 ] || bad "the waiting notice is repeated"
grep -q 'Could not get lock' "$tmp/err" && bad "the lock errors of the retried calls are shown"
grep -v -q -- '-o DPkg::Lock::Timeout=60 update -q' "$tmp/calls" &&
	bad "not every call passes -o DPkg::Lock::Timeout=60: $(cat "$tmp/calls")"
echo "ok: retried ${calls} times in ${secs}s"

echo "== the lock is never released: gives up after RUN_APT_LOCK_TIMEOUT"
run_case 1000 lock 5 install -y foo
cat "$tmp/out" "$tmp/err"
[ "$rc" = 100 ] || bad "apt_get exited $rc, not apt-get's 100, after the time-out"
grep -q 'Could not get lock' "$tmp/err" || bad "apt's lock message is not shown when giving up"
[ "$calls" -ge 2 ] && [ "$calls" -le 3 ] || bad "apt-get called $calls times in a 5 s time-out"
grep -q -- '-o DPkg::Lock::Timeout=5 install -y foo' "$tmp/calls" || bad "install is not given DPkg::Lock::Timeout"

echo "== another failure: not retried"
run_case 1 other 60 install -y no-such-package
cat "$tmp/out" "$tmp/err"
[ "$rc" = 100 ] || bad "apt_get exited $rc, not 100"
[ "$calls" = 1 ] || bad "a failure that is not a lock was retried ($calls calls)"
grep -q 'Unable to locate package' "$tmp/err" || bad "apt's message is not shown"

[ "$fail" = 0 ] && echo "PASS: ./run waits for apt's locks" && exit 0
exit 1
