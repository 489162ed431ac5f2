#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check_stats_json.py FILE...: each file holds nalloc stats documents (one
per line, JSON Lines) that must follow doc/stats-schema.md (schema 2)."""
import json
import sys

NODE_INTS = ["node", "mapped_bytes", "committed_bytes", "in_use_bytes", "spans_in_use", "allocs",
             "frees", "local_frees", "unowned_frees", "remote_frees", "remote_frees_out",
             "large_allocs", "returned_bytes", "offnode_allocs", "onnode_allocs", "rehomes",
             "lock_acquisitions", "lock_waits", "threads", "resident_sampled_pages"]


def fail(msg):
    print("check_stats_json: " + msg)
    sys.exit(1)


def check(doc, where):
    for k, t in (("version", str), ("schema", int), ("pid", int), ("time", (int, float)),
                 ("uptime", (int, float)), ("numa_mode", str), ("final", bool), ("nodes", list),
                 ("classes", list)):
        if not isinstance(doc.get(k), t) or (t is int and isinstance(doc.get(k), bool)):
            fail(f"{where}: field {k!r} missing or of the wrong type")
    if doc["schema"] != 2:
        fail(f"{where}: schema {doc['schema']}, want 2")
    if doc["numa_mode"] not in ("local", "strict", "interleave", "off"):
        fail(f"{where}: numa_mode {doc['numa_mode']!r}")
    # "trigger" is newer than schema 2's first documents: checked when there
    if "trigger" in doc:
        if doc["trigger"] not in ("exit", "interval", "signal", "call"):
            fail(f"{where}: trigger {doc['trigger']!r}")
        if doc["final"] != (doc["trigger"] == "exit"):
            fail(f"{where}: final is {doc['final']} but trigger is {doc['trigger']!r}")
    nodes = doc["nodes"]
    if not nodes:
        fail(f"{where}: no nodes")
    for n in nodes:
        for k in NODE_INTS:
            v = n.get(k)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                fail(f"{where}: node field {k!r} missing or not a count: {v!r}")
        src = n.get("remote_frees_by_source")
        if not isinstance(src, list) or len(src) != len(nodes) or sum(src) != n["remote_frees"]:
            fail(f"{where}: remote_frees_by_source {src!r} does not add up to {n['remote_frees']}")
        rf = n.get("resident_fraction")
        if rf is not None and not (isinstance(rf, (int, float)) and 0 <= rf <= 1):
            fail(f"{where}: resident_fraction {rf!r}")
        if n["allocs"] < n["frees"] - n["large_allocs"] - 1000000000:
            fail(f"{where}: frees far above allocations")
    if sum(n["remote_frees"] for n in nodes) != sum(n["remote_frees_out"] for n in nodes):
        fail(f"{where}: remote frees in and out do not balance")
    for c in doc["classes"]:
        for k in ("class", "size", "span_bytes"):
            if not isinstance(c.get(k), int):
                fail(f"{where}: class field {k!r}")
        if len(c.get("nodes", [])) != len(nodes):
            fail(f"{where}: class {c['class']} has {len(c.get('nodes', []))} node entries")
        for cn in c["nodes"]:
            if cn["in_use_bytes"] != max(cn["allocs"] - cn["frees"], 0) * c["size"]:
                fail(f"{where}: class {c['class']} in_use_bytes does not match allocs - frees")
    # per-class figures add up to the node totals of small objects
    for i, n in enumerate(nodes):
        small = sum(c["nodes"][i]["allocs"] for c in doc["classes"])
        if small + n["large_allocs"] != n["allocs"]:
            fail(f"{where}: node {n['node']}: class allocs {small} + large {n['large_allocs']} != {n['allocs']}")


def main():
    count = 0
    for path in sys.argv[1:]:
        try:
            lines = [l for l in open(path, encoding="utf-8").read().splitlines() if l.strip()]
        except OSError as e:
            fail(f"{path}: {e}")
        if not lines:
            fail(f"{path}: empty")
        for i, line in enumerate(lines, 1):
            try:
                doc = json.loads(line)
            except ValueError as e:
                fail(f"{path}:{i}: not JSON: {e}")
            check(doc, f"{path}:{i}")
            count += 1
    print(f"check_stats_json: {count} documents follow schema 2")


if __name__ == "__main__":
    main()
