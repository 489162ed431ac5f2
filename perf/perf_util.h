/* SPDX-License-Identifier: MIT */
/* perf/perf_util.h: small helpers shared by the perf programs (bench.c,
 * workloads.c), which use only the standard malloc API.  see src/malloc.c */
#ifndef NALLOC_PERF_UTIL_H
#define NALLOC_PERF_UTIL_H

/* a spin-wait hint */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#endif
