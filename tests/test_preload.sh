#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_preload.sh: real Debian programs under LD_PRELOAD=$NALLOC_LIB.
#
# Each program runs twice, plainly and with nalloc preloaded; the outputs
# (stdout) and exit codes must be the same, and the preloaded run must not
# print anything new on stderr.  Programs: python3 (dicts, lists, json,
# threads, with PYTHONMALLOC=malloc so that every object goes through
# malloc), sort (also multithreaded --parallel) of a ~5 MB generated file,
# gzip -c | gzip -dc, xz -T2 (multithreaded) if present, sed, awk, perl if
# present, ls -lR /usr/share/doc, find | sort, tar c | tar t.
# Exit 77 when NALLOC_LIB (path of libnalloc.so) is not there.

set -u
unset NALLOC_STATS NALLOC_STATS_JSON 2>/dev/null || true
: "${NALLOC_LIB:=}"
. "$(dirname "$0")/sh_util.sh"
nalloc_lib test_preload
find_python

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nalloc-preload.XXXXXX") || exit 99
trap 'rm -rf "$TMP"' EXIT INT TERM
export LC_ALL=C
TIMEOUT=
command -v timeout >/dev/null 2>&1 && TIMEOUT="timeout 120"

fails=0
passes=0
skips=0

# First: nalloc really is loaded, and a trivial program runs.
if ! LD_PRELOAD="$NALLOC_LIB" cat /proc/self/maps >"$TMP/maps" 2>"$TMP/maps.err"; then
	echo "FAIL: 'cat /proc/self/maps' under LD_PRELOAD=$NALLOC_LIB failed:"
	sed 's/^/    | /' "$TMP/maps.err" | head -20
	exit 1
fi
if ! grep -q "$(basename "$NALLOC_LIB")" "$TMP/maps"; then
	echo "FAIL: $(basename "$NALLOC_LIB") is not mapped in a preloaded process"
	sed 's/^/    | /' "$TMP/maps.err" | head -20
	exit 1
fi
echo "ok: $NALLOC_LIB is loaded by LD_PRELOAD"

# run NAME INPUT CMD...: compare plain and preloaded runs of sh -c CMD.
run() {
	name=$1
	input=$2
	shift 2
	$TIMEOUT sh -c "$*" <"$input" >"$TMP/$name.plain" 2>"$TMP/$name.plain.err"
	rc_plain=$?
	t0=$(date +%s)
	LD_PRELOAD="$NALLOC_LIB" $TIMEOUT sh -c "$*" <"$input" >"$TMP/$name.nalloc" 2>"$TMP/$name.nalloc.err"
	rc_nalloc=$?
	t1=$(date +%s)
	bad=
	if [ "$rc_plain" != "$rc_nalloc" ]; then
		bad="exit code $rc_nalloc under nalloc, $rc_plain plain"
	elif ! cmp -s "$TMP/$name.plain" "$TMP/$name.nalloc"; then
		bad="outputs differ ($(wc -c <"$TMP/$name.plain") bytes plain, $(wc -c <"$TMP/$name.nalloc") under nalloc)"
	elif ! cmp -s "$TMP/$name.plain.err" "$TMP/$name.nalloc.err"; then
		bad="stderr differs"
	fi
	if [ -n "$bad" ]; then
		echo "FAIL $name: $bad"
		echo "    command: $*"
		if [ -s "$TMP/$name.nalloc.err" ]; then
			echo "    stderr under nalloc:"
			head -c 2000 "$TMP/$name.nalloc.err" | sed 's/^/    | /'
		fi
		diff "$TMP/$name.plain" "$TMP/$name.nalloc" 2>/dev/null | head -10 | sed 's/^/    diff: /'
		fails=$((fails + 1))
	else
		echo "ok $name: same output ($(wc -c <"$TMP/$name.plain") bytes) and exit code $rc_plain ($((t1 - t0)) s under nalloc)"
		passes=$((passes + 1))
	fi
}

skip() {
	echo "skip $1: $2"
	skips=$((skips + 1))
}

# ---------------------------------------------------------------- data
# ~5 MB of lines "hash number word", generated without nalloc.
awk 'BEGIN {
	x = 12345;
	for (i = 1; i <= 260000; i++) {
		x = (x * 1103515245 + 12345) % 2147483648;
		printf "%08x %d w%d-%s\n", x, i, x % 977, substr("abcdefghijklmnopqrstuvwxyz", x % 26 + 1, 3);
	}
}' >"$TMP/data.txt"
echo "data: $(wc -c <"$TMP/data.txt") bytes, $(wc -l <"$TMP/data.txt") lines"
: >"$TMP/empty"

# ---------------------------------------------------------------- python
if [ -n "$PY" ]; then
	cat >"$TMP/prog.py" <<'EOF'
import json, sys, threading, hashlib, random, collections

def build(seed, n):
    rnd = random.Random(seed)
    d = {}
    for i in range(n):
        k = "k%d-%d" % (seed, rnd.randrange(10**9))
        d[k] = {"i": i, "l": [rnd.random() for _ in range(rnd.randrange(8))],
                "s": "x" * rnd.randrange(300), "t": (i, str(i), [i] * 3)}
    return d

results = {}
lock = threading.Lock()

def worker(seed):
    d = build(seed, 4000)
    text = json.dumps(d, sort_keys=True)
    back = json.loads(text)
    assert back == json.loads(json.dumps(back, sort_keys=True))
    lists = [list(range(rnd_n)) for rnd_n in range(0, 600, 7)]
    big = b"".join(bytes([j % 256]) * (j * 37 % 5000) for j in range(600))
    cnt = collections.Counter(text)
    h = hashlib.sha256(text.encode() + big).hexdigest()
    with lock:
        results[seed] = (len(text), sum(map(len, lists)), len(big), cnt.most_common(3), h)

threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
for t in threads: t.start()
for t in threads: t.join()
for s in sorted(results):
    print(s, results[s])
# big strings and growing lists
s = ""
for i in range(20000):
    s += str(i)
l = []
for i in range(200000):
    l.append(i * i)
print(len(s), sum(l) % 1000003, hashlib.md5(s.encode()).hexdigest())
EOF
	run python-threads "$TMP/empty" "PYTHONMALLOC=malloc '$PY' '$TMP/prog.py'"
	run python-json-stdin "$TMP/data.txt" "'$PY' -c 'import sys, json; rows = [l.split() for l in sys.stdin]; s = json.dumps(rows); print(len(s), len(json.loads(s)), sorted(rows)[:3])'"
else
	skip python "no python3"
fi

# ---------------------------------------------------------------- coreutils
run sort "$TMP/data.txt" "sort"
run sort-parallel "$TMP/data.txt" "sort --parallel=4 -S 2M -T '$TMP' -k3,3 -k2,2n"
run sort-numeric "$TMP/data.txt" "sort -t ' ' -k2,2nr | head -1000"
run uniq-count "$TMP/data.txt" "cut -d ' ' -f3 | sort | uniq -c | sort -k1,1nr -k2 | head -50"
run gzip-roundtrip "$TMP/data.txt" "gzip -n -c | tee '$TMP/gz.\$\$' | gzip -dc | cksum; cksum < '$TMP/gz.\$\$'; rm -f '$TMP/gz.\$\$'"
if command -v xz >/dev/null 2>&1; then
	run xz-threads "$TMP/data.txt" "xz -T2 -1 -c | xz -dc | cksum"
else
	skip xz "no xz"
fi
if command -v bzip2 >/dev/null 2>&1; then
	run bzip2-roundtrip "$TMP/data.txt" "bzip2 -c | bzip2 -dc | cksum"
fi
run sed "$TMP/data.txt" "sed -e 's/\\([0-9a-f]\\{2\\}\\)\\([0-9a-f]\\{2\\}\\)/\\2\\1/' -e '/w1[0-9]-/d' | cksum"
run awk "$TMP/data.txt" "awk '{ c[\$3]++; s[substr(\$1,1,2)] = s[substr(\$1,1,2)] \$2 \",\" } END { for (k in c) print k, c[k]; for (k in s) print k, length(s[k]) }' | sort"
if command -v perl >/dev/null 2>&1; then
	run perl "$TMP/data.txt" "perl -ne 'chomp; my @f = split / /; push @{\$h{\$f[2]}}, \$f[1]; END { for my \$k (sort keys %h) { my @v = sort { \$a <=> \$b } @{\$h{\$k}}; print \"\$k \", scalar(@v), \" \$v[0] \$v[-1]\\n\" } }'"
fi
if [ -d /usr/share/doc ]; then
	run ls-lR /dev/null "ls -lR /usr/share/doc 2>&1 | sort"
	run find-sort /dev/null "find /usr/share/doc /usr/share/locale -maxdepth 3 2>/dev/null | sort | cksum"
	run tar /dev/null "tar cf - -C /usr/share doc 2>/dev/null | tar tvf - | sort | cksum"
else
	skip ls-lR "no /usr/share/doc"
fi

echo "test_preload: $passes passed, $fails failed, $skips skipped"
[ "$fails" -eq 0 ] || exit 1
exit 0
