/* SPDX-License-Identifier: MIT */
/* purger.c: the background thread that returns free pages to the OS once the return delay has passed, without waiting for the next heap operation.  see malloc.c
 *
 * Started at most once per process, when its second thread gets an mcache
 * (a multithreaded program: a server; a single-threaded command never has
 * it), unless NALLOC_BACKGROUND=0.  Every half delay (at most 1 s, at
 * least 10 ms) it looks at each node heap and, if the heap's next scavenge
 * is due and its lock is free, returns the pages unused for the delay; it
 * also drains mcentral pending stacks that a freer could not drain because
 * the lock was busy, gives back the emptied spans an mcentral kept when
 * the class took none of them since the last round, and passes on spans
 * pushed late onto the ready stacks of exited threads' caches.  It never
 * waits for a lock (trylock), never allocates, and blocks every signal.
 * It never keeps a process alive: when it finds itself the last thread
 * (main called pthread_exit after the others ended; a thread exit with no
 * cache left wakes it to look at once, else it looks every round) it ends.  A forked child has no such thread;
 * it starts one the same way when it gets a second thread.  Nothing on the
 * malloc and free paths looks at it.
 */
#include "internal.h"
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int started; /* 0, then 1 once the thread was asked for (atomic) */
static int wake_word; /* futex the purger sleeps on between rounds */

/* Threads of the process still running (/proc/self/stat: num_threads,
 * less the main thread when it has exited and waits as a zombie for the
 * others, which it does after pthread_exit); 0 if unknown.  Plain reads
 * into a stack buffer: no malloc. */
static long live_threads(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* after the command name */
	if (!p || p[1] != ' ')
		return 0;
	bool leader_gone = p[2] == 'Z';
	/* field 3 (state) follows the name; num_threads is field 20 */
	for (int field = 2; field < 20 && p; field++)
		p = strchr(p + 1, ' ');
	long t = p ? strtol(p + 1, NULL, 10) : 0;
	return t > 0 && leader_gone ? t - 1 : t;
}

static void *purger_main(void *arg)
{
	(void)arg;
	for (;;) {
		uint64_t delay = nalloc__opt.return_delay_ms;
		uint64_t period = delay / 2;
		if (period > 1000)
			period = 1000;
		if (period < 10)
			period = 10;
		struct timespec ts = {(time_t)(period / 1000), (long)(period % 1000) * 1000000L};
		syscall(SYS_futex, &wake_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
		/* the last other thread has gone (main may have called
		 * pthread_exit): a process must end with its last thread, so
		 * this one goes too; a later thread starts another */
		if (live_threads() == 1) {
			STORE_REL(&started, 0);
			return NULL;
		}
		uint64_t now = nalloc__now_ms();
		nalloc__mcache_pool_pass_on();
		for (int i = 0; i < nalloc__g.nnodes; i++) {
			struct mheap *h = nalloc__g.heaps[i];
			nalloc__mheap_scavenge_due(h, now);
			for (int k = 1; k < NALLOC_NUM_CLASSES; k++) {
				nalloc__mcentral_try_drain(&h->central[k]);
				nalloc__mcentral_release_empty(&h->central[k], false);
			}
		}
	}
	return NULL;
}

/* A thread exit left no thread with a cache: the purger looks at once
 * whether it is the last thread (and then ends). */
void nalloc__purger_wake(void)
{
	if (!LOAD_RELAXED(&started))
		return;
	ADD_RELAXED(&wake_word, 1);
	syscall(SYS_futex, &wake_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Called by mcache creation once the process has two threads. */
void nalloc__purger_maybe_start(void)
{
	if (!nalloc__opt.background || LOAD_RELAXED(&started) ||
	    __atomic_exchange_n(&started, 1, __ATOMIC_ACQ_REL))
		return;
	pthread_t t;
	pthread_attr_t attr;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited by the thread */
	if (pthread_create(&t, &attr, purger_main, NULL) != 0)
		STORE_RELAXED(&started, 0); /* try again with the next thread */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

/* fork child: the thread did not come along */
void nalloc__purger_fork_child(void)
{
	STORE_RELAXED(&started, 0);
}
