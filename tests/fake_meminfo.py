# SPDX-License-Identifier: MIT
# tests/fake_meminfo.py: fake /proc/zoneinfo, /proc/meminfo and node meminfo files (test_room.sh).  see src/malloc.c
#
#   python3 fake_meminfo.py SCENARIO OUTDIR
#
# Reads each node's MemTotal from /sys/devices/system/node/node*/meminfo
# (or /proc/meminfo on a kernel without nodes) and writes, for the
# scenario, OUTDIR/zoneinfo, OUTDIR/meminfo and OUTDIR/nodeN.meminfo that
# test_room.sh bind-mounts over the real ones:
#   cache  little free memory (48 MiB a node), 90% of the node in clean page
#          cache, 2% reclaimable slab, ordinary watermarks: room for most
#          of the node, as the kernel counts MemAvailable
#   huge   half the node free, a Normal-zone high watermark of 40% of the
#          node, and 1500 CPUs' pagesets in each of the DMA and DMA32 zones
#          before it (over 256 KiB before the figures that matter): room
#          for about 10% of the node
# It prints "MemTotal_MiB=N" (the smallest node's).
import glob, os, re, sys

scen, out = sys.argv[1], sys.argv[2]
PG = os.sysconf("SC_PAGE_SIZE")
nodes = {}
for p in sorted(glob.glob("/sys/devices/system/node/node[0-9]*/meminfo")):
    n = int(re.search(r"node(\d+)/meminfo$", p).group(1))
    txt = open(p).read()
    m = re.search(r"MemTotal:\s+(\d+) kB", txt)
    if m and int(m.group(1)) > 0:
        nodes[n] = (p, txt, int(m.group(1)))
if not nodes:
    txt = open("/proc/meminfo").read()
    nodes[0] = (None, None, int(re.search(r"MemTotal:\s+(\d+) kB", txt).group(1)))

def figures(total_kb):
    if scen == "cache":
        f = dict(free=48 << 10, afile=total_kb * 40 // 100, ifile=total_kb * 50 // 100,
                 slab=total_kb * 2 // 100, min=total_kb // 800, low=total_kb // 640, high=total_kb // 533,
                 cpus=64)
    else:
        f = dict(free=total_kb // 2, afile=8 << 10, ifile=8 << 10, slab=8 << 10,
                 min=total_kb * 30 // 100, low=total_kb * 35 // 100, high=total_kb * 40 // 100, cpus=1500)
    return f

def pagesets(cpus):
    s = "  pagesets\n"
    for c in range(cpus):
        s += "    cpu: %d\n              count: 12\n              high:  378\n              batch: 63\n" \
             "  vm stats threshold: 24\n" % c
    return s

zi = ""
for n, (p, txt, total) in sorted(nodes.items()):
    f = figures(total)
    kb2pg = lambda kb: kb * 1024 // PG
    # a small DMA zone (the per-node stats come with a node's first zone)
    zi += "Node %d, zone      DMA\n  per-node stats\n" % n
    zi += "      nr_inactive_anon 100\n      nr_active_anon 100\n"
    zi += "      nr_inactive_file %d\n      nr_active_file %d\n" % (kb2pg(f["ifile"]), kb2pg(f["afile"]))
    zi += "      nr_slab_reclaimable %d\n      nr_slab_unreclaimable 100\n" % kb2pg(f["slab"])
    zi += "  pages free     0\n        boost    0\n        min      1\n        low      1\n" \
          "        high     1\n        spanned  4095\n        present  3998\n        managed  0\n" \
          "        cma      0\n        protection: (0, 0, 0, 0, 0)\n"
    zi += pagesets(f["cpus"])
    zi += "  node_unreclaimable:  0\n  start_pfn:           1\n"
    zi += "Node %d, zone    DMA32\n  pages free     0\n        boost    0\n        min      0\n" \
          "        low      0\n        high     0\n        spanned  0\n        present  0\n" \
          "        managed  0\n        cma      0\n        protection: (0, 0, 0, 0, 0)\n" % n
    zi += pagesets(f["cpus"])
    zi += "Node %d, zone   Normal\n  pages free     %d\n        boost    0\n        min      %d\n" \
          "        low      %d\n        high     %d\n        spanned  %d\n        present  %d\n" \
          "        managed  %d\n        cma      0\n        protection: (0, 0, 0, 0, 0)\n" % (
              n, kb2pg(f["free"]), kb2pg(f["min"]), kb2pg(f["low"]), kb2pg(f["high"]),
              kb2pg(total), kb2pg(total), kb2pg(total))
    zi += pagesets(4)
    zi += "  node_unreclaimable:  0\n  start_pfn:           4096\n"
    if p:
        def sub(key, kb, t):
            return re.sub(r"^(Node %d %s:\s+)\d+( kB)" % (n, re.escape(key)),
                          lambda m: m.group(1) + str(kb) + m.group(2), t, flags=re.M)
        t = txt
        for key, kb in (("MemFree", f["free"]), ("MemUsed", total - f["free"]),
                        ("Active(file)", f["afile"]), ("Inactive(file)", f["ifile"]),
                        ("FilePages", f["afile"] + f["ifile"]), ("KReclaimable", f["slab"]),
                        ("SReclaimable", f["slab"])):
            t = sub(key, kb, t)
        open(os.path.join(out, "node%d.meminfo" % n), "w").write(t)
open(os.path.join(out, "zoneinfo"), "w").write(zi)

# /proc/meminfo: the sums
tot = {"MemFree": 0, "Active(file)": 0, "Inactive(file)": 0, "KReclaimable": 0, "SReclaimable": 0,
       "Cached": 0, "MemAvailable": 0}
for n, (p, txt, total) in nodes.items():
    f = figures(total)
    tot["MemFree"] += f["free"]
    tot["Active(file)"] += f["afile"]
    tot["Inactive(file)"] += f["ifile"]
    tot["Cached"] += f["afile"] + f["ifile"]
    tot["KReclaimable"] += f["slab"]
    tot["SReclaimable"] += f["slab"]
    low = f["low"] + 1
    pc = f["afile"] + f["ifile"]
    av = f["free"] - f["high"] + pc - min(pc // 2, low) + f["slab"] - min(f["slab"] // 2, low)
    tot["MemAvailable"] += max(av, 0)
mi = open("/proc/meminfo").read()
for key, kb in tot.items():
    mi = re.sub(r"^(%s:\s+)\d+( kB)" % re.escape(key), lambda m: m.group(1) + str(kb) + m.group(2), mi,
                flags=re.M)
open(os.path.join(out, "meminfo"), "w").write(mi)
print("MemTotal_MiB=%d" % (min(t for (_, _, t) in nodes.values()) // 1024))
