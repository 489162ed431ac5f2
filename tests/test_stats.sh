#!/bin/sh
# SPDX-License-Identifier: MIT
# The statistics: counters add up (one node here), the JSON follows the
# schema (printed, at exit, and as an interval file), fork under the
# interval writer, NALLOC_STATS_SIGNAL, the start-up warnings, and inside a
# 2-node VM a pinned thread's bytes and cross-node frees (small and large)
# land on the right nodes.
set -u
b=$top_builddir/tests
py=${PYTHON3:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
# (--disable-stats: basic skips; the rest still runs)
"$b/test_stats" basic || { s=$?; [ $s = 77 ] || rc=1; }
"$b/test_stats" json >"$tmp/print.json" || rc=1
NALLOC_STATS_JSON="$tmp/exit.%p.json" "$b/test_stats" json >/dev/null || rc=1
NALLOC_STATS_INTERVAL=0.05 NALLOC_STATS_JSON="$tmp/interval.jsonl" "$b/test_stats" basic >/dev/null || [ $? = 77 ] || rc=1
"$py" "$top_srcdir/tests/check_stats_json.py" "$tmp/print.json" "$tmp"/exit.*.json "$tmp/interval.jsonl" || rc=1
# the interval file ends with the document written at exit
"$py" -c 'import json,sys; d=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(0 if d[-1]["final"] and not any(x["final"] for x in d[:-1]) else 1)' \
	"$tmp/interval.jsonl" || { echo "interval file: final document not last"; rc=1; }

# wait_for SECONDS CMD...: until CMD succeeds (polls every 0.05 s)
wait_for() {
	_n=$(($1 * 20))
	shift
	while ! "$@"; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || return 1
		sleep 0.05
	done
}
lines() { [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }

# fork while the interval writer writes (issue: a child hung in exit() on
# the writer's lock).  The parent's file is a FIFO that test_stats reads
# slowly, so the writer is nearly always inside its write(2) when a child
# is forked.  Run under sh -c so that the FIFO can be named after the pid.
fork_run() { # NAME (NALLOC_STATS_JSON's file name, %p allowed)
	rm -rf "$tmp/fork"
	mkdir "$tmp/fork"
	sh -c 'f=$(printf "%s/%s" "$0" "$2" | sed "s/%p/$$/g"); mkfifo "$f" && exec 3<>"$f" &&
		NALLOC_STATS_INTERVAL=0.001 NALLOC_STATS_JSON="$0/$2" exec "$1" fork 300 3' \
		"$tmp/fork" "$b/test_stats" "$1"
}
# with %p every child writes its own file: interval documents from its own
# writer thread (the first child waits for one), then its final document
fork_run 'f.%p.jsonl' || rc=1
"$py" - "$tmp/fork" <<'EOF' || rc=1
import json, os, stat, sys
d = sys.argv[1]
n = nint = 0
for nm in sorted(os.listdir(d)):
    p = os.path.join(d, nm)
    if stat.S_ISFIFO(os.stat(p).st_mode):
        continue
    docs = [json.loads(l) for l in open(p)]
    pid = int(nm.split(".")[1])
    # its own interval documents (its own writer thread), then the final one
    if (not docs or any(x["pid"] != pid for x in docs) or not docs[-1]["final"]
            or any(x["trigger"] != "interval" for x in docs[:-1])):
        sys.exit("fork: %s: want interval documents then a final one, all of pid %d, have %r"
                 % (nm, pid, [(x["pid"], x["trigger"]) for x in docs]))
    n += 1
    nint += len(docs) - 1
if n != 300:
    sys.exit("fork: %d children's files, want 300" % n)
print("fork: 300 children wrote their own file (%d interval documents, 300 final)" % nint)
EOF
# with a fixed path the children write none (test_stats checks the FIFO)
fork_run 'f.jsonl' || rc=1
[ "$(ls "$tmp/fork")" = f.jsonl ] || { echo "fork: children created files: $(ls "$tmp/fork")"; rc=1; }

# NALLOC_STATS_SIGNAL: a document at once, not final; SIGTERM (no exit
# handlers) leaves it there.  Without an interval it replaces the file; with
# one it is appended.
sig_fail() {
	echo "signal: $1"
	kill -KILL $pid
	wait $pid
	return 1
}
sig_run() { # FILE SIGNAL [INTERVAL]
	rm -f "$1" "$tmp/wait.out"
	NALLOC_STATS_INTERVAL=${3:-0} NALLOC_STATS_SIGNAL=$2 NALLOC_STATS_JSON="$1" \
		"$b/test_stats" wait >"$tmp/wait.out" &
	pid=$!
	wait_for 20 grep -q ready "$tmp/wait.out" 2>/dev/null || { sig_fail "test_stats wait did not start"; return 1; }
	kill -"$2" $pid
	wait_for 20 lines "$1" 1 || { sig_fail "SIG$2 wrote no document"; return 1; }
	kill -"$2" $pid
	if [ -n "${3:-}" ]; then
		wait_for 20 lines "$1" 2 || { sig_fail "the second SIG$2 appended no document"; return 1; }
	fi
	sleep 0.1
	kill -TERM $pid
	wait $pid
	st=$?
	[ $st = 143 ] || { echo "signal: test_stats wait: exit status $st, want 143 (SIGTERM)"; return 1; }
	"$py" "$top_srcdir/tests/check_stats_json.py" "$1" >/dev/null || return 1
	"$py" -c 'import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
want, pid = int(sys.argv[2]), int(sys.argv[3])
ok = len(d) == want and all(x["trigger"] == "signal" and not x["final"] and x["pid"] == pid for x in d)
sys.exit(0 if ok else "signal: want %d signal documents of pid %d, have %r"
         % (want, pid, [(x["pid"], x["trigger"], x["final"]) for x in d]))' "$1" "$4" $pid
}
sig_run "$tmp/sig.json" USR2 "" 1 || rc=1
sig_run "$tmp/sig.jsonl" USR1 1000 2 || rc=1
[ $rc = 0 ] && echo "signal: documents on SIGUSR2 (replacing) and SIGUSR1 (appended to an interval file)"

# start-up warnings (write(2), one line each)
NALLOC_STATS_INTERVAL=1 "$b/test_stats" json 2>"$tmp/err" >/dev/null
grep -q '^nalloc: NALLOC_STATS_INTERVAL does nothing without NALLOC_STATS_JSON' "$tmp/err" ||
	{ echo "no warning for NALLOC_STATS_INTERVAL without NALLOC_STATS_JSON:"; cat "$tmp/err"; rc=1; }
NALLOC_STATS_SIGNAL=USR2 "$b/test_stats" json 2>"$tmp/err" >/dev/null
grep -q '^nalloc: NALLOC_STATS_SIGNAL does nothing without NALLOC_STATS_JSON' "$tmp/err" ||
	{ echo "no warning for NALLOC_STATS_SIGNAL without NALLOC_STATS_JSON:"; cat "$tmp/err"; rc=1; }
NALLOC_STATS_SIGNAL=TERM NALLOC_STATS_JSON="$tmp/bad.json" "$b/test_stats" json 2>"$tmp/err" >/dev/null
grep -q '^nalloc: invalid value for NALLOC_STATS_SIGNAL=TERM' "$tmp/err" ||
	{ echo "no error for NALLOC_STATS_SIGNAL=TERM:"; cat "$tmp/err"; rc=1; }
NALLOC_STATS_JSON="$tmp/quiet.json" "$b/test_stats" json 2>"$tmp/err" >/dev/null
[ ! -s "$tmp/err" ] || { echo "unexpected start-up output:"; cat "$tmp/err"; rc=1; }

# 2-node VM
. "$top_srcdir/tests/vm/lib.sh"
vm_ready
case $? in
0) "$top_srcdir/tests/vm/run-vm.sh" --layout 2node --timeout 240 --files "$b/test_stats" -- \
	"test_stats vm2" || rc=1 ;;
77) echo "2-node part skipped" ;;
*) rc=1 ;;
esac
exit $rc
