/* SPDX-License-Identifier: MIT */
/* test_limits.c: no hidden heap cap and limits that hold.  growth: with a 1 GiB first reservation (NALLOC_ARENA_GB=1), 3.5 GiB of small and large blocks, one larger than the reservation, all succeed and free cleanly.  calloc: a large calloc over pages a freed block dirtied makes only those resident (at most), and calloc(1, 47 GiB) after dirtying does not touch memory (a watchdog kills it past 1 GiB of RSS).  rlimit: RLIMIT_AS lowered at run time makes large and small mallocs fail with ENOMEM near the limit, not gigabytes past it.  until-null (tests/test_ulimit.sh, under ulimit -v): malloc until NULL, ENOMEM, no abort. */
#include "api_util.h"
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

static size_t rss_of(pid_t pid)
{
	return t_statm_bytes((int)pid, 1);
}

/* 3.5 GiB in small blocks (16 KiB), large blocks (1 MiB) and one 1.25 GiB
 * block, past a 1 GiB first reservation; every 64th block touched. */
static void test_growth(void)
{
	enum { NSMALL = 1536 * 64, NLARGE = 768 };
	static void *small[NSMALL], *large[NLARGE];
	size_t ok_small = 0, ok_large = 0;
	for (int i = 0; i < NSMALL; i++) {
		small[i] = malloc(16384);
		if (!small[i])
			break;
		ok_small++;
		if (i % 64 == 0)
			*(volatile char *)small[i] = 1;
	}
	CHECK_NALLOC(ok_small == NSMALL, "small blocks: %zu of %d (%zu MiB) before NULL", ok_small, NSMALL,
	             ok_small * 16384 / MiB);
	for (int i = 0; i < NLARGE; i++) {
		large[i] = malloc(MiB);
		if (!large[i])
			break;
		ok_large++;
		if (i % 64 == 0)
			*(volatile char *)large[i] = 1;
	}
	CHECK_NALLOC(ok_large == NLARGE, "large blocks: %zu of %d before NULL", ok_large, NLARGE);
	char *huge = malloc(GiB + GiB / 4);
	CHECK_NALLOC(huge != NULL, "a 1.25 GiB block with a 1 GiB first reservation: errno %d", errno);
	if (huge)
		huge[GiB + GiB / 4 - 1] = 1;
	if (nalloc_stats_get) {
		struct nalloc_stats st;
		nalloc_stats_get(&st);
		uint64_t mapped = 0;
		for (int n = 0; n < st.nnodes; n++)
			mapped += st.nodes[n].mapped_bytes;
		t_log("growth: mapped %llu MiB", (unsigned long long)(mapped / MiB));
		CHECK_NALLOC(mapped >= 3 * GiB, "mapped_bytes %llu", (unsigned long long)mapped);
	}
	for (size_t i = 0; i < ok_small; i++)
		free(small[i]);
	for (size_t i = 0; i < ok_large; i++)
		free(large[i]);
	free(huge);
	/* and again: the freed memory is reused */
	huge = malloc(2 * GiB);
	CHECK_NALLOC(huge != NULL, "2 GiB after freeing 3.5 GiB");
	free(huge);
}

/* Dirty pages: 256 MiB written and freed, then calloc(1, 1 GiB) over them
 * must not make the other 768 MiB resident, and must read as zero. */
static void test_calloc_dirty(void)
{
	size_t dirty = 256 * MiB;
	char *p = malloc(dirty);
	CHECK(p != NULL, "malloc 256 MiB");
	if (!p)
		return;
	memset(p, 0x5a, dirty);
	free(p);
	size_t before = t_rss_bytes();
	char *q = calloc(1, GiB);
	size_t after = t_rss_bytes();
	CHECK(q != NULL, "calloc(1, 1 GiB)");
	if (!q)
		return;
	t_log("calloc: rss %zu MiB before, %zu MiB after calloc(1 GiB) over 256 MiB dirty (block %s them)",
	      before / MiB, after / MiB, (q <= p && p < q + GiB) ? "reuses" : "does not reuse");
	CHECK_NALLOC(after < before + 64 * MiB, "calloc(1, 1 GiB) made %zu MiB resident",
	             (after - before) / MiB);
	/* zero where the old block was, and here and there beyond it */
	size_t bad = SIZE_MAX;
	if (q <= p && p < q + GiB)
		for (size_t i = 0; i < dirty && p + i < q + GiB; i += 4096)
			if (p[i] != 0 || p[i + 4095] != 0) {
				bad = (size_t)(p + i - q);
				break;
			}
	for (size_t i = 0; i < GiB; i += 64 * MiB + 4096)
		if (q[i] != 0)
			bad = i;
	CHECK(bad == SIZE_MAX, "calloc'd byte %zu is not zero", bad);
	free(q);
}

/* calloc(1, 47 GiB) after a freed dirty block: NULL or an untouched block,
 * never zeroing until memory runs out.  Run in a child that the parent
 * kills if it passes 1 GiB of RSS. */
static void test_calloc_huge(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		char *p = malloc(64 * MiB);
		if (p) {
			memset(p, 1, 64 * MiB);
			free(p);
		}
		char *q = calloc(1, (size_t)47 * GiB);
		if (!q)
			_exit(errno == ENOMEM ? 0 : 2);
		_exit(q[0] == 0 && q[(size_t)47 * GiB - 1] == 0 ? 0 : 3);
	}
	CHECK(pid > 0, "fork");
	if (pid <= 0)
		return;
	int status = 0, killed = 0;
	size_t peak = 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		size_t r = rss_of(pid);
		if (r > peak)
			peak = r;
		if (r > GiB && !killed) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	t_log("calloc(1, 47 GiB): child peak rss %zu MiB%s", peak / MiB, killed ? " (killed)" : "");
	CHECK_NALLOC(!killed, "calloc(1, 47 GiB) zeroed memory: killed at %zu MiB resident", peak / MiB);
	CHECK(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0), "child status %#x", status);
}

static size_t vm_size(void)
{
	return t_statm_bytes(0, 0);
}

/* malloc blocks of size until NULL (or cap bytes); returns the bytes. */
static size_t fill(void **v, size_t max, size_t size, size_t *n, int *err)
{
	size_t total = 0;
	*n = 0;
	*err = 0;
	while (*n < max) {
		errno = 0;
		void *p = malloc(size);
		if (!p) {
			*err = errno;
			break;
		}
		v[(*n)++] = p;
		total += size;
	}
	return total;
}

/* RLIMIT_AS lowered at run time: NULL/ENOMEM near it (glibc: the same). */
static void test_rlimit(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl;
		getrlimit(RLIMIT_AS, &rl);
		size_t limit = 768 * MiB;
		rl.rlim_cur = limit;
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(77);
		static void *v[1 << 17];
		size_t n;
		int err;
		/* cap at 2x the limit: nalloc used to go on for gigabytes */
		size_t big = fill(v, 2 * limit / MiB, MiB, &n, &err);
		printf("rlimit: VmSize %zu MiB: 1 MiB blocks: %zu MiB before NULL (errno %d)\n", vm_size() / MiB,
		       big / MiB, err);
		int bad = 0;
		if (err != ENOMEM || big > limit || big < limit / 4)
			bad |= 1;
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		size_t small = fill(v, 2 * limit / 16384 < (1 << 17) ? 2 * limit / 16384 : (1 << 17), 16384, &n,
		                    &err);
		printf("rlimit: 16 KiB blocks: %zu MiB before NULL (errno %d)\n", small / MiB, err);
		if (err != ENOMEM || small > limit || small < limit / 4)
			bad |= 2;
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		/* the limit raised again: malloc works again */
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_AS, &rl);
		void *p = malloc(limit);
		if (!p)
			bad |= 4;
		free(p);
		fflush(stdout);
		_exit(bad ? 10 + bad : 0);
	}
	CHECK(pid > 0, "fork");
	int status = 0;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		t_log("rlimit: setrlimit refused: skipped");
		return;
	}
	CHECK_NALLOC(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	             "RLIMIT_AS at run time not honoured (child status %#x: 11 large, 12 small, 14 not again)",
	             status);
}

/* Under ulimit -v (test_ulimit.sh): allocate until NULL, in small and
 * large blocks; ENOMEM, no abort; then everything frees. */
static int until_null(void)
{
	static void *v[1 << 16];
	size_t n = 0, total = 0;
	int err = 0;
	for (; n < sizeof v / sizeof v[0]; n++) {
		size_t sz = n % 4 == 3 ? 256 * 1024 : 8192;
		errno = 0;
		if (!(v[n] = malloc(sz))) {
			err = errno;
			break;
		}
		total += sz;
	}
	printf("until-null: %zu MiB in %zu blocks, then NULL with errno %d (VmSize %zu MiB)\n", total / MiB, n,
	       err, vm_size() / MiB);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	void *p = malloc(100);
	free(p);
	return err == ENOMEM && n < sizeof v / sizeof v[0] && p != NULL ? 0 : 1;
}

/* each part in a fresh process: options are read at start-up, and limits
 * and committed memory must not leak from one part to the next */
static const struct {
	const char *name, *env;
	void (*fn)(void);
} parts[] = {
	{"calloc", NULL, test_calloc_dirty},
	{"calloc-huge", NULL, test_calloc_huge},
	{"rlimit", NULL, test_rlimit},
	{"growth", "NALLOC_ARENA_GB=1", test_growth},
};

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "until-null"))
		return until_null();
	for (size_t i = 0; argc > 1 && i < sizeof parts / sizeof parts[0]; i++) {
		if (strcmp(argv[1], parts[i].name))
			continue;
		char name[64];
		snprintf(name, sizeof name, "test_limits %s", parts[i].name);
		t_init(name);
		parts[i].fn();
		return t_finish(name);
	}
	int bad = 0;
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			if (parts[i].env)
				putenv((char *)parts[i].env);
			execl("/proc/self/exe", argv[0], parts[i].name, (char *)NULL);
			_exit(99);
		}
		int status = 0;
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			printf("FAIL: test_limits %s: status %#x\n", parts[i].name, status);
			bad = 1;
		}
	}
	printf("test_limits: %s\n", bad ? "FAIL" : "PASS");
	return bad;
}
