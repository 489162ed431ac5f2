/* SPDX-License-Identifier: MIT */
/* tests/api_util.h: small helpers shared by the API-level tests
 * (test_api, test_stress, test_threads, test_fork, test_errors).
 *
 * The tests are linked with libnalloc (or run under LD_PRELOAD) in the
 * build, but they also compile and run against plain glibc so that the
 * tests themselves can be checked.  Checks of behaviour that only nalloc
 * promises go through CHECK_NALLOC(): when the process is not running on
 * nalloc and NALLOC_TEST_ALLOW_LIBC=1 is set, their failures are reported
 * as "XFAIL(libc)" and do not fail the test.  Without that variable a test
 * that finds it is not running on nalloc fails.
 */
#ifndef NALLOC_TESTS_API_UTIL_H
#define NALLOC_TESTS_API_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nalloc.h"

/* Weak references: NULL when the process is not running on nalloc. */
#pragma weak nalloc_num_nodes
#pragma weak nalloc_stats_get
#pragma weak nalloc_stats_print
#pragma weak nalloc_purge

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

static int t_failures;
static int t_xfailures;
static unsigned long t_checks;
static int t_on_nalloc = -1;
static int t_allow_libc;
static int t_verbose;

/* Hide a value from the optimiser (sizes that would otherwise be folded
 * or warned about, pointers that -Wfree-nonheap-object would flag). */
#define OPAQUE(x) __extension__({ __typeof__(x) t_v_ = (x); __asm__ volatile("" : "+r"(t_v_)); t_v_; })

__attribute__((format(printf, 1, 2))) static void t_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* A failed check: always counts. */
#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		t_checks++;                                                                \
		if (!(cond)) {                                                             \
			t_failures++;                                                      \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);             \
			printf(__VA_ARGS__);                                               \
			printf("\n");                                                      \
			fflush(stdout);                                                    \
		}                                                                          \
	} while (0)

/* A check of nalloc-specific behaviour (see the top of this file). */
#define CHECK_NALLOC(cond, ...)                                                            \
	do {                                                                               \
		t_checks++;                                                                \
		if (!(cond)) {                                                             \
			if (!t_on_nalloc && t_allow_libc) {                                \
				t_xfailures++;                                             \
				printf("XFAIL(libc) %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			} else {                                                           \
				t_failures++;                                              \
				printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
			}                                                                  \
			printf(__VA_ARGS__);                                               \
			printf("\n");                                                      \
			fflush(stdout);                                                    \
		}                                                                          \
	} while (0)

/* Which object does the process-wide definition of sym come from? */
__attribute__((unused)) static const char *t_symbol_origin(const char *sym)
{
	void *f = dlsym(RTLD_DEFAULT, sym);
	Dl_info info;
	if (!f)
		return "(undefined)";
	if (!dladdr(f, &info) || !info.dli_fname)
		return "(unknown)";
	return info.dli_fname;
}

__attribute__((unused)) static int t_symbol_from_nalloc(const char *sym)
{
	return strstr(t_symbol_origin(sym), "nalloc") != NULL;
}

/* Call first in main(). */
static void t_init(const char *name)
{
	const char *e = getenv("NALLOC_TEST_ALLOW_LIBC");
	t_allow_libc = e && *e && strcmp(e, "0") != 0;
	e = getenv("NALLOC_TEST_VERBOSE");
	t_verbose = e && *e && strcmp(e, "0") != 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_on_nalloc = nalloc_num_nodes != NULL && t_symbol_from_nalloc("malloc");
	t_log("%s: malloc from %s, nalloc %s%s", name, t_symbol_origin("malloc"),
	      t_on_nalloc ? "present" : "ABSENT",
	      (!t_on_nalloc && t_allow_libc) ? " (NALLOC_TEST_ALLOW_LIBC: nalloc-only checks are XFAIL)" : "");
	CHECK_NALLOC(t_on_nalloc, "the test is not running on nalloc (malloc comes from %s)",
	             t_symbol_origin("malloc"));
}

/* Call at the end of main(): prints the summary, returns the exit code. */
static int t_finish(const char *name)
{
	t_log("%s: %lu checks, %d failed, %d xfail(libc): %s", name, t_checks, t_failures,
	      t_xfailures, t_failures ? "FAIL" : "PASS");
	return t_failures ? T_EXIT_FAIL : T_EXIT_PASS;
}

/* ------------------------------------------------------------ patterns */
static inline uint64_t t_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Byte i of the pattern is byte (i & 7) of t_mix64(seed + (i & ~7)), so a
 * prefix of a block keeps its pattern whatever the block's length. */
__attribute__((unused)) static void t_fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *c = p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w = t_mix64(seed + i);
		memcpy(c + i, &w, 8);
	}
	if (i < n) {
		uint64_t w = t_mix64(seed + i);
		memcpy(c + i, &w, n - i);
	}
}

/* Returns the offset of the first byte that differs, or SIZE_MAX. */
__attribute__((unused)) static size_t t_check(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *c = p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w = t_mix64(seed + i), got;
		memcpy(&got, c + i, 8);
		if (got != w) {
			const unsigned char *e = (const unsigned char *)&w;
			for (size_t k = 0; k < 8; k++)
				if (c[i + k] != e[k])
					return i + k;
		}
	}
	if (i < n) {
		uint64_t w = t_mix64(seed + i);
		const unsigned char *e = (const unsigned char *)&w;
		for (size_t k = 0; i + k < n; k++)
			if (c[i + k] != e[k])
				return i + k;
	}
	return SIZE_MAX;
}

/* Expected byte at offset off of a pattern. */
__attribute__((unused)) static inline unsigned t_expected(size_t off, uint64_t seed)
{
	uint64_t w = t_mix64(seed + (off & ~(size_t)7));
	return ((const unsigned char *)&w)[off & 7];
}

/* Small fast PRNG (xorshift64*), one state per thread. */
static inline uint64_t t_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Field 0 (size) or 1 (resident) of /proc/PID/statm in bytes (pid 0: this
 * process); 0 if unknown. */
#include <unistd.h>
__attribute__((unused)) static size_t t_statm_bytes(int pid, int field)
{
	char path[64] = "/proc/self/statm";
	if (pid)
		snprintf(path, sizeof path, "/proc/%d/statm", pid);
	FILE *f = fopen(path, "r");
	unsigned long v[2] = {0, 0};
	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &v[0], &v[1]) != 2)
		v[0] = v[1] = 0;
	fclose(f);
	return (size_t)v[field] * (size_t)sysconf(_SC_PAGESIZE);
}

/* Resident set size in bytes; 0 if unknown. */
__attribute__((unused)) static size_t t_rss_bytes(void)
{
	return t_statm_bytes(0, 1);
}

/* Seconds to run a timed test: env var, else default, clamped. */
__attribute__((unused)) static double t_env_seconds(const char *var, double dflt)
{
	const char *e = getenv(var);
	if (e && *e) {
		double v = strtod(e, NULL);
		if (v > 0 && v < 3600)
			return v;
	}
	return dflt;
}

/* a per-node uint64_t figure of nalloc's stats, summed over the nodes (0
 * without nalloc) */
static inline uint64_t t_nodes_sum(size_t offset)
{
	static struct nalloc_stats st; /* large: not on the stack */
	if (!nalloc_stats_get || nalloc_stats_get(&st) != 0)
		return 0;
	uint64_t s = 0;
	for (int i = 0; i < st.nnodes && i < NALLOC_MAX_NODES; i++)
		s += *(const uint64_t *)((const char *)&st.nodes[i] + offset);
	return s;
}

#endif
