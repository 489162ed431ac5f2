#!/bin/sh
# SPDX-License-Identifier: MIT
# perf/startup.sh: what preloading nalloc costs a program that does nothing.  see src/malloc.c
#
#   perf/startup.sh [--lib PATH] [--runs N] [--prog PROG]
#
# Runs PROG (default /bin/true) N times (default 500) plainly and with
# LD_PRELOAD=PATH (default ./.libs/libnalloc.so) and prints, for each:
#   wall    mean wall time per run (fork + exec + exit, ms)
#   cpu     mean user + system CPU per run (ms, from the children's rusage)
#   calls   system calls of one run (strace -f -c; "-" without strace)
#   rss     maximum resident set of one run (kB, /usr/bin/time -f %M; "-"
#           without GNU time)
# and the differences.  A benchmark, not a test: timings vary with the
# machine and its load.  The syscall count is deterministic on one machine
# (it depends on the number of nodes and on libnuma's constructor).
set -u
lib= runs=500 prog=/bin/true
while [ $# -gt 0 ]; do
	case $1 in
	--lib) lib=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--prog) prog=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -u/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) echo "startup.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$lib" ] || lib=./.libs/libnalloc.so
[ -f "$lib" ] || { echo "startup.sh: no library at '$lib' (pass --lib)" >&2; exit 2; }
case $lib in /*) ;; *) lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib") ;; esac
PY=$(command -v python3) || { echo "startup.sh: needs python3" >&2; exit 2; }

"$PY" - "$lib" "$runs" "$prog" <<'PYEOF'
import os, resource, shutil, subprocess, sys, time, tempfile
lib, runs, prog = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def timed(env):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    for _ in range(runs):
        subprocess.run([prog], env=env, check=False)
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return (t1 - t0) / runs * 1e3, cpu / runs * 1e3

def calls(extra):
    if not shutil.which("strace"):
        return None
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as f:
        cmd = ["strace", "-f", "-c", "-o", f.name] + extra + [prog]
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for line in f.read().splitlines():
            w = line.split()
            if w and w[-1] == "total":
                return int(w[3] if len(w) >= 6 else w[2])
    return None

def rss(env):
    t = "/usr/bin/time"
    if not os.access(t, os.X_OK):
        return None
    p = subprocess.run([t, "-f", "%M", prog], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    try:
        return int(p.stderr.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None

plain = dict(os.environ)
plain.pop("LD_PRELOAD", None)
pre = dict(plain, LD_PRELOAD=lib)
timed(plain); timed(pre)  # warm the page cache
rows = []
for name, env, extra in (("glibc", plain, []), ("nalloc", pre, ["-E", "LD_PRELOAD=" + lib])):
    w, c = timed(env)
    rows.append((name, w, c, calls(extra), rss(env)))
fmt = lambda v, f: "-" if v is None else f % v
print("%-8s %10s %10s %8s %9s" % ("", "wall_ms", "cpu_ms", "calls", "rss_kB"))
for name, w, c, n, r in rows:
    print("%-8s %10.3f %10.3f %8s %9s" % (name, w, c, fmt(n, "%d"), fmt(r, "%d")))
(_, w0, c0, n0, r0), (_, w1, c1, n1, r1) = rows
d = lambda a, b, f: "-" if a is None or b is None else f % (b - a)
print("%-8s %10.3f %10.3f %8s %9s" % ("extra", w1 - w0, c1 - c0, d(n0, n1, "%+d"), d(r0, r1, "%+d")))
print("(%s, %d runs, library %s)" % (prog, runs, lib))
PYEOF
