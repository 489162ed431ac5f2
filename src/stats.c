/* stats.c: per-node statistics: gathering, the printed table and the JSON document.  see malloc.c */
#include "internal.h"
#include <stdio.h>
#include <string.h>

/* Per-class sums over the live mcaches of one node. */
struct class_sums {
	int node;
	uint64_t mallocs[NALLOC_NUM_CLASSES];
	uint64_t frees[NALLOC_NUM_CLASSES];   /* local */
	uint64_t swept[NALLOC_NUM_CLASSES];   /* remote, swept by owners */
	uint64_t xfree_in;                    /* by threads homed elsewhere */
	uint64_t rehomes, fallback;           /* of threads homed here */
};

static void add_mcache(struct mcache *c, void *arg)
{
	struct class_sums *cs = arg;
	if (c->node != cs->node) {
		cs->xfree_in += LOAD_RELAXED(&c->xfree[cs->node]);
		return;
	}
	cs->rehomes += LOAD_RELAXED(&c->rehomes);
	cs->fallback += LOAD_RELAXED(&c->fallback);
	for (int k = 0; k < NALLOC_NUM_CLASSES; k++) {
		cs->mallocs[k] += LOAD_RELAXED(&c->nmalloc[k]);
		cs->frees[k] += LOAD_RELAXED(&c->nfree[k]);
		cs->swept[k] += LOAD_RELAXED(&c->nswept[k]);
	}
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
	for (int n = 0; n < nalloc__g.nnodes; n++)
		if (c->xfree[n])
			ADD_RELAXED(&nalloc__g.heaps[n]->xfree_in, c->xfree[n]);
	ADD_RELAXED(&h->dead_rehomes, c->rehomes);
	ADD_RELAXED(&h->dead_fallback, c->fallback);
}

static void node_stats(int i, struct nalloc_node_stats *ns, struct class_sums *cs)
{
	struct mheap *h = nalloc__g.heaps[i];
	memset(cs, 0, sizeof *cs);
	cs->node = i;
	nalloc__mcache_foreach(add_mcache, cs);
	memset(ns, 0, sizeof *ns);
	ns->node = h->os_node;
	uint64_t small_in_use = 0, mallocs = 0, frees = 0, local = 0, swept = 0, fallback = 0;
	for (int k = 1; k < NALLOC_NUM_CLASSES; k++) {
		struct mcentral *mc = &h->central[k];
		uint64_t a = cs->mallocs[k] + LOAD_RELAXED(&h->dead_mallocs[k]) +
		             LOAD_RELAXED(&mc->nmalloc_uncached);
		uint64_t l = cs->frees[k] + LOAD_RELAXED(&h->dead_frees[k]);
		uint64_t r = cs->swept[k] + LOAD_RELAXED(&h->dead_swept[k]) +
		             LOAD_RELAXED(&mc->nremote_swept);
		uint64_t f = l + r;
		mallocs += a;
		frees += f;
		local += l;
		swept += r;
		fallback += LOAD_RELAXED(&mc->nfallback);
		if (a > f)
			small_in_use += (a - f) * nalloc__class_size[k];
	}
	uint64_t lb = LOAD_RELAXED(&h->large_bytes_in_use);
	ns->mapped_bytes = LOAD_RELAXED(&h->arena_used) - h->arena_start;
	ns->committed_bytes = (LOAD_RELAXED(&h->pages_in_use) + LOAD_RELAXED(&h->dirty_free_pages))
	                      << NALLOC_PAGE_SHIFT;
	ns->in_use_bytes = small_in_use + lb;
	ns->spans_in_use = LOAD_RELAXED(&h->spans_in_use);
	ns->allocs = mallocs + LOAD_RELAXED(&h->large_allocs);
	ns->frees = frees + LOAD_RELAXED(&h->large_frees);
	ns->local_frees = local;
	ns->unowned_frees = swept;
	ns->remote_frees = cs->xfree_in + LOAD_RELAXED(&h->xfree_in);
	ns->large_allocs = LOAD_RELAXED(&h->large_allocs);
	ns->returned_bytes = LOAD_RELAXED(&h->returned_bytes);
	ns->threads = LOAD_RELAXED(&h->nthreads);
	ns->offnode_allocs = fallback + cs->fallback + LOAD_RELAXED(&h->dead_fallback);
	ns->onnode_allocs = LOAD_RELAXED(&h->onnode_allocs);
	ns->rehomes = cs->rehomes + LOAD_RELAXED(&h->dead_rehomes);
	ns->lock_acquisitions = LOAD_RELAXED(&h->lock.acquired);
	ns->lock_waits = LOAD_RELAXED(&h->lock.contended);
	for (int k = 0; k < NALLOC_NUM_CLASSES; k++) {
		ns->lock_acquisitions += LOAD_RELAXED(&h->central[k].lock.acquired);
		ns->lock_waits += LOAD_RELAXED(&h->central[k].lock.contended);
	}
}

int nalloc_stats_get(struct nalloc_stats *st)
{
	struct class_sums cs;
	if (!LOAD_ACQ(&nalloc__g.ready))
		nalloc__init();
	memset(st, 0, sizeof *st);
	st->nnodes = nalloc__g.nnodes;
	for (int i = 0; i < nalloc__g.nnodes; i++)
		node_stats(i, &st->nodes[i], &cs);
	return 0;
}

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
}

static void print_json(FILE *f, const struct nalloc_stats *st)
{
	fprintf(f, "{\"version\": \"%s\", \"schema\": 1, \"nodes\": [", NALLOC_VERSION);
	for (int i = 0; i < st->nnodes; i++) {
		fprintf(f, "%s\n  {\"node\": %d", i ? "," : "", st->nodes[i].node);
#define FIELD(name, desc) fprintf(f, ", \"" #name "\": %llu", (unsigned long long)st->nodes[i].name);
		NALLOC_NODE_STATS_FIELDS(FIELD)
#undef FIELD
		fprintf(f, "}");
	}
	fprintf(f, "\n], \"classes\": [");
	for (int k = 1; k < NALLOC_NUM_CLASSES; k++)
		fprintf(f, "%s{\"class\": %d, \"size\": %u, \"span_bytes\": %u}", k > 1 ? ", " : "", k,
		        nalloc__class_size[k], (unsigned)nalloc__class_npages[k] << NALLOC_PAGE_SHIFT);
	fprintf(f, "]}\n");
}

void nalloc_stats_print(FILE *f, int format)
{
	struct nalloc_stats st;
	nalloc_stats_get(&st);
	if (format == NALLOC_STATS_JSON)
		print_json(f, &st);
	else
		print_text(f, &st);
	fflush(f);
}

void nalloc__stats_at_exit(void)
{
	if (nalloc__opt.stats)
		nalloc_stats_print(stderr, NALLOC_STATS_TEXT);
	if (nalloc__opt.stats_json[0]) {
		FILE *f = fopen(nalloc__opt.stats_json, "w");
		if (!f) {
			nalloc__write_str(2, "nalloc: cannot write NALLOC_STATS_JSON file ");
			nalloc__write_str(2, nalloc__opt.stats_json);
			nalloc__write_str(2, "\n");
			return;
		}
		nalloc_stats_print(f, NALLOC_STATS_JSON);
		fclose(f);
	}
}
