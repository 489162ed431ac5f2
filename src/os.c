/* SPDX-License-Identifier: MIT */
/* os.c: the only file that maps, protects and returns memory to the OS.  see malloc.c */
#include "internal.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define RESERVE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Reserve exactly [addr, addr + size) (no memory, no commit charge), or
 * return NULL if any of it is taken.  Kernels before 4.17 ignore
 * MAP_FIXED_NOREPLACE and treat addr as a hint: checked either way. */
void *nalloc__os_reserve_at(uintptr_t addr, size_t size)
{
	void *p = mmap((void *)addr, size, PROT_NONE, RESERVE_FLAGS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if ((uintptr_t)p != addr) {
		munmap(p, size);
		return NULL;
	}
	return p;
}

/* Reserve address space, aligned.  Asks for size + align and trims; when
 * an address-space limit leaves no room for the slack, asks for size alone
 * and, if that is misaligned, retries at the aligned addresses below and
 * above it. */
void *nalloc__os_reserve(size_t size, size_t align)
{
	size_t len = size + align;
	void *p = mmap(NULL, len, PROT_NONE, RESERVE_FLAGS, -1, 0);
	if (p != MAP_FAILED) {
		uintptr_t a = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
		if (a > (uintptr_t)p)
			munmap(p, a - (uintptr_t)p);
		uintptr_t end = (uintptr_t)p + len;
		if (end > a + size)
			munmap((void *)(a + size), end - (a + size));
		return (void *)a;
	}
	p = mmap(NULL, size, PROT_NONE, RESERVE_FLAGS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t a = (uintptr_t)p;
	if ((a & (align - 1)) == 0)
		return p;
	munmap(p, size);
	uintptr_t down = a & ~(uintptr_t)(align - 1);
	if ((p = nalloc__os_reserve_at(down, size)) != NULL)
		return p;
	return nalloc__os_reserve_at(down + align, size);
}

void nalloc__os_unreserve(void *p, size_t size)
{
	munmap(p, size);
}

/* Make reserved memory usable.  Returns 0 or -1. */
int nalloc__os_commit(void *p, size_t size)
{
	return mprotect(p, size, PROT_READ | PROT_WRITE);
}

/* Make committed memory inaccessible (guard pages) or accessible again. */
int nalloc__os_protect(void *p, size_t size, bool access)
{
	return mprotect(p, size, access ? PROT_READ | PROT_WRITE : PROT_NONE);
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

/* The soft RLIMIT_AS, read afresh (a program may lower it at any time). */
uint64_t nalloc__os_as_limit(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	return (uint64_t)r.rlim_cur;
}

/* VmSize in bytes, from /proc/self/statm (plain open/read: this runs
 * inside the allocator); 0 if unknown. */
uint64_t nalloc__os_vm_size(void)
{
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char buf[128];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	uint64_t pages = 0;
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		pages = pages * 10 + (uint64_t)(buf[i] - '0');
	return pages * nalloc__os_page_size();
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
