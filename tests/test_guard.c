/* SPDX-License-Identifier: MIT */
/* test_guard.c: NALLOC_GUARD=1 puts an inaccessible page after each large
 * block: a write one byte past the usable size faults at once, every byte
 * up to it works, and freed, reallocated and calloc'd blocks behave. */
#include "api_util.h"
#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* does writing p[off] kill a child with SIGSEGV? */
static int faults(char *p, size_t off)
{
	pid_t pid = fork();
	if (pid == 0) {
		alarm(10);
		((volatile char *)p)[off] = 1;
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

int main(int argc, char **argv)
{
	(void)argc;
	if (!getenv("NALLOC_GUARD")) {
		setenv("NALLOC_GUARD", "1", 1);
		execv("/proc/self/exe", argv);
		perror("execv");
		return 1;
	}
	t_init("test_guard");
	size_t sizes[] = {32769, 40000, 65536, 100000, 1 << 20, (3 << 20) + 5};
	for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *p = malloc(sizes[i]);
		CHECK(p != NULL, "malloc(%zu)", sizes[i]);
		size_t u = malloc_usable_size(p);
		CHECK(u >= sizes[i] && u < sizes[i] + 8192, "usable %zu for %zu", u, sizes[i]);
		memset(p, 0xab, u); /* every usable byte is writable */
		CHECK_NALLOC(faults(p, u), "a write at usable size %zu (block %zu) did not fault", u, sizes[i]);
		CHECK(!faults(p, u - 1), "the last usable byte faulted");
		free(p);
	}
	/* aligned, calloc'd and reallocated blocks, and reuse after free */
	for (int round = 0; round < 50; round++) {
		void *a = NULL;
		CHECK(posix_memalign(&a, 1 << 16, 50000) == 0, "posix_memalign");
		CHECK(((uintptr_t)a & 0xffff) == 0, "alignment");
		size_t ua = malloc_usable_size(a);
		memset(a, 1, ua);
		char *c = calloc(1, 200000);
		size_t uc = malloc_usable_size(c);
		for (size_t k = 0; k < uc; k += 4096)
			CHECK(c[k] == 0, "calloc not zero at %zu", k);
		c = realloc(c, 300000 + (size_t)round * 1000);
		CHECK(c && c[0] == 0, "realloc kept the data");
		memset(c, 2, malloc_usable_size(c));
		c = realloc(c, 40000);
		memset(c, 3, malloc_usable_size(c));
		if (round == 0) {
			CHECK_NALLOC(faults(a, ua), "aligned block: no fault past the end");
			CHECK_NALLOC(faults(c, malloc_usable_size(c)), "reallocated block: no fault past the end");
		}
		free(a);
		free(c);
	}
	/* the guard pages go back with their blocks: a big block over them */
	char *big = malloc(64 << 20);
	CHECK(big != NULL, "big malloc");
	memset(big, 4, malloc_usable_size(big));
	free(big);
	return t_finish("test_guard");
}
