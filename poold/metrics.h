/*
 * metrics.h - what /metrics exposes in the Prometheus text format: gauges
 * read from the live state at scrape time (occupancy, waiters, connections),
 * counters from each pool's struct counters and pd->refused, histograms this
 * module keeps (per pool: wait, lease held, command durations; daemon-wide:
 * commit duration and batch size), and the standard process_* figures.
 *
 * Memory is O(pools): one struct per pool with fixed bucket arrays, never
 * anything per lease. A pool's histograms go when the pool does (forgotten
 * explicitly, or pruned at the next scrape), so its series disappear.
 *
 * The observe calls are cheap (a bucket search over at most 16 bounds).
 * Only committed work feeds them: the journal's post-commit stage
 * (metrics_event, every committed event once, in commit order), the flush
 * (metrics_commit_observe) and provision.c (metrics_command_observe); see
 * docs/operations.md.
 */
#ifndef POOLD_METRICS_H
#define POOLD_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct poold;
struct evbuffer;

/* Buckets of one histogram: upper bounds in increasing order, then counts
 * per bucket (not cumulative; the writer adds them up). */
#define HIST_MAX_BOUNDS 16
struct histogram {
	const double *bounds;   /* static table */
	size_t nbounds;
	uint64_t counts[HIST_MAX_BOUNDS + 1]; /* last: above every bound */
	double sum;
	uint64_t count;
};

void histogram_init(struct histogram *h, const double *bounds, size_t n);
void histogram_observe(struct histogram *h, double v);

/* Command kinds and results of poold_commands_total / poold_command_seconds:
 * the create, reset and destroy commands a pool runs. */
enum metrics_kind { MK_CREATE, MK_RESET, MK_DESTROY, MK_COUNT };
enum metrics_result { MR_OK, MR_FAILED, MR_TIMEOUT, MR_COUNT };

/* Frees the metrics state of pd (NULL-safe; poold_close calls it). */
void metrics_free(struct poold *pd);

/* A committed event of pool, as the journal's apply stage sees it (event
 * names as in the watch stream). seconds is the wait (request to grant, 0
 * for an immediate grant) for leased and checked_out, the time the lease was
 * held for returned and expired (each lease ends with one of them), and
 * ignored otherwise. Other events are ignored, so the journal passes every
 * event. */
void metrics_event(struct poold *pd, const char *pool, const char *event,
		   double seconds);
/* A finished create/reset/destroy command; kind and result by name
 * ("create", "reset", "destroy"; "ok", "failed", "timeout"). Unknown names
 * are ignored. */
void metrics_command_observe(struct poold *pd, const char *pool,
			     const char *kind, const char *result,
			     double seconds);
/* One group commit: its duration and how many requests it answered. */
void metrics_commit_observe(struct poold *pd, double seconds, size_t batch);
/* The pool is gone (journal_pool_gone): drop its histograms now. A scrape
 * also drops those of pools that no longer exist (an event may come after
 * the pool went, e.g. a command's end). */
void metrics_pool_forget(struct poold *pd, const char *pool);
/* A refusal of the HTTP listener, counted in poold_refused_total under
 * reason "http_<why>" (why: unauthorized, method, too_large, not_found, evicted). */
void metrics_http_refused(struct poold *pd, const char *why);

/* Appends the whole exposition to out. */
void metrics_write(struct poold *pd, struct evbuffer *out);

/* Appends a sample line: name{labels} value. labels is a NULL-ended list of
 * name, value pairs (values are escaped). Exposed for the unit tests. */
void metrics_sample(struct evbuffer *out, const char *name, double value,
		    const char *const *labels);

#endif
