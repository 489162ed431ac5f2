/* os.c: the only file that maps, protects and returns memory to the OS.  see malloc.c */
#include "internal.h"
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Reserve address space (no memory, no commit charge), aligned. */
void *nalloc__os_reserve(size_t size, size_t align)
{
	size_t len = size + align;
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	uintptr_t end = (uintptr_t)p + len;
	if (end > a + size)
		munmap((void *)(a + size), end - (a + size));
	return (void *)a;
}

/* Make reserved memory usable.  Returns 0 or -1. */
int nalloc__os_commit(void *p, size_t size)
{
	return mprotect(p, size, PROT_READ | PROT_WRITE);
}

/* Give the pages back: the range stays usable and reads as zero. */
void nalloc__os_purge(void *p, size_t size)
{
	madvise(p, size, MADV_DONTNEED);
}

/* Zeroed read-write memory for metadata; pages are touched lazily. */
void *nalloc__os_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	               -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void nalloc__os_free(void *p, size_t size)
{
	munmap(p, size);
}

uint64_t nalloc__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t nalloc__os_page_size(void)
{
	static size_t ps;
	if (!ps) {
		long v = sysconf(_SC_PAGESIZE);
		ps = v > 0 ? (size_t)v : 4096;
	}
	return ps;
}
