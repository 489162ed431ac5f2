#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/test_introspect.py DIR: compares what `test_introspect dump DIR` wrote
# (see tests/test_introspect.c): malloc_info's XML and mallinfo2's fields
# against the stats JSON document, and malloc_stats' text (DIR/stats.txt).
# Exit 0 pass, 1 fail.
import json
import sys
import xml.etree.ElementTree as ET

d = sys.argv[1]
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)


doc = json.loads(open(d + "/stats.json").read())
nodes = doc["nodes"]
root = ET.parse(d + "/info.xml").getroot()  # raises if not well-formed
check(root.tag == "malloc" and root.get("version") == "1", "root is <%s version=%r>" % (root.tag, root.get("version")))
heaps = root.findall("heap")
check(len(heaps) == len(nodes), "%d <heap> for %d nodes" % (len(heaps), len(nodes)))


def sizes(el, tag, typ):
    m = [e for e in el.findall(tag) if e.get("type") == typ]
    check(len(m) == 1, "<%s type=%s>: %d of them" % (tag, typ, len(m)))
    return int(m[0].get("size")) if m else -1


for i, (h, n) in enumerate(zip(heaps, nodes)):
    check(h.get("nr") == str(i), "heap %d has nr=%r" % (i, h.get("nr")))
    check(h.get("node") == str(n["node"]), "heap %d node=%r, JSON node %d" % (i, h.get("node"), n["node"]))
    check(h.find("sizes") is not None, "heap %d has no <sizes>" % i)
    check(sizes(h, "system", "current") == n["committed_bytes"], "heap %d system current != committed_bytes %d" % (i, n["committed_bytes"]))
    check(sizes(h, "total", "rest") == n["committed_bytes"] - n["in_use_bytes"], "heap %d total rest != committed - in_use" % i)
    for tag, typ in (("system", "max"), ("aspace", "total"), ("aspace", "mprotect")):
        check(sizes(h, tag, typ) == n["mapped_bytes"], "heap %d %s %s != mapped_bytes %d" % (i, tag, typ, n["mapped_bytes"]))
    check(sizes(h, "total", "fast") == 0, "heap %d fast != 0" % i)
    check(n["in_use_bytes"] >= 100000, "node %d in_use_bytes %d: the dump allocated 100 KB there" % (n["node"], n["in_use_bytes"]))

committed = sum(n["committed_bytes"] for n in nodes)
in_use = sum(n["in_use_bytes"] for n in nodes)
mapped = sum(n["mapped_bytes"] for n in nodes)
check(sizes(root, "system", "current") == committed, "total system current != %d" % committed)
check(sizes(root, "total", "rest") == committed - in_use, "total rest != %d" % (committed - in_use))
check(sizes(root, "total", "mmap") == 0, "total mmap != 0")
check(sizes(root, "aspace", "total") == mapped, "total aspace != %d" % mapped)

mi = dict(l.strip().split("=") for l in open(d + "/mallinfo.txt") if "=" in l)
mi = {k: int(v) for k, v in mi.items()}
check(mi["uordblks"] == in_use, "mallinfo2 uordblks %d != in_use_bytes sum %d" % (mi["uordblks"], in_use))
check(in_use >= 1000 * 200 + 2 * 1024 * 1024, "in_use_bytes sum %d below what the dump allocated" % in_use)
check(mi["arena"] == committed, "mallinfo2 arena %d != committed_bytes sum %d" % (mi["arena"], committed))
check(mi["fordblks"] == committed - in_use, "mallinfo2 fordblks %d != committed - in_use" % mi["fordblks"])
check(mi["keepcost"] <= mi["fordblks"], "keepcost > fordblks")
for k in ("ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks"):
    check(mi[k] == 0, "mallinfo2 %s = %d, want 0" % (k, mi[k]))

txt = open(d + "/stats.txt").read()
check("per-node statistics" in txt, "malloc_stats: no per-node table")
rows = [l.split() for l in txt.splitlines()]
iu = [r for r in rows if r and r[0] == "in_use_bytes"]
check(len(iu) == 1 and len(iu[0]) == len(nodes) + 2, "malloc_stats: in_use_bytes row %r" % iu)
if iu and len(iu[0]) == len(nodes) + 2:
    check([int(x) for x in iu[0][1:-1]] == [n["in_use_bytes"] for n in nodes], "malloc_stats in_use_bytes row %r != JSON" % iu[0])
    check(int(iu[0][-1]) == in_use, "malloc_stats in_use_bytes total != %d" % in_use)
for i in range(len(nodes)):
    check(("Arena %d:" % i) in txt, "malloc_stats: no 'Arena %d:'" % i)
tot = txt.split("Total (incl. mmap):")
check(len(tot) == 2, "malloc_stats: no 'Total (incl. mmap):'")
if len(tot) == 2:
    kv = {l.split("=")[0].strip(): int(l.split("=")[1]) for l in tot[1].splitlines() if "=" in l}
    check(kv.get("in use bytes") == in_use, "malloc_stats total 'in use bytes' %r != %d" % (kv.get("in use bytes"), in_use))
    check(kv.get("system bytes") == committed, "malloc_stats total 'system bytes' %r != %d" % (kv.get("system bytes"), committed))

for f in fails:
    print("FAIL: " + f)
print("test_introspect.py: %d nodes, in_use %d, committed %d, mapped %d: %s" % (len(nodes), in_use, committed, mapped, "FAIL" if fails else "PASS"))
sys.exit(1 if fails else 0)
