#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_perf_run.sh: perf/run end to end, tiny: perf/run --quick with
# 0.2 s runs of larson and prodcons at 1 and 2 threads under nalloc and
# glibc.  Checks results.csv (one row per workload x allocator x threads x
# layout, all ok, throughput > 0, nalloc's per-node stats columns filled),
# summary.txt (the nalloc/glibc ratio table) and, when gnuplot is installed,
# that the plots are PNG files.  Without gnuplot the PNG part is skipped with
# a message, except in CI (CI=true), where gnuplot-nox must be installed.
# Then every other workload once, tiny (0.1 s, sizes x 0.05, 3 threads)
# under nalloc and glibc: each run ok, the peak RSS filled, and the
# best-peer table (compare.csv) with a row and the workload's own figures
# for each.
# Environment (from make check): top_srcdir, top_builddir, NALLOC_LIB, PYTHON3.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
. "$(dirname "$0")/sh_util.sh"
find_python
py=$PY
if [ -z "$py" ]; then
	echo "SKIP: python3 not found (perf/run is a Python 3 script)"
	exit 77
fi
bin=$top_builddir/perf/workloads
lib=${NALLOC_LIB:-$top_builddir/.libs/libnalloc.so}
[ -x "$bin" ] || { echo "FAIL: $bin not built"; exit 1; }
[ -f "$lib" ] || { echo "FAIL: $lib not built"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nalloc-perf-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

start=$(date +%s)
timeout 120 "$py" "$top_srcdir/perf/run" --quick --seconds 0.2 --threads 1,2 \
	--allocators nalloc,glibc --workloads larson,prodcons --out "$tmp/out" \
	--bin "$bin" --lib "$lib" >"$tmp/log" 2>&1
rc=$?
cat "$tmp/log"
echo "perf/run: exit $rc after $(($(date +%s) - start)) s"
[ $rc -eq 0 ] || { echo "FAIL: perf/run exited with $rc"; exit 1; }

"$py" - "$tmp/out" <<'PYEOF' || exit 1
import csv, os, sys
out = sys.argv[1]
bad = []
with open(os.path.join(out, "results.csv"), newline="") as f:
    rd = csv.DictReader(f)
    hdr = rd.fieldnames
    rows = list(rd)
for col in ["workload", "allocator", "threads", "layout", "run", "mops", "rss_kib",
            "node_rss_kib_N0", "nalloc_remote_frees_N0", "nalloc_in_use_bytes_N0", "status"]:
    if col not in hdr:
        bad.append("results.csv: no column " + col)
layouts = sorted({r["layout"] for r in rows})
if not layouts:
    bad.append("results.csv: no rows")
want = {(w, a, t, l) for w in ("larson", "prodcons") for a in ("nalloc", "glibc")
        for t in ("1", "2") for l in layouts}
got = [(r["workload"], r["allocator"], r["threads"], r["layout"]) for r in rows]
if sorted(got) != sorted(want):
    bad.append("results.csv: rows %s, expected one each of %s" % (sorted(got), sorted(want)))
for r in rows:
    tag = "%s/%s/%s/%s" % (r["workload"], r["allocator"], r["threads"], r["layout"])
    if r["status"] != "ok":
        bad.append(tag + ": status " + r["status"])
        continue
    if not float(r["mops"] or 0) > 0:
        bad.append(tag + ": mops " + r["mops"])
    if not int(r["rss_kib"] or 0) > 0:
        bad.append(tag + ": rss_kib " + r["rss_kib"])
    if r["allocator"] == "nalloc":
        if r["nalloc_remote_frees_N0"] == "" or not int(r["nalloc_in_use_bytes_N0"] or 0) > 0:
            bad.append(tag + ": nalloc stats columns empty")
    elif r["nalloc_remote_frees_N0"] != "":
        bad.append(tag + ": nalloc stats columns filled for a peer")
with open(os.path.join(out, "summary.txt")) as f:
    s = f.read()
if "ratio nalloc/peer" not in s or "glibc" not in s:
    bad.append("summary.txt: no ratio table")
for b in bad:
    print("FAIL: " + b)
print("results.csv: %d rows, layouts %s" % (len(rows), ",".join(layouts)))
sys.exit(1 if bad else 0)
PYEOF

others=larson-own,larson-loaded,mstress,rptest,cache-thrash,sh6bench,thread-mem,malloc-large,batch,churn,idle-producer,startup
start=$(date +%s)
timeout 120 "$py" "$top_srcdir/perf/run" --quick --seconds 0.1 --threads 3 --size-scale 0.05 \
	--churn-seconds 0.3 --startup-execs 2 --load 1 --no-plots \
	--allocators nalloc,glibc --workloads $others --out "$tmp/out2" \
	--bin "$bin" --lib "$lib" >"$tmp/log2" 2>&1
rc=$?
cat "$tmp/log2"
echo "perf/run (the other workloads): exit $rc after $(($(date +%s) - start)) s"
[ $rc -eq 0 ] || { echo "FAIL: perf/run exited with $rc"; exit 1; }
"$py" - "$tmp/out2" "$others" <<'PYEOF' || exit 1
import csv, os, sys
out, want = sys.argv[1], sys.argv[2].split(",")
bad = []
with open(os.path.join(out, "results.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
got = sorted((r["workload"], r["allocator"]) for r in rows)
exp = sorted((w, a) for w in want for a in ("nalloc", "glibc"))
if got != exp:
    bad.append("results.csv: rows %s, expected %s" % (got, exp))
for r in rows:
    tag = "%s/%s" % (r["workload"], r["allocator"])
    if r["status"] != "ok":
        bad.append(tag + ": status " + r["status"])
        continue
    if not float(r["mops"] or 0) > 0:
        bad.append(tag + ": mops " + r["mops"])
    if not int(r["maxrss_kib"] or 0) > 0:
        bad.append(tag + ": maxrss_kib " + r["maxrss_kib"])
    if r["workload"] in ("thread-mem", "idle-producer", "churn") and not int(r["live_peak_kib"] or 0) > 0:
        bad.append(tag + ": live_peak_kib " + r["live_peak_kib"])
    if r["workload"] == "thread-mem" and not int(r["target_live_kib"] or 0) > 0:
        bad.append(tag + ": target_live_kib " + r["target_live_kib"])
    if r["workload"] == "churn" and len(r["phase_rss_kib"].split("/")) != 6:
        bad.append(tag + ": phase_rss_kib " + r["phase_rss_kib"])
    if r["workload"] == "startup" and not float(r["cpu_ms"] or 0) > 0:
        bad.append(tag + ": cpu_ms " + r["cpu_ms"])
with open(os.path.join(out, "compare.csv"), newline="") as f:
    comp = {r["workload"]: r for r in csv.DictReader(f)}
for w in want:
    r = comp.get(w)
    if not r or not float(r["tp_ratio"] or 0) > 0 or not float(r["rss_ratio"] or 0) > 0:
        bad.append("compare.csv: no ratios for %s: %s" % (w, r))
    elif w in ("churn", "thread-mem", "idle-producer", "startup") and not r["note"]:
        bad.append("compare.csv: no note for " + w)
    elif w == "thread-mem" and "peak RSS/target live" not in r["note"]:
        bad.append("compare.csv: thread-mem's note has no RSS over its target live: " + r["note"])
if not os.path.exists(os.path.join(out, "compare.md")):
    bad.append("no compare.md")
for b in bad:
    print("FAIL: " + b)
print("the other workloads: %d rows" % len(rows))
sys.exit(1 if bad else 0)
PYEOF

if ! command -v gnuplot >/dev/null 2>&1; then
	if [ "${CI:-}" = true ]; then
		echo "FAIL: gnuplot not installed in CI (apt-get install gnuplot-nox)"
		exit 1
	fi
	echo "PASS (CSV); PNG check skipped: gnuplot not installed (apt-get install gnuplot-nox)"
	exit 0
fi
n=0
for kind in throughput rss nalloc-remote-frees; do
	for png in "$tmp/out/$kind"-*.png; do
		[ -f "$png" ] || { echo "FAIL: no $kind-*.png"; exit 1; }
		magic=$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')
		if [ "$magic" != 89504e470d0a1a0a ]; then
			echo "FAIL: $png is not a PNG (magic $magic)"
			exit 1
		fi
		n=$((n + 1))
	done
done
echo "PASS: results.csv, summary.txt and $n PNG plots"
exit 0
