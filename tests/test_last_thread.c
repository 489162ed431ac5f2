/* SPDX-License-Identifier: MIT */
/* tests/test_last_thread.c: a process ends when its last thread ends, even
 * with nalloc's background thread (the purger) running: a child process
 * whose threads allocate (so nalloc starts its helper) and whose main thread
 * then calls pthread_exit() must exit with status 0, and so must a child
 * forked from a thread whose only thread then calls pthread_exit() (what
 * CPython's test_threading test_3_join_in_forked_from_thread does).
 * Covers: the purger keeping a finished process alive forever.
 * see src/malloc.c */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *churn(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		void *p = malloc((size_t)(i % 7 + 1) << 14);
		memset(p, 1, 64);
		free(p);
	}
	return NULL;
}

static void threads(void)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

/* scenario 1: the main thread leaves with pthread_exit */
static void last_exits(void)
{
	threads();
	pthread_exit(NULL);
}

/* scenario 2: fork from a thread; in the child that thread is the only
 * one, allocates with threads of its own, and leaves with pthread_exit */
static void *forker(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	if (pid == 0) {
		threads();
		pthread_exit(NULL);
	}
	int st;
	waitpid(pid, &st, 0);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100);
}

static void fork_from_thread(void)
{
	threads();
	pthread_t t;
	pthread_create(&t, NULL, forker, NULL);
	pthread_join(t, NULL);
}

static int run(const char *name, void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(99);
	}
	for (int i = 0; i < 150; i++) { /* 15 s */
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
				printf("test_last_thread: %s: exited 0\n", name);
				return 0;
			}
			printf("test_last_thread: FAIL: %s: status %d\n", name, st);
			return 1;
		}
		struct timespec ts = {0, 100000000};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	printf("test_last_thread: FAIL: %s: the process did not end within 15 s after its last thread "
	       "(a helper thread keeps it alive)\n",
	       name);
	return 1;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0); /* nothing buffered across fork */
	int fail = run("main thread calls pthread_exit", last_exits);
	fail |= run("fork from a thread, child's thread calls pthread_exit", fork_from_thread);
	return fail;
}
