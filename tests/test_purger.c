/* SPDX-License-Identifier: MIT */
/* test_purger.c: a multithreaded process that goes quiet gives its free
 * pages back once the return delay has passed, without another heap
 * operation (the background purger); NALLOC_BACKGROUND=0 keeps them until
 * the next one.  Regression test: before the purger, an idle server kept
 * every free page of its last burst.  Also: fork while it runs. */
#include "api_util.h"
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static long rss_kib(void)
{
	return (long)(t_rss_bytes() / 1024);
}

static void *other(void *arg)
{
	free(malloc(64)); /* the process's second thread with a cache */
	return arg;
}

int main(int argc, char **argv)
{
	(void)argc;
	if (!getenv("NALLOC_RETURN_DELAY_MS")) {
		setenv("NALLOC_RETURN_DELAY_MS", "200", 1);
		execv("/proc/self/exe", argv);
		return 1;
	}
	t_init("test_purger");
	int background = !getenv("NALLOC_BACKGROUND") || strcmp(getenv("NALLOC_BACKGROUND"), "0");
	pthread_t t;
	pthread_create(&t, NULL, other, NULL);
	pthread_join(t, NULL);
	enum { N = 48 };
	char *b[N];
	for (int i = 0; i < N; i++) {
		b[i] = malloc(1 << 20);
		memset(b[i], 7, 1 << 20);
	}
	long full = rss_kib();
	for (int i = 0; i < N; i++)
		free(b[i]);
	/* quiet: no heap operation for 1.5 s (5x the delay plus the period) */
	usleep(1500 * 1000);
	long quiet = rss_kib();
	t_log("background=%d: RSS %ld KiB with 48 MiB live, %ld KiB after 1.5 s quiet", background, full,
	      quiet);
	if (background)
		CHECK_NALLOC(quiet < full - 36 * 1024, "free pages not returned while the process was quiet "
		                                        "(%ld -> %ld KiB)",
		             full, quiet);
	else
		CHECK_NALLOC(quiet > full - 12 * 1024, "NALLOC_BACKGROUND=0 returned pages without a heap "
		                                       "operation (%ld -> %ld KiB)",
		             full, quiet);
	/* fork while the purger runs: the child allocates, frees, exits */
	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			alarm(10);
			for (int k = 0; k < 100; k++)
				free(malloc((size_t)k * 1000 + 1));
			pthread_create(&t, NULL, other, NULL);
			pthread_join(t, NULL);
			exit(0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d status %#x", i, st);
		usleep(20000);
	}
	return t_finish("test_purger");
}
