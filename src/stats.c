/* SPDX-License-Identifier: MIT */
/* stats.c: per-node and per-class statistics: gathering, placement sampling, the table, the JSON document, the interval writer.  see malloc.c
 *
 * The counters are kept per thread (struct mcache, no atomics on the fast
 * paths), per mcentral and per heap (under their locks), and merged into
 * the heaps when a thread exits.  A snapshot walks the live mcaches under
 * the registry lock (thread start and exit wait; allocation does not) and
 * reads everything with relaxed loads.  The field list is
 * NALLOC_NODE_STATS_FIELDS in nalloc.h; the JSON layout is
 * doc/stats-schema.md; the writer thread and fork: "files" below.
 */
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <sys/syscall.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t nalloc__start_ms;

/* Everything one snapshot needs; too big for a thread's stack. */
struct snapshot {
	struct nalloc_stats st;
	/* per home node m: sums over the live mcaches homed there */
	uint64_t mallocs[NALLOC_MAX_NODES][NALLOC_NUM_CLASSES];
	uint64_t lfrees[NALLOC_MAX_NODES][NALLOC_NUM_CLASSES];
	uint64_t swept[NALLOC_MAX_NODES][NALLOC_NUM_CLASSES];
	uint64_t rfree[NALLOC_MAX_NODES][NALLOC_MAX_NODES]; /* [home][object node] */
	uint64_t rfree_bytes[NALLOC_MAX_NODES];             /* [object node] */
	uint64_t rehomes[NALLOC_MAX_NODES], fallback[NALLOC_MAX_NODES];
	/* per node n and class k: the merged figures */
	uint64_t cls_allocs[NALLOC_MAX_NODES][NALLOC_NUM_CLASSES];
	uint64_t cls_frees[NALLOC_MAX_NODES][NALLOC_NUM_CLASSES];
};

static void add_mcache(struct mcache *c, void *arg)
{
	struct snapshot *sn = arg;
	int m = c->node;
	for (int k = 0; k < NALLOC_NUM_CLASSES; k++) {
		/* allocations are counted a window ahead (mcache.c): take off
		 * what the current window still holds.  Exact for a thread at
		 * rest; for a running one, off by what it does meanwhile.  The
		 * span read is covered by the caller's RCU read-side section.
		 * With --disable-stats nothing is counted, nor taken off. */
#ifdef NALLOC_STATS_ENABLED
		struct mspan *s = LOAD_ACQ(&c->alloc[k]);
		uint64_t ahead = (uint64_t)__builtin_popcountll(LOAD_RELAXED(&s->allocCache));
#else
		uint64_t ahead = 0;
#endif
		sn->mallocs[m][k] += LOAD_RELAXED(&c->nmalloc[k]) - ahead;
		sn->lfrees[m][k] += LOAD_RELAXED(&c->nfree[k]);
		sn->swept[m][k] += LOAD_RELAXED(&c->nswept[k]);
	}
	for (int n = 0; n < nalloc__g.nnodes; n++) {
		sn->rfree[m][n] += LOAD_RELAXED(&c->rfree_count[n]);
		sn->rfree_bytes[n] += LOAD_RELAXED(&c->rfree_bytes[n]);
	}
	sn->rehomes[m] += LOAD_RELAXED(&c->rehomes);
	sn->fallback[m] += LOAD_RELAXED(&c->fallback);
}

/* A thread's counters outlive it in the heaps.  Registry lock held. */
void nalloc__merge_dead_mcache(struct mcache *c)
{
	struct mheap *h = c->heap;
	for (int k = 0; k < NALLOC_NUM_CLASSES; k++) {
		ADD_RELAXED(&h->dead_mallocs[k], c->nmalloc[k]);
		ADD_RELAXED(&h->dead_frees[k], c->nfree[k]);
		ADD_RELAXED(&h->dead_swept[k], c->nswept[k]);
	}
	for (int n = 0; n < nalloc__g.nnodes; n++) {
		if (c->rfree_count[n])
			ADD_RELAXED(&nalloc__g.heaps[n]->rfree_in[c->node], c->rfree_count[n]);
		if (c->rfree_bytes[n])
			ADD_RELAXED(&nalloc__g.heaps[n]->rfree_in_bytes, c->rfree_bytes[n]);
	}
	ADD_RELAXED(&h->dead_rehomes, c->rehomes);
	ADD_RELAXED(&h->dead_fallback, c->fallback);
}

/* Placement check: where do this node's in-use arena pages really live?
 * Samples up to 512 pages spread over the arena and asks move_pages
 * (query only).  Pages never touched are not resident and not counted. */
static void sample_placement(struct mheap *h, struct nalloc_node_stats *ns)
{
	enum { SAMPLES = 512 };
	void *pages[SAMPLES];
	int status[SAMPLES];
	ns->resident_sampled_pages = 0;
	ns->resident_fraction = -1;
	size_t npages = LOAD_RELAXED(&h->mapped_bytes) >> NALLOC_PAGE_SHIFT;
	if (npages == 0)
		return;
	size_t step = npages / SAMPLES ? npages / SAMPLES : 1;
	unsigned long n = 0;
	/* every step-th committed page, over the extents in order */
	uint32_t next = LOAD_ACQ(&h->next);
	size_t skip = 0;
	for (uint32_t e = 0; e < next && n < SAMPLES; e++) {
		uintptr_t start = LOAD_RELAXED(&h->ext[e].start), end = LOAD_RELAXED(&h->ext[e].end);
		uintptr_t a = start + (skip << NALLOC_PAGE_SHIFT);
		for (; a < end && n < SAMPLES; a += step << NALLOC_PAGE_SHIFT)
			if (nalloc__mheap_page_in_use(h, a))
				pages[n++] = (void *)a;
		skip = a >= end ? (a - end) >> NALLOC_PAGE_SHIFT : 0;
	}
	/* the raw call: libnuma's wrapper is the same system call, and not
	 * linking libnuma saves every process its constructor */
	if (n == 0 || syscall(SYS_move_pages, 0, n, pages, NULL, status, 0) != 0)
		return;
	uint64_t resident = 0, here = 0;
	for (unsigned long i = 0; i < n; i++) {
		if (status[i] < 0)
			continue;
		resident++;
		here += status[i] == h->os_node;
	}
	ns->resident_sampled_pages = resident;
	if (resident)
		ns->resident_fraction = (double)here / (double)resident;
}

static void gather(struct snapshot *sn)
{
	int nn = nalloc__g.nnodes;
	memset(sn, 0, sizeof *sn);
	sn->st.nnodes = nn;
	nalloc__rcu_read_lock();
	nalloc__mcache_foreach(add_mcache, sn);
	nalloc__rcu_read_unlock();
	for (int i = 0; i < nn; i++) {
		struct mheap *h = nalloc__g.heaps[i];
		struct nalloc_node_stats *ns = &sn->st.nodes[i];
		ns->node = h->os_node;
		/* per class: allocations and local frees are exact; remote frees
		 * are counted per class when swept (they may lag); per node,
		 * unowned frees are counted exactly by the freeing threads */
		uint64_t small_bytes = 0, mallocs = 0, local = 0, local_bytes = 0, fallback = 0;
		for (int k = 1; k < NALLOC_NUM_CLASSES; k++) {
			struct mcentral *mc = &h->central[k];
			uint64_t a = sn->mallocs[i][k] + LOAD_RELAXED(&h->dead_mallocs[k]) +
			             LOAD_RELAXED(&mc->nmalloc_uncached);
			uint64_t l = sn->lfrees[i][k] + LOAD_RELAXED(&h->dead_frees[k]);
			uint64_t r = sn->swept[i][k] + LOAD_RELAXED(&h->dead_swept[k]) +
			             LOAD_RELAXED(&mc->nremote_swept);
			sn->cls_allocs[i][k] = a;
			sn->cls_frees[i][k] = l + r;
			mallocs += a;
			local += l;
			small_bytes += a * nalloc__class_size[k];
			local_bytes += l * nalloc__class_size[k];
			fallback += LOAD_RELAXED(&mc->nfallback);
		}
		uint64_t unowned = 0;
		for (int m = 0; m < nn; m++)
			unowned += sn->rfree[m][i] + LOAD_RELAXED(&h->rfree_in[m]);
		uint64_t unowned_bytes = sn->rfree_bytes[i] + LOAD_RELAXED(&h->rfree_in_bytes);
		uint64_t freed_bytes = local_bytes + unowned_bytes;
		uint64_t small_in_use = small_bytes > freed_bytes ? small_bytes - freed_bytes : 0;
		uint64_t frees = local + unowned;
		uint64_t swept = unowned;
		uint64_t in_use_pages = LOAD_RELAXED(&h->pages_in_use);
		uint64_t lb = LOAD_RELAXED(&h->large_bytes_in_use);
#ifndef NALLOC_STATS_ENABLED
		/* no per-object counters: whole spans */
		small_in_use = (in_use_pages << NALLOC_PAGE_SHIFT) - lb;
#endif
		ns->mapped_bytes = LOAD_RELAXED(&h->mapped_bytes);
		ns->committed_bytes = (in_use_pages + LOAD_RELAXED(&h->dirty_free_pages)) << NALLOC_PAGE_SHIFT;
		ns->in_use_bytes = small_in_use + lb;
		ns->spans_in_use = LOAD_RELAXED(&h->spans_in_use);
		ns->allocs = mallocs + LOAD_RELAXED(&h->large_allocs);
		ns->frees = frees + LOAD_RELAXED(&h->large_frees);
		ns->local_frees = local;
		ns->unowned_frees = swept;
		ns->large_allocs = LOAD_RELAXED(&h->large_allocs);
		ns->returned_bytes = LOAD_RELAXED(&h->returned_bytes);
		ns->offnode_allocs = fallback + sn->fallback[i] + LOAD_RELAXED(&h->dead_fallback);
		ns->onnode_allocs = LOAD_RELAXED(&h->onnode_allocs);
		ns->rehomes = sn->rehomes[i] + LOAD_RELAXED(&h->dead_rehomes);
		ns->lock_acquisitions = LOAD_RELAXED(&h->lock.acquired);
		ns->lock_waits = LOAD_RELAXED(&h->lock.contended);
		for (int k = 0; k < NALLOC_NUM_CLASSES; k++) {
			ns->lock_acquisitions += LOAD_RELAXED(&h->central[k].lock.acquired);
			ns->lock_waits += LOAD_RELAXED(&h->central[k].lock.contended);
		}
		ns->threads = LOAD_RELAXED(&h->nthreads);
		/* remote frees in, by the freeing thread's home node: small
		 * (unowned frees by a thread homed elsewhere) and large */
		for (int m = 0; m < nn; m++) {
			uint64_t v = m == i ? 0
			                    : sn->rfree[m][i] + LOAD_RELAXED(&h->rfree_in[m]) +
			                              LOAD_RELAXED(&h->large_rfree_in[m]);
			ns->remote_frees_by_source[m] = v;
			ns->remote_frees += v;
		}
		sample_placement(h, ns);
	}
	/* remote frees out: this node's threads freeing other nodes' objects */
	for (int i = 0; i < nn; i++)
		for (int n = 0; n < nn; n++)
			if (n != i)
				sn->st.nodes[i].remote_frees_out += sn->st.nodes[n].remote_frees_by_source[i];
}

/* A snapshot's memory comes straight from the OS, so that taking one does
 * not show in the figures it takes. */
static struct snapshot *snapshot_alloc(void)
{
	return nalloc__os_alloc(sizeof(struct snapshot));
}

static void snapshot_free(struct snapshot *sn)
{
	nalloc__os_free(sn, sizeof *sn);
}

int nalloc_stats_get(struct nalloc_stats *st)
{
	if (!LOAD_ACQ(&nalloc__g.ready))
		nalloc__init();
	struct snapshot *sn = snapshot_alloc();
	if (!sn) {
		memset(st, 0, sizeof *st);
		errno = ENOMEM;
		return -1;
	}
	gather(sn);
	memcpy(st, &sn->st, sizeof *st);
	snapshot_free(sn);
	return 0;
}

/* ---------------------------------------------------------------- output */

static void print_text(FILE *f, const struct nalloc_stats *st)
{
	fprintf(f, "nalloc %s: per-node statistics\n%-18s", NALLOC_VERSION, "");
	for (int i = 0; i < st->nnodes; i++)
		fprintf(f, " %14s%-2d", "node ", st->nodes[i].node);
	fprintf(f, " %16s\n", "total");
#define ROW(name, desc)                                                         \
	do {                                                                    \
		uint64_t tot = 0;                                               \
		fprintf(f, "%-18s", #name);                                     \
		for (int i = 0; i < st->nnodes; i++) {                          \
			fprintf(f, " %16llu", (unsigned long long)st->nodes[i].name); \
			tot += st->nodes[i].name;                               \
		}                                                               \
		fprintf(f, " %16llu\n", (unsigned long long)tot);              \
	} while (0);
	NALLOC_NODE_STATS_FIELDS(ROW)
#undef ROW
	if (st->nnodes > 1)
		for (int m = 0; m < st->nnodes; m++) {
			char name[32];
			snprintf(name, sizeof name, "remote_from_%d", st->nodes[m].node);
			fprintf(f, "%-18s", name);
			uint64_t tot = 0;
			for (int i = 0; i < st->nnodes; i++) {
				fprintf(f, " %16llu", (unsigned long long)st->nodes[i].remote_frees_by_source[m]);
				tot += st->nodes[i].remote_frees_by_source[m];
			}
			fprintf(f, " %16llu\n", (unsigned long long)tot);
		}
	fprintf(f, "%-18s", "resident_on_node");
	for (int i = 0; i < st->nnodes; i++) {
		if (st->nodes[i].resident_fraction < 0)
			fprintf(f, " %16s", "-");
		else
			fprintf(f, " %15.1f%%", 100.0 * st->nodes[i].resident_fraction);
	}
	fprintf(f, "\n");
}

static const char *numa_mode_name(void)
{
	static const char *const names[] = {"local", "strict", "interleave", "off"};
	return names[nalloc__opt.numa & 3];
}

/* One document on one line (doc/stats-schema.md). */
static void print_json(FILE *f, const struct snapshot *sn, const char *trigger)
{
	const struct nalloc_stats *st = &sn->st;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f,
	        "{\"version\": \"%s\", \"schema\": 2, \"pid\": %d, \"time\": %lld.%03ld, "
	        "\"uptime\": %.3f, \"numa_mode\": \"%s\", \"final\": %s, \"trigger\": \"%s\", \"nodes\": [",
	        NALLOC_VERSION, (int)getpid(), (long long)ts.tv_sec, ts.tv_nsec / 1000000,
	        (double)(nalloc__now_ms() - nalloc__start_ms) / 1000.0, numa_mode_name(),
	        strcmp(trigger, "exit") ? "false" : "true", trigger);
	for (int i = 0; i < st->nnodes; i++) {
		const struct nalloc_node_stats *ns = &st->nodes[i];
		fprintf(f, "%s{\"node\": %d", i ? ", " : "", ns->node);
#define FIELD(name, desc) fprintf(f, ", \"" #name "\": %llu", (unsigned long long)ns->name);
		NALLOC_NODE_STATS_FIELDS(FIELD)
#undef FIELD
		fprintf(f, ", \"remote_frees_by_source\": [");
		for (int m = 0; m < st->nnodes; m++)
			fprintf(f, "%s%llu", m ? ", " : "", (unsigned long long)ns->remote_frees_by_source[m]);
		fprintf(f, "], \"resident_sampled_pages\": %llu, \"resident_fraction\": ",
		        (unsigned long long)ns->resident_sampled_pages);
		if (ns->resident_fraction < 0)
			fprintf(f, "null}");
		else
			fprintf(f, "%.4f}", ns->resident_fraction);
	}
	fprintf(f, "], \"classes\": [");
	for (int k = 1; k < NALLOC_NUM_CLASSES; k++) {
		fprintf(f, "%s{\"class\": %d, \"size\": %u, \"span_bytes\": %u, \"nodes\": [", k > 1 ? ", " : "",
		        k, nalloc__class_size[k], (unsigned)nalloc__class_npages[k] << NALLOC_PAGE_SHIFT);
		for (int i = 0; i < st->nnodes; i++) {
			uint64_t a = sn->cls_allocs[i][k], fr = sn->cls_frees[i][k];
			fprintf(f, "%s{\"node\": %d, \"allocs\": %llu, \"frees\": %llu, \"in_use_bytes\": %llu}",
			        i ? ", " : "", st->nodes[i].node, (unsigned long long)a, (unsigned long long)fr,
			        (unsigned long long)(a > fr ? (a - fr) * nalloc__class_size[k] : 0));
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
}

void nalloc_stats_print(FILE *f, int format)
{
	if (!LOAD_ACQ(&nalloc__g.ready))
		nalloc__init();
	struct snapshot *sn = snapshot_alloc();
	if (!sn)
		return;
	gather(sn);
	if (format == NALLOC_STATS_JSON)
		print_json(f, sn, "call");
	else
		print_text(f, &sn->st);
	fflush(f);
	snapshot_free(sn);
}

/* ---------------------------------------------------------------- files
 *
 * NALLOC_STATS_JSON=PATH gets a document at exit ("final": true) and, when
 * asked for, from the writer thread: every NALLOC_STATS_INTERVAL, and
 * whenever NALLOC_STATS_SIGNAL arrives.  With an interval the documents are
 * appended (JSON Lines, the file starts empty); without one each document
 * replaces the file.
 *
 * Fork.  Only the forking thread survives in a child: not the writer
 * thread, which may have been holding write_lock.  The child handler makes
 * the child's copy of the writer state fresh (lock, semaphore, flags); it
 * never waits for the writer, so a writer stuck on a slow file does not
 * stop fork.  When PATH contains %p a child is treated like a new process:
 * its own file (started anew), its own writer thread when the interval or
 * the signal is set, its final document at exit.  With a fixed PATH a
 * child writes nothing, since its counters start from a copy of its
 * parent's and its documents would land in the parent's file: no writer
 * thread (the signal is ignored), no final document.  A program it execs
 * is a new process and starts afresh.
 */

enum trigger { TRIGGER_CALL, TRIGGER_INTERVAL, TRIGGER_SIGNAL, TRIGGER_EXIT };

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static bool closed;         /* the final document is written: write_lock */
static bool restart_file;   /* a fork child's first write starts its file
                               anew (pid reuse): write_lock */
static int forked;          /* this process is a fork child: set by the
                               child handler, read at exit */
static sem_t wake;          /* posted by the signal handler, waited on by
                               the writer thread (async-signal-safe) */
static int signal_pending;  /* atomic: set by the handler, taken by the
                               writer */
static int stats_signal;    /* NALLOC_STATS_SIGNAL's number, 0: none;
                               written once, in the constructor */

/* PATH has %p: every process writes its own file */
static bool own_file_per_process(void)
{
	return strstr(nalloc__opt.stats_json, "%p") != NULL;
}

/* NALLOC_STATS_JSON with "%p" replaced by the process id */
static void json_path(char *out, size_t size)
{
	const char *s = nalloc__opt.stats_json;
	size_t o = 0;
	for (; *s && o + 24 < size; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			char num[24];
			nalloc__fmt_dec(num, (uint64_t)getpid());
			for (char *q = num; *q; q++)
				out[o++] = *q;
			s++;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = 0;
}

/* Render one document and write it with one write(2): appended in
 * interval mode, replacing the file otherwise.  Nothing after the final
 * document. */
static void write_document(enum trigger why)
{
	bool final = why == TRIGGER_EXIT, append = nalloc__opt.stats_interval_ms != 0;
	static const char *const names[] = {"call", "interval", "signal", "exit"};
	struct snapshot *sn = snapshot_alloc();
	char *buf = NULL, path[512];
	size_t len = 0;
	if (!sn)
		return;
	gather(sn);
	FILE *m = open_memstream(&buf, &len);
	if (!m) {
		snapshot_free(sn);
		return;
	}
	print_json(m, sn, names[why]);
	fclose(m);
	snapshot_free(sn);
	json_path(path, sizeof path);
	pthread_mutex_lock(&write_lock);
	if (!closed) {
		int mode = append && !restart_file ? O_APPEND : O_TRUNC;
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | mode, 0644);
		if (fd < 0) {
			nalloc__write_str(2, "nalloc: cannot write NALLOC_STATS_JSON file ");
			nalloc__write_str(2, path);
			nalloc__write_str(2, "\n");
		} else {
			for (size_t done = 0; done < len;) {
				ssize_t w = write(fd, buf + done, len - done);
				if (w <= 0)
					break;
				done += (size_t)w;
			}
			close(fd);
			restart_file = false;
		}
		closed = final;
	}
	pthread_mutex_unlock(&write_lock);
	free(buf);
}

/* NALLOC_STATS_SIGNAL: only wakes the writer (sem_post is
 * async-signal-safe); never allocates, never locks. */
static void on_stats_signal(int sig)
{
	(void)sig;
	int e = errno;
	__atomic_store_n(&signal_pending, 1, __ATOMIC_RELEASE);
	sem_post(&wake);
	errno = e;
}

static void timespec_add_ms(struct timespec *t, uint64_t ms)
{
	t->tv_sec += (time_t)(ms / 1000);
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* The writer thread: a document every interval (counted from the end of
 * the last one) and one per signal. */
static void *writer_thread(void *arg)
{
	(void)arg;
	uint64_t ms = nalloc__opt.stats_interval_ms;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	timespec_add_ms(&next, ms);
	for (;;) {
		int r = ms ? sem_clockwait(&wake, CLOCK_MONOTONIC, &next) : sem_wait(&wake);
		if (r == 0) {
			if (__atomic_exchange_n(&signal_pending, 0, __ATOMIC_ACQUIRE))
				write_document(TRIGGER_SIGNAL);
		} else if (errno == ETIMEDOUT) {
			write_document(TRIGGER_INTERVAL);
			clock_gettime(CLOCK_MONOTONIC, &next);
			timespec_add_ms(&next, ms);
		}
	}
	return NULL;
}

/* The writer thread, detached, with every signal blocked (the stats
 * signal is taken by whichever thread; the handler only posts).  0 or an
 * errno. */
static int start_writer(void)
{
	pthread_t t;
	pthread_attr_t attr;
	sigset_t all, old;
	sem_init(&wake, 0, 0);
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited by the thread */
	int err = pthread_create(&t, &attr, writer_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return err;
}

/* In the child of fork(): see the top of this section.  Runs after the
 * allocator's own child handler (registered first), so malloc works. */
static void stats_fork_child(void)
{
	write_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	closed = false;
	restart_file = true;
	forked = 1;
	signal_pending = 0;
	if (stats_signal)
		sem_init(&wake, 0, 0);
	if (own_file_per_process() && (nalloc__opt.stats_interval_ms || stats_signal))
		start_writer(); /* like a new process; on failure, no documents */
}

/* "USR1", "USR2", "HUP", with or without "SIG": the signal, or 0 */
static int parse_signal(const char *v)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP}};
	if (!strncmp(v, "SIG", 3))
		v += 3;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (!strcmp(v, sigs[i].name))
			return sigs[i].sig;
	return 0;
}

static void warn_option(const char *name, const char *value, const char *what)
{
	nalloc__write_str(2, "nalloc: ");
	nalloc__write_str(2, name);
	if (value) {
		nalloc__write_str(2, "=");
		nalloc__write_str(2, value);
	}
	nalloc__write_str(2, what);
}

/* From the library constructor, after init: the fork handler, and, when
 * NALLOC_STATS_INTERVAL or NALLOC_STATS_SIGNAL asks for one, the writer
 * thread (detached; its signals blocked) and the signal handler.  A
 * program that sets none of them gets no thread and no handler. */
void nalloc__stats_start_interval(void)
{
	const char *sig = nalloc__opt.stats_signal;
	if (!nalloc__opt.stats_json[0]) {
		if (nalloc__opt.stats_interval_ms)
			warn_option("NALLOC_STATS_INTERVAL", NULL,
			            " does nothing without NALLOC_STATS_JSON=PATH: no documents are written\n");
		if (sig[0])
			warn_option("NALLOC_STATS_SIGNAL", NULL,
			            " does nothing without NALLOC_STATS_JSON=PATH: no handler installed\n");
		return;
	}
	pthread_atfork(NULL, NULL, stats_fork_child);
	if (sig[0]) {
		stats_signal = parse_signal(sig);
		if (!stats_signal)
			warn_option("invalid value for NALLOC_STATS_SIGNAL", sig,
			            " (USR1, USR2 or HUP): no handler installed\n");
	}
	if (!nalloc__opt.stats_interval_ms && !stats_signal)
		return;
	if (nalloc__opt.stats_interval_ms) {
		char path[512];
		json_path(path, sizeof path);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
	}
	if (start_writer() != 0) {
		nalloc__write_str(2, "nalloc: cannot start the statistics writer thread "
		                     "(NALLOC_STATS_INTERVAL, NALLOC_STATS_SIGNAL)\n");
		stats_signal = 0;
		return;
	}
	if (stats_signal) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_stats_signal;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(stats_signal, &sa, NULL);
	}
}

void nalloc__stats_at_exit(void)
{
	if (nalloc__opt.stats)
		nalloc_stats_print(stderr, NALLOC_STATS_TEXT);
	if (nalloc__opt.stats_json[0] && (!forked || own_file_per_process()))
		write_document(TRIGGER_EXIT);
}
