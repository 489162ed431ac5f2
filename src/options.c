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
	size_t size; /* OPT_STR: buffer size */
};

/* The one list of options: README.md's table is printed from it. */
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
	 "address space reserved per NUMA node in GiB (halved until the reservation fits)", OPT_U64,
	 &nalloc__opt.arena_gb, 0},
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
};

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

static bool apply(const struct opt_desc *o, const char *v)
{
	uint64_t u;
	switch (o->kind) {
	case OPT_U64:
		if (!parse_u64(v, &u))
			return false;
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
		if (!*v)
			return false;
		for (const char *q = v; *q; q++) {
			if (*q == '.' && decimals < 0) {
				decimals = 0;
				continue;
			}
			if (*q < '0' || *q > '9' || ms > UINT64_MAX / 10000)
				return false;
			if (decimals < 0)
				ms = ms * 10 + (uint64_t)(*q - '0');
			else if (decimals < 3) {
				frac = frac * 10 + (uint64_t)(*q - '0');
				decimals++;
			}
		}
		while (decimals > 0 && decimals < 3) {
			frac *= 10;
			decimals++;
		}
		*(uint64_t *)o->target = ms * 1000 + frac;
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

void nalloc__options_parse(void)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct opt_desc *o = &table[i];
		apply(o, o->def);
		const char *v = getenv(o->name);
		if (v && !*v)
			v = NULL; /* set but empty: the default */
		if (v && o->kind == OPT_NUMA)
			nalloc__opt.numa_set = 1;
		if (v && !apply(o, v)) {
			nalloc__write_str(2, "nalloc: invalid value for ");
			nalloc__write_str(2, o->name);
			nalloc__write_str(2, ", using the default ");
			nalloc__write_str(2, o->def[0] ? o->def : "(empty)");
			nalloc__write_str(2, "\n");
			apply(o, o->def);
		}
	}
	if (nalloc__opt.arena_gb < 1)
		nalloc__opt.arena_gb = 1;
	if (nalloc__opt.arena_gb > 4096)
		nalloc__opt.arena_gb = 4096;
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
