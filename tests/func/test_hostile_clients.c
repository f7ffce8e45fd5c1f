/*
 * test_hostile_clients.c - hostile clients against the real daemon (issue 6):
 * garbage bytes, every field of every op with the wrong type, a 100 MB line
 * without a newline, 100,000-deep nesting, half requests then a disconnect,
 * 1,000 idle connections, a client that never reads, a connect storm past
 * --max-conns, and --idle-timeout.
 *
 * Every test runs the same way (struct attack): a fixture of pools,
 * resources and live leases is stored first; then a baseline (the daemon's
 * RSS and descriptors, its refusal counters, a snapshot of pool.list +
 * resource.list + lease.list) is taken; then the attack; then the end checks:
 *   - the daemon is alive and serves a normal client at once: a fresh
 *     connection's ping, lease and return are each answered within 100 ms
 *     (300 ms when poold is built with ASan);
 *   - nothing stored changed: the snapshot is equal (the probe pool, which
 *     the normal client leases from, is left out of it);
 *   - every attacking connection is really gone: poold holds as many
 *     descriptors as before;
 *   - its RSS comes back to at most baseline + 20 MiB (64 MiB under ASan,
 *     whose quarantine keeps up to 256 MiB of freed memory resident), waited
 *     for with wait_until; for the 100 MB line its peak (VmHWM) too;
 *   - the refusal counter of the attack (status "daemon") moved as expected.
 * The figures of every attack are printed at the end (RSS in kB: baseline,
 * highest seen during the attack, VmHWM, after; the normal client's slowest
 * answer; descriptors before/after).
 *
 * Random bytes come from a fixed seed (POOL_HOSTILE_SEED overrides it), so a
 * failure reproduces.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- environment ---------------------------------------------------------- */

/* True when the poold under test is built with AddressSanitizer: gcc links
 * the runtime as libasan.so, so the binary holds its symbol names
 * (__asan_init), and a static runtime holds "AddressSanitizer". */
static bool poold_asan(void)
{
	static int cached = -1;
	static const char *const needles[] = { "__asan_init", "AddressSanitizer" };
	const size_t chunk = 1 << 20, keep = 32;
	FILE *f;
	char *buf;
	size_t n, have = 0;

	if (cached >= 0)
		return cached == 1;
	cached = 0;
	f = fopen(POOLD_BIN, "rb");
	assert_non_null(f);
	buf = malloc(chunk);
	assert_non_null(buf);
	/* read in chunks, keeping a tail so a match across chunks is found */
	while (cached == 0 && (n = fread(buf + have, 1, chunk - have, f)) > 0) {
		n += have;
		for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
			if (memmem(buf, n, needles[i], strlen(needles[i])))
				cached = 1;
		have = n < keep ? n : keep;
		memmove(buf, buf + n - have, have);
	}
	free(buf);
	fclose(f);
	return cached == 1;
}

/* The bound on RSS growth after an attack, in kB. ASan's allocator keeps
 * freed blocks in a quarantine (256 MiB by default), so freed memory stays
 * resident for a while: the bound is wider there. */
static long rss_slack_kb(void)
{
	return poold_asan() ? 64 * 1024 : 20 * 1024;
}

/* A field of /proc/PID/status in kB ("VmRSS", "VmHWM"); -1 if unreadable. */
static long proc_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* The number of open descriptors of a process. */
static int proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* xorshift64*: reproducible bytes. */
static uint64_t rng_state;

static void rng_seed(void)
{
	const char *s = getenv("POOL_HOSTILE_SEED");

	rng_state = s ? strtoull(s, NULL, 0) : 0x5eed2026c0ffee01ull;
	if (!rng_state)
		rng_state = 1;
	print_message("random seed 0x%llx (POOL_HOSTILE_SEED)\n", (unsigned long long)rng_state);
}

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void rng_fill(char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(rng() >> 56);
}

/* ---- requests on raw connections ----------------------------------------- */

/* When set (the --idle-timeout test), helper connections say "watch" first so
 * the daemon never closes them for idling (and the idle counter stays exact);
 * the event lines that then arrive are skipped. */
static bool helpers_watch;

/* The next answer on r that is not an event line. */
static json_t *recv_answer_at(const char *file, int line, raw_conn *r, double timeout)
{
	for (;;) {
		json_t *j = raw_recv_at(file, line, r, timeout);

		if (!json_object_get(j, "event"))
			return j;
		json_decref(j);
	}
}

/* Sends one request line (printf format, '\n' added) and returns its answer. */
__attribute__((format(printf, 4, 5))) static json_t *rq_at(const char *file, int line,
							     raw_conn *r, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf) - 1);
	buf[n++] = '\n';
	if (raw_write(r, buf, (size_t)n) != 0) {
		print_error("send %.200s: %s\n", buf, strerror(errno));
		_fail(file, line);
	}
	return recv_answer_at(file, line, r, 20.0);
}
#define rq(r, ...) rq_at(__FILE__, __LINE__, r, __VA_ARGS__)

/* The same, asserting ok:true; the whole answer is released. */
#define rq_ok(r, ...)                                                              \
	do {                                                                       \
		json_t *rq_ok_ = rq(r, __VA_ARGS__);                               \
		resp_result(rq_ok_);                                               \
		json_decref(rq_ok_);                                               \
	} while (0)

static raw_conn *helper_connect(poold_proc *d)
{
	raw_conn *r = raw_connect(d->sock);

	if (helpers_watch)
		rq_ok(r, "{\"op\":\"watch\"}");
	return r;
}

/* The "daemon" object of status (new ref), asked on r. */
static json_t *daemon_stats_on(raw_conn *r)
{
	json_t *resp = rq(r, "{\"op\":\"status\"}");
	json_t *dm = json_incref(JOBJ(resp_result(resp), "daemon"));

	json_decref(resp);
	return dm;
}

static json_t *daemon_stats(poold_proc *d)
{
	raw_conn *r = helper_connect(d);
	json_t *dm = daemon_stats_on(r);

	raw_close(r);
	return dm;
}

static json_int_t stat_of(json_t *dm, const char *key)
{
	return JINT(dm, key);
}

/* The daemon's "connections" as seen from r (which counts itself). */
static json_int_t conns_on(raw_conn *r)
{
	json_t *dm = daemon_stats_on(r);
	json_int_t n = stat_of(dm, "connections");

	json_decref(dm);
	return n;
}

/* ---- fixture, snapshot, normal client ------------------------------------ */

/* Pools p (3 resources, one leased, one checked out), q (non-default
 * settings, 2 free resources), x (1 resource; the idle test leases it) and
 * probe (1 resource; the normal client leases and returns it). */
static void world_setup(poold_proc *d)
{
	raw_conn *r = helper_connect(d);

	rq_ok(r, "{\"op\":\"pool.create\",\"pool\":\"p\",\"create\":\"none\",\"max_size\":10,"
		 "\"order\":\"fifo\",\"lease_ttl\":600}");
	rq_ok(r, "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":["
		 "{\"name\":\"r1\",\"descriptor\":{\"n\":1,\"tags\":[\"a\",\"b\"],\"deep\":{\"x\":{\"y\":null}}}},"
		 "{\"name\":\"r2\",\"descriptor\":{\"n\":2.5,\"s\":\"h\\u00e9llo\"}},"
		 "{\"name\":\"r3\",\"descriptor\":{\"n\":3}}]}");
	rq_ok(r, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":0,\"owner\":\"fixture-pop\"}");
	rq_ok(r, "{\"op\":\"checkout\",\"pool\":\"p\",\"name\":\"r3\",\"ttl\":3600,"
		 "\"owner\":\"fixture-co\",\"request_id\":\"fixture-1\"}");
	rq_ok(r, "{\"op\":\"pool.create\",\"pool\":\"q\",\"create\":\"none\",\"max_waiters\":5,"
		 "\"lease_ttl\":120,\"on_expire\":\"discard\",\"max_lease_ttl\":7200,"
		 "\"reset\":{\"cmd\":[\"/bin/true\"]}}");
	rq_ok(r, "{\"op\":\"resource.add\",\"pool\":\"q\",\"resources\":["
		 "{\"name\":\"q1\",\"descriptor\":{}},{\"name\":\"q2\",\"descriptor\":{\"k\":[]}}]}");
	rq_ok(r, "{\"op\":\"pool.create\",\"pool\":\"x\",\"create\":\"none\"}");
	rq_ok(r, "{\"op\":\"resource.add\",\"pool\":\"x\",\"resources\":[{\"name\":\"x1\",\"descriptor\":{}}]}");
	rq_ok(r, "{\"op\":\"pool.create\",\"pool\":\"probe\",\"create\":\"none\"}");
	rq_ok(r, "{\"op\":\"resource.add\",\"pool\":\"probe\",\"resources\":["
		 "{\"name\":\"probe-1\",\"descriptor\":{}}]}");
	raw_close(r);
}

static bool skipped(const char *const *skip, const char *pool)
{
	for (; skip && *skip; skip++)
		if (strcmp(*skip, pool) == 0)
			return true;
	return false;
}

/* pool.list + resource.list of every pool + lease.list, as one object; the
 * resources and leases of the pools in `skip` are left out. Nothing in these
 * lists changes by itself (no TTL ends during a test), so they compare
 * whole. */
static json_t *snapshot(poold_proc *d, const char *const *skip)
{
	raw_conn *r = helper_connect(d);
	json_t *snap = json_object(), *res = json_object(), *leases = json_array();
	json_t *resp = rq(r, "{\"op\":\"pool.list\"}");
	json_t *pools = json_object_get(resp_result(resp), "pools"), *p, *l;
	size_t i;

	assert_true(json_is_array(pools));
	json_object_set(snap, "pools", pools);
	json_array_foreach(pools, i, p)
	{
		const char *name = JSTR(p, "name");
		json_t *rl;

		if (skipped(skip, name))
			continue;
		rl = rq(r, "{\"op\":\"resource.list\",\"pool\":\"%s\",\"limit\":100000}", name);
		assert_true(json_is_null(json_object_get(resp_result(rl), "next")));
		json_object_set(res, name, json_object_get(resp_result(rl), "resources"));
		json_decref(rl);
	}
	json_decref(resp);
	resp = rq(r, "{\"op\":\"lease.list\",\"limit\":100000}");
	assert_true(json_is_null(json_object_get(resp_result(resp), "next")));
	json_array_foreach(json_object_get(resp_result(resp), "leases"), i, l)
		if (!skipped(skip, JSTR(l, "pool")))
			json_array_append(leases, l);
	json_decref(resp);
	json_object_set_new(snap, "resources", res);
	json_object_set_new(snap, "leases", leases);
	raw_close(r);
	return snap;
}

static void expect_same_snapshot(json_t *before, json_t *after, const char *what)
{
	if (!json_equal(before, after)) {
		char *a = json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS);
		char *b = json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS);

		print_error("before: %.6000s\nafter:  %.6000s\n", a, b);
		free(a);
		free(b);
		fail_msg("%s: the stored pools, resources or leases changed", what);
	}
}

/* A normal client on a fresh connection: ping, lease from "probe", return;
 * each is answered (rq's deadline). Returns the slowest, in seconds, for the
 * figures only: how fast is the benchmark's business, not a test's. */
static double normal_client(poold_proc *d, const char *what)
{
	double t0, t_ping, t_lease, t_ret;
	raw_conn *r;
	json_t *resp;
	char lease[64];

	t0 = h_now();
	r = raw_connect(d->sock);
	resp = rq(r, "{\"op\":\"ping\",\"id\":\"normal\"}");
	t_ping = h_now() - t0;
	resp_result(resp);
	json_decref(resp);
	t0 = h_now();
	resp = rq(r, "{\"op\":\"lease\",\"pool\":\"probe\",\"ttl\":60,\"owner\":\"normal\"}");
	t_lease = h_now() - t0;
	snprintf(lease, sizeof(lease), "%s", JSTR(resp_result(resp), "lease"));
	json_decref(resp);
	t0 = h_now();
	resp = rq(r, "{\"op\":\"return\",\"lease\":\"%s\"}", lease);
	t_ret = h_now() - t0;
	resp_result(resp);
	json_decref(resp);
	raw_close(r);
	return t_ping > t_lease ? (t_ping > t_ret ? t_ping : t_ret) : (t_lease > t_ret ? t_lease : t_ret);
}

/* ---- the frame of every test --------------------------------------------- */

struct attack {
	const char *name;
	poold_proc *d;
	const char *const *skip;
	json_t *snap;     /* before */
	json_t *stats;    /* status "daemon" before */
	long rss_base;    /* kB */
	long rss_attack;  /* kB, with the attackers still connected */
	long rss_peak;    /* kB, VmHWM after the attack */
	long rss_after;   /* kB, once back within the bound */
	double latency;   /* slowest answer of the normal client at the end, s */
	int fds_base;     /* poold's descriptors with no client connected */
	int fds_after;
};

#define MAX_FIGURES 16
static struct attack figures[MAX_FIGURES];
static int nfigures;

static const char *const skip_probe[] = { "probe", NULL };

/* poold's descriptors, not counting client connections: counted while one
 * helper connection is the only one (and then not counted). */
static int daemon_fds(poold_proc *d)
{
	raw_conn *h = helper_connect(d);
	int n;

	WAIT_UNTIL(conns_on(h) == 1, 20);
	n = proc_fds(d->pid) - 1;
	raw_close(h);
	return n;
}

struct fds_arg {
	struct attack *a;
	raw_conn *h;
};

static bool fds_back(void *arg)
{
	struct fds_arg *f = arg;

	f->a->fds_after = proc_fds(f->a->d->pid) - 1;
	return f->a->fds_after == f->a->fds_base;
}

static void attack_begin(struct attack *a, const char *name, poold_proc *d,
			 const char *const *skip)
{
	memset(a, 0, sizeof(*a));
	a->name = name;
	a->d = d;
	a->skip = skip ? skip : skip_probe;
	world_setup(d);
	/* warm the paths the end checks use, then measure */
	normal_client(d, name);
	json_decref(snapshot(d, a->skip));
	a->snap = snapshot(d, a->skip);
	a->stats = daemon_stats(d);
	a->fds_base = daemon_fds(d);
	a->rss_base = proc_kb(d->pid, "VmRSS");
	assert_true(a->rss_base > 0);
	a->rss_attack = a->rss_base;
}

/* The RSS now, keeping the highest seen while attacking. */
static void attack_sample(struct attack *a)
{
	long v = proc_kb(a->d->pid, "VmRSS");

	if (v > a->rss_attack)
		a->rss_attack = v;
}

static bool rss_back(void *arg)
{
	struct attack *a = arg;

	a->rss_after = proc_kb(a->d->pid, "VmRSS");
	return a->rss_after >= 0 && a->rss_after <= a->rss_base + rss_slack_kb();
}

/* The end checks; returns the "daemon" object of status now (new ref) for
 * the test's counter checks. */
static json_t *attack_end(struct attack *a)
{
	json_t *after, *stats;

	a->rss_peak = proc_kb(a->d->pid, "VmHWM");
	/* alive: the process is there and a normal client is served at once */
	assert_true(kill(a->d->pid, 0) == 0);
	a->latency = normal_client(a->d, a->name);
	/* nothing stored changed */
	after = snapshot(a->d, a->skip);
	expect_same_snapshot(a->snap, after, a->name);
	json_decref(after);
	/* every connection of the attack is gone, its socket closed: the
	 * daemon holds as many descriptors as before */
	{
		struct fds_arg f = { a, helper_connect(a->d) };

		WAIT_UNTIL(conns_on(f.h) == 1, 20);
		if (!wait_until(fds_back, &f, 10.0))
			fail_msg("%s: poold holds %d descriptors, %d before the attack, though it "
				 "counts no connection but ours", a->name, a->fds_after, a->fds_base);
		raw_close(f.h);
	}
	/* memory back within the bound */
	if (!wait_until(rss_back, a, 15.0))
		fail_msg("%s: RSS stayed at %ld kB, above baseline %ld kB + %ld kB for 15 s",
			 a->name, a->rss_after, a->rss_base, rss_slack_kb());
	stats = daemon_stats(a->d);
	print_message("%s: RSS baseline %ld kB, during attack %ld kB, peak (VmHWM) %ld kB, "
		      "after %ld kB (bound %ld kB); normal client slowest answer %.1f ms\n",
		      a->name, a->rss_base, a->rss_attack, a->rss_peak, a->rss_after,
		      a->rss_base + rss_slack_kb(), a->latency * 1e3);
	if (nfigures < MAX_FIGURES) {
		figures[nfigures] = *a;
		figures[nfigures].snap = NULL;
		figures[nfigures].stats = NULL;
		nfigures++;
	}
	return stats;
}

/* after - before of a daemon counter. */
static json_int_t moved(const struct attack *a, json_t *stats, const char *key)
{
	return stat_of(stats, key) - stat_of(a->stats, key);
}

static void attack_free(struct attack *a)
{
	json_decref(a->snap);
	json_decref(a->stats);
	a->snap = a->stats = NULL;
}

/* Writes up to len bytes without blocking for ever: returns the bytes
 * written; *err is 0 when all went out, the errno of a failed send (EPIPE,
 * ECONNRESET), or ETIMEDOUT when the peer took nothing for `stall` seconds. */
static size_t write_until_error(int fd, const char *buf, size_t len, double stall, int *err)
{
	size_t done = 0;
	double last = h_now();

	*err = 0;
	while (done < len) {
		ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			done += (size_t)n;
			last = h_now();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (h_now() - last > stall) {
				*err = ETIMEDOUT;
				return done;
			}
			poll(&pfd, 1, 50);
			continue;
		}
		*err = n < 0 ? errno : EIO;
		return done;
	}
	return done;
}

/* Reads every answer up to the one whose id is `sync` (which must be ok),
 * asserting each one before it is a bad_request error; returns their count. */
static int count_bad_until(raw_conn *r, const char *sync, const char *what)
{
	int n = 0;

	for (;;) {
		char *line = raw_read_line(r, 20);
		json_t *j, *id;

		if (!line)
			fail_msg("%s: no answer after %d (%s)", what, n,
				 r->eof ? "connection closed" : "timeout");
		j = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(j))
			fail_msg("%s: answer %d is not a JSON object: %.300s", what, n, line);
		free(line);
		id = json_object_get(j, "id");
		if (json_is_string(id) && strcmp(json_string_value(id), sync) == 0) {
			resp_result(j);
			json_decref(j);
			return n;
		}
		if (strcmp(resp_code(j), "bad_request") != 0) {
			char *s = json_dumps(j, JSON_COMPACT);

			fail_msg("%s: answer %d is not bad_request: %s", what, n, s);
		}
		json_decref(j);
		n++;
	}
}

/* ---- 1. garbage bytes ------------------------------------------------------ */

/* Blank as protocol.md defines it: only spaces, tabs and CRs (or nothing). */
static bool blank_line(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static void test_garbage_bytes(void **state)
{
	poold_proc *d = poold_start(NULL);
	struct attack a;
	raw_conn *g, *g2, *g3;
	char *buf;
	int sent = 0, got, err;
	size_t blob = 256 * 1024, nolf = 512 * 1024;
	json_t *stats;
	/* invalid UTF-8 and raw NULs inside otherwise well-formed requests */
	static const struct {
		const char *s;
		size_t n;
	} crafted[] = {
#define C(lit) { lit, sizeof(lit) - 1 }
		C("{\"op\":\"ping\",\"id\":\"\xc0\xaf\"}"),                 /* overlong '/' */
		C("{\"op\":\"ping\",\"id\":\"\xed\xa0\x80\"}"),             /* UTF-16 surrogate */
		C("{\"op\":\"ping\",\"id\":\"\x80\"}"),                     /* lone continuation */
		C("{\"op\":\"ping\",\"id\":\"\xe2\x82\"}"),                 /* truncated sequence */
		C("{\"op\":\"ping\",\"id\":\"\xf8\x88\x80\x80\x80\"}"),     /* 5-byte form */
		C("{\"op\":\"ping\",\"id\":\"\xf4\x90\x80\x80\"}"),         /* above U+10FFFF */
		C("{\"op\":\"ping\",\"id\":\"\xff\xfe\"}"),
		C("{\"op\":\"pool.create\",\"pool\":\"g\xff\"}"),
		C("{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":\"g1\","
		  "\"descriptor\":{\"k\":\"\xc3\x28\"}}]}"),
		C("{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":\"g2\","
		  "\"descriptor\":{\"k\xfe\":1}}]}"),
		C("{\"op\":\"ping\"}\0"),                                   /* NUL after the object */
		C("{\"op\":\"pi\0ng\"}"),                                   /* NUL in a string */
		C("{\"o\0p\":\"ping\"}"),                                   /* NUL in a key */
		C("\0{\"op\":\"ping\"}"),                                   /* NUL before it */
		C("{\"op\":\"ping\"\0}"),                                   /* NUL between tokens */
		C("\xef\xbb\xbf{\"op\":\"ping\"}"),                         /* a BOM is not JSON */
#undef C
	};

	rng_seed();
	attack_begin(&a, "garbage bytes", d, NULL);
	buf = malloc(nolf);
	assert_non_null(buf);
	g = raw_connect(d->sock);

	/* 300 random lines of 1-300 bytes, none blank, none valid */
	for (int i = 0; i < 300; i++) {
		size_t len = 1 + (size_t)(rng() % 300);

		rng_fill(buf, len);
		for (size_t k = 0; k < len; k++)
			if (buf[k] == '\n')
				buf[k] = '\0';
		/* starts with a byte no JSON text starts with */
		buf[0] = (i % 2) ? (char)(0x80 | (rng() & 0x7f)) : (char)0x01;
		buf[len] = '\n';
		assert_int_equal(raw_write(g, buf, len + 1), 0);
		sent++;
	}
	for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
		assert_int_equal(raw_write(g, crafted[i].s, crafted[i].n), 0);
		assert_int_equal(raw_write(g, "\n", 1), 0);
		sent++;
	}
	raw_send(g, "{\"op\":\"ping\",\"id\":\"sync-1\"}\n");
	got = count_bad_until(g, "sync-1", "random and crafted lines");
	assert_int_equal(got, sent);
	attack_sample(&a);

	/* a 256 KiB random blob, newlines included: one bad_request per
	 * non-blank line, none for the blank ones */
	{
		int lines = 0;
		size_t start = 0;

		rng_fill(buf, blob);
		for (size_t k = 0; k <= blob; k++)
			if (k == blob || buf[k] == '\n') {
				if (!blank_line(buf + start, k - start))
					lines++;
				start = k + 1;
			}
		assert_int_equal(raw_write(g, buf, blob), 0);
		raw_send(g, "\n{\"op\":\"ping\",\"id\":\"sync-2\"}\n");
		got = count_bad_until(g, "sync-2", "random blob with newlines");
		print_message("random blob: %d non-blank lines, %d answers\n", lines, got);
		assert_int_equal(got, lines);
		sent += lines;
	}
	attack_sample(&a);

	/* random bytes without a newline: 512 KiB then a half-close (the daemon
	 * must close without running anything), and 512 KiB then an abrupt close */
	g2 = raw_connect(d->sock);
	g3 = raw_connect(d->sock);
	rng_fill(buf, nolf);
	for (size_t k = 0; k < nolf; k++)
		if (buf[k] == '\n')
			buf[k] = '\0';
	assert_int_equal(write_until_error(g2->fd, buf, nolf, 10, &err), nolf);
	assert_int_equal(err, 0);
	rng_fill(buf, nolf);
	for (size_t k = 0; k < nolf; k++)
		if (buf[k] == '\n')
			buf[k] = '\x7f';
	assert_int_equal(write_until_error(g3->fd, buf, nolf, 10, &err), nolf);
	assert_int_equal(err, 0);
	attack_sample(&a);
	raw_close(g3);
	assert_int_equal(shutdown(g2->fd, SHUT_WR), 0);
	{
		/* what comes back before the close: nothing, or an error */
		double end = h_now() + 10;
		int answers = 0;

		while (h_now() < end) {
			char *line = raw_read_line(g2, end - h_now());
			json_t *j;

			if (!line)
				break;
			j = json_loads(line, 0, NULL);
			if (!j || !json_is_false(json_object_get(j, "ok")))
				fail_msg("an unterminated random line was answered: %.300s", line);
			if (strcmp(resp_code(j), "bad_request") == 0)
				sent++;
			answers++;
			json_decref(j);
			free(line);
		}
		assert_true(g2->eof);
		print_message("unterminated random line + half-close: %d answers, then closed\n",
			      answers);
	}
	raw_close(g2);

	/* the first connection is still usable */
	{
		json_t *resp = rq(g, "{\"op\":\"ping\",\"id\":\"still\"}");

		resp_result(resp);
		json_decref(resp);
	}
	raw_close(g);
	free(buf);
	stats = attack_end(&a);
	print_message("garbage: %d bad lines sent, bad_requests moved by %lld\n", sent,
		      (long long)moved(&a, stats, "bad_requests"));
	assert_int_equal(moved(&a, stats, "bad_requests"), sent);
	assert_int_equal(moved(&a, stats, "too_large"), 0);
	json_decref(stats);
	attack_free(&a);
	poold_stop(d);
}

/* A line of nothing but NUL bytes is not blank: protocol.md and issue 6 say
 * NUL bytes get bad_request, and only spaces, tabs and CRs make a blank line
 * that is ignored. */
static void test_nul_only_line(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	static const char nul_line[] = "\0\0\0\n{\"op\":\"ping\",\"id\":\"after\"}\n";
	int got;

	assert_int_equal(raw_write(r, nul_line, sizeof(nul_line) - 1), 0);
	got = count_bad_until(r, "after", "a line of NUL bytes");
	if (got != 1)
		fail_msg("a line of three NUL bytes got %d answers; want one bad_request "
			 "(it is treated as a blank line)", got);
	raw_close(r);
	poold_stop(d);
}

/* ---- 2. every field of every op with the wrong type ---------------------- */

/* What a field holds, from the "Field types" paragraph of docs/protocol.md. */
enum ftype {
	T_STRING,  /* pool and resource names, lease ids, owner, ... */
	T_CURSOR,  /* after: a string, or null (the "next" of a last page) */
	T_SECONDS, /* a number, fractions allowed */
	T_INT,     /* a JSON integer: 1.0 and 1e2 are refused */
	T_BOOL,
	T_OBJECT,
	T_ARRAY,
	T_CREATE,  /* "builtin", "none" or a command object */
	T_COMMAND, /* null or a command object */
};

static const struct {
	const char *name;
	enum ftype type;
} field_types[] = {
	{ "pool", T_STRING },      { "name", T_STRING },       { "owner", T_STRING },
	{ "request_id", T_STRING }, { "bind", T_STRING },      { "lease", T_STRING },
	{ "state", T_STRING },     { "order", T_STRING },      { "on_expire", T_STRING },
	{ "token", T_STRING },     { "after", T_CURSOR },      { "ttl", T_SECONDS },
	{ "wait", T_SECONDS },     { "idle_ttl", T_SECONDS },  { "lease_ttl", T_SECONDS },
	{ "max_lease_ttl", T_SECONDS }, { "limit", T_INT },    { "version", T_INT },
	{ "max_size", T_INT },     { "min_idle", T_INT },      { "max_idle", T_INT },
	{ "max_waiters", T_INT },  { "force", T_BOOL },        { "discard", T_BOOL },
	{ "descriptor", T_OBJECT }, { "match", T_OBJECT },     { "resources", T_ARRAY },
	{ "create", T_CREATE },    { "destroy", T_COMMAND },   { "reset", T_COMMAND },
};

/* A value of each JSON type, as literal text. */
enum jkind { K_STRING, K_INT, K_FRACTION, K_BOOL, K_NULL, K_ARRAY, K_OBJECT, K_COUNT };
static const char *const kind_text[K_COUNT] = { "\"x\"", "7", "1.5", "true", "null", "[1]",
						 "{\"a\":1}" };

static bool kind_fits(enum ftype t, enum jkind k)
{
	switch (t) {
	case T_STRING:
		return k == K_STRING;
	case T_CURSOR:
		return k == K_STRING || k == K_NULL;
	case T_SECONDS:
		return k == K_INT || k == K_FRACTION;
	case T_INT:
		return k == K_INT;
	case T_BOOL:
		return k == K_BOOL;
	case T_OBJECT:
		return k == K_OBJECT;
	case T_ARRAY:
		return k == K_ARRAY;
	case T_CREATE:
		return k == K_STRING || k == K_OBJECT;
	case T_COMMAND:
		return k == K_NULL || k == K_OBJECT;
	}
	return false;
}

static bool field_type(const char *name, enum ftype *t)
{
	for (size_t i = 0; i < sizeof(field_types) / sizeof(field_types[0]); i++)
		if (strcmp(field_types[i].name, name) == 0) {
			*t = field_types[i].type;
			return true;
		}
	return false;
}

#define MAX_DOC_OPS 40
#define MAX_DOC_FIELDS 32

struct doc_field {
	char name[32];
	bool required;
	bool item; /* a field of each element of "resources" */
};

struct doc_op {
	char name[32];
	struct doc_field f[MAX_DOC_FIELDS];
	int nf;
};

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text;
	long len;

	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

static void add_field(struct doc_op *op, const char *name, size_t len, bool required, bool item)
{
	assert_true(op->nf < MAX_DOC_FIELDS && len > 0 && len < sizeof(op->f[0].name));
	memcpy(op->f[op->nf].name, name, len);
	op->f[op->nf].name[len] = '\0';
	op->f[op->nf].required = required;
	op->f[op->nf].item = item;
	op->nf++;
}

/* The pool settings: the quoted keys of "**Pool**: `{...}`" but name and
 * state, plus the `NAME` **(extension)** bullets after it (not the
 * read-only ones). */
static int doc_settings(const char *text, char names[][32], int max)
{
	const char *p = strstr(text, "**Pool**: `{");
	const char *end = p ? strstr(p, "}`") : NULL, *ops = p ? strstr(p, "## Operations") : NULL;
	int n = 0;

	if (!end || !ops)
		fail_msg("docs/protocol.md: cannot find the Pool object (**Pool**: `{...}`)");
	for (const char *q = p; q < end; q++) {
		const char *close;

		if (*q != '"' || !(close = strchr(q + 1, '"')) || close > end)
			continue;
		if (close - q - 1 < 32 && strncmp(q + 1, "name\"", 5) && strncmp(q + 1, "state\"", 6)) {
			assert_true(n < max);
			snprintf(names[n++], 32, "%.*s", (int)(close - q - 1), q + 1);
		}
		q = close;
	}
	for (const char *q = end; q < ops; q++) {
		const char *close;

		if (strncmp(q, "\n- `", 4) != 0 || !(close = strchr(q + 4, '`')))
			continue;
		if (strncmp(close, "` **(extension)**", 17) == 0 && close - q - 4 < 32) {
			assert_true(n < max);
			snprintf(names[n++], 32, "%.*s", (int)(close - q - 4), q + 4);
		}
	}
	return n;
}

/* The ops and their fields from the table under "## Operations" in
 * docs/protocol.md: backquoted names in the second column, optional when a
 * '?' follows, inside [...] the fields of each element, inside (...) values
 * (not fields); "settings" stands for every pool setting. */
static int doc_ops(struct doc_op *ops, int max)
{
	char path[1024];
	const char *src = __FILE__, *tail = "tests/func/test_hostile_clients.c";
	size_t sl = strlen(src), tl = strlen(tail);
	char *text, *p, *stop;
	char settings[32][32];
	int nset, n = 0;

	if (sl < tl || strcmp(src + sl - tl, tail) != 0 || src[0] != '/')
		fail_msg("cannot find docs/protocol.md from __FILE__ %s", src);
	snprintf(path, sizeof(path), "%.*sdocs/protocol.md", (int)(sl - tl), src);
	text = read_text(path);
	nset = doc_settings(text, settings, 32);
	p = strstr(text, "\n## Operations");
	assert_non_null(p);
	stop = strstr(p, "\n### ");
	assert_non_null(stop);
	while ((p = strstr(p, "\n| `")) && p < stop) {
		char *eol = strchr(p + 1, '\n'), *c1, *c2, *c3, *q;
		struct doc_op *op;
		int paren = 0, bracket = 0;

		p++;
		c1 = strchr(p + 1, '|');
		c2 = c1 ? strchr(c1 + 1, '|') : NULL;
		c3 = c2 ? strchr(c2 + 1, '|') : NULL;
		if (!c3 || c3 > eol)
			fail_msg("docs/protocol.md: cannot read the row %.80s", p);
		assert_true(n < max);
		op = &ops[n++];
		memset(op, 0, sizeof(*op));
		q = strchr(p, '`');
		snprintf(op->name, sizeof(op->name), "%.*s", (int)(strchr(q + 1, '`') - q - 1), q + 1);
		for (q = c1 + 1; q < c2; q++) {
			char *close;

			if (*q == '(')
				paren++;
			else if (*q == ')')
				paren--;
			else if (*q == '[')
				bracket++;
			else if (*q == ']')
				bracket--;
			if (*q != '`')
				continue;
			close = strchr(q + 1, '`');
			assert_true(close && close < c2);
			if (paren == 0)
				add_field(op, q + 1, (size_t)(close - q - 1), close[1] != '?',
					  bracket > 0);
			q = close;
		}
		*c2 = '\0';
		if (strstr(c1, "settings"))
			for (int i = 0; i < nset; i++)
				add_field(op, settings[i], strlen(settings[i]), false, false);
		p = eol;
	}
	free(text);
	return n;
}

/* A valid value for a required field, so that only the mutated field is
 * wrong. Names refer to nothing, so a request that got through would change
 * nothing either (pool.set needs its pool to exist to reach the settings). */
static const char *valid_value(const char *op, const char *field)
{
	if (strcmp(field, "pool") == 0)
		return strcmp(op, "pool.create") == 0 ? "\"wt-new\"" : "\"p\"";
	if (strcmp(field, "name") == 0)
		return "\"nosuch\"";
	if (strcmp(field, "lease") == 0)
		return "\"0123456789abcdef0123456789abcdef\"";
	if (strcmp(field, "descriptor") == 0)
		return "{}";
	if (strcmp(field, "version") == 0)
		return "1";
	if (strcmp(field, "token") == 0)
		return "\"x\"";
	if (strcmp(field, "resources") == 0)
		return "[{\"name\":\"wt-item\",\"descriptor\":{}}]";
	fail_msg("no valid value known for the required field %s of %s", field, op);
	return NULL;
}

/* Appends to buf (NUL-terminated, capacity cap). */
__attribute__((format(printf, 3, 4))) static void cat(char *buf, size_t cap, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + used, cap - used, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < cap - used);
}

/* The request of op with its required fields valid and `field` set to the
 * literal `value`. */
static void wrong_request(char *buf, size_t cap, const struct doc_op *op,
			  const struct doc_field *field, const char *value)
{
	snprintf(buf, cap, "{\"op\":\"%s\"", op->name);
	for (int i = 0; i < op->nf; i++) {
		const struct doc_field *f = &op->f[i];

		if (f->item || f == field)
			continue;
		if (strcmp(f->name, "resources") == 0 && field->item) {
			/* the element: its required fields valid, the mutated one wrong */
			cat(buf, cap, ",\"resources\":[{");
			for (int k = 0, first = 1; k < op->nf; k++) {
				const struct doc_field *e = &op->f[k];

				if (!e->item || (e != field && !e->required))
					continue;
				cat(buf, cap, "%s\"%s\":%s", first ? "" : ",", e->name,
				    e == field ? value : valid_value(op->name, e->name));
				first = 0;
			}
			cat(buf, cap, "}]");
			continue;
		}
		if (f->required)
			cat(buf, cap, ",\"%s\":%s", f->name, valid_value(op->name, f->name));
	}
	if (!field->item)
		cat(buf, cap, ",\"%s\":%s", field->name, value);
	cat(buf, cap, "}");
}

static void test_wrong_types(void **state)
{
	poold_proc *d = poold_start(NULL);
	struct doc_op ops[MAX_DOC_OPS];
	int nops = doc_ops(ops, MAX_DOC_OPS), nfields = 0, sent = 0, failures = 0;
	struct attack a;
	raw_conn *r;
	json_t *stats;
	/* more ways to be a non-integer, for the integer fields */
	static const char *const int_extra[] = { "1.0", "1e2", "-0.5" };
	/* envelope: id takes a string, an integer or null; op a string */
	static const char *const bad_ids[] = { "1.5", "true", "false", "[1]", "{\"a\":1}", "1e2" };

	/* the table must be there, whole */
	if (nops < 23)
		fail_msg("docs/protocol.md lists only %d ops", nops);
	for (int i = 0; i < nops; i++)
		for (int k = 0; k < ops[i].nf; k++) {
			enum ftype t;

			if (!field_type(ops[i].f[k].name, &t))
				fail_msg("docs/protocol.md: field %s of %s has no type in this "
					 "test's table: add it", ops[i].f[k].name, ops[i].name);
			nfields++;
		}
	print_message("docs/protocol.md: %d ops, %d fields\n", nops, nfields);
	if (getenv("POOL_TEST_VERBOSE"))
		for (int i = 0; i < nops; i++) {
			char list[1024] = "";

			for (int k = 0; k < ops[i].nf; k++)
				cat(list, sizeof(list), " %s%s%s", ops[i].f[k].item ? "resources[]." : "",
				    ops[i].f[k].name, ops[i].f[k].required ? "" : "?");
			print_message("  %s:%s\n", ops[i].name, list);
		}
	attack_begin(&a, "wrong types", d, NULL);
	r = raw_connect(d->sock);
	for (int i = 0; i < nops; i++) {
		const struct doc_op *op = &ops[i];
		char req[49152]; /* room for any field list the doc could give */

		for (int k = 0; k < op->nf; k++) {
			const struct doc_field *f = &op->f[k];
			const char *values[K_COUNT + 3];
			int nv = 0;
			enum ftype t = T_STRING;

			field_type(f->name, &t);
			for (int kind = 0; kind < K_COUNT; kind++)
				if (!kind_fits(t, (enum jkind)kind))
					values[nv++] = kind_text[kind];
			if (t == T_INT)
				for (size_t e = 0; e < sizeof(int_extra) / sizeof(int_extra[0]); e++)
					values[nv++] = int_extra[e];
			for (int v = 0; v < nv; v++) {
				json_t *resp;
				const char *msg;

				wrong_request(req, sizeof(req), op, f, values[v]);
				resp = rq(r, "%s", req);
				sent++;
				msg = json_string_value(json_object_get(json_object_get(resp, "error"),
									"message"));
				if (strcmp(resp_code(resp), "bad_request") != 0 || !msg) {
					char *s = json_dumps(resp, JSON_COMPACT);

					print_error("%s (%s%s = %s): want bad_request, got %s\n", req,
						    f->item ? "resources[]." : "", f->name, values[v], s);
					free(s);
					failures++;
				} else if (!strstr(msg, f->name)) {
					print_error("%s: the message does not name the field %s: %s\n",
						    req, f->name, msg);
					failures++;
				}
				json_decref(resp);
			}
		}
		/* the envelope of this op */
		for (size_t v = 0; v < sizeof(bad_ids) / sizeof(bad_ids[0]); v++) {
			json_t *resp;

			snprintf(req, sizeof(req), "{\"op\":\"%s\",\"id\":%s}", op->name, bad_ids[v]);
			resp = rq(r, "%s", req);
			sent++;
			if (strcmp(resp_code(resp), "bad_request") != 0) {
				char *s = json_dumps(resp, JSON_COMPACT);

				print_error("%s: want bad_request, got %s\n", req, s);
				free(s);
				failures++;
			}
			json_decref(resp);
		}
	}
	for (int kind = 0; kind < K_COUNT; kind++) {
		char req[128];
		json_t *resp;

		if (kind == K_STRING)
			continue;
		snprintf(req, sizeof(req), "{\"op\":%s,\"pool\":\"p\"}", kind_text[kind]);
		resp = rq(r, "%s", req);
		sent++;
		if (strcmp(resp_code(resp), "bad_request") != 0) {
			char *s = json_dumps(resp, JSON_COMPACT);

			print_error("%s: want bad_request, got %s\n", req, s);
			free(s);
			failures++;
		}
		json_decref(resp);
	}
	attack_sample(&a);
	/* the same connection is still usable */
	rq_ok(r, "{\"op\":\"ping\",\"id\":\"still\"}");
	raw_close(r);
	if (failures)
		fail_msg("%d of %d wrongly typed requests were not refused as they should be "
			 "(listed above)", failures, sent);
	stats = attack_end(&a);
	print_message("wrong types: %d requests, bad_requests moved by %lld\n", sent,
		      (long long)moved(&a, stats, "bad_requests"));
	assert_int_equal(moved(&a, stats, "bad_requests"), sent);
	json_decref(stats);
	attack_free(&a);
	poold_stop(d);
}

/* ---- 3. a 100 MB line with no newline ------------------------------------- */

static void test_100mb_line(void **state)
{
	poold_proc *d = poold_start(NULL);
	const size_t total = 100u << 20, chunk = 1u << 20;
	size_t written = 0;
	struct attack a;
	raw_conn *r;
	char *buf = malloc(chunk);
	int err = 0;
	json_t *resp, *stats;

	assert_non_null(buf);
	attack_begin(&a, "100 MB line", d, NULL);
	r = raw_connect(d->sock);
	memset(buf, 'a', chunk);
	memcpy(buf, "{\"op\":\"ping\",\"pad\":\"", 20);
	while (written < total && err == 0) {
		written += write_until_error(r->fd, buf, chunk, 10.0, &err);
		if (written > 20)
			memset(buf, 'a', 20);
		attack_sample(&a);
	}
	print_message("100 MB line: wrote %zu bytes before %s\n", written,
		      err ? strerror(err) : "the end");
	if (err == ETIMEDOUT)
		fail_msg("the daemon stopped reading the line but did not close (after %zu bytes)",
			 written);
	if (err != EPIPE && err != ECONNRESET)
		fail_msg("the daemon took the whole 100 MB line without closing (err %s)",
			 err ? strerror(err) : "none");
	/* it answered at the limit, and the answer is still there to read */
	assert_true(written < 16u << 20);
	resp = raw_recv(r, 10);
	resp_expect_err(resp, "too_large");
	json_decref(resp);
	assert_true(raw_wait_eof(r, 10));
	raw_close(r);
	stats = attack_end(&a);
	/* it never held the line: the peak stays within the bound too */
	if (a.rss_peak > a.rss_base + rss_slack_kb())
		fail_msg("peak RSS %ld kB: more than baseline %ld kB + %ld kB", a.rss_peak,
			 a.rss_base, rss_slack_kb());
	assert_int_equal(moved(&a, stats, "too_large"), 1);
	json_decref(stats);
	attack_free(&a);
	free(buf);
	poold_stop(d);
}

/* ---- 4. 100,000-deep nesting ----------------------------------------------- */

/* prefix + open^depth + middle + close^depth + suffix + '\n' (malloc'd). */
static char *nested(const char *prefix, const char *open, const char *middle,
		    const char *close, size_t depth, const char *suffix, size_t *len)
{
	size_t lo = strlen(open), lc = strlen(close);
	size_t cap = strlen(prefix) + depth * (lo + lc) + strlen(middle) + strlen(suffix) + 2;
	char *s = malloc(cap), *p = s;

	assert_non_null(s);
	p += sprintf(p, "%s", prefix);
	for (size_t i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	p += sprintf(p, "%s", middle);
	for (size_t i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	p += sprintf(p, "%s\n", suffix);
	*len = (size_t)(p - s);
	return s;
}

static void test_deep_nesting(void **state)
{
	poold_proc *d = poold_start(NULL);
	struct attack a;
	raw_conn *r;
	json_t *stats;
	int sent = 0, deep_ones = 0;
	const struct {
		const char *prefix, *open, *middle, *close, *suffix;
		size_t depth;
		bool parses; /* within jansson's own limit: refused by --max-depth */
	} cases[] = {
		{ "", "[", "", "]", "", 100000, false },
		{ "", "[", "", "", "", 100000, false }, /* never closed */
		{ "", "{\"a\":", "1", "}", "", 100000, false },
		{ "{\"op\":\"ping\",\"x\":", "[", "", "]", "}", 100000, false },
		{ "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":\"deep\","
		  "\"descriptor\":", "{\"a\":", "{}", "}", "}]}", 100000, false },
		{ "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":\"deep\","
		  "\"descriptor\":", "{\"a\":", "{}", "}", "}]}", 1000, true },
		{ "{\"op\":\"ping\",\"x\":", "[", "", "]", "}", 1000, true },
		{ "{\"op\":\"ping\",\"x\":", "[", "", "]", "}", 64, true },
	};

	attack_begin(&a, "deep nesting", d, NULL);
	r = raw_connect(d->sock);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *line = nested(cases[i].prefix, cases[i].open, cases[i].middle, cases[i].close,
				    cases[i].depth, cases[i].suffix, &len);
		json_t *resp;

		assert_int_equal(raw_write(r, line, len), 0);
		free(line);
		resp = recv_answer_at(__FILE__, __LINE__, r, 20);
		resp_expect_err(resp, "bad_request");
		print_message("depth %zu (%s...): %s\n", cases[i].depth, cases[i].prefix[0] ?
			      "request" : cases[i].open, json_string_value(json_object_get(
				      json_object_get(resp, "error"), "message")));
		json_decref(resp);
		sent++;
		if (cases[i].parses)
			deep_ones++;
		attack_sample(&a);
	}
	rq_ok(r, "{\"op\":\"ping\",\"id\":\"still\"}");
	raw_close(r);
	stats = attack_end(&a);
	assert_int_equal(moved(&a, stats, "bad_requests"), sent);
	/* the ones the parser takes are refused by --max-depth (64) and counted */
	assert_int_equal(moved(&a, stats, "too_deep"), deep_ones);
	json_decref(stats);
	attack_free(&a);
	poold_stop(d);
}

/* ---- 5. half a request, then a disconnect ---------------------------------- */

static void test_half_request(void **state)
{
	poold_proc *d = poold_start(NULL);
	static const char half[] = "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":"
				   "[{\"name\":\"half\",\"descriptor\":{\"k\":1}}]";
	/* under ASan freed memory stays resident in the allocator's quarantine
	 * (256 MiB), so rounds would only add up there: one round, and
	 * LeakSanitizer (at poold's exit, checked by poold_stop) finds leaks */
	const int nbig = 10, rounds = poold_asan() ? 1 : 3, batch = 50;
	const size_t bigsize = 900 * 1024;
	struct attack a;
	raw_conn *r, *big[10];
	char *buf = malloc(bigsize);
	json_t *stats;
	int err;

	assert_non_null(buf);
	attack_begin(&a, "half requests", d, NULL);

	/* half a mutating line, then an abrupt close */
	r = raw_connect(d->sock);
	raw_send(r, half);
	raw_close(r);
	/* the same, then a half-close: the daemon closes, answering nothing */
	r = raw_connect(d->sock);
	raw_send(r, half);
	assert_int_equal(shutdown(r->fd, SHUT_WR), 0);
	assert_true(raw_wait_eof(r, 10));
	assert_int_equal(r->len, 0);
	raw_close(r);

	/* in the middle of a pipelined batch: 50 whole lines, half a line,
	 * half-close: exactly the 50 answers come back, then the close */
	r = raw_connect(d->sock);
	for (int i = 0; i < batch; i++) {
		char line[200];

		snprintf(line, sizeof(line), i % 2 ? "{\"op\":\"resource.get\",\"pool\":\"p\","
			 "\"name\":\"r2\",\"id\":%d}\n" : "{\"op\":\"status\",\"id\":%d}\n", i);
		raw_send(r, line);
	}
	raw_send(r, half);
	assert_int_equal(shutdown(r->fd, SHUT_WR), 0);
	for (int i = 0; i < batch; i++) {
		json_t *resp = raw_recv(r, 20);

		assert_int_equal(JINT(resp, "id"), i);
		resp_result(resp);
		json_decref(resp);
	}
	assert_true(raw_wait_eof(r, 10));
	assert_int_equal(r->len, 0);
	raw_close(r);
	/* and the batch closed abruptly with its answers unread */
	for (int k = 0; k < 5; k++) {
		r = raw_connect(d->sock);
		for (int i = 0; i < batch; i++)
			raw_send(r, "{\"op\":\"pool.list\"}\n");
		raw_send(r, half);
		raw_close(r);
	}

	/* 10 connections each holding 900 KiB of half a line (under --max-line),
	 * then gone; 3 rounds: 27 MiB pass through, more than the RSS bound, so
	 * half lines that were kept would show (the RSS after each round is
	 * printed: it must not grow round after round) */
	memset(buf, 'a', bigsize);
	memcpy(buf, half, sizeof(half) - 1);
	memcpy(buf + sizeof(half) - 1 - 3, ",\"pad\":\"", 8); /* inside the descriptor */
	for (int round = 0; round < rounds; round++) {
		raw_conn *h;

		for (int i = 0; i < nbig; i++) {
			big[i] = raw_connect(d->sock);
			assert_int_equal(write_until_error(big[i]->fd, buf, bigsize, 10, &err), bigsize);
			assert_int_equal(err, 0);
		}
		h = helper_connect(d);
		WAIT_UNTIL(conns_on(h) == 1 + nbig, 10);
		attack_sample(&a);
		for (int i = 0; i < nbig; i++)
			raw_close(big[i]);
		WAIT_UNTIL(conns_on(h) == 1, 10);
		raw_close(h);
		print_message("half lines, round %d: RSS %ld kB with them, %ld kB after\n", round + 1,
			      a.rss_attack, proc_kb(d->pid, "VmRSS"));
	}
	free(buf);
	stats = attack_end(&a);
	/* nothing was refused: half lines are not requests */
	assert_int_equal(moved(&a, stats, "bad_requests"), 0);
	assert_int_equal(moved(&a, stats, "too_large"), 0);
	json_decref(stats);
	attack_free(&a);
	poold_stop(d);
}

/* ---- 6. 1,000 idle connections -------------------------------------------- */

static void test_1000_idle_connections(void **state)
{
	const int n = 1000;
	struct rlimit rl;
	poold_proc *d;
	struct attack a;
	raw_conn **conns = calloc((size_t)n, sizeof(*conns));
	raw_conn *h;
	json_t *stats;

	assert_non_null(conns);
	/* poold inherits the limit: both need n descriptors and some */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < (rlim_t)n + 200) {
		if (rl.rlim_max < (rlim_t)n + 200) {
			print_message("SKIPPED: RLIMIT_NOFILE hard limit %llu < %d\n",
				      (unsigned long long)rl.rlim_max, n + 200);
			free(conns);
			skip();
		}
		rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	d = poold_start("--max-conns", "2000", NULL);
	attack_begin(&a, "1000 idle connections", d, NULL);
	for (int i = 0; i < n; i++)
		conns[i] = raw_connect(d->sock);
	h = helper_connect(d);
	WAIT_UNTIL(conns_on(h) == n + 1, 20);
	attack_sample(&a);
	/* a normal client is served at once while they are held */
	normal_client(d, "1000 idle connections (held)");
	/* and they are real connections: a sample of them answers */
	for (int i = 0; i < n; i += 97)
		rq_ok(conns[i], "{\"op\":\"ping\"}");
	for (int i = 0; i < n; i++)
		raw_close(conns[i]);
	WAIT_UNTIL(conns_on(h) == 1, 20);
	raw_close(h);
	free(conns);
	stats = attack_end(&a);
	assert_int_equal(moved(&a, stats, "conns_refused"), 0);
	assert_int_equal(moved(&a, stats, "idle_closed"), 0);
	json_decref(stats);
	attack_free(&a);
	poold_stop(d);
}

/* ---- 7. a client that sends but never reads -------------------------------- */

/* True when the peer has closed r's socket (looked at without reading). */
static bool hung_up(void *arg)
{
	raw_conn *r = arg;
	struct pollfd pfd = { .fd = r->fd, .events = POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

static void test_never_reads(void **state)
{
	poold_proc *d = poold_start("--max-output", "1048576", NULL);
	struct attack a;
	raw_conn *slow, *other;
	char batch[100 * 16 + 1];
	size_t sent = 0;
	double end, worst = 0, next_check = 0;
	int err = 0, pings = 0;
	bool counted = false;
	json_t *stats;

	attack_begin(&a, "never reads", d, NULL);
	batch[0] = '\0';
	for (int i = 0; i < 100; i++)
		strcat(batch, "{\"op\":\"status\"}\n");
	slow = raw_connect(d->sock);
	other = raw_connect(d->sock);
	/* pipeline status requests, never reading, until the daemon counts it
	 * as a slow reader or hangs up; a second client is served all along */
	end = h_now() + 30;
	while (!counted && h_now() < end) {
		sent += write_until_error(slow->fd, batch, strlen(batch), 0.05, &err);
		if (err == ETIMEDOUT)
			err = 0; /* the daemon stopped reading it */
		if (err)
			break;
		if (h_now() >= next_check) {
			double t0 = h_now();
			json_t *dm = daemon_stats_on(other);

			if (h_now() - t0 > worst)
				worst = h_now() - t0;
			pings++;
			counted = moved(&a, dm, "slow_readers") > 0;
			json_decref(dm);
			next_check = h_now() + 0.02;
			attack_sample(&a);
		}
	}
	print_message("never reads: %zu bytes of requests sent (%zu status) until %s; "
		      "other client: %d status requests, slowest %.1f ms\n", sent, sent / 16,
		      counted ? "counted as a slow reader" : err ? strerror(err) : "the deadline",
		      pings, worst * 1e3);
	if (!counted && err != EPIPE && err != ECONNRESET)
		fail_msg("the daemon did not disconnect a client that never reads");
	/* disconnected means the socket is closed: the client sees the hang-up
	 * without having to read (reading would let the daemon flush and
	 * close, which hides a held connection) */
	if (!wait_until(hung_up, slow, 10.0)) {
		attack_sample(&a);
		fail_msg("a slow reader was counted (slow_readers) but its connection is not "
			 "closed 10 s later: poold still holds %d socket(s) besides its own %d "
			 "descriptors and the other client's, RSS %ld kB (baseline %ld kB)",
			 proc_fds(d->pid) - a.fds_base - 1, a.fds_base, a.rss_attack, a.rss_base);
	}
	/* what was already in the socket can be read, then the end */
	assert_true(raw_wait_eof(slow, 10));
	raw_close(slow);
	/* others unaffected: every status above was answered (rq's deadline) */
	rq_ok(other, "{\"op\":\"ping\"}");
	raw_close(other);
	stats = attack_end(&a);
	assert_int_equal(moved(&a, stats, "slow_readers"), 1);
	json_decref(stats);
	attack_free(&a);
	poold_stop(d);
}

/* ---- 8. a connect storm past --max-conns ----------------------------------- */

static void test_connect_storm(void **state)
{
	const int max = 50, n = 200;
	poold_proc *d = poold_start("--max-conns", "50", NULL);
	struct attack a;
	raw_conn *keep, *conns[200];
	bool eof[200], answered[200];
	int refused = 0, accepted = 0, lines = 0;
	double end;
	json_t *stats;

	attack_begin(&a, "connect storm", d, NULL);
	/* one connection of our own is held through the storm (it counts) */
	keep = raw_connect(d->sock);
	WAIT_UNTIL(conns_on(keep) == 1, 10);
	for (int i = 0; i < n; i++) {
		conns[i] = raw_connect_try(d->sock);
		if (!conns[i])
			fail_msg("connect %d of the storm failed: %s", i, strerror(errno));
		eof[i] = answered[i] = false;
	}
	attack_sample(&a);
	/* the refused ones get one busy line and are closed */
	end = h_now() + 20;
	while (refused < n - (max - 1) && h_now() < end) {
		struct pollfd pfd[200];

		for (int i = 0; i < n; i++) {
			pfd[i].fd = eof[i] ? -1 : conns[i]->fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)n, 100) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			char *line;

			if (!pfd[i].revents)
				continue;
			while ((line = raw_read_line(conns[i], 0.001))) {
				json_t *j = json_loads(line, 0, NULL);

				if (!j || strcmp(resp_code(j), "busy") != 0)
					fail_msg("connection %d of the storm got %.300s", i, line);
				if (answered[i])
					fail_msg("connection %d got two busy lines", i);
				answered[i] = true;
				lines++;
				json_decref(j);
				free(line);
			}
			if (conns[i]->eof) {
				eof[i] = true;
				if (!answered[i])
					fail_msg("connection %d was closed without a busy line", i);
				refused++;
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (!eof[i])
			accepted++;
	print_message("connect storm: %d connections, %d refused with busy, %d accepted "
		      "(+1 of our own; --max-conns %d)\n", n, refused, accepted, max);
	assert_int_equal(accepted, max - 1);
	assert_int_equal(refused, n - (max - 1));
	assert_int_equal(lines, refused);
	/* the accepted ones are real, working connections */
	for (int i = 0; i < n; i++)
		if (!eof[i])
			rq_ok(conns[i], "{\"op\":\"ping\"}");
	/* still full: one more is refused too */
	{
		raw_conn *extra = raw_connect(d->sock);
		json_t *resp = raw_recv(extra, 10);

		resp_expect_err(resp, "busy");
		json_decref(resp);
		assert_true(raw_wait_eof(extra, 10));
		raw_close(extra);
		refused++;
	}
	for (int i = 0; i < n; i++)
		raw_close(conns[i]);
	WAIT_UNTIL(conns_on(keep) == 1, 10);
	raw_close(keep);
	stats = attack_end(&a);
	assert_int_equal(moved(&a, stats, "conns_refused"), refused);
	json_decref(stats);
	attack_free(&a);
	poold_stop(d);
}

/* ---- 9. --idle-timeout ------------------------------------------------------- */

static bool is_open(raw_conn *r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };

	if (r->eof)
		return false;
	if (poll(&pfd, 1, 0) == 1) {
		char c;

		if (recv(r->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			return false;
	}
	return true;
}

static void test_idle_timeout(void **state)
{
	poold_proc *d;
	static const char *const skip_x[] = { "probe", "x", NULL };
	struct attack a;
	raw_conn *silent, *waiter, *watcher, *bound;
	double t_silent, t_wait, took;
	json_t *resp, *stats;

	helpers_watch = true;
	d = poold_start("--idle-timeout", "1", NULL);
	attack_begin(&a, "idle timeout", d, skip_x);
	/* a connection-bound lease empties pool x and keeps its connection */
	bound = raw_connect(d->sock);
	resp = rq(bound, "{\"op\":\"lease\",\"pool\":\"x\",\"ttl\":0,\"bind\":\"connection\"}");
	resp_result(resp);
	json_decref(resp);
	/* a waiting lease request on the exhausted pool */
	waiter = raw_connect(d->sock);
	raw_send(waiter, "{\"op\":\"lease\",\"pool\":\"x\",\"wait\":5,\"id\":\"w\"}\n");
	t_wait = h_now();
	/* a watch */
	watcher = raw_connect(d->sock);
	rq_ok(watcher, "{\"op\":\"watch\",\"pool\":\"x\"}");
	/* and a silent connection, opened last: the others are silent longer */
	silent = raw_connect(d->sock);
	t_silent = h_now();
	assert_true(raw_wait_eof(silent, 10));
	took = h_now() - t_silent;
	raw_close(silent);
	print_message("idle timeout 1 s: the silent connection was closed after %.2f s\n", took);
	/* not before its second of silence (raw_wait_eof's 10 s bound it above:
	 * a loaded machine may be late, never early) */
	if (took < 0.9)
		fail_msg("the silent connection was closed after %.2f s (want >= 1 s)", took);
	/* the other three stay, and stay a while longer */
	assert_true(is_open(waiter) && is_open(watcher) && is_open(bound));
	assert_true(raw_silent(watcher, 1.5));
	assert_true(is_open(waiter) && is_open(bound));
	{
		json_t *dm = daemon_stats(d);

		assert_int_equal(moved(&a, dm, "idle_closed"), 1);
		json_decref(dm);
	}
	/* the wait ends with timeout after 5 s; then that connection is idle */
	resp = raw_recv(waiter, 15);
	resp_expect_err(resp, "timeout");
	json_decref(resp);
	took = h_now() - t_wait;
	if (took < 4.5)
		fail_msg("the waiting request ended after %.2f s, before its wait of 5 s", took);
	assert_true(raw_wait_eof(waiter, 10));
	raw_close(waiter);
	/* the watch and the bound lease are still there, long after 1 s */
	assert_true(is_open(watcher) && is_open(bound));
	raw_close(watcher);
	raw_close(bound);
	stats = attack_end(&a);
	assert_int_equal(moved(&a, stats, "idle_closed"), 2);
	json_decref(stats);
	attack_free(&a);
	helpers_watch = false;
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_garbage_bytes),
		FTEST(test_nul_only_line),
		FTEST(test_wrong_types),
		FTEST(test_100mb_line),
		FTEST(test_deep_nesting),
		FTEST(test_half_request),
		FTEST(test_1000_idle_connections),
		FTEST(test_never_reads),
		FTEST(test_connect_storm),
		FTEST(test_idle_timeout),
	};
	int rc = RUN_FTESTS(tests);

	fprintf(stderr, "\nRSS figures (kB; bound = baseline + %ld; poold %s):\n", rss_slack_kb(),
		poold_asan() ? "with ASan" : "without sanitizers");
	fprintf(stderr, "%-24s %10s %10s %10s %10s %10s %8s\n", "attack", "baseline", "attack",
		"peak", "after", "normal ms", "fds");
	for (int i = 0; i < nfigures; i++)
		fprintf(stderr, "%-24s %10ld %10ld %10ld %10ld %10.1f %4d/%-4d\n", figures[i].name,
			figures[i].rss_base, figures[i].rss_attack, figures[i].rss_peak,
			figures[i].rss_after, figures[i].latency * 1e3, figures[i].fds_base,
			figures[i].fds_after);
	return rc;
}
