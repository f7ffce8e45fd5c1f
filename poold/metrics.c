/* metrics.c - see metrics.h. */
#include "metrics.h"

#include <dirent.h>
#include <event2/buffer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ops.h"
#include "pool.h"
#include "poold.h"
#include "util.h"
#include "wait.h"

/* Bucket bounds, in seconds unless said otherwise. A wait is 0 for an
 * immediate grant, so the first bucket holds those. */
static const double wait_bounds[] = { 0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30,
				      60, 300, 600, 1800, 3600 };
static const double held_bounds[] = { 1, 10, 60, 300, 600, 1800, 3600,
				      7200, 14400, 28800, 86400 };
static const double command_bounds[] = { 0.01, 0.1, 0.5, 1, 5, 10, 30, 60,
					 300, 600, 1800 };
static const double commit_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001,
					0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					0.25, 1 };
static const double batch_bounds[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256,
				       512, 1024 };
#define NB(a) (sizeof(a) / sizeof *(a))

static const char *const kind_names[MK_COUNT] = { "create", "reset",
						  "destroy" };
static const char *const result_names[MR_COUNT] = { "ok", "failed",
						    "timeout" };

struct pool_metrics {
	struct histogram wait, held, command[MK_COUNT];
	uint64_t commands[MK_COUNT][MR_COUNT];
	char name[];                 /* the pool's; key in metrics->pools */
};

struct metrics {
	struct hmap pools;           /* name -> struct pool_metrics (owned) */
	struct histogram commit, batch;
	struct {
		int64_t unauthorized, method, too_large, not_found, evicted;
	} http_refused;
	double start_time;           /* process_start_time_seconds, read once */
};

void histogram_init(struct histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof *h);
	h->bounds = bounds;
	h->nbounds = n < HIST_MAX_BOUNDS ? n : HIST_MAX_BOUNDS;
}

void histogram_observe(struct histogram *h, double v)
{
	size_t i = 0;

	if (isnan(v))
		return;
	while (i < h->nbounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->sum += v;
	h->count++;
}

static struct metrics *get(struct poold *pd)
{
	struct metrics *m = pd->metrics;

	if (m)
		return m;
	m = pd->metrics = xcalloc(1, sizeof *m);
	hmap_init(&m->pools);
	histogram_init(&m->commit, commit_bounds, NB(commit_bounds));
	histogram_init(&m->batch, batch_bounds, NB(batch_bounds));
	return m;
}

static struct pool_metrics *pool_get(struct poold *pd, const char *name)
{
	struct metrics *m = get(pd);
	struct pool_metrics *pm = hmap_get(&m->pools, name);

	if (pm)
		return pm;
	pm = xcalloc(1, sizeof *pm + strlen(name) + 1);
	strcpy(pm->name, name);
	histogram_init(&pm->wait, wait_bounds, NB(wait_bounds));
	histogram_init(&pm->held, held_bounds, NB(held_bounds));
	for (int k = 0; k < MK_COUNT; k++)
		histogram_init(&pm->command[k], command_bounds,
			       NB(command_bounds));
	hmap_put(&m->pools, pm->name, pm);
	return pm;
}

void metrics_free(struct poold *pd)
{
	struct metrics *m = pd->metrics;
	struct pool_metrics *pm;
	size_t pos = 0;

	if (!m)
		return;
	while ((pm = hmap_next(&m->pools, &pos)))
		free(pm);
	hmap_free(&m->pools);
	free(m);
	pd->metrics = NULL;
}

static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

void metrics_command_observe(struct poold *pd, const char *pool,
			     const char *kind, const char *result,
			     double seconds)
{
	int k = name_index(kind_names, MK_COUNT, kind);
	int r = name_index(result_names, MR_COUNT, result);
	struct pool_metrics *pm;

	if (k < 0 || r < 0)
		return;
	pm = pool_get(pd, pool);
	pm->commands[k][r]++;
	histogram_observe(&pm->command[k], seconds);
}

void metrics_commit_observe(struct poold *pd, double seconds, size_t batch)
{
	struct metrics *m = get(pd);

	histogram_observe(&m->commit, seconds);
	histogram_observe(&m->batch, (double)batch);
}

void metrics_event(struct poold *pd, const char *pool, const char *event,
		   double seconds)
{
	static const char *const waits[] = { "leased", "checked_out" };
	/* Every lease ends with exactly one of these ("discarded" may follow
	 * either, or come from a failed reset without a lease). */
	static const char *const ends[] = { "returned", "expired" };

	if (name_index(waits, 2, event) >= 0)
		histogram_observe(&pool_get(pd, pool)->wait, seconds);
	else if (name_index(ends, 2, event) >= 0)
		histogram_observe(&pool_get(pd, pool)->held, seconds);
}

void metrics_pool_forget(struct poold *pd, const char *pool)
{
	struct metrics *m = pd->metrics;

	if (m)
		free(hmap_del(&m->pools, pool));
}

void metrics_http_refused(struct poold *pd, const char *why)
{
	struct metrics *m = get(pd);

	if (strcmp(why, "unauthorized") == 0)
		m->http_refused.unauthorized++;
	else if (strcmp(why, "method") == 0)
		m->http_refused.method++;
	else if (strcmp(why, "too_large") == 0)
		m->http_refused.too_large++;
	else if (strcmp(why, "evicted") == 0)
		m->http_refused.evicted++;
	else
		m->http_refused.not_found++;
}

/* ---- exposition -------------------------------------------------------- */

/* Label values escape backslash, double quote and newline. Returns the
 * bytes written at dst (which has room for 2 * strlen(s)). */
static size_t label_value(char *dst, const char *s)
{
	char *d = dst;

	for (; *s; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			*d++ = '\\';
			*d++ = *s == '\n' ? 'n' : *s;
		} else {
			*d++ = *s;
		}
	}
	return (size_t)(d - dst);
}

/* Integers print without an exponent; others with enough digits to read
 * back the same double. */
static int number(char *dst, size_t len, double v)
{
	if (isinf(v))
		return snprintf(dst, len, v > 0 ? "+Inf" : "-Inf");
	if (v == floor(v) && fabs(v) < 1e15)
		return snprintf(dst, len, "%.0f", v);
	return snprintf(dst, len, "%.17g", v);
}

/* A scrape writes thousands of lines: each is built in one buffer and
 * added at once. Names and label values are short (a pool name is at most
 * 64 bytes), so a line fits; a longer one is cut rather than overflowed. */
void metrics_sample(struct evbuffer *out, const char *name, double value,
		    const char *const *labels)
{
	char line[1024], *p = line, *end = line + sizeof line - 64;
	size_t n;

	n = strlen(name);
	memcpy(p, name, n);
	p += n;
	for (size_t i = 0; labels && labels[i]; i += 2) {
		size_t kn = strlen(labels[i]), vn = strlen(labels[i + 1]);

		if (p + kn + 2 * vn + 4 > end)
			break;
		*p++ = i ? ',' : '{';
		memcpy(p, labels[i], kn);
		p += kn;
		*p++ = '=';
		*p++ = '"';
		p += label_value(p, labels[i + 1]);
		*p++ = '"';
	}
	if (labels && labels[0])
		*p++ = '}';
	*p++ = ' ';
	p += number(p, 40, value);
	*p++ = '\n';
	evbuffer_add(out, line, (size_t)(p - line));
}

static void family(struct evbuffer *out, const char *name, const char *type,
		   const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			    name, type);
}

/* The _bucket, _sum and _count lines of h; labels as for metrics_sample,
 * with room for le to be appended (at most 4 pairs before it). */
static void histogram_lines(struct evbuffer *out, const char *name,
			    const struct histogram *h,
			    const char *const *labels)
{
	const char *l[12];
	char line[128], le[32];
	size_t n = 0;
	uint64_t cum = 0;

	while (labels && labels[n] && n < 8) {
		l[n] = labels[n];
		n++;
	}
	l[n] = "le";
	l[n + 1] = le;
	l[n + 2] = NULL;
	snprintf(line, sizeof line, "%s_bucket", name);
	for (size_t i = 0; i <= h->nbounds; i++) {
		cum += h->counts[i];
		if (i < h->nbounds)
			snprintf(le, sizeof le, "%g", h->bounds[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		metrics_sample(out, line, (double)cum, l);
	}
	l[n] = NULL;
	snprintf(line, sizeof line, "%s_sum", name);
	metrics_sample(out, line, h->sum, l);
	snprintf(line, sizeof line, "%s_count", name);
	metrics_sample(out, line, (double)h->count, l);
}

/* Drops the histograms of pools that no longer exist. */
static void prune(struct poold *pd, struct metrics *m)
{
	struct pool_metrics *pm, **gone;
	size_t pos = 0, n = 0;

	gone = xcalloc(m->pools.len + 1, sizeof *gone);
	while ((pm = hmap_next(&m->pools, &pos)))
		if (!pool_find(pd, pm->name))
			gone[n++] = pm;
	for (size_t i = 0; i < n; i++)
		free(hmap_del(&m->pools, gone[i]->name));
	free(gone);
}

static void pool_gauges(struct evbuffer *out, struct pool **all, size_t n)
{
	family(out, "poold_resources", "gauge",
	       "Resources of the pool in each state.");
	for (size_t i = 0; i < n; i++)
		for (int s = 0; s < RS_NSTATES; s++) {
			const char *l[] = { "pool", all[i]->name, "state",
					    res_state_name(s), NULL };

			metrics_sample(out, "poold_resources",
				       (double)all[i]->count[s], l);
		}
	family(out, "poold_waiters", "gauge",
	       "Requests waiting for a resource of the pool.");
	for (size_t i = 0; i < n; i++) {
		const char *l[] = { "pool", all[i]->name, NULL };

		metrics_sample(out, "poold_waiters",
			       (double)all[i]->nwaiters, l);
	}
	family(out, "poold_oldest_waiter_seconds", "gauge",
	       "How long the pool's longest-waiting request has waited "
	       "(0: none waits).");
	for (size_t i = 0; i < n; i++) {
		const char *l[] = { "pool", all[i]->name, NULL };

		metrics_sample(out, "poold_oldest_waiter_seconds",
			       wait_oldest_age(all[i]), l);
	}
	family(out, "poold_pool_max_size", "gauge",
	       "The pool's max_size (0: no limit).");
	for (size_t i = 0; i < n; i++) {
		const char *l[] = { "pool", all[i]->name, NULL };

		metrics_sample(out, "poold_pool_max_size",
			       (double)all[i]->set.max_size, l);
	}
}

/* One counter family per field of struct counters worth alerting on. */
static void pool_counter(struct evbuffer *out, struct pool **all, size_t n,
			 const char *name, const char *help,
			 size_t offset)
{
	family(out, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		const char *l[] = { "pool", all[i]->name, NULL };
		const int64_t *v = (const int64_t *)
			((const char *)&all[i]->stats + offset);

		metrics_sample(out, name, (double)*v, l);
	}
}

#define CNT(f) offsetof(struct counters, f)
static void pool_counters(struct evbuffer *out, struct pool **all, size_t n)
{
	family(out, "poold_leases_granted_total", "counter",
	       "Leases granted, by mode (lease or checkout).");
	for (size_t i = 0; i < n; i++) {
		const char *lease[] = { "pool", all[i]->name, "mode", "lease",
					NULL };
		const char *co[] = { "pool", all[i]->name, "mode", "checkout",
				     NULL };

		metrics_sample(out, "poold_leases_granted_total",
			       (double)all[i]->stats.leases, lease);
		metrics_sample(out, "poold_leases_granted_total",
			       (double)all[i]->stats.checkouts, co);
	}
	pool_counter(out, all, n, "poold_returns_total",
		     "Leases ended by return or checkin.", CNT(returns));
	pool_counter(out, all, n, "poold_leases_expired_total",
		     "Leases ended by their TTL.", CNT(expired));
	pool_counter(out, all, n, "poold_wait_timeouts_total",
		     "Waits that ended without a resource.",
		     CNT(wait_timeouts));
	pool_counter(out, all, n, "poold_exhausted_total",
		     "Requests answered exhausted (nothing free, no wait).",
		     CNT(exhausted));
	pool_counter(out, all, n, "poold_busy_total",
		     "Requests answered busy (too many waiters).", CNT(busy));
	pool_counter(out, all, n, "poold_resources_created_total",
		     "Resources created.", CNT(created));
	pool_counter(out, all, n, "poold_create_failures_total",
		     "Create commands that failed.", CNT(create_failed));
	pool_counter(out, all, n, "poold_resources_destroyed_total",
		     "Resources destroyed.", CNT(destroyed));
}
#undef CNT

/* Every pool has its histograms, zeros included, so that a series exists
 * from the pool's first scrape on. */
static void pool_histograms(struct evbuffer *out, struct poold *pd,
			    struct pool **all, size_t n)
{
	struct pool_metrics **pm = xcalloc(n + 1, sizeof *pm);

	for (size_t i = 0; i < n; i++)
		pm[i] = pool_get(pd, all[i]->name);
	family(out, "poold_commands_total", "counter",
	       "Create, reset and destroy commands run, by result.");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < MK_COUNT; k++)
			for (int r = 0; r < MR_COUNT; r++) {
				const char *l[] = { "pool", all[i]->name,
					"kind", kind_names[k], "result",
					result_names[r], NULL };

				metrics_sample(out, "poold_commands_total",
					(double)pm[i]->commands[k][r], l);
			}
	family(out, "poold_wait_seconds", "histogram",
	       "Time from a lease request to its grant (0: at once).");
	for (size_t i = 0; i < n; i++) {
		const char *l[] = { "pool", all[i]->name, NULL };

		histogram_lines(out, "poold_wait_seconds", &pm[i]->wait, l);
	}
	family(out, "poold_lease_held_seconds", "histogram",
	       "How long ended leases were held.");
	for (size_t i = 0; i < n; i++) {
		const char *l[] = { "pool", all[i]->name, NULL };

		histogram_lines(out, "poold_lease_held_seconds", &pm[i]->held,
				l);
	}
	family(out, "poold_command_seconds", "histogram",
	       "Duration of create, reset and destroy commands.");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < MK_COUNT; k++) {
			const char *l[] = { "pool", all[i]->name, "kind",
					    kind_names[k], NULL };

			histogram_lines(out, "poold_command_seconds",
					&pm[i]->command[k], l);
		}
	free(pm);
}

static void daemon_metrics(struct poold *pd, struct metrics *m,
			   struct evbuffer *out)
{
	const struct { const char *reason; int64_t v; } refused[] = {
		{ "conns", pd->refused.conns_refused },
		{ "too_large", pd->refused.too_large },
		{ "bad_request", pd->refused.bad_requests },
		{ "too_deep", pd->refused.too_deep },
		{ "slow_reader", pd->refused.slow_readers },
		{ "idle", pd->refused.idle_closed },
		{ "http_unauthorized", m->http_refused.unauthorized },
		{ "http_method", m->http_refused.method },
		{ "http_too_large", m->http_refused.too_large },
		{ "http_not_found", m->http_refused.not_found },
		{ "http_evicted", m->http_refused.evicted },
	};

	family(out, "poold_connections", "gauge",
	       "Client connections open on the socket and TCP.");
	metrics_sample(out, "poold_connections", pd->nconns, NULL);
	family(out, "poold_refused_total", "counter",
	       "Connections and requests refused, by reason.");
	for (size_t i = 0; i < NB(refused); i++) {
		const char *l[] = { "reason", refused[i].reason, NULL };

		metrics_sample(out, "poold_refused_total",
			       (double)refused[i].v, l);
	}
	family(out, "poold_commit_seconds", "histogram",
	       "Duration of a group commit.");
	histogram_lines(out, "poold_commit_seconds", &m->commit, NULL);
	family(out, "poold_commit_batch_size", "histogram",
	       "Requests answered by one group commit.");
	histogram_lines(out, "poold_commit_batch_size", &m->batch, NULL);
}

/* ---- process_* from /proc ---------------------------------------------- */

static double proc_start_time(void)
{
	char buf[2048], *p;
	unsigned long long start = 0, btime = 0;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	/* Field 22 (starttime, in clock ticks since boot) counts from the
	 * last ')' since the command name may hold spaces. */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u"
		   " %*d %*d %*d %*d %*d %*d %llu", &start) != 1)
		return 0;
	if (!(f = fopen("/proc/stat", "r")))
		return 0;
	while (fgets(buf, sizeof buf, f))
		if (sscanf(buf, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	return (double)btime + (double)start / (double)sysconf(_SC_CLK_TCK);
}

static double proc_resident_bytes(void)
{
	unsigned long long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static double proc_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	double n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

static void process_metrics(struct metrics *m, struct evbuffer *out)
{
	struct rusage ru;
	struct rlimit rl;
	double cpu = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	family(out, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds.");
	metrics_sample(out, "process_cpu_seconds_total", cpu, NULL);
	family(out, "process_resident_memory_bytes", "gauge",
	       "Resident memory size in bytes.");
	metrics_sample(out, "process_resident_memory_bytes",
		       proc_resident_bytes(), NULL);
	family(out, "process_open_fds", "gauge",
	       "Number of open file descriptors.");
	metrics_sample(out, "process_open_fds", proc_open_fds(), NULL);
	family(out, "process_max_fds", "gauge",
	       "Maximum number of open file descriptors.");
	metrics_sample(out, "process_max_fds",
		       getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		       rl.rlim_cur != RLIM_INFINITY ? (double)rl.rlim_cur : -1,
		       NULL);
	family(out, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	if (m->start_time == 0)
		m->start_time = proc_start_time();
	metrics_sample(out, "process_start_time_seconds", m->start_time, NULL);
}

void metrics_write(struct poold *pd, struct evbuffer *out)
{
	struct metrics *m = get(pd);
	size_t n;
	struct pool **all = op_pools_sorted(pd, &n);

	prune(pd, m);
	pool_gauges(out, all, n);
	pool_counters(out, all, n);
	pool_histograms(out, pd, all, n);
	daemon_metrics(pd, m, out);
	process_metrics(m, out);
	free(all);
}
