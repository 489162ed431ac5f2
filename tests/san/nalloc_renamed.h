/* SPDX-License-Identifier: MIT */
/* tests/san/nalloc_renamed.h: the entry points of a core built with
 * -DNALLOC_RENAMED (libnalloc-renamed.la, the sanitizer and fuzzer builds):
 * nalloc's malloc is nalloc_test_malloc, ... and the program keeps its own
 * (glibc's, or a sanitizer's) malloc.  see src/malloc.c */
#ifndef NALLOC_RENAMED_H
#define NALLOC_RENAMED_H
#include <stddef.h>
#include <stdio.h>
#include <malloc.h>
#include "nalloc.h"

#ifdef __cplusplus
extern "C" {
#endif
void *nalloc_test_malloc(size_t size);
void nalloc_test_free(void *p);
void *nalloc_test_calloc(size_t n, size_t size);
void *nalloc_test_realloc(void *p, size_t size);
void *nalloc_test_reallocarray(void *p, size_t n, size_t size);
int nalloc_test_posix_memalign(void **out, size_t align, size_t size);
void *nalloc_test_aligned_alloc(size_t align, size_t size);
void *nalloc_test_memalign(size_t align, size_t size);
void *nalloc_test_valloc(size_t size);
void *nalloc_test_pvalloc(size_t size);
size_t nalloc_test_malloc_usable_size(void *p);
void nalloc_test_free_sized(void *p, size_t size);
void nalloc_test_free_aligned_sized(void *p, size_t align, size_t size);
void nalloc_test_cfree(void *p);
int nalloc_test_malloc_trim(size_t pad);
struct mallinfo2 nalloc_test_mallinfo2(void);
struct mallinfo nalloc_test_mallinfo(void);
void nalloc_test_malloc_stats(void);
int nalloc_test_malloc_info(int options, FILE *fp);
int nalloc_test_mallopt(int param, int value);
#ifdef __cplusplus
}
#endif
#endif
