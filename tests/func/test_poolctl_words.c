/*
 * Black-box tests of what poolctl shows a person: daemon errors in the
 * CLI's words, status with its counters, pool get and pool list alike,
 * durations that read back as poolctl prints them, --after pages that say
 * when there are more, return of several leases, and reals with the
 * millisecond precision they have (on the wire and in --json).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h_cli.h"

/* The first line of h_out, into buf. */
static const char *first_line(char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)strcspn(h_out, "\n"), h_out);
	return buf;
}

static void test_errors_in_cli_words(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, "{\"max_size\": 1}");

	h_add(c, "p", "r1", NULL);
	H_SH_OK(d, "poolctl lease p -q");
	H_SH_RC(3, d, "poolctl lease p");
	H_HAS(h_err, "pass --wait");
	H_HAS(h_err, "--max-size 1");
	H_HASNT(h_err, "pass wait");
	H_HASNT(h_err, "max_size");
	H_SH_RC(6, d, "poolctl pool delete p");
	H_HAS(h_err, "pass --force");
	H_SH_RC(6, d, "poolctl resource remove p r1");
	H_HAS(h_err, "pass --force");
	H_SH_RC(1, d, "poolctl pool create p");
	H_HAS(h_err, "poolctl pool set");
	H_HASNT(h_err, "pool.set");
	H_SH_OK(d, "poolctl pool drain p");
	H_SH_RC(1, d, "poolctl resource add p r2");
	H_HAS(h_err, "poolctl pool set POOL --state active");
	/* A pool named like a field keeps its name. */
	h_pool(c, "max_size", NULL);
	H_SH_RC(1, d, "poolctl pool create max_size");
	H_HAS(h_err, "pool max_size already exists");
	h_finish(d, c);
}

static void test_status_counters(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, "{\"max_size\": 1}");

	h_add(c, "p", "r1", NULL);
	H_SH_OK(d, "poolctl lease p -q && poolctl lease p; true");
	H_SH_OK(d, "poolctl status");
	H_HAS(h_out, "counters of pool p:");
	H_HAS(h_out, "leases 1 ");
	H_HAS(h_out, "exhausted 1 ");
	H_HAS(h_out, "daemon (connections and refusals):");
	H_HAS(h_out, "too_large 0");
	h_finish(d, c);
}

/* Every setting pool get shows, pool set takes back as it is shown; pool
 * list shows the same text. */
static void test_settings_round_trip(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);

	H_SH_OK(d, "poolctl pool set p --lease-ttl 1h30m --idle-ttl 2m5.5s "
		"--max-lease-ttl 1d2h");
	H_SH_OK(d, "poolctl pool get p");
	H_HAS(h_out, "lease_ttl      1h30m\n");
	H_HAS(h_out, "idle_ttl       2m5.5s\n");
	H_HAS(h_out, "max_lease_ttl  1d2h\n");
	H_SH_OK(d, "poolctl pool list");
	H_HAS(h_out, " 1h30m ");
	/* What was printed, fed back, changes nothing. */
	H_SH_OK(d, "poolctl pool set p $(poolctl pool get p | awk '"
		"$1 == \"lease_ttl\" {print \"--lease-ttl\", $2} "
		"$1 == \"idle_ttl\" {print \"--idle-ttl\", $2} "
		"$1 == \"max_lease_ttl\" {print \"--max-lease-ttl\", $2}') --json");
	H_HAS(h_out, "\"lease_ttl\": 5400");
	H_HAS(h_out, "\"idle_ttl\": 125.5");
	H_HAS(h_out, "\"max_lease_ttl\": 93600");
	/* What poolctl prints for ages and times left reads back as well. */
	H_SH_OK(d, "poolctl pool set p --lease-ttl 2h05m --idle-ttl 3d4h --max-lease-ttl 0");
	H_SH_OK(d, "poolctl pool get p");
	H_HAS(h_out, "lease_ttl      2h5m\n");
	H_HAS(h_out, "max_lease_ttl  none\n");
	H_SH_RC(2, d, "poolctl pool set p --lease-ttl 30m1h");
	H_HAS(h_err, "'30m1h' is not a duration");
	H_SH_RC(2, d, "poolctl pool set p --lease-ttl 1h30");
	h_finish(d, c);
}

static void test_pages(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	char cursor[128];

	h_add(c, "p", "a", "b", "c", NULL);
	H_SH_OK(d, "poolctl resource list p --limit 2");
	H_HAS(h_out, "more resources: poolctl resource list p --limit 2 --after b\n");
	H_SH_OK(d, "poolctl resource list p --limit 2 --after b");
	H_HAS(h_out, "\nc ");
	H_HASNT(h_out, "more resources");
	H_SH_OK(d, "poolctl lease p -q && poolctl lease p -q && poolctl lease p -q");
	H_SH_OK(d, "poolctl lease list --limit 2 --json");
	{
		json_t *page = json_loads(h_out, 0, NULL);

		assert_non_null(page);
		assert_int_equal(json_array_size(json_object_get(page, "leases")), 2);
		snprintf(cursor, sizeof(cursor), "%s", JSTR(page, "next"));
		json_decref(page);
	}
	H_SH_OK(d, "poolctl lease list --limit 2");
	H_HAS(h_out, "more leases: poolctl lease list --limit 2 --after ");
	H_SH_OK(d, "poolctl lease list --limit 2 --after '%s' --json", cursor);
	H_HAS(h_out, "\"next\": null");
	h_finish(d, c);
}

static void test_return_several(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	char a[64], b[64];

	h_add(c, "p", "r1", "r2", NULL);
	H_SH_OK(d, "poolctl lease p -q");
	first_line(a, sizeof(a));
	H_SH_OK(d, "poolctl lease p -q");
	first_line(b, sizeof(b));
	/* One that is not there is reported; the others are still returned. */
	H_SH_RC(4, d, "poolctl return %s 0123456789abcdef0123456789abcdef %s", a, b);
	H_HAS(h_out, a);
	H_HAS(h_out, b);
	H_HAS(h_err, "(not_found)");
	assert_string_equal(h_res_state(c, "p", "r1"), "free");
	assert_string_equal(h_res_state(c, "p", "r2"), "free");
	H_SH_RC(2, d, "poolctl return %s %s --descriptor '{}'", a, b);
	h_finish(d, c);
}

/* 6.666 is 6.666 on the wire and in --json, not 6.6660000000000004; a
 * descriptor's reals keep every digit they need. */
static void test_reals(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	raw_conn *r;
	char *line;

	H_SH_OK(d, "poolctl pool set p --idle-ttl 6.666s --lease-ttl 0.1s --json");
	H_HAS(h_out, "\"idle_ttl\": 6.666,");
	H_HAS(h_out, "\"lease_ttl\": 0.1,");
	r = raw_connect(d->sock);
	raw_send(r, "{\"id\":1,\"op\":\"pool.get\",\"pool\":\"p\"}\n");
	line = raw_read_line(r, 10);
	assert_non_null(line);
	H_HAS(line, "\"idle_ttl\":6.666,");
	H_HASNT(line, "6.66600000");
	free(line);
	raw_close(r);
	H_SH_OK(d, "poolctl resource add p r1 --descriptor "
		"'{\"x\": 0.30000000000000004, \"y\": 1.5, \"z\": 1e300, \"s\": \"1.0e3\"}'");
	H_SH_OK(d, "poolctl resource get p r1 --json");
	H_HAS(h_out, "\"x\": 0.30000000000000004");
	H_HAS(h_out, "\"y\": 1.5");
	H_HAS(h_out, "\"z\": 1e+300");
	H_HAS(h_out, "\"s\": \"1.0e3\"");
	h_finish(d, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_errors_in_cli_words),
		FTEST(test_status_counters),
		FTEST(test_settings_round_trip),
		FTEST(test_pages),
		FTEST(test_return_several),
		FTEST(test_reals),
	};

	return RUN_FTESTS(tests);
}
