/* SPDX-License-Identifier: MIT */
/* numa/sysfs.c: reading /proc and /sys text files of any length without malloc.  see src/malloc.c
 *
 * The allocator reads the kernel's memory figures (bind.c) and, for CPUs
 * that hwloc did not place, node lists and distances (topology.c) while it
 * runs, so it cannot use stdio.  A reader is a file descriptor and a small
 * buffer on the caller's stack, refilled as it is consumed: a file of any
 * size is read whole (a /proc/zoneinfo of several MiB on a machine with
 * hundreds of CPUs too).  Lines are handed out one at a time; a line longer
 * than the caller's line buffer is cut there and the rest of it skipped, so
 * that the lines after it are never lost.  Lists ("0-3,8,10-11") and
 * number rows are parsed character by character, whatever their length.
 */
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

bool nalloc__rd_open(struct nalloc_rd *r, const char *path)
{
	r->pos = r->len = 0;
	do
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
	while (r->fd < 0 && errno == EINTR);
	return r->fd >= 0;
}

void nalloc__rd_close(struct nalloc_rd *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* next byte, or -1 at the end of the file (or on a read error) */
int nalloc__rd_getc(struct nalloc_rd *r)
{
	if (r->pos == r->len) {
		if (r->fd < 0)
			return -1;
		ssize_t n;
		do
			n = read(r->fd, r->buf, sizeof r->buf);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			nalloc__rd_close(r);
			return -1;
		}
		r->pos = 0;
		r->len = (int)n;
	}
	return (unsigned char)r->buf[r->pos++];
}

/* Next line, without its '\n', into line (at most cap - 1 bytes, NUL
 * terminated; a longer line is cut and its rest skipped).  false at the end. */
bool nalloc__rd_line(struct nalloc_rd *r, char *line, size_t cap)
{
	size_t n = 0;
	int c = nalloc__rd_getc(r);
	if (c < 0)
		return false;
	for (; c >= 0 && c != '\n'; c = nalloc__rd_getc(r))
		if (n + 1 < cap)
			line[n++] = (char)c;
	line[n] = 0;
	return true;
}

/* Next unsigned decimal number, skipping anything before it; -1 at the end.
 * *sep gets the character that ended it (-1 at the end of the file). */
int64_t nalloc__rd_num(struct nalloc_rd *r, int *sep)
{
	int c = nalloc__rd_getc(r);
	while (c >= 0 && !(c >= '0' && c <= '9'))
		c = nalloc__rd_getc(r);
	if (c < 0) {
		*sep = -1;
		return -1;
	}
	int64_t v = 0;
	for (; c >= '0' && c <= '9'; c = nalloc__rd_getc(r))
		if (v < INT64_MAX / 16)
			v = v * 10 + (c - '0');
	*sep = c;
	return v;
}

/* Next range of a kernel list file ("0-3,8"): true with [*lo, *hi]. */
bool nalloc__rd_range(struct nalloc_rd *r, int64_t *lo, int64_t *hi)
{
	int sep;
	int64_t a = nalloc__rd_num(r, &sep);
	if (a < 0)
		return false;
	*lo = *hi = a;
	if (sep == '-') {
		int64_t b = nalloc__rd_num(r, &sep);
		if (b >= a)
			*hi = b;
	}
	return true;
}

/* a decimal number after the first non-blank characters of s, or -1 */
int64_t nalloc__parse_num(const char *s)
{
	while (*s && !(*s >= '0' && *s <= '9'))
		s++;
	if (!*s)
		return -1;
	int64_t v = 0;
	for (; *s >= '0' && *s <= '9'; s++)
		if (v < INT64_MAX / 16)
			v = v * 10 + (*s - '0');
	return v;
}
