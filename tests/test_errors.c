/* SPDX-License-Identifier: MIT */
/* tests/test_errors.c: invalid and double frees.
 *
 * nalloc reports a bad free on stderr, naming the kind ("double free",
 * "invalid free") and the pointer (%p format, 0x...), then aborts; with
 * NALLOC_ON_ERROR=warn it reports and carries on without corrupting
 * anything.  Options are read at start-up, so each case runs in a fresh
 * process: this program re-executes itself (/proc/self/exe --case NAME)
 * with the environment set, and reads the child's stdout and stderr
 * through pipes.
 *
 * Abort cases (child must die by SIGABRT, stderr must name the error and
 * the pointer): double free of a small block, of a small block freed first
 * by another thread, of a small block freed twice by another thread (the
 * second free meets the first in that thread's batch of remote frees), of
 * a small block freed by two other threads in turn, of a 1 MiB block, of an aligned block; free of a
 * pointer into the middle of a small and of a large object (also a
 * page-aligned one); free of a live block's address with a bit from 47 up
 * set; free of a stack address, of a global, of an mmap'ed
 * page and of a block from glibc's own malloc.
 * Warn case: the same errors with NALLOC_ON_ERROR=warn; the program must
 * continue, report each error, the double-freed block must not be handed
 * out twice, and thousands of later allocations must stay intact.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_util.h"

/* the bad frees below are deliberate */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#endif

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

/* ================================================================ child */
static char global_buf[256] __attribute__((aligned(64)));

/* Tell the parent which pointer is about to be freed badly. */
static void announce(const char *what, const void *p)
{
	printf("PTR %s %p\n", what, p);
	fflush(stdout);
}

static void *thread_free(void *p)
{
	free(p);
	return NULL;
}

static void bad_free(void *p)
{
	free(OPAQUE(p));
}

/* run fn(arg) in a new thread and wait for it */
static void in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, arg) == 0)
		pthread_join(t, NULL);
}

static int case_double_free_small(void)
{
	char *p = malloc(OPAQUE((size_t)32));
	memset(p, 1, 32);
	announce("double-free-small", p);
	free(p);
	bad_free(p);
	return 0;
}

static int case_double_free_remote(void)
{
	char *p = malloc(OPAQUE((size_t)64));
	memset(p, 1, 64);
	in_thread(thread_free, p);
	announce("double-free-remote", p);
	bad_free(p);
	/* a lazy check may only notice when the block is reclaimed */
	for (int i = 0; i < 100000; i++)
		free(malloc(64));
	return 0;
}

/* Another thread frees the block twice: the second free finds the first
 * still waiting in that thread's batch of remote frees. */
static void *thread_free_twice(void *p)
{
	free(p);
	announce("double-free-remote-batched", p);
	bad_free(p);
	return NULL;
}

static int case_double_free_remote_batched(void)
{
	char *p = malloc(OPAQUE((size_t)64));
	memset(p, 1, 64);
	in_thread(thread_free_twice, p);
	return 0;
}

/* Two other threads free the block, one after the other exited (its
 * batch handed over at exit): the second hand-over finds the bit taken. */
static void *thread_free_announced(void *p)
{
	announce("double-free-remote-two-threads", p);
	bad_free(p);
	return NULL;
}

static int case_double_free_remote_two_threads(void)
{
	char *p = malloc(OPAQUE((size_t)96));
	memset(p, 1, 96);
	in_thread(thread_free, p);
	in_thread(thread_free_announced, p);
	for (int i = 0; i < 100000; i++)
		free(malloc(96));
	return 0;
}

static int case_double_free_large(void)
{
	char *p = malloc(OPAQUE(MiB));
	memset(p, 1, MiB);
	announce("double-free-large", p);
	free(p);
	bad_free(p);
	return 0;
}

static int case_double_free_aligned(void)
{
	char *p = aligned_alloc(4096, OPAQUE((size_t)5000));
	memset(p, 1, 5000);
	announce("double-free-aligned", p);
	free(p);
	bad_free(p);
	return 0;
}

static int case_invalid_free_middle(void)
{
	char *p = malloc(OPAQUE((size_t)100));
	memset(p, 1, 100);
	announce("invalid-free-middle", p + 16);
	bad_free(p + 16);
	return 0;
}

static int case_invalid_free_middle_large(void)
{
	char *p = malloc(OPAQUE(MiB));
	memset(p, 1, MiB);
	announce("invalid-free-middle-large", p + 4096 + 48);
	bad_free(p + 4096 + 48);
	return 0;
}

static int case_invalid_free_large_page(void)
{
	/* page-aligned and inside a large object: looks like a block start */
	char *p = malloc(OPAQUE(MiB));
	memset(p, 1, MiB);
	uintptr_t q = ((uintptr_t)p + 256 * KiB) & ~(uintptr_t)(64 * KiB - 1);
	announce("invalid-free-large-page", (void *)q);
	bad_free((void *)q);
	return 0;
}

/* A live small block's address with a bit from 47 up set: not a pointer
 * nalloc handed out (its page map ignores those bits), so it must be
 * reported, not taken for an object of the live block's span.  16-byte
 * blocks: their offsets from a far alias are multiples of the size. */
static int case_invalid_free_high_bits(void)
{
	char *p = malloc(OPAQUE((size_t)16));
	memset(p, 1, 16);
	void *far = (void *)((uintptr_t)p | ((uintptr_t)1 << 47));
	announce("invalid-free-high-bits", far);
	bad_free(far);
	return 0;
}

static int case_invalid_free_stack(void)
{
	char buf[64];
	memset(buf, 0, sizeof buf);
	announce("invalid-free-stack", buf + 16);
	bad_free(buf + 16);
	return 0;
}

static int case_invalid_free_global(void)
{
	announce("invalid-free-global", global_buf + 64);
	bad_free(global_buf + 64);
	return 0;
}

static int case_invalid_free_mmap(void)
{
	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 2;
	announce("invalid-free-mmap", m + 4096);
	bad_free(m + 4096);
	return 0;
}

static int case_invalid_free_libc(void)
{
	void *(*libc_malloc)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "__libc_malloc");
	if (!libc_malloc)
		return 2;
	void *p = libc_malloc(100);
	announce("invalid-free-libc", p);
	bad_free(p);
	return 0;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
	return x < y ? -1 : x > y;
}

/* n live blocks of one size: distinct, non-overlapping, intact */
static int distinct_blocks(const char *what, size_t size, int n)
{
	void **v = calloc((size_t)n, sizeof *v);
	int ok = 1;
	for (int i = 0; i < n; i++) {
		v[i] = malloc(size);
		if (!v[i]) {
			printf("ERROR %s: malloc(%zu) = NULL\n", what, size);
			return 0;
		}
		t_fill(v[i], size, (uintptr_t)v[i]);
	}
	for (int i = 0; i < n; i++)
		if (t_check(v[i], size, (uintptr_t)v[i]) != SIZE_MAX) {
			printf("ERROR %s: block %p of size %zu overwritten (handed out twice?)\n", what,
			       v[i], size);
			ok = 0;
		}
	void **s = malloc((size_t)n * sizeof *s);
	memcpy(s, v, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_ptr);
	for (int i = 1; i < n; i++)
		if ((uintptr_t)s[i - 1] + size > (uintptr_t)s[i]) {
			printf("ERROR %s: blocks %p and %p of size %zu overlap\n", what, s[i - 1], s[i],
			       size);
			ok = 0;
		}
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(s);
	free(v);
	return ok;
}

static int case_warn(void)
{
	int ok = 1;
	/* 1. double free of a small block */
	char *p = malloc(OPAQUE((size_t)48));
	announce("warn-double-free-small", p);
	free(p);
	bad_free(p);
	printf("STEP survived double free (small)\n");
	char *a = malloc(48), *b = malloc(48);
	if (a == b) {
		printf("ERROR after a double free, malloc(48) returned %p twice\n", a);
		ok = 0;
	}
	if (a && b && a != b) {
		t_fill(a, 48, 1);
		t_fill(b, 48, 2);
		if (t_check(a, 48, 1) != SIZE_MAX || t_check(b, 48, 2) != SIZE_MAX) {
			printf("ERROR blocks %p and %p overlap\n", a, b);
			ok = 0;
		}
	}
	ok &= distinct_blocks("after small double free", 48, 2000);
	free(a);
	free(b);

	/* 2. free into the middle of a small object */
	p = malloc(OPAQUE((size_t)100));
	t_fill(p, 100, 3);
	announce("warn-invalid-free-middle", p + 16);
	bad_free(p + 16);
	printf("STEP survived invalid free (middle)\n");
	if (t_check(p, 100, 3) != SIZE_MAX) {
		printf("ERROR block %p changed by an invalid free of %p\n", p, p + 16);
		ok = 0;
	}
	ok &= distinct_blocks("after invalid free (middle)", 100, 2000);
	if (t_check(p, 100, 3) != SIZE_MAX) {
		printf("ERROR block %p was handed out again after an invalid free of %p\n", p, p + 16);
		ok = 0;
	}
	free(p);

	/* 3. stack, global, mmap */
	char buf[64];
	announce("warn-invalid-free-stack", buf + 8);
	bad_free(buf + 8);
	announce("warn-invalid-free-global", global_buf + 32);
	bad_free(global_buf + 32);
	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED) {
		announce("warn-invalid-free-mmap", m);
		bad_free(m);
	}
	printf("STEP survived invalid frees (stack, global, mmap)\n");

	/* 4. double free of a large block */
	char *l = malloc(OPAQUE(MiB));
	memset(l, 7, MiB);
	announce("warn-double-free-large", l);
	free(l);
	bad_free(l);
	printf("STEP survived double free (large)\n");
	char *la = malloc(MiB), *lb = malloc(MiB);
	if (!la || !lb || la == lb) {
		printf("ERROR after a large double free, malloc(1 MiB) gave %p and %p\n", la, lb);
		ok = 0;
	} else {
		t_fill(la, MiB, 4);
		t_fill(lb, MiB, 5);
		if (t_check(la, MiB, 4) != SIZE_MAX || t_check(lb, MiB, 5) != SIZE_MAX) {
			printf("ERROR 1 MiB blocks %p and %p overlap\n", la, lb);
			ok = 0;
		}
	}
	ok &= distinct_blocks("after large double free", MiB, 8);

	/* 5. a pointer inside a large object */
	char *q = la + 8192;
	announce("warn-invalid-free-middle-large", q);
	bad_free(q);
	printf("STEP survived invalid free (middle of large)\n");
	if (la && t_check(la, MiB, 4) != SIZE_MAX) {
		printf("ERROR large block %p changed by an invalid free of %p\n", la, q);
		ok = 0;
	}
	ok &= distinct_blocks("after invalid free (middle of large)", 256 * KiB, 8);
	free(la);
	free(lb);

	/* 6. the heap still works */
	uint64_t rng = 99;
	enum { N = 512 };
	static struct {
		void *p;
		size_t n;
	} s[N];
	for (int i = 0; i < 50000; i++) {
		int k = (int)(t_rand(&rng) % N);
		if (s[k].p) {
			if (t_check(s[k].p, s[k].n, (uintptr_t)s[k].p) != SIZE_MAX) {
				printf("ERROR block %p size %zu corrupted after the bad frees\n", s[k].p,
				       s[k].n);
				ok = 0;
			}
			free(s[k].p);
			s[k].p = NULL;
		} else {
			size_t n = t_rand(&rng) % 64 == 0 ? 40 * KiB + t_rand(&rng) % MiB
			                                  : 1 + t_rand(&rng) % 2048;
			s[k].p = malloc(n);
			s[k].n = n;
			if (!s[k].p) {
				printf("ERROR malloc(%zu) = NULL\n", n);
				return 1;
			}
			t_fill(s[k].p, n, (uintptr_t)s[k].p);
		}
	}
	for (int k = 0; k < N; k++)
		free(s[k].p);
	ok &= distinct_blocks("at the end", 48, 4000);
	printf("DONE %s\n", ok ? "ok" : "errors");
	return ok ? 0 : 1;
}

struct tcase {
	const char *name;
	int (*fn)(void);
	const char *expect; /* substring expected in stderr */
	const char *on_error; /* NALLOC_ON_ERROR value, NULL: unset */
};

static const struct tcase cases[] = {
	{"double-free-small", case_double_free_small, "double free", NULL},
	{"double-free-small-abort", case_double_free_small, "double free", "abort"},
	{"double-free-remote", case_double_free_remote, "double free", NULL},
	{"double-free-remote-batched", case_double_free_remote_batched, "double free", NULL},
	{"double-free-remote-two-threads", case_double_free_remote_two_threads, "double free", NULL},
	{"double-free-large", case_double_free_large, "double free", NULL},
	{"double-free-aligned", case_double_free_aligned, "double free", NULL},
	{"invalid-free-middle", case_invalid_free_middle, "invalid free", NULL},
	{"invalid-free-middle-large", case_invalid_free_middle_large, "invalid free", NULL},
	{"invalid-free-large-page", case_invalid_free_large_page, "invalid free", NULL},
	{"invalid-free-high-bits", case_invalid_free_high_bits, "invalid free", NULL},
	{"invalid-free-stack", case_invalid_free_stack, "invalid free", NULL},
	{"invalid-free-global", case_invalid_free_global, "invalid free", NULL},
	{"invalid-free-mmap", case_invalid_free_mmap, "invalid free", NULL},
	{"invalid-free-libc", case_invalid_free_libc, "invalid free", NULL},
};

static int run_case(const char *name)
{
	alarm(10);
	if (!strcmp(name, "warn"))
		return case_warn();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (!strcmp(cases[i].name, name)) {
			int r = cases[i].fn();
			printf("SURVIVED\n");
			fflush(stdout);
			return r;
		}
	fprintf(stderr, "unknown case %s\n", name);
	return 2;
}

/* ================================================================ parent */
struct result {
	int status;
	char out[16384];
	char err[16384];
	size_t nout, nerr;
};

static int spawn(const char *name, const char *on_error, struct result *res)
{
	int po[2], pe[2];
	memset(res, 0, sizeof *res);
	if (pipe(po) || pipe(pe)) {
		perror("pipe");
		return -1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		close(po[1]);
		close(pe[1]);
		struct rlimit rl = {0, 0};
		setrlimit(RLIMIT_CORE, &rl);
		if (on_error)
			setenv("NALLOC_ON_ERROR", on_error, 1);
		else
			unsetenv("NALLOC_ON_ERROR");
		char *argv[] = {(char *)"test_errors", (char *)"--case", (char *)name, NULL};
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
	int open_fds = 2;
	while (open_fds) {
		int r = poll(fds, 2, 60000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char *buf = i ? res->err : res->out;
			size_t *len = i ? &res->nerr : &res->nout;
			char tmp[4096];
			ssize_t n = read(fds[i].fd, tmp, sizeof tmp);
			if (n <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			size_t room = sizeof res->out - 1 - *len;
			size_t k = (size_t)n < room ? (size_t)n : room;
			memcpy(buf + *len, tmp, k);
			*len += k;
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	res->out[res->nout] = 0;
	res->err[res->nerr] = 0;
	if (waitpid(pid, &res->status, 0) != pid)
		return -1;
	return 0;
}

/* Is the pointer (as printed by %p) in text as a 0x hex number (any case,
 * any zero padding)? */
static int has_address(const char *text, uintptr_t want)
{
	for (const char *s = text; *s; s++) {
		if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !isxdigit((unsigned char)s[2]))
			continue;
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s + 2, &end, 16);
		if (!errno && v == want)
			return 1;
	}
	return 0;
}

/* Pointers the child announced: "PTR name 0x..." lines. */
static int announced(const char *out, const char *name, uintptr_t *p)
{
	char key[128];
	/* name NULL: the first pointer announced */
	snprintf(key, sizeof key, "PTR %s%s", name ? name : "", name ? " " : "");
	const char *s = strstr(out, key);
	if (!s)
		return 0;
	s += strlen(key);
	if (!name)
		s = strchr(s, ' ');
	void *v = NULL;
	if (!s || sscanf(s, "%p", &v) != 1)
		return 0;
	*p = (uintptr_t)v;
	return 1;
}

static int count_substr(const char *text, const char *sub)
{
	int n = 0;
	for (const char *s = text; (s = strstr(s, sub)); s += strlen(sub))
		n++;
	return n;
}

static void show_stderr(const struct result *r)
{
	const char *s = r->err;
	int lines = 0;
	printf("    child stderr (%zu bytes):%s\n", r->nerr, r->nerr ? "" : " (empty)");
	while (*s && lines < 8) {
		const char *e = strchr(s, '\n');
		int len = e ? (int)(e - s) : (int)strlen(s);
		printf("    | %.*s\n", len > 200 ? 200 : len, s);
		lines++;
		s += len + (e ? 1 : 0);
	}
}

static void status_text(int st, char *buf, size_t n)
{
	if (WIFSIGNALED(st))
		snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else if (WIFEXITED(st))
		snprintf(buf, n, "exited with %d", WEXITSTATUS(st));
	else
		snprintf(buf, n, "status %#x", st);
}

static void parent_abort_case(const struct tcase *c)
{
	static struct result r;
	char st[128];
	if (spawn(c->name, c->on_error, &r)) {
		CHECK(0, "%s: could not run the child", c->name);
		return;
	}
	status_text(r.status, st, sizeof st);
	if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2) {
		t_log("%s: not applicable here (skipped)", c->name);
		return;
	}
	uintptr_t p = 0;
	int have_p = announced(r.out, NULL, &p);
	int aborted = WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT;
	int msg = strstr(r.err, c->expect) != NULL;
	int addr = have_p && has_address(r.err, p);
	t_log("%s%s%s: pointer %#lx, child %s; stderr %s \"%s\", %s the address", c->name,
	      c->on_error ? " NALLOC_ON_ERROR=" : "", c->on_error ? c->on_error : "",
	      (unsigned long)p, st, msg ? "has" : "LACKS", c->expect, addr ? "has" : "LACKS");
	CHECK(have_p, "%s: the child did not get to the bad free (stdout: %.200s)", c->name, r.out);
	CHECK_NALLOC(aborted, "%s: child %s, want SIGABRT", c->name, st);
	CHECK_NALLOC(!strstr(r.out, "SURVIVED"), "%s: the program continued after the bad free",
	             c->name);
	CHECK_NALLOC(msg, "%s: stderr lacks \"%s\"", c->name, c->expect);
	CHECK_NALLOC(addr, "%s: stderr lacks the address %#lx (as 0x...)", c->name,
	             (unsigned long)p);
	if (!aborted || !msg || !addr)
		show_stderr(&r);
}

static void parent_warn_case(void)
{
	static struct result r;
	char st[128];
	if (spawn("warn", "warn", &r)) {
		CHECK(0, "warn: could not run the child");
		return;
	}
	status_text(r.status, st, sizeof st);
	int exited0 = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
	t_log("warn (NALLOC_ON_ERROR=warn): child %s, %d \"double free\" and %d \"invalid free\" "
	      "reports",
	      st, count_substr(r.err, "double free"), count_substr(r.err, "invalid free"));
	CHECK_NALLOC(exited0, "warn: child %s, want exit 0 (stdout tail: %.300s)", st,
	             r.nout > 300 ? r.out + r.nout - 300 : r.out);
	CHECK_NALLOC(strstr(r.out, "DONE ok") != NULL, "warn: child did not finish cleanly");
	const char *e;
	for (e = r.out; (e = strstr(e, "ERROR")); e += 5) {
		const char *nl = strchr(e, '\n');
		CHECK_NALLOC(0, "warn: %.*s", nl ? (int)(nl - e) : 200, e);
	}
	static const char *dbl[] = {"warn-double-free-small", "warn-double-free-large"};
	static const char *inv[] = {"warn-invalid-free-middle", "warn-invalid-free-stack",
	                            "warn-invalid-free-global", "warn-invalid-free-mmap",
	                            "warn-invalid-free-middle-large"};
	CHECK_NALLOC(count_substr(r.err, "double free") >= 2, "warn: %d double free reports, want 2",
	             count_substr(r.err, "double free"));
	CHECK_NALLOC(count_substr(r.err, "invalid free") >= 5,
	             "warn: %d invalid free reports, want 5", count_substr(r.err, "invalid free"));
	for (size_t i = 0; i < 2 + 5; i++) {
		const char *name = i < 2 ? dbl[i] : inv[i - 2];
		uintptr_t p;
		if (!announced(r.out, name, &p)) {
			CHECK_NALLOC(0, "warn: the child did not reach %s", name);
			continue;
		}
		CHECK_NALLOC(has_address(r.err, p), "warn: %s: address %#lx not reported", name,
		             (unsigned long)p);
	}
	if (t_failures || t_xfailures || t_verbose)
		show_stderr(&r);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--case"))
		return run_case(argv[2]);
	t_init("test_errors");
	if (access("/proc/self/exe", X_OK) != 0) {
		t_log("test_errors: /proc/self/exe not available, skipped");
		return T_EXIT_SKIP;
	}
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		parent_abort_case(&cases[i]);
	parent_warn_case();
	return t_finish("test_errors");
}
