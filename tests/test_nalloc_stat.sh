#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_nalloc_stat.sh: nalloc-stat end to end.
#
# - run: real programs (python3) under nalloc; the program's stdin, stdout,
#   stderr and exit status pass through; the table and the JSON file;
#   --interval gives JSON Lines that show --all and watch read, and a
#   watch started before the program follows the file to the final document;
# - diff of two runs of different sizes: the changes have the right sign;
# - show/diff/watch on fixtures (tests/data/nalloc-stat-*): schema 1 and
#   schema 2 documents with two nodes, a JSON Lines interval file;
# - run of a command killed by SIGTERM (with --signal: a document before):
#   the signal named, the table marked as not the final document;
# - watch on a file that does not exist yet says it waits for it;
# - plot: a PNG from the interval fixture (gnuplot), and its errors;
# - every input error exits 2 with one "nalloc-stat: ..." line, no traceback.
# Exit 77 when NALLOC_LIB (path of libnalloc.so) or python3 is not there.

set -u
unset NALLOC_STATS NALLOC_STATS_JSON NALLOC_STATS_INTERVAL LD_PRELOAD 2>/dev/null || true
: "${top_srcdir:=.}" "${top_builddir:=.}" "${NALLOC_LIB:=}"
. "$(dirname "$0")/sh_util.sh"
nalloc_lib test_nalloc_stat
find_python
if [ -z "$PY" ]; then
	echo "test_nalloc_stat: no python3: skipped"
	exit 77
fi

STAT=$top_builddir/tools/nalloc-stat
[ -f "$STAT" ] || STAT=$top_srcdir/tools/nalloc-stat.in
DATA=$top_srcdir/tests/data
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nalloc-stat-test.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
export LC_ALL=C TZ=UTC
TIMEOUT=
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout 60"

fails=0
passes=0
ok() {
	passes=$((passes + 1))
	echo "ok: $*"
}
bad() {
	fails=$((fails + 1))
	echo "FAIL: $*"
}
show_file() { # indent a file into the log
	sed 's/^/    | /' "$1" | head -n "${2:-30}"
}
# st ARGS...: nalloc-stat ARGS, stdout in $TMP/out, stderr in $TMP/err, status in $rc
st() {
	$TIMEOUT "$PY" "$STAT" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}
expect_rc() { # expect_rc WANT WHAT
	if [ "$rc" = "$1" ]; then
		ok "$2 (exit $rc)"
	else
		bad "$2: exit $rc, expected $1"
		echo "  stdout:"
		show_file "$TMP/out"
		echo "  stderr:"
		show_file "$TMP/err"
	fi
}
expect_out() { # expect_out REGEX WHAT: a line of stdout matches
	if grep -Eq -- "$1" "$TMP/out"; then
		ok "$2"
	else
		bad "$2: no line of stdout matches /$1/"
		show_file "$TMP/out" 60
		show_file "$TMP/err"
	fi
}
no_out() { # no_out REGEX WHAT
	if grep -Eq -- "$1" "$TMP/out"; then
		bad "$2: stdout has /$1/"
		show_file "$TMP/out" 60
	else
		ok "$2"
	fi
}
# expect_err WHAT [REGEX]: exit 2, stderr is one line "nalloc-stat: ..." (matching REGEX)
expect_err() {
	what=$1
	if [ "$rc" != 2 ]; then
		bad "$what: exit $rc, expected 2"
	elif grep -q Traceback "$TMP/err"; then
		bad "$what: a Python traceback"
	elif [ "$(wc -l <"$TMP/err")" != 1 ] || ! grep -q '^nalloc-stat: ' "$TMP/err"; then
		bad "$what: stderr is not one 'nalloc-stat: ...' line"
	elif [ $# -gt 1 ] && ! grep -Eq -- "$2" "$TMP/err"; then
		bad "$what: the message does not match /$2/"
	else
		ok "$what: $(cat "$TMP/err")"
		return
	fi
	show_file "$TMP/err"
}
# pycheck WHAT CODE FILE...: python code with the JSON documents of the files
# in sys.argv[1:] (every line parsed: one document or JSON Lines); it raises
# or exits nonzero on failure
pycheck() {
	what=$1
	code=$2
	shift 2
	if "$PY" -c "import json, sys
def docs(p):
    with open(p) as f:
        t = f.read()
    try:
        return [json.loads(t)]
    except ValueError:
        return [json.loads(l) for l in t.splitlines() if l.strip()]
$code" "$@" >"$TMP/py.out" 2>&1; then
		ok "$what"
	else
		bad "$what"
		show_file "$TMP/py.out"
	fi
}

# ---------------------------------------------------------------- help
for c in "" run show diff watch plot; do
	st $c --help
	if [ "$rc" = 0 ] && grep -q "usage: nalloc-stat" "$TMP/out"; then
		ok "nalloc-stat $c --help"
	else
		bad "nalloc-stat $c --help: exit $rc"
		show_file "$TMP/out"
		show_file "$TMP/err"
	fi
done
st --help
expect_out "run .*CMD" "--help lists run"
expect_out "watch FILE" "--help lists watch"
expect_out "plot FILE" "--help lists plot"
if [ -x "$STAT" ] && command -v python3 >/dev/null 2>&1; then
	if v=$("$STAT" --version 2>&1) && echo "$v" | grep -q '^nalloc-stat [0-9]'; then
		ok "the script runs by itself: $v"
	else
		bad "$STAT --version: $v"
	fi
fi

# ---------------------------------------------------------------- run
# pass-through of stdin, stdout, stderr; the table; the JSON file
echo "some input" | $TIMEOUT "$PY" "$STAT" run --json "$TMP/small.json" -- "$PY" -c '
import sys, ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
keep = [libc.malloc(1000) for i in range(1000)]   # live at exit: about 1 MB
sys.stdout.write(sys.stdin.read().upper())
sys.stderr.write("to stderr\n")
' >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_rc 0 "run -- python3"
expect_out '^SOME INPUT$' "run: the command's stdin and stdout pass through"
if grep -q '^to stderr$' "$TMP/err"; then ok "run: the command's stderr passes through"; else bad "run: stderr"; show_file "$TMP/err"; fi
expect_out '^Per-node nalloc statistics \(\*_bytes in MBs\) for PID [0-9]+ \(python3' "run: the table's title"
expect_out '^ +Node 0( +Node [0-9]+)* +Total$' "run: columns Node 0 ... Total"
expect_out '^in_use_bytes +[0-9]+\.[0-9][0-9] ' "run: in_use_bytes in MB with 2 decimals"
expect_out '^allocs +[0-9]+ ' "run: allocs as an integer"
expect_out '^resident_on_node +' "run: resident fraction row"
pycheck "run --json F: one valid JSON document" '
d = docs(sys.argv[1]); assert len(d) == 1, len(d)
d = d[0]; assert d["final"] is True and d["nodes"] and sum(n["allocs"] for n in d["nodes"]) > 0, d.get("nodes")
assert sum(n["in_use_bytes"] for n in d["nodes"]) >= 1000 * 1000' "$TMP/small.json"
if "$PY" -m json.tool "$TMP/small.json" >/dev/null 2>&1; then ok "python3 -m json.tool accepts it"; else bad "json.tool on $TMP/small.json"; fi

st run --table-to-stderr --json "$TMP/small2.json" -- "$PY" -c 'print("x")'
expect_rc 0 "run --table-to-stderr"
if [ "$(cat "$TMP/out")" = x ] && grep -q '^Per-node nalloc statistics' "$TMP/err"; then
	ok "run --table-to-stderr: stdout is only the command's"
else
	bad "run --table-to-stderr"
	show_file "$TMP/out"
fi

# a bigger run of the same program: diff shows increases
st run --json "$TMP/big.json" -- "$PY" -c '
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
keep = [libc.malloc(1000) for i in range(20000)]   # about 20 MB
junk = [str(i) * 3 for i in range(200000)]
'
expect_rc 0 "run -- a bigger python3"
st diff "$TMP/small.json" "$TMP/big.json"
expect_rc 0 "diff small big"
expect_out '^allocs +Node [0-9]+ +[0-9]+ +[0-9]+ +[-+]?[0-9]+ +' "diff small big: an allocs row"
expect_out '^in_use_bytes +Node [0-9]+ +[0-9.]+ +[0-9.]+ +[-+]?[0-9.]+ +' "diff small big: an in_use_bytes row (MB)"
expect_out '^Size classes' "diff: the size-class section"
st diff --json "$TMP/big.json" "$TMP/small.json"
expect_rc 0 "diff --json big small"
cp "$TMP/out" "$TMP/diff.json"
# (per node only on a 1-node machine: elsewhere the two runs may have run
# on different nodes)
pycheck "diff --json big small: the changes are negative" '
d = json.load(open(sys.argv[1]))
f = {(e["figure"], e["node"]): e for e in d["figures"]}
for fig in ("allocs", "frees", "in_use_bytes", "mapped_bytes"):
    for node in (d["nodes"] if len(d["nodes"]) == 1 else []) + ["total"]:
        e = f[(fig, node)]
        if fig == "mapped_bytes":
            assert e["change"] <= 0, (fig, node, e)
        else:
            assert e["change"] < 0 and e["relative_pct"] < 0 and e["b"] - e["a"] == e["change"], (fig, node, e)
assert d["classes"] and len(d["classes"]) <= 10' "$TMP/diff.json"

# exit status: the command's, 128+N after signal N, 127 when not found
st run -- sh -c 'exit 3'
expect_rc 3 "run -- sh -c 'exit 3'"
st run -- sh -c 'kill -TERM $$'
expect_rc 143 "run -- a command killed by SIGTERM"
st run -- /nonexistent/command
expect_rc 127 "run -- a command that does not exist"
st run --lib "$TMP/no-such-lib.so" -- true
expect_err "run --lib MISSING" "no such library"
st run
expect_err "run without a command" "no command"
st run --interval abc -- true
expect_err "run --interval abc" "interval"

# ---------------------------------------------------------------- intervals
# watch follows the file from before it exists to the final document
$TIMEOUT "$PY" "$STAT" watch --interval 0.1 "$TMP/iv.jsonl" >"$TMP/watch.out" 2>"$TMP/watch.err" &
wpid=$!
st run --json "$TMP/iv.jsonl" --interval 0.2 -- "$PY" -c '
import time
x = []
for i in range(10):
    x.append(bytearray(200000))
    time.sleep(0.1)
'
expect_rc 0 "run --interval 0.2 -- a 1 s program"
wait $wpid
wrc=$?
n=$(grep -c 'allocs/s' "$TMP/watch.out")
if [ "$wrc" = 0 ] && [ "$n" -ge 3 ] && tail -n 1 "$TMP/watch.out" | grep -q 'final'; then
	ok "watch followed the growing file: $n lines, stopped at the final document"
else
	bad "watch (following): exit $wrc, $n lines"
	show_file "$TMP/watch.out"
	show_file "$TMP/watch.err"
fi
pycheck "the interval file is JSON Lines, >= 3 documents, only the last one final" '
d = docs(sys.argv[1])
assert len(d) >= 3, len(d)
assert [x["final"] for x in d] == [False] * (len(d) - 1) + [True]
assert all(a["time"] <= b["time"] for a, b in zip(d, d[1:]))' "$TMP/iv.jsonl"
ndocs=$(grep -c . "$TMP/iv.jsonl")
st watch --once "$TMP/iv.jsonl"
expect_rc 0 "watch --once on the interval file"
n=$(grep -Ec 'N[0-9]+ .* MB .* allocs/s .* frees/s .* remote/s' "$TMP/out")
if [ "$n" = "$ndocs" ] && tail -n 1 "$TMP/out" | grep -q final; then
	ok "watch --once: one line per document ($n), the last one final"
else
	bad "watch --once: $n lines for $ndocs documents"
	show_file "$TMP/out"
fi
st show --all "$TMP/iv.jsonl"
n=$(grep -c '^Per-node nalloc statistics' "$TMP/out")
if [ "$rc" = 0 ] && [ "$n" = "$ndocs" ]; then ok "show --all: $n tables"; else bad "show --all: exit $rc, $n tables for $ndocs documents"; fi
st show "$TMP/iv.jsonl"
expect_rc 0 "show of a JSON Lines file"
expect_out '[0-9]:[0-9][0-9]\.[0-9]{3}, final' "show: the last document"

# ---------------------------------------------------------------- fixtures
st show "$DATA/nalloc-stat-2node-a.json"
expect_rc 0 "show 2-node schema 2 fixture"
expect_out '^ +Node 0 +Node 1 +Total$' "show: columns Node 0, Node 1, Total"
expect_out '^in_use_bytes +30\.00 +15\.00 +45\.00$' "show: in_use_bytes in MB per node and total"
expect_out '^allocs +5000000 +2500000 +7500000$' "show: allocs per node and total"
expect_out '^remote_from_1 +150000 +0 +150000$' "show: remote frees by source node"
expect_out '^resident_on_node +99\.80% +95\.00% +98\.20%$' "show: resident fraction (total weighted by sampled pages)"

st show "$DATA/nalloc-stat-schema1.json"
expect_rc 0 "show schema 1 fixture (several lines, older subset)"
expect_out '^allocs +2000041 +0 +2000041$' "show schema 1: allocs"
no_out '^(remote_frees_out|remote_from_|resident)' "show schema 1: no rows for absent figures"

st diff "$DATA/nalloc-stat-2node-a.json" "$DATA/nalloc-stat-2node-b.json"
expect_rc 0 "diff two 2-node fixtures"
expect_out '^remote_frees +Node 0 +150000 +10000 +-140000 +-93\.3%$' "diff: remote_frees node 0"
expect_out '^ +Node 1 +40000 +5000 +-35000 +-87\.5%$' "diff: remote_frees node 1"
expect_out '^ +Total +190000 +15000 +-175000 +-92\.1%$' "diff: remote_frees total"
expect_out '^in_use_bytes +Node 0 +30\.00 +28\.00 +-2\.00 +-6\.7%$' "diff: in_use_bytes in MB"
expect_out '^1 +16 +1500000 +1620000 +\+120000 +\+8\.0%' "diff: size class 16 first"
st diff --json "$DATA/nalloc-stat-2node-a.json" "$DATA/nalloc-stat-2node-b.json"
cp "$TMP/out" "$TMP/diff2.json"
pycheck "diff --json of the fixtures" '
d = json.load(open(sys.argv[1]))
assert d["nodes"] == [0, 1]
f = {(e["figure"], e.get("source_node"), e["node"]): e for e in d["figures"]}
e = f[("remote_frees", None, "total")]
assert (e["a"], e["b"], e["change"]) == (190000, 15000, -175000) and abs(e["relative_pct"] + 92.105) < 0.01, e
assert f[("remote_frees_by_source", 1, 0)]["change"] == -140000
assert f[("in_use_bytes", None, 1)]["change"] == -3 * 1048576
assert [c["size"] for c in d["classes"]][:3] == [16, 64, 32], d["classes"]' "$TMP/diff2.json"
st diff --by in_use --top 1 "$DATA/nalloc-stat-2node-a.json" "$DATA/nalloc-stat-2node-b.json"
expect_out '^40 +8192 +1000 +800 +-200 +-20\.0% +7\.81 +6\.25 +-1\.56$' "diff --by in_use --top 1: the 8 KiB class"
no_out '^1 +16 ' "diff --top 1: one class only"
st diff "$DATA/nalloc-stat-schema1.json" "$DATA/nalloc-stat-2node-b.json"
expect_rc 0 "diff schema 1 vs schema 2"
expect_out '^remote_frees_out +Node 0 +- +0\.00|^remote_frees_out +Node 0 +- +[0-9]+ +- +-$' "diff: figures absent on one side"
expect_out 'no per-node class figures' "diff schema 1: no class comparison"
st diff "$TMP/small.json" "$DATA/nalloc-stat-2node-a.json"
expect_rc 0 "diff of a real run and a 2-node fixture"
printf '%s\n' '{"schema": 2, "nodes": [{"node": 0, "mapped_bytes": 4194304, "allocs": 10}, {"node": 3, "mapped_bytes": 0, "allocs": 1}]}' >"$TMP/nodes-0-3.json"
st diff "$TMP/nodes-0-3.json" "$DATA/nalloc-stat-2node-a.json"
expect_rc 0 "diff: nodes 0,3 against nodes 0,1"
expect_out '^allocs +Node 0 +10 +5000000 +\+4999990 ' "diff: nodes matched by OS number"
expect_out '^ +Node 1 +- +2500000 +\(B only\)' "diff: a node present in B only"
expect_out '^ +Node 3 +1 +- +\(A only\)' "diff: a node present in A only"
expect_out '^ +Total +11 +7500000 +\+7499989 ' "diff: totals over each side's nodes"

st watch --once "$DATA/nalloc-stat-interval.jsonl"
expect_rc 0 "watch --once on the interval fixture"
expect_out '^09:13:21\.000 up +1\.00s \| N0 +2\.00 MB +4000 allocs/s +3600 frees/s +100 remote/s \| N1 +1\.00 MB +2000 allocs/s +1800 frees/s +40 remote/s$' "watch: rates between documents"
if [ "$(wc -l <"$TMP/out")" = 3 ] && tail -n 1 "$TMP/out" | grep -q '| final$'; then ok "watch --once: 3 lines, the last final"; else bad "watch --once fixture"; show_file "$TMP/out"; fi

# fields a reader does not know are ignored (numeric node fields are shown)
printf '%s\n' '{"schema": 3, "future": {"a": [1]}, "nodes": [{"node": 2, "allocs": 7, "new_counter": 5, "tag": "x"}], "classes": [{"class": 1, "size": 16, "later": true}]}' >"$TMP/future.json"
st show "$TMP/future.json"
expect_rc 0 "show: unknown fields"
expect_out '^ +Node 2 +Total$' "show: OS node numbers as they are"
expect_out '^new_counter +5 +5$' "show: an unknown numeric node field"

# ---------------------------------------------------------------- killed, signal
# a command killed by SIGTERM after NALLOC_STATS_SIGNAL wrote a document: run
# names the signal and marks the table as not the final document
st run --signal USR2 --json "$TMP/sig.json" -- "$PY" -c '
import os, signal, sys, time
p = sys.argv[1]
os.kill(os.getpid(), signal.SIGUSR2)
for i in range(400):
    if os.path.exists(p) and os.path.getsize(p) > 0:
        break
    time.sleep(0.05)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(30)' "$TMP/sig.json"
expect_rc 143 "run --signal USR2 -- a command killed by SIGTERM"
if grep -q 'was killed by SIGTERM' "$TMP/err"; then ok "run names the signal: $(grep 'killed by' "$TMP/err")"; else bad "run does not name SIGTERM"; show_file "$TMP/err"; fi
expect_out '^NOT the final document: written on NALLOC_STATS_SIGNAL' "run: the table is marked as not final"
expect_out '^allocs ' "run: the table of the signal document"
st show "$TMP/sig.json"
expect_out '^NOT the final document: written on NALLOC_STATS_SIGNAL' "show marks a signal document"
st show "$DATA/nalloc-stat-2node-a.json"
no_out '^NOT the final' "show: a final document is not marked"
st run -- "$PY" -c 'import os, signal; os.kill(os.getpid(), signal.SIGTERM)'
expect_rc 143 "run -- a command killed before any document"
if grep -q 'killed by SIGTERM' "$TMP/err" && grep -q -- '--signal' "$TMP/err"; then
	ok "run: killed, no document: names the signal and suggests --signal"
else
	bad "run: killed, no document: message"
	show_file "$TMP/err"
fi
st run --signal TERM -- true
expect_err "run --signal TERM" "USR1, USR2 or HUP"

# ---------------------------------------------------------------- watch, waiting
$TIMEOUT "$PY" "$STAT" watch --interval 0.1 "$TMP/later.jsonl" >"$TMP/wait.out" 2>"$TMP/wait.err" &
wpid=$!
sleep 0.5
cp "$DATA/nalloc-stat-interval.jsonl" "$TMP/later.jsonl"
wait $wpid
wrc=$?
if [ "$wrc" = 0 ] && grep -q "later.jsonl does not exist yet: waiting for it" "$TMP/wait.err" &&
	[ "$(wc -l <"$TMP/wait.err")" = 1 ] && [ "$(grep -c 'allocs/s' "$TMP/wait.out")" = 3 ]; then
	ok "watch on a missing file says it waits, then follows it: $(cat "$TMP/wait.err")"
else
	bad "watch on a missing file: exit $wrc"
	show_file "$TMP/wait.err"
	show_file "$TMP/wait.out"
fi

# ---------------------------------------------------------------- plot
if command -v gnuplot >/dev/null 2>&1; then
	st plot "$DATA/nalloc-stat-interval.jsonl" -o "$TMP/iv.png"
	expect_rc 0 "plot the interval fixture"
	expect_out 'iv\.png: 3 documents, nodes 0, 1, 0\.500 to 1\.500 s$' "plot: what it drew"
	if [ -s "$TMP/iv.png" ] && [ "$(head -c 4 "$TMP/iv.png" | od -An -c | tr -d ' ')" = '211PNG' ] &&
		[ "$(wc -c <"$TMP/iv.png")" -gt 5000 ]; then
		ok "plot: a PNG of $(wc -c <"$TMP/iv.png") bytes"
	else
		bad "plot: no PNG in $TMP/iv.png"
	fi
	cp "$DATA/nalloc-stat-interval.jsonl" "$TMP/iv2.jsonl"
	st plot "$TMP/iv2.jsonl"
	if [ "$rc" = 0 ] && [ -s "$TMP/iv2.png" ]; then ok "plot: default output FILE.png"; else bad "plot: default output: exit $rc"; fi
	st plot "$DATA/nalloc-stat-2node-a.json" -o "$TMP/one.png"
	expect_err "plot of a single document" "interval file"
	st plot "$DATA/nalloc-stat-interval.jsonl" -o "$TMP/no/such/dir/x.png"
	expect_err "plot -o in a missing directory" "no such directory"
	st plot --pid 4242 "$DATA/nalloc-stat-interval.jsonl" -o "$TMP/x.png"
	expect_err "plot --pid: no such process" "pid 4242"
else
	echo "plot: no gnuplot: PNG checks skipped"
fi
PATH=/nonexistent "$PY" "$STAT" plot "$DATA/nalloc-stat-interval.jsonl" -o "$TMP/x.png" >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_err "plot without gnuplot" "gnuplot not found"

# ---------------------------------------------------------------- errors
: >"$TMP/empty.json"
printf '\n  \n' >"$TMP/blank.json"
printf '%s\n' '{"schema": 2, "nodes": []}' '{"schema": 2, "nodes": [}' >"$TMP/bad-line2.jsonl"
printf '%s\n' '{"schema": 2, "pid": 1}' >"$TMP/no-nodes.json"
printf '%s\n' '{"schema": 2, "nodes": {"node": 0}}' >"$TMP/nodes-object.json"
printf '%s\n' '{"schema": 2, "nodes": [{"node": 0, "allocs": "12"}]}' >"$TMP/allocs-string.json"
printf '%s\n' '{"schema": 2, "nodes": [{"node": "0"}]}' >"$TMP/node-string.json"
printf '%s\n' '{"schema": 2, "nodes": [{"node": 0, "resident_fraction": "high"}]}' >"$TMP/frac-string.json"
printf '%s\n' '{"schema": 2, "nodes": [{"node": 0, "remote_frees_by_source": 3}]}' >"$TMP/src-number.json"
printf '%s\n' '{"schema": 2, "nodes": [{"node": 0}], "classes": 5}' >"$TMP/classes-number.json"
printf '%s\n' '{"schema": 2, "pid": "me", "nodes": [{"node": 0}]}' >"$TMP/pid-string.json"
printf '%s\n' '[1, 2]' >"$TMP/array.json"
printf '\377\376garbage\n' >"$TMP/binary.json"
good=$DATA/nalloc-stat-2node-a.json

st show "$TMP/missing.json"
expect_err "show: missing file" "no such file"
st show "$TMP/empty.json"
expect_err "show: empty file" "empty"
st show "$TMP/blank.json"
expect_err "show: blank file" "empty"
st show "$TMP/bad-line2.jsonl"
expect_err "show: malformed JSON on line 2" "line 2: malformed JSON"
st show "$TMP/binary.json"
expect_err "show: binary file" "line 1: malformed JSON"
st show "$TMP/no-nodes.json"
expect_err "show: no nodes" '"nodes"'
st show "$TMP/nodes-object.json"
expect_err "show: nodes is not an array" "nodes: expected an array"
st show "$TMP/allocs-string.json"
expect_err "show: a string count" "nodes\[0\]\.allocs: expected a number, got a string"
st show "$TMP/node-string.json"
expect_err "show: a string node number" "node: expected an integer"
st show "$TMP/frac-string.json"
expect_err "show: a string resident_fraction" "resident_fraction"
st show "$TMP/src-number.json"
expect_err "show: remote_frees_by_source not an array" "remote_frees_by_source"
st show "$TMP/classes-number.json"
expect_err "show: classes not an array" "classes"
st show "$TMP/pid-string.json"
expect_err "show: a string pid" "pid"
st show "$TMP/array.json"
expect_err "show: not an object" "object"
st show "$TMP"
expect_err "show: a directory" "directory"
st diff "$good" "$TMP/missing.json"
expect_err "diff: B missing" "missing.json"
st diff "$TMP/bad-line2.jsonl" "$good"
expect_err "diff: A malformed" "line 2"
st diff "$good" "$TMP/no-nodes.json"
expect_err "diff: B without nodes" '"nodes"'
st watch --once "$TMP/missing.json"
expect_err "watch --once: missing file" "no such file"
st watch --once "$TMP/empty.json"
expect_err "watch --once: empty file" "empty"
st watch --once "$TMP/bad-line2.jsonl"
expect_err "watch --once: malformed JSON" "line 2"
st watch "$TMP/allocs-string.json"
expect_err "watch: wrong type" "allocs"
st show --pid 12345 "$good"
expect_err "show --pid: no such document" "pid 12345"

st frobnicate
if [ "$rc" = 2 ] && grep -q '^usage: nalloc-stat' "$TMP/err" && ! grep -q Traceback "$TMP/err"; then
	ok "unknown command: usage, exit 2"
else
	bad "unknown command: exit $rc"
	show_file "$TMP/err"
fi
st
if [ "$rc" = 2 ] && grep -q '^usage: nalloc-stat' "$TMP/err"; then ok "no command: usage, exit 2"; else bad "no command: exit $rc"; fi
st show
if [ "$rc" = 2 ] && grep -q 'usage: nalloc-stat show' "$TMP/err"; then ok "show without FILE: usage, exit 2"; else bad "show without FILE: exit $rc"; fi

echo "test_nalloc_stat: $passes passed, $fails failed"
[ "$fails" = 0 ]
