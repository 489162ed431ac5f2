/* SPDX-License-Identifier: MIT */
/* test_rss.c: free pages go back to the OS after NALLOC_RETURN_DELAY_MS, so RSS falls after a burst; and stay mapped before it. */
#include "nalloc.h"
#include "unit_util.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	if (f)
		fclose(f);
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv)
{
	if (!getenv("NALLOC_RETURN_DELAY_MS")) {
		/* options are read at start-up: run again with the delay set */
		setenv("NALLOC_RETURN_DELAY_MS", "300", 1);
		execv("/proc/self/exe", argv);
		perror("execv");
		return 99;
	}
	(void)argc;
	enum { N = 200000, BIG = 64 };
	static void *small[N], *big[BIG];
	long before = rss_kib();
	for (int i = 0; i < N; i++) {
		small[i] = malloc(100 + i % 400);
		memset(small[i], 1, 100);
	}
	for (int i = 0; i < BIG; i++) {
		big[i] = malloc(1 << 20);
		memset(big[i], 1, 1 << 20);
	}
	long peak = rss_kib();
	for (int i = 0; i < N; i++)
		free(small[i]);
	for (int i = 0; i < BIG; i++)
		free(big[i]);
	long just_after = rss_kib();
	printf("rss KiB: before %ld, peak %ld, right after free %ld\n", before, peak, just_after);
	CHECK(peak - before > 100 * 1024, "burst did not raise RSS (%ld -> %ld)", before, peak);
	/* inside the delay the pages are kept (no eager return) */
	CHECK(just_after > peak - 16 * 1024, "pages returned before the delay (%ld -> %ld)", peak, just_after);
	usleep(600 * 1000);
	/* the next heap operation after the delay returns them */
	void *volatile q = malloc(1 << 20); /* volatile: the compiler may not elide the pair */
	free(q);
	long later = rss_kib();
	printf("rss KiB after the delay: %ld\n", later);
	CHECK(later < before + (peak - before) / 4, "RSS did not fall: before %ld peak %ld later %ld", before,
	      peak, later);
	struct nalloc_stats st;
	nalloc_stats_get(&st);
	CHECK(st.nodes[0].returned_bytes > 50 * 1024 * 1024, "returned_bytes %llu",
	      (unsigned long long)st.nodes[0].returned_bytes);
	UNIT_DONE("test_rss");
}
