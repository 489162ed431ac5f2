#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/fuzz/fuzz_nalloc_stat.py NALLOC_STAT SECONDS [SEED]: feed nalloc-stat
# malformed statistics documents (mutations of tests/data's fixtures: keys
# dropped, values of the wrong type, out of range or huge, nodes duplicated
# or emptied, bytes flipped, lines cut or repeated) through `show`, `show
# --all` and `diff`, in process.  Each must either work or stop with its
# clean input error (StatError: one line, exit 2); any other exception is a
# bug and fails the test with the input that caused it.  Deterministic for
# a seed (default 1).  see src/malloc.c
import contextlib
import copy
import importlib.machinery
import importlib.util
import io
import json
import os
import random
import sys
import tempfile
import time
import traceback

tool, seconds = sys.argv[1], float(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "data")

loader = importlib.machinery.SourceFileLoader("nalloc_stat", tool)
spec = importlib.util.spec_from_loader("nalloc_stat", loader)
ns = importlib.util.module_from_spec(spec)
loader.exec_module(ns)

fixtures = []
for f in sorted(os.listdir(data)):
    if f.startswith("nalloc-stat") and (f.endswith(".json") or f.endswith(".jsonl")):
        with open(os.path.join(data, f), "rb") as fh:
            fixtures.append(fh.read())
if not fixtures:
    print("fuzz_nalloc_stat: no fixtures in", data)
    sys.exit(77)

rng = random.Random(seed)
WEIRD = [None, True, False, -1, 0, 1, 2**64, -2**63, 1e308, float("nan"), float("inf"), "", "x", "12",
         [], {}, [1, 2], {"a": 1}, 3.5, "\u00e9\u4e2d", "\x00"]


def mutate_obj(o, depth=0):
    if isinstance(o, dict):
        keys = list(o)
        if keys and rng.random() < 0.3:
            del o[rng.choice(keys)]
        for k in list(o):
            if rng.random() < 0.15:
                o[k] = copy.deepcopy(rng.choice(WEIRD))
            elif rng.random() < 0.5:
                mutate_obj(o[k], depth + 1)
        if rng.random() < 0.05:
            o[rng.choice(["extra", "nodes", "node", "schema", "time", "pid"])] = copy.deepcopy(rng.choice(WEIRD))
    elif isinstance(o, list):
        if o and rng.random() < 0.2:
            o.append(copy.deepcopy(rng.choice(o)))  # duplicated node
        if o and rng.random() < 0.1:
            del o[rng.randrange(len(o))]
        if rng.random() < 0.03:
            o.clear()
        for i in range(len(o)):
            if rng.random() < 0.1:
                o[i] = copy.deepcopy(rng.choice(WEIRD))
            elif rng.random() < 0.5:
                mutate_obj(o[i], depth + 1)
    return o


def mutate(doc):
    lines = doc.split(b"\n")
    out = []
    for ln in lines:
        try:
            o = json.loads(ln)
            ln = json.dumps(mutate_obj(o)).encode() if rng.random() < 0.8 else ln
        except ValueError:
            pass
        out.append(ln)
    b = bytearray(b"\n".join(out))
    r = rng.random()
    if r < 0.1 and b:
        del b[rng.randrange(len(b)):]  # cut short
    elif r < 0.2 and b:
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif r < 0.25:
        b += b"\n" + bytes(b)  # repeated documents
    elif r < 0.28:
        b = bytearray(b"\xff\xfe" + bytes(b))
    return bytes(b)


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            ns.main(argv)
        except ns.StatError as e:
            if not str(e).strip() or "\n" in str(e).strip():
                raise AssertionError("input error without a one-line message: %r" % str(e))
        except SystemExit as e:
            if e.code not in (0, 2, None):
                raise AssertionError("exit status %r" % e.code)


tmp = tempfile.mkdtemp(prefix="fuzz-nalloc-stat-")
a, b = os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")
end = time.monotonic() + seconds
n = errors = 0
while time.monotonic() < end:
    da, db = mutate(rng.choice(fixtures)), mutate(rng.choice(fixtures))
    with open(a, "wb") as f:
        f.write(da)
    with open(b, "wb") as f:
        f.write(db)
    for argv in (["show", a], ["show", "--all", a], ["diff", a, b], ["diff", "--json", a, b]):
        n += 1
        try:
            run(argv)
        except Exception:
            errors += 1
            bad = os.path.join(os.getcwd(), "fuzz_nalloc_stat-crash-%d.json" % errors)
            with open(bad, "wb") as f:
                f.write(da)
            print("fuzz_nalloc_stat: nalloc-stat %s failed on %s:" % (" ".join(argv[:-1]), bad))
            traceback.print_exc(file=sys.stdout)
            if errors >= 5:
                end = 0
                break
for p in (a, b):
    os.unlink(p)
os.rmdir(tmp)
print("fuzz_nalloc_stat: %d runs of nalloc-stat on malformed documents, %d failures (seed %d)" % (n, errors, seed))
sys.exit(1 if errors else 0)
