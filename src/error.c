/* SPDX-License-Identifier: MIT */
/* error.c: reports of invalid and double frees, fatal errors.  see malloc.c */
#include "internal.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void nalloc__write_str(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

char *nalloc__fmt_hex(char *out, uintptr_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	*out++ = '0';
	*out++ = 'x';
	while (n)
		*out++ = tmp[--n];
	*out = 0;
	return out;
}

char *nalloc__fmt_dec(char *out, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*out++ = tmp[--n];
	*out = 0;
	return out;
}

static char *cat(char *o, const char *s)
{
	while (*s)
		*o++ = *s++;
	*o = 0;
	return o;
}

void nalloc__report(enum nalloc_error e, const void *p, const struct mspan *s)
{
	char buf[512], *o = buf;
	o = cat(o, "nalloc: ");
	switch (e) {
	case ERR_DOUBLE_FREE:
		o = cat(o, "double free of ");
		o = nalloc__fmt_hex(o, (uintptr_t)p);
		o = cat(o, ": the block is not allocated");
		break;
	case ERR_INVALID_FREE:
		o = cat(o, "invalid free of ");
		o = nalloc__fmt_hex(o, (uintptr_t)p);
		o = cat(o, ": not the start of a block");
		break;
	case ERR_FOREIGN_FREE:
		o = cat(o, "invalid free of ");
		o = nalloc__fmt_hex(o, (uintptr_t)p);
		o = cat(o, ": not a pointer from nalloc");
		break;
	}
	if (s && s->state >= SPAN_SMALL) {
		o = cat(o, " (");
		o = cat(o, s->spanclass ? "size class " : "large block");
		if (s->spanclass) {
			o = nalloc__fmt_dec(o, s->spanclass);
			o = cat(o, ", ");
			o = nalloc__fmt_dec(o, s->elemsize);
			o = cat(o, "-byte objects");
		}
		o = cat(o, " in span ");
		o = nalloc__fmt_hex(o, s->base);
		o = cat(o, "+");
		o = nalloc__fmt_dec(o, (uint64_t)s->npages << NALLOC_PAGE_SHIFT);
		o = cat(o, ", node ");
		o = nalloc__fmt_dec(o, s->node);
		o = cat(o, ")");
	}
	o = cat(o, "\n");
	nalloc__write_str(2, buf);
	if (LOAD_RELAXED(&nalloc__opt.on_error) != ON_ERROR_WARN) { /* mallopt may change it */
		nalloc__write_str(2, "nalloc: aborting (NALLOC_ON_ERROR=warn reports and goes on)\n");
		abort();
	}
}

void nalloc__fatal(const char *msg)
{
	nalloc__write_str(2, "nalloc: fatal: ");
	nalloc__write_str(2, msg);
	nalloc__write_str(2, "\n");
	abort();
}

void nalloc__fatal_assert(const char *cond, const char *file, int line)
{
	char num[24];
	nalloc__fmt_dec(num, (uint64_t)line);
	nalloc__write_str(2, "nalloc: internal assertion failed: ");
	nalloc__write_str(2, cond);
	nalloc__write_str(2, " at ");
	nalloc__write_str(2, file);
	nalloc__write_str(2, ":");
	nalloc__write_str(2, num);
	nalloc__write_str(2, "\n");
	abort();
}
