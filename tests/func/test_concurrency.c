/*
 * test_concurrency.c - many client processes against one real daemon. Each
 * records, with CLOCK_MONOTONIC timestamps taken after the lease answer and
 * before the release, when it held which resource; the parent checks that no
 * two holds of one resource overlap (a resource is held by at most one live
 * lease), that fencing tokens grow in hold order, and the final counters.
 */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NRES 4

/* One hold of one resource by one client. */
struct hold {
	int res;         /* index in the pool's resources r0..r3 */
	int client;
	uint64_t t0;     /* after the lease answer arrived */
	uint64_t t1;     /* before the release was sent */
	long long token;
};

static int res_index(const char *name)
{
	if (!name || name[0] != 'r' || name[1] < '0' || name[1] >= '0' + NRES || name[2])
		return -1;
	return name[1] - '0';
}

static int cmp_hold(const void *a, const void *b)
{
	const struct hold *x = a, *y = b;

	if (x->res != y->res)
		return x->res - y->res;
	return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

/* Reads every client's record file and checks holds never overlap. */
static void check_holds(poold_proc *d, int clients, int cycles)
{
	size_t n = (size_t)clients * (size_t)cycles;
	struct hold *h = calloc(n, sizeof(*h));
	size_t got = 0;

	assert_non_null(h);
	for (int i = 0; i < clients; i++) {
		char path[400];
		int fd;
		ssize_t r;

		snprintf(path, sizeof(path), "%s/holds-%d", d->dir, i);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		r = read(fd, h + got, sizeof(*h) * (size_t)cycles);
		close(fd);
		assert_int_equal(r, (ssize_t)(sizeof(*h) * (size_t)cycles));
		got += (size_t)cycles;
	}
	qsort(h, n, sizeof(*h), cmp_hold);
	for (size_t i = 0; i < n; i++) {
		assert_true(h[i].res >= 0 && h[i].res < NRES);
		assert_true(h[i].t1 >= h[i].t0);
		if (i > 0 && h[i].res == h[i - 1].res) {
			if (h[i].t0 < h[i - 1].t1)
				fail_msg("r%d held twice at once: client %d [%llu, %llu] and "
					 "client %d [%llu, %llu]",
					 h[i].res, h[i - 1].client, (unsigned long long)h[i - 1].t0,
					 (unsigned long long)h[i - 1].t1, h[i].client,
					 (unsigned long long)h[i].t0, (unsigned long long)h[i].t1);
			if (h[i].token <= h[i - 1].token)
				fail_msg("r%d: token %lld granted after token %lld", h[i].res,
					 h[i].token, h[i - 1].token);
		}
	}
	free(h);
}

/* A child: `cycles` lease/return rounds, holds written to DIR/holds-<i>. */
static void lease_return_client(poold_proc *d, int i, int cycles)
{
	char path[400];
	struct hold *h = calloc((size_t)cycles, sizeof(*h));
	pool_error err;
	pool_client *c = pool_connect(d->sock, &err);
	pool_lease_opts o;
	int fd;

	CHILD_CHECK(h != NULL);
	if (!c) {
		fprintf(stderr, "client %d: connect: %s\n", i, err.message);
		_exit(1);
	}
	pool_set_timeout(c, 120);
	memset(&o, 0, sizeof(o));
	o.wait = 60;
	o.ttl_set = 1;
	o.ttl = 600;
	for (int k = 0; k < cycles; k++) {
		pool_lease *l = NULL;

		if (pool_lease_acquire(c, "c", &o, &l, &err) != 0) {
			fprintf(stderr, "client %d cycle %d: lease: %s %s\n", i, k,
				pool_code_name(err.code), err.message);
			_exit(1);
		}
		h[k].t0 = h_now_ns();
		h[k].res = res_index(pool_lease_resource(l));
		h[k].client = i;
		h[k].token = pool_lease_token(l);
		h[k].t1 = h_now_ns();
		if (pool_return(c, pool_lease_id(l), NULL, 0, &err) != 0) {
			fprintf(stderr, "client %d cycle %d: return: %s %s\n", i, k,
				pool_code_name(err.code), err.message);
			_exit(1);
		}
		pool_lease_free(l);
	}
	pool_close(c);
	snprintf(path, sizeof(path), "%s/holds-%d", d->dir, i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(write(fd, h, sizeof(*h) * (size_t)cycles) == (ssize_t)(sizeof(*h) * (size_t)cycles));
	close(fd);
	_exit(0);
}

static void test_lease_return_storm(void **state)
{
	enum { CLIENTS = 16, CYCLES = 500 };
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	pid_t pids[CLIENTS];
	json_t *st;
	double t0 = h_now();

	h_pool(c, "c", NULL);
	h_add(c, "c", "r0", "r1", "r2", "r3", NULL);
	for (int i = 0; i < CLIENTS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			lease_return_client(d, i, CYCLES);
	}
	for (int i = 0; i < CLIENTS; i++)
		assert_int_equal(h_wait_child_for(pids[i], 300), 0);
	print_message("%d lease/return cycles in %.1f s\n", CLIENTS * CYCLES, h_now() - t0);
	check_holds(d, CLIENTS, CYCLES);

	st = h_status(c, "c");
	assert_int_equal(JINT(st, "total"), NRES);
	assert_int_equal(JINT(st, "free"), NRES);
	assert_int_equal(JINT(st, "leased"), 0);
	assert_int_equal(JINT(st, "waiters"), 0);
	assert_int_equal(JINT(JOBJ(st, "counters"), "leases"), CLIENTS * CYCLES);
	assert_int_equal(JINT(JOBJ(st, "counters"), "returns"), CLIENTS * CYCLES);
	assert_int_equal(JINT(JOBJ(st, "counters"), "wait_timeouts"), 0);
	assert_int_equal(JINT(JOBJ(st, "counters"), "expired"), 0);
	json_decref(st);
	{
		/* every resource was leased and returned: versions moved in step */
		json_t *page = CALL_OK(c, "resource.list", J("{s:s}", "pool", "c"));
		json_int_t sum = 0;
		size_t i;
		json_t *e;

		json_array_foreach(json_object_get(page, "resources"), i, e)
		{
			assert_string_equal(JSTR(e, "state"), "free");
			assert_int_equal(JINT(e, "version"), 1 + 2 * JINT(e, "lease_count"));
			sum += JINT(e, "lease_count");
		}
		assert_int_equal(sum, CLIENTS * CYCLES);
		json_decref(page);
	}
	pool_close(c);
	poold_stop(d);
}

/* A child: `cycles` rounds of connect, lease bind:connection, close. */
static void bound_client(poold_proc *d, int i, int cycles)
{
	char path[400];
	struct hold *h = calloc((size_t)cycles, sizeof(*h));
	int fd;

	CHILD_CHECK(h != NULL);
	for (int k = 0; k < cycles; k++) {
		pool_error err;
		pool_client *c = pool_connect(d->sock, &err);
		pool_lease_opts o;
		pool_lease *l = NULL;

		CHILD_CHECK(c != NULL);
		pool_set_timeout(c, 120);
		memset(&o, 0, sizeof(o));
		o.wait = 60;
		o.bind = "connection";
		if (pool_lease_acquire(c, "c", &o, &l, &err) != 0) {
			fprintf(stderr, "client %d cycle %d: lease: %s %s\n", i, k,
				pool_code_name(err.code), err.message);
			_exit(1);
		}
		h[k].t0 = h_now_ns();
		h[k].res = res_index(pool_lease_resource(l));
		h[k].client = i;
		h[k].token = pool_lease_token(l);
		pool_lease_free(l);
		h[k].t1 = h_now_ns();
		pool_close(c);
	}
	snprintf(path, sizeof(path), "%s/holds-%d", d->dir, i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(write(fd, h, sizeof(*h) * (size_t)cycles) == (ssize_t)(sizeof(*h) * (size_t)cycles));
	close(fd);
	_exit(0);
}

static void test_bind_connection_churn(void **state)
{
	enum { CLIENTS = 8, CYCLES = 100 };
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	pid_t pids[CLIENTS];

	h_pool(c, "c", NULL);
	h_add(c, "c", "r0", "r1", "r2", "r3", NULL);
	for (int i = 0; i < CLIENTS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			bound_client(d, i, CYCLES);
	}
	for (int i = 0; i < CLIENTS; i++)
		assert_int_equal(h_wait_child_for(pids[i], 300), 0);
	check_holds(d, CLIENTS, CYCLES);
	/* the last closes are processed shortly after the clients exit */
	WAIT_UNTIL(h_status_field(c, "c", "free") == NRES, 5);
	assert_int_equal(h_counter(c, "c", "leases"), CLIENTS * CYCLES);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_lease_return_storm),
		FTEST(test_bind_connection_churn),
	};

	return RUN_FTESTS(tests);
}
