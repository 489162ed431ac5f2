/* SPDX-License-Identifier: MIT */
/* options.c: the NALLOC_* environment options, one table, parsed without allocating.  see malloc.c */
#include "internal.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct nalloc_options nalloc__opt;

enum opt_kind { OPT_U64, OPT_BOOL, OPT_STR, OPT_ONERROR, OPT_NUMA, OPT_NODES, OPT_SECONDS };

struct opt_desc {
	const char *name;
	const char *def;
	const char *desc;
	enum opt_kind kind;
	void *target;
	size_t size; /* OPT_STR, OPT_NODES: buffer size */
	/* OPT_U64: accepted range; a value outside it is clamped, with a
	 * message (max 0: no maximum) */
	uint64_t min, max;
};

/* The one list of options: README.md's table is printed from it.  Rows
 * may leave min and max out (0: no range). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct opt_desc table[] = {
	{"NALLOC_ON_ERROR", "abort",
	 "abort: report an invalid or double free and abort; warn: report it and ignore the free",
	 OPT_ONERROR, &nalloc__opt.on_error, 0},
	{"NALLOC_NUMA", "local",
	 "local: each node's arena bound to its node, nearest node when full (counted); strict: bound, "
	 "NULL/ENOMEM when the node is full; interleave: pages spread over the nodes; off: first touch",
	 OPT_NUMA, &nalloc__opt.numa, 0},
	{"NALLOC_NODES", "", "comma-separated OS node numbers to use (e.g. 0,2); empty: every allowed node",
	 OPT_NODES, nalloc__opt.nodes, sizeof nalloc__opt.nodes},
	{"NALLOC_RETURN_DELAY_MS", "10000",
	 "free pages stay mapped this long before they go back to the OS (0: at once)", OPT_U64,
	 &nalloc__opt.return_delay_ms, 0},
	{"NALLOC_ARENA_GB", "64",
	 "address space each node heap reserves first, in GiB (halved until it fits); the heap grows past "
	 "it with more reservations",
	 OPT_U64, &nalloc__opt.arena_gb, 0, 1, 4096},
	{"NALLOC_STATS", "0", "1: print the per-node statistics table to stderr at exit", OPT_BOOL,
	 &nalloc__opt.stats, 0},
	{"NALLOC_STATS_JSON", "",
	 "PATH: write the statistics JSON document to PATH at exit (one line; see doc/stats-schema.md)",
	 OPT_STR, nalloc__opt.stats_json, sizeof nalloc__opt.stats_json},
	{"NALLOC_STATS_INTERVAL", "0",
	 "SECONDS (decimals allowed): also append a document to NALLOC_STATS_JSON every interval, "
	 "from a background thread (0: only at exit)",
	 OPT_SECONDS, &nalloc__opt.stats_interval_ms, 0},
	{"NALLOC_STATS_SIGNAL", "",
	 "USR1, USR2 or HUP: on this signal, write a document to NALLOC_STATS_JSON at once, from a "
	 "background thread (empty: no handler)",
	 OPT_STR, nalloc__opt.stats_signal, sizeof nalloc__opt.stats_signal},
	{"NALLOC_BACKGROUND", "1",
	 "1: a multithreaded process gets a background thread that returns free pages once "
	 "NALLOC_RETURN_DELAY_MS has passed, idle or not; 0: pages go back on the next heap "
	 "operation after the delay",
	 OPT_BOOL, &nalloc__opt.background, 0},
	{"NALLOC_THREAD_CACHE_MB", "0",
	 "while a process has more than twice as many threads as CPUs: MiB of free room in spans "
	 "that all threads' caches may keep together, an even share each (64 KiB at least); past it "
	 "a cache gives spans back and takes objects one at a time from spans every thread fills "
	 "(0: 4 MiB per CPU, 32 MiB at least)",
	 OPT_U64, &nalloc__opt.thread_cache_mb, 0},
	{"NALLOC_GUARD", "0",
	 "1: an inaccessible page after each block over 32 KiB, so an overflow past its usable size "
	 "faults at once (costs an 8 KiB page of address space, two mprotect calls and a split "
	 "mapping per block)",
	 OPT_BOOL, &nalloc__opt.guard, 0},
};
#pragma GCC diagnostic pop

/* Names nalloc's own tools and tests read: not options, no warning. */
static const char *const not_options[] = {
	"NALLOC_LIB",           "NALLOC_BUILD_DIR",      "NALLOC_VERBOSE",       "NALLOC_VM",
	"NALLOC_STAT_DEBUG",    "NALLOC_STAT_FIXTURES",  "NALLOC_THREADS_CHURN", "NALLOC_FORK_COUNT",
	"NALLOC_STRESS_SECONDS", "NALLOC_STRESS_THREADS", "NALLOC_STRESS_SEED",
};
/* ... and prefixes of such names */
static const char *const not_option_prefixes[] = {"NALLOC_TEST_", "NALLOC_VM_"};

/* What each kind accepts, for the message about a value it does not. */
static const char *accepted(const struct opt_desc *o)
{
	switch (o->kind) {
	case OPT_U64:
		return "a whole number (digits only)";
	case OPT_BOOL:
		return "0 or 1";
	case OPT_STR:
		return "a string";
	case OPT_ONERROR:
		return "one of abort|warn";
	case OPT_NUMA:
		return "one of local|strict|interleave|off";
	case OPT_NODES:
		return "a comma-separated list of node numbers (e.g. 0,2)";
	case OPT_SECONDS:
		return "a number of seconds (e.g. 10 or 0.5)";
	}
	return "valid";
}

/* Messages are put together in a buffer and written with one write(2):
 * no allocation, no stdio (this runs inside the allocator's init). */
struct msg {
	char buf[512];
	size_t n;
};

static void put(struct msg *m, const char *s)
{
	while (*s && m->n < sizeof m->buf - 2)
		m->buf[m->n++] = *s++;
	m->buf[m->n] = 0;
}

/* a value as the user gave it: control bytes shown as '?', long ones cut */
static void put_value(struct msg *m, const char *v)
{
	size_t k = 0;
	for (; v[k] && k < 64 && m->n < sizeof m->buf - 2; k++)
		m->buf[m->n++] = (unsigned char)v[k] < 0x20 || v[k] == 0x7f ? '?' : v[k];
	m->buf[m->n] = 0;
	if (v[k])
		put(m, "...");
}

static void put_u64(struct msg *m, uint64_t v)
{
	char num[24];
	nalloc__fmt_dec(num, v);
	put(m, num);
}

/* milliseconds as seconds: 1500 -> "1.5", 1 -> "0.001" */
static void put_seconds(struct msg *m, uint64_t ms)
{
	char frac[5] = {'.', (char)('0' + ms % 1000 / 100), (char)('0' + ms % 100 / 10),
	                (char)('0' + ms % 10), 0};
	put_u64(m, ms / 1000);
	for (int k = 3; k > 0 && frac[k] == '0'; k--)
		frac[k] = 0;
	if (frac[1])
		put(m, frac);
}

static void msg_start(struct msg *m, const char *name, const char *v)
{
	m->n = 0;
	put(m, "nalloc: ");
	put(m, name);
	put(m, "=");
	put_value(m, v);
}

static void msg_end(struct msg *m)
{
	put(m, "\n");
	nalloc__write_str(2, m->buf);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* Sets the option from v.  Returns false if v is not accepted (nothing
 * set).  A value that is accepted but changed (clamped, rounded) is set
 * and, when m is not NULL, reported there. */
static bool apply(const struct opt_desc *o, const char *v, struct msg *m)
{
	uint64_t u;
	switch (o->kind) {
	case OPT_U64:
		if (!parse_u64(v, &u))
			return false;
		if (u < o->min || (o->max && u > o->max)) {
			bool low = u < o->min;
			u = low ? o->min : o->max;
			if (m) {
				msg_start(m, o->name, v);
				put(m, low ? " is below the minimum " : " is above the maximum ");
				put_u64(m, u);
				put(m, "; using ");
				put_u64(m, u);
				msg_end(m);
			}
		}
		*(uint64_t *)o->target = u;
		return true;
	case OPT_BOOL:
		if (!parse_u64(v, &u) || u > 1)
			return false;
		*(int *)o->target = (int)u;
		return true;
	case OPT_STR:
		if (strlen(v) >= o->size)
			return false;
		strcpy(o->target, v);
		return true;
	case OPT_NUMA: {
		static const char *const names[] = {"local", "strict", "interleave", "off"};
		for (int i = 0; i < 4; i++)
			if (!strcmp(v, names[i])) {
				*(int *)o->target = i;
				return true;
			}
		return false;
	}
	case OPT_NODES:
		/* digits and commas; checked against the topology later */
		for (const char *q = v; *q; q++)
			if (!((*q >= '0' && *q <= '9') || *q == ','))
				return false;
		if (strlen(v) >= o->size)
			return false;
		strcpy(o->target, v);
		return true;
	case OPT_SECONDS: {
		/* seconds with up to 3 decimals, stored in ms */
		uint64_t ms = 0, frac = 0;
		int decimals = -1;
		bool dropped = false, nonzero = false;
		if (!*v || !strcmp(v, "."))
			return false;
		for (const char *q = v; *q; q++) {
			if (*q == '.' && decimals < 0) {
				decimals = 0;
				continue;
			}
			if (*q < '0' || *q > '9' || ms > UINT64_MAX / 10000)
				return false;
			nonzero |= *q != '0';
			if (decimals < 0)
				ms = ms * 10 + (uint64_t)(*q - '0');
			else if (decimals < 3) {
				frac = frac * 10 + (uint64_t)(*q - '0');
				decimals++;
			} else {
				dropped |= *q != '0';
			}
		}
		while (decimals >= 0 && decimals < 3) {
			frac *= 10;
			decimals++;
		}
		ms = ms * 1000 + frac;
		if (ms == 0 && nonzero) {
			/* 0 would mean "no interval": the nearest interval instead */
			ms = 1;
			if (m) {
				msg_start(m, o->name, v);
				put(m, " is below the resolution (0.001); using 0.001");
				msg_end(m);
			}
		} else if (dropped && m) {
			msg_start(m, o->name, v);
			put(m, " has more than 3 decimals; using ");
			put_seconds(m, ms);
			msg_end(m);
		}
		*(uint64_t *)o->target = ms;
		return true;
	}
	case OPT_ONERROR:
		if (!strcmp(v, "abort"))
			*(int *)o->target = ON_ERROR_ABORT;
		else if (!strcmp(v, "warn"))
			*(int *)o->target = ON_ERROR_WARN;
		else
			return false;
		return true;
	}
	return false;
}

/* edit distance between a and b (short names), for "did you mean" */
static unsigned distance(const char *a, const char *b)
{
	enum { MAXLEN = 48 };
	unsigned row[MAXLEN + 1];
	size_t la = strlen(a), lb = strlen(b);
	if (la > MAXLEN || lb > MAXLEN)
		return MAXLEN;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* name (up to '=') is exactly s */
static bool name_is(const char *name, size_t len, const char *s)
{
	return strlen(s) == len && !strncmp(name, s, len);
}

/* Every NALLOC_* variable that is not an option gets one line: a typo
 * (NALLOC_STAT=1) would otherwise be ignored without a word. */
static void warn_unknown(void)
{
	extern char **environ;
	struct msg m;
	for (char **e = environ; e && *e; e++) {
		const char *var = *e;
		if (strncmp(var, "NALLOC_", 7) != 0)
			continue;
		const char *eq = strchr(var, '=');
		size_t len = eq ? (size_t)(eq - var) : strlen(var);
		bool known = false;
		for (size_t i = 0; i < sizeof table / sizeof table[0] && !known; i++)
			known = name_is(var, len, table[i].name);
		for (size_t i = 0; i < sizeof not_options / sizeof not_options[0] && !known; i++)
			known = name_is(var, len, not_options[i]);
		for (size_t i = 0; i < sizeof not_option_prefixes / sizeof not_option_prefixes[0] && !known; i++)
			known = !strncmp(var, not_option_prefixes[i], strlen(not_option_prefixes[i]));
		if (known)
			continue;
		char name[64];
		size_t nl = len < sizeof name - 1 ? len : sizeof name - 1;
		memcpy(name, var, nl);
		name[nl] = 0;
		const char *best = NULL;
		unsigned bestd = 3; /* suggest names at most 2 edits away */
		for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
			unsigned d = distance(name, table[i].name);
			if (d < bestd) {
				bestd = d;
				best = table[i].name;
			}
		}
		m.n = 0;
		put(&m, "nalloc: ");
		put_value(&m, var);
		put(&m, " is not a nalloc option");
		if (best) {
			put(&m, " (did you mean ");
			put(&m, best);
			put(&m, "?)");
		}
		put(&m, "; ignored");
		msg_end(&m);
	}
}

/* Once, at init.  A bad value gets one line naming it and what is
 * accepted, and the default is used; a clamped value says so. */
void nalloc__options_parse(void)
{
	struct msg m;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct opt_desc *o = &table[i];
		apply(o, o->def, NULL);
		const char *v = getenv(o->name);
		if (v && !*v)
			v = NULL; /* set but empty: the default */
		if (v && apply(o, v, &m)) {
			if (o->kind == OPT_NUMA)
				nalloc__opt.numa_set = 1;
		} else if (v) {
			msg_start(&m, o->name, v);
			if ((o->kind == OPT_STR || o->kind == OPT_NODES) && strlen(v) >= o->size) {
				put(&m, " is longer than ");
				put_u64(&m, o->size - 1);
				put(&m, " bytes");
			} else {
				put(&m, " is not ");
				put(&m, accepted(o));
			}
			if (o->def[0]) {
				put(&m, "; using ");
				put(&m, o->def);
			} else {
				put(&m, "; ignored");
			}
			msg_end(&m);
			apply(o, o->def, NULL);
		}
	}
	warn_unknown();
}

/* name, default, description: one line each (for README and --options) */
void nalloc__options_print(int fd)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		nalloc__write_str(fd, "| `");
		nalloc__write_str(fd, table[i].name);
		nalloc__write_str(fd, "` | `");
		nalloc__write_str(fd, table[i].def);
		nalloc__write_str(fd, "` | ");
		nalloc__write_str(fd, table[i].desc);
		nalloc__write_str(fd, " |\n");
	}
}
