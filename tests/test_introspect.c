/* SPDX-License-Identifier: MIT */
/* tests/test_introspect.c: glibc's mallinfo2, mallinfo, malloc_stats, malloc_info and mallopt as nalloc provides them (src/introspect.c).  see src/malloc.c
 *
 * Without arguments (linked with libnalloc.la):
 *   - the five symbols come from nalloc, not glibc;
 *   - mallinfo2's uordblks / arena / fordblks equal the sums of the
 *     nalloc_stats_get snapshot's in_use_bytes / committed_bytes taken
 *     just before (nothing allocates in between), and grow by at least the
 *     known amounts allocated (1000 x 200 B + 2 MiB); keepcost <= fordblks,
 *     0 right after nalloc_purge;
 *   - mallinfo's int fields saturate at INT_MAX with a 3 GiB block live;
 *   - malloc_info(1, f) is EINVAL, malloc_info(0, f) writes <malloc ...>;
 *   - mallopt: M_ARENA_MAX, M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_TOP_PAD,
 *     M_MMAP_MAX, M_MXFAST, M_PERTURB, M_ARENA_TEST and an unknown
 *     parameter return 0; M_CHECK_ACTION returns 1 and is honoured (1: a
 *     double free is reported and the program goes on; 3: it aborts).
 * With "dump DIR": allocates known amounts (and 100 KB on each node) and
 * writes, at rest, DIR/stats.json
 * (nalloc_stats_print JSON), DIR/info.xml (malloc_info), DIR/mallinfo.txt
 * (mallinfo2 fields, name=value) and malloc_stats() on stderr, for
 * tests/test_introspect.sh to compare.
 * Exit 0 pass, 1 fail.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_util.h"

#define MiB ((size_t)1 << 20)

static struct nalloc_stats st;

static void sums(uint64_t *in_use, uint64_t *committed)
{
	*in_use = *committed = 0;
	for (int i = 0; i < st.nnodes; i++) {
		*in_use += st.nodes[i].in_use_bytes;
		*committed += st.nodes[i].committed_bytes;
	}
}

/* snapshot, then mallinfo2 at once: the two must agree exactly */
static struct mallinfo2 compare(const char *when)
{
	uint64_t in_use, committed;
	nalloc_stats_get(&st);
	struct mallinfo2 mi = mallinfo2();
	sums(&in_use, &committed);
	CHECK(mi.uordblks == in_use, "%s: mallinfo2 uordblks %zu != in_use_bytes sum %llu", when,
	      mi.uordblks, (unsigned long long)in_use);
	CHECK(mi.arena == committed, "%s: mallinfo2 arena %zu != committed_bytes sum %llu", when,
	      mi.arena, (unsigned long long)committed);
	CHECK(mi.fordblks == mi.arena - mi.uordblks, "%s: fordblks %zu != arena - uordblks", when,
	      mi.fordblks);
	CHECK(mi.keepcost <= mi.fordblks, "%s: keepcost %zu > fordblks %zu", when, mi.keepcost,
	      mi.fordblks);
	CHECK(mi.hblks == 0 && mi.hblkhd == 0 && mi.ordblks == 0 && mi.smblks == 0 &&
	          mi.usmblks == 0 && mi.fsmblks == 0,
	      "%s: fields nalloc has no figure for are not 0", when);
	return mi;
}

enum { N = 1000, SZ = 200 };
static void *blocks[N];
static void *big;

static void alloc_known(void)
{
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(OPAQUE((size_t)SZ));
		memset(blocks[i], 1, SZ);
	}
	big = malloc(OPAQUE(2 * MiB));
	memset(big, 2, 2 * MiB);
}

static void free_known(void)
{
	for (int i = 0; i < N; i++)
		free(blocks[i]);
	free(big);
}

static void test_mallinfo(void)
{
	struct mallinfo2 a = compare("at start");
	alloc_known();
	struct mallinfo2 b = compare("after allocating");
	uint64_t frees0 = 0, frees = 0;
	for (int i = 0; i < st.nnodes; i++)
		frees0 += st.nodes[i].frees;
	CHECK(b.uordblks >= a.uordblks + N * SZ + 2 * MiB,
	      "uordblks %zu -> %zu with %d x %d B + 2 MiB more live", a.uordblks, b.uordblks, N, SZ);
	CHECK(b.uordblks <= a.uordblks + N * 256 + 2 * MiB + 64 * 1024,
	      "uordblks %zu -> %zu: more than the blocks' size classes", a.uordblks, b.uordblks);
	free_known();
	struct mallinfo2 c = compare("after freeing");
	for (int i = 0; i < st.nnodes; i++)
		frees += st.nodes[i].frees;
	if (frees - frees0 >= N) /* else --disable-stats: in_use_bytes counts whole spans */
		CHECK(c.uordblks <= b.uordblks - N * SZ - 2 * MiB, "uordblks %zu -> %zu after the frees",
		      b.uordblks, c.uordblks);
	else
		t_log("mallinfo2: frees not counted (--disable-stats): the drop is not checked");
	if (!getenv("NALLOC_RETURN_DELAY_MS")) /* 10 s: the 2 MiB block's pages are still mapped */
		CHECK(c.keepcost >= 2 * MiB, "keepcost %zu after freeing a 2 MiB block", c.keepcost);
	nalloc_purge();
	struct mallinfo2 d = compare("after nalloc_purge");
	CHECK(d.keepcost == 0, "keepcost %zu after nalloc_purge", d.keepcost);
	t_log("mallinfo2: uordblks %zu -> %zu -> %zu, arena %zu, keepcost %zu -> %zu after purge",
	      a.uordblks, b.uordblks, c.uordblks, c.arena, c.keepcost, d.keepcost);

	/* mallinfo: the same figures in ints, saturated */
	struct mallinfo2 m2 = mallinfo2();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	struct mallinfo m = mallinfo();
	CHECK((size_t)m.uordblks == m2.uordblks && (size_t)m.arena == m2.arena,
	      "mallinfo uordblks %d arena %d vs mallinfo2 %zu %zu", m.uordblks, m.arena, m2.uordblks,
	      m2.arena);
	void *huge = malloc(OPAQUE((size_t)3 << 30)); /* address space; never touched */
	if (!huge) {
		t_log("mallinfo: malloc(3 GiB) failed, saturation not checked");
		return;
	}
	m2 = mallinfo2();
	m = mallinfo();
	CHECK(m2.uordblks >= ((size_t)3 << 30), "mallinfo2 uordblks %zu with 3 GiB live", m2.uordblks);
	CHECK(m.uordblks == INT_MAX && m.arena == INT_MAX,
	      "mallinfo with 3 GiB live: uordblks %d arena %d, want INT_MAX (saturated)", m.uordblks,
	      m.arena);
#pragma GCC diagnostic pop
	free(huge);
	t_log("mallinfo: int fields saturate at INT_MAX (3 GiB live: mallinfo2 uordblks %zu)",
	      m2.uordblks);
}

static void test_malloc_info(void)
{
	FILE *f = tmpfile();
	CHECK(f != NULL, "tmpfile");
	if (!f)
		return;
	int r = malloc_info(1, f);
	CHECK(r == EINVAL, "malloc_info(1, f) = %d, want EINVAL", r);
	r = malloc_info(0, f);
	CHECK(r == 0, "malloc_info(0, f) = %d", r);
	char buf[256] = {0};
	rewind(f);
	size_t got = fread(buf, 1, sizeof buf - 1, f);
	CHECK(got > 0 && strncmp(buf, "<malloc version=\"1\">\n<heap nr=\"0\"", 33) == 0,
	      "malloc_info starts with %.40s", buf);
	fclose(f);
	t_log("malloc_info: EINVAL for options != 0; XML in glibc's layout");
}

static void test_mallopt(void)
{
	static const struct {
		const char *name;
		int param, value;
	} zero[] = {{"M_ARENA_MAX", M_ARENA_MAX, 1},         {"M_ARENA_TEST", M_ARENA_TEST, 1},
	            {"M_MMAP_THRESHOLD", M_MMAP_THRESHOLD, 1 << 20},
	            {"M_MMAP_MAX", M_MMAP_MAX, 0},           {"M_TRIM_THRESHOLD", M_TRIM_THRESHOLD, 1 << 20},
	            {"M_TOP_PAD", M_TOP_PAD, 0},             {"M_MXFAST", M_MXFAST, 0},
	            {"M_PERTURB", M_PERTURB, 0x55},          {"unknown 12345", 12345, 1}};
	for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++) {
		int r = mallopt(zero[i].param, zero[i].value);
		CHECK(r == 0, "mallopt(%s, %d) = %d, want 0 (not supported by nalloc)", zero[i].name,
		      zero[i].value, r);
	}
	/* M_CHECK_ACTION 1: report and go on; 3: report and abort */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int r = mallopt(M_CHECK_ACTION, 1);
		char *p = malloc(OPAQUE((size_t)40));
		free(p);
		free(OPAQUE(p)); /* double free: reported, ignored */
		r = r == 1 ? mallopt(M_CHECK_ACTION, 3) : 0;
		if (r != 1)
			_exit(3);
		p = malloc(OPAQUE((size_t)40));
		free(p);
		free(OPAQUE(p)); /* now it aborts */
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	      "M_CHECK_ACTION 1 then 3: child status %#x, want SIGABRT at the second double free "
	      "only (exit 3: mallopt did not return 1)",
	      status);
	t_log("mallopt: 0 for unsupported parameters; M_CHECK_ACTION honoured (warn, then abort)");
}

static FILE *open_unbuffered_alloc(const char *dir, const char *name, char *buf, size_t size)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(1);
	}
	setvbuf(f, buf, _IOFBF, size); /* our buffer: writing allocates nothing */
	return f;
}

/* All files opened and buffered first, so that writing them changes no
 * figure: the four views are of one state. */
static int dump(const char *dir)
{
	static char b1[1 << 20], b2[1 << 16], b3[4096];
	FILE *js = open_unbuffered_alloc(dir, "stats.json", b1, sizeof b1);
	FILE *xml = open_unbuffered_alloc(dir, "info.xml", b2, sizeof b2);
	FILE *mi = open_unbuffered_alloc(dir, "mallinfo.txt", b3, sizeof b3);
	alloc_known();
	/* 100 KB on every node, so that each <heap> has figures of its own */
	void *onnode[NALLOC_MAX_NODES] = {0};
	int nn = nalloc_num_nodes();
	/* and the thread moves to another node, as a migrated thread is
	 * re-homed: what it allocated so far stays on, and is counted on, its
	 * first node (the counts used to move with the thread, so the new
	 * node's in_use exceeded its committed bytes and malloc_info's free
	 * bytes, which cannot be negative, disagreed with the JSON) */
	if (nn > 1) {
		int home = nalloc_thread_home();
		int other = nalloc_node_id(0) == home ? nalloc_node_id(1) : nalloc_node_id(0);
		if (nalloc_thread_set_home(other) != 0) {
			perror("nalloc_thread_set_home");
			return 1;
		}
	}
	for (int i = 0; i < nn && i < NALLOC_MAX_NODES; i++)
		onnode[i] = nalloc_malloc_onnode(100000, nalloc_node_id(i));
	nalloc_stats_print(js, NALLOC_STATS_JSON);
	malloc_info(0, xml);
	struct mallinfo2 m = mallinfo2();
	malloc_stats();
	fprintf(mi,
	        "arena=%zu\nordblks=%zu\nsmblks=%zu\nhblks=%zu\nhblkhd=%zu\nusmblks=%zu\nfsmblks=%zu\n"
	        "uordblks=%zu\nfordblks=%zu\nkeepcost=%zu\n",
	        m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.usmblks, m.fsmblks, m.uordblks,
	        m.fordblks, m.keepcost);
	fclose(js);
	fclose(xml);
	fclose(mi);
	for (int i = 0; i < nn && i < NALLOC_MAX_NODES; i++)
		free(onnode[i]);
	free_known();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "dump"))
		return dump(argv[2]);
	t_init("test_introspect");
	static const char *syms[] = {"mallinfo2", "mallinfo", "malloc_stats", "malloc_info", "mallopt"};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
		CHECK(t_symbol_from_nalloc(syms[i]), "%s is not nalloc's: it comes from %s", syms[i],
		      t_symbol_origin(syms[i]));
	test_mallinfo();
	test_malloc_info();
	test_mallopt();
	return t_finish("test_introspect");
}
