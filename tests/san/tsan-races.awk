# SPDX-License-Identifier: MIT
# tests/san/tsan-races.awk: one line per ThreadSanitizer report in a log: the
# kind, then each access (what, size, first frame as file:line).  Piped through
# sort | uniq -c by tsan.sh to list the distinct races.  see src/malloc.c
/^WARNING: ThreadSanitizer:/ {
	kind = $0; sub(/.*ThreadSanitizer: /, "", kind); sub(/ \(pid.*/, "", kind)
	n = 0; acc = ""; grab = 0; next
}
/^  (Previous |)([Aa]tomic |)([Rr]ead|[Ww]rite)/ {
	a = $0; sub(/^  /, "", a); sub(/ at 0x[0-9a-f]+/, "", a); sub(/ by .*/, "", a)
	grab = 1; next
}
grab && /^    #0/ {
	f = $0; sub(/.*#0 /, "", f); sub(/ \(.*/, "", f)
	if (match(f, /(src|numa|include|tests)\/[^ ]*$/)) f = substr(f, 1, index(f, " ")) substr(f, RSTART)
	sub(/:[0-9]+$/, "", f)
	acc = acc (acc ? "  <->  " : "") a " " f; grab = 0
	if (++n == 2) print kind ": " acc
	next
}
