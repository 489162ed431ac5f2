#!/bin/sh
# The statistics: counters add up (one node here), the JSON follows the
# schema (printed, at exit, and as an interval file), and inside a 2-node VM
# a pinned thread's bytes and cross-node frees land on the right nodes.
set -u
b=$top_builddir/tests
py=${PYTHON3:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
"$b/test_stats" basic || { s=$?; [ $s = 77 ] && exit 77; rc=1; }
"$b/test_stats" json >"$tmp/print.json" || rc=1
NALLOC_STATS_JSON="$tmp/exit.%p.json" "$b/test_stats" json >/dev/null || rc=1
NALLOC_STATS_INTERVAL=0.05 NALLOC_STATS_JSON="$tmp/interval.jsonl" "$b/test_stats" basic >/dev/null || rc=1
"$py" "$top_srcdir/tests/check_stats_json.py" "$tmp/print.json" "$tmp"/exit.*.json "$tmp/interval.jsonl" || rc=1
# the interval file ends with the document written at exit
"$py" -c 'import json,sys; d=[json.loads(l) for l in open(sys.argv[1])]; sys.exit(0 if d[-1]["final"] and not any(x["final"] for x in d[:-1]) else 1)' \
	"$tmp/interval.jsonl" || { echo "interval file: final document not last"; rc=1; }
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
