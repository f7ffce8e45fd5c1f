/*
 * test_alloc.c - issue 15's "no allocation per request on the lease/return
 * path", as a client sees it: poold runs under tests/bench's malloc_count
 * shim (LD_PRELOAD; it counts the server's malloc, calloc and realloc calls
 * in a shared counter), is warmed up, and then serves thousands of lease +
 * return cycles, one connection at a time and eight in one batch, while the
 * counter may move by a small allowance for what runs by the clock (the
 * janitor's tick), not by the number of requests.
 *
 * Not under the sanitizers (their runtime must be the first library and
 * owns malloc) and not on PostgreSQL (libpq allocates per query by design).
 */
#include "h_cli.h"
#include "../h_pgstore.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CONNS 8

/* Lease cycles in the measured window (after twice as many to warm up);
 * the allowance is per window. */
#define CYCLES 5000
#define ALLOWANCE (CYCLES / 2)

static volatile uint64_t *counter_map(const char *path)
{
	int fd = -1;
	void *m;

	/* The shim creates the file when poold starts. */
	for (int i = 0; i < 100 && (fd = open(path, O_RDONLY)) < 0; i++)
		h_sleep(0.05);
	assert_true(fd >= 0);
	m = mmap(NULL, sizeof(uint64_t), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(m != MAP_FAILED);
	return m;
}

static uint64_t counter_read(volatile uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static poold_proc *start_counted(const char *dir, char *path, size_t len)
{
	poold_proc *d;

	snprintf(path, len, "%s/mallocs", dir);
	setenv("POOLBENCH_MALLOC_COUNT", path, 1);
	setenv("LD_PRELOAD", MALLOC_COUNT_LIB, 1);
	/* The default log level: its lines are part of the path measured. */
	d = poold_start("--log-level", "info", NULL);
	unsetenv("LD_PRELOAD");
	unsetenv("POOLBENCH_MALLOC_COUNT");
	return d;
}

static void lease_send(raw_conn *r, int id)
{
	char line[128];

	snprintf(line, sizeof line, "{\"op\":\"lease\",\"pool\":\"p\",\"id\":%d}\n",
		 id);
	raw_send(r, line);
}

/* The lease id of a lease answer, into lease[33]. */
static void lease_recv(raw_conn *r, char *lease)
{
	json_t *resp = raw_recv(r, 30);

	snprintf(lease, 33, "%s", JSTR(resp_result(resp), "lease"));
	json_decref(resp);
}

static void return_send(raw_conn *r, const char *lease)
{
	char line[128];

	snprintf(line, sizeof line, "{\"op\":\"return\",\"lease\":\"%.32s\",\"id\":\"r\"}\n",
		 lease);
	raw_send(r, line);
}

static void return_recv(raw_conn *r)
{
	json_t *resp = raw_recv(r, 30);

	resp_result(resp);
	json_decref(resp);
}

/* n cycles, each a batch of a lease on every connection, then a return. */
static void cycles(raw_conn **rc, int nconn, int n)
{
	char lease[CONNS][33];

	for (int i = 0; i < n; i += nconn) {
		for (int k = 0; k < nconn; k++)
			lease_send(rc[k], i + k);
		for (int k = 0; k < nconn; k++)
			lease_recv(rc[k], lease[k]);
		for (int k = 0; k < nconn; k++)
			return_send(rc[k], lease[k]);
		for (int k = 0; k < nconn; k++)
			return_recv(rc[k]);
	}
}

static void measure(poold_proc *d, volatile uint64_t *count, int nconn)
{
	raw_conn *rc[CONNS];
	uint64_t before, after;

	for (int k = 0; k < nconn; k++)
		rc[k] = raw_connect(d->sock);
	cycles(rc, nconn, 2 * CYCLES); /* warm-up: caches, free lists */
	before = counter_read(count);
	cycles(rc, nconn, CYCLES);
	after = counter_read(count);
	print_message("%d connection(s): %llu allocations in %d lease+return "
		      "cycles\n", nconn, (unsigned long long)(after - before),
		      CYCLES);
	if (after - before > ALLOWANCE)
		fail_msg("%llu allocations in %d cycles on %d connection(s): "
			 "the lease/return path allocates per request "
			 "(allowed: %d in all, for work not per request)",
			 (unsigned long long)(after - before), CYCLES, nconn,
			 ALLOWANCE);
	for (int k = 0; k < nconn; k++)
		raw_close(rc[k]);
}

static void test_lease_and_return_allocate_nothing_per_request(void **state)
{
	char dir[128], path[256];
	poold_proc *d;
	pool_client *c;
	volatile uint64_t *count;

	(void)state;
#ifdef H_SANITIZED
	skip();
#endif
	if (h_pg_mode())
		skip();
	h_tmpdir(dir, sizeof dir);
	d = start_counted(dir, path, sizeof path);
	count = counter_map(path);
	c = h_connect(d);
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9",
	      "r10", NULL);
	pool_close(c);
	measure(d, count, 1);
	measure(d, count, CONNS);
	munmap((void *)count, sizeof(uint64_t));
	poold_stop(d);
	h_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_lease_and_return_allocate_nothing_per_request),
	};

	return RUN_FTESTS(tests);
}
