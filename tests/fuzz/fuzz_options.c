/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_options.c: libFuzzer target for the NALLOC_* option parser
 * (src/options.c, nalloc__options_parse reads the environment): each input
 * line "K<value>" sets option K (a byte picking one of the names) to the rest
 * of the line; the parser must not crash or overrun, must leave every field
 * in range, and must agree with a reference reading of the decimal and
 * keyword options (an invalid value gives the default).  see src/malloc.c */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *names[] = {"NALLOC_ON_ERROR", "NALLOC_NUMA", "NALLOC_NODES", "NALLOC_RETURN_DELAY_MS",
                              "NALLOC_ARENA_GB", "NALLOC_STATS", "NALLOC_STATS_JSON", "NALLOC_STATS_INTERVAL"};
#define NNAMES (sizeof names / sizeof names[0])

static void fail(const char *what, const char *v)
{
	fprintf(stderr, "fuzz_options: %s (value \"%s\")\n", what, v ? v : "(unset)");
	abort();
}

/* reference: a decimal uint64 without anything else */
static int ref_u64(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return 0;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[4096];
	if (size >= sizeof buf)
		size = sizeof buf - 1;
	memcpy(buf, data, size);
	buf[size] = 0;
	for (unsigned i = 0; i < NNAMES; i++)
		unsetenv(names[i]);
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned k = (unsigned char)line[0] % NNAMES;
		setenv(names[k], line + 1, 1);
	}
	nalloc__options_parse();
	const char *v;
	/* ranges */
	if (strnlen(nalloc__opt.nodes, sizeof nalloc__opt.nodes) >= sizeof nalloc__opt.nodes)
		fail("NALLOC_NODES not terminated", getenv("NALLOC_NODES"));
	if (strnlen(nalloc__opt.stats_json, sizeof nalloc__opt.stats_json) >= sizeof nalloc__opt.stats_json)
		fail("NALLOC_STATS_JSON not terminated", getenv("NALLOC_STATS_JSON"));
	if (nalloc__opt.arena_gb < 1 || nalloc__opt.arena_gb > 4096)
		fail("NALLOC_ARENA_GB out of range", getenv("NALLOC_ARENA_GB"));
	/* the reference readings */
	uint64_t want = 10000;
	v = getenv("NALLOC_RETURN_DELAY_MS");
	if (v && *v && !ref_u64(v, &want))
		want = 10000;
	if (nalloc__opt.return_delay_ms != want)
		fail("NALLOC_RETURN_DELAY_MS misread", v);
	v = getenv("NALLOC_ARENA_GB");
	want = 64;
	if (v && *v && !ref_u64(v, &want))
		want = 64;
	want = want < 1 ? 1 : want > 4096 ? 4096 : want;
	if (nalloc__opt.arena_gb != want)
		fail("NALLOC_ARENA_GB misread", v);
	v = getenv("NALLOC_ON_ERROR");
	int warn = v && !strcmp(v, "warn");
	if ((nalloc__opt.on_error == ON_ERROR_WARN) != warn)
		fail("NALLOC_ON_ERROR misread", v);
	v = getenv("NALLOC_STATS_JSON");
	if (v && *v && strlen(v) < sizeof nalloc__opt.stats_json && strcmp(v, nalloc__opt.stats_json))
		fail("NALLOC_STATS_JSON misread", v);
	return 0;
}
