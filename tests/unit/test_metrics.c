/*
 * Unit tests of metrics.c: histogram buckets (upper bounds inclusive,
 * cumulative in the exposition), label escaping, the families and series of
 * a scrape, the observe API the journal calls, and pools whose series
 * go with them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <math.h>

#include "fixture.h"
#include "metrics.h"
#include "pool.h"

static const double bounds[] = { 0.1, 1, 10 };

/* The scrape as a NUL-terminated string (caller frees). */
static char *scrape(struct poold *pd)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *s;

	metrics_write(pd, b);
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

/* True if the scrape has this exact line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
		p += n;
	}
	return false;
}

/* The value of the sample whose name and labels are series. */
static double value(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while ((p = strstr(p, series))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	fail_msg("no series %s", series);
	return 0;
}

static void ok_call(struct fixture *fx, const char *line)
{
	char *answer;

	fx_send(fx, line, strlen(line));
	answer = fx_read_line(fx, 5);
	assert_non_null(answer);
	if (!strstr(answer, "\"ok\":true"))
		fail_msg("%s -> %s", line, answer);
	free(answer);
}

static void test_histogram_buckets(void **state)
{
	struct histogram h;

	histogram_init(&h, bounds, 3);
	histogram_observe(&h, 0);     /* first bucket */
	histogram_observe(&h, 0.1);   /* le is inclusive */
	histogram_observe(&h, 0.5);
	histogram_observe(&h, 10);
	histogram_observe(&h, 11);    /* above every bound */
	histogram_observe(&h, NAN);   /* ignored */
	assert_int_equal(h.counts[0], 2);
	assert_int_equal(h.counts[1], 1);
	assert_int_equal(h.counts[2], 1);
	assert_int_equal(h.counts[3], 1);
	assert_int_equal(h.count, 5);
	assert_true(fabs(h.sum - 21.6) < 1e-9);
}

static void test_sample_format(void **state)
{
	struct evbuffer *b = evbuffer_new();
	const char *l[] = { "pool", "a\"b\\c\nd", "state", "free", NULL };
	char out[256];
	size_t n;

	metrics_sample(b, "x_total", 3, l);
	metrics_sample(b, "y", 0.25, NULL);
	metrics_sample(b, "z", 1e20, NULL);
	n = evbuffer_remove(b, out, sizeof out - 1);
	out[n] = '\0';
	assert_string_equal(out, "x_total{pool=\"a\\\"b\\\\c\\nd\",state=\"free\"} 3\n"
			    "y 0.25\n"
			    "z 1e+20\n");
	evbuffer_free(b);
}

static void test_scrape_has_every_family(void **state)
{
	struct fixture *fx = *state;
	char *s;

	ok_call(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"create\":\"none\","
		"\"max_size\":3}\n");
	ok_call(fx, "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":\"r1\",\"descriptor\":{}}]}\n");
	s = scrape(&fx->pd);
	/* Every state, zeros included. */
	assert_true(has_line(s, "poold_resources{pool=\"p\",state=\"free\"} 1"));
	assert_true(has_line(s, "poold_resources{pool=\"p\",state=\"creating\"} 0"));
	assert_true(has_line(s, "poold_resources{pool=\"p\",state=\"destroying\"} 0"));
	assert_true(has_line(s, "poold_pool_max_size{pool=\"p\"} 3"));
	assert_true(has_line(s, "poold_waiters{pool=\"p\"} 0"));
	assert_true(has_line(s, "# TYPE poold_wait_seconds histogram"));
	assert_true(has_line(s, "# TYPE poold_leases_granted_total counter"));
	assert_true(has_line(s, "poold_commands_total{pool=\"p\",kind=\"create\",result=\"ok\"} 0"));
	assert_true(has_line(s, "poold_wait_seconds_bucket{pool=\"p\",le=\"+Inf\"} 0"));
	/* pool.create and resource.add: a commit each. */
	assert_true(has_line(s, "poold_commit_batch_size_count 2"));
	assert_true(has_line(s, "poold_refused_total{reason=\"too_large\"} 0"));
	assert_non_null(strstr(s, "\nprocess_resident_memory_bytes "));
	assert_non_null(strstr(s, "\nprocess_max_fds "));
	assert_non_null(strstr(s, "\nprocess_cpu_seconds_total "));
	free(s);
}

static void test_observations_in_scrape(void **state)
{
	struct fixture *fx = *state;
	char *s;

	ok_call(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"create\":\"none\"}\n");
	metrics_event(&fx->pd, "p", "leased", 0);
	metrics_event(&fx->pd, "p", "checked_out", 2.5);
	metrics_event(&fx->pd, "p", "returned", 90);
	metrics_event(&fx->pd, "p", "created", 0);   /* no histogram */
	metrics_command_observe(&fx->pd, "p", "create", "failed", 0.2);
	metrics_command_observe(&fx->pd, "p", "create", "ok", 3);
	metrics_command_observe(&fx->pd, "p", "mkfs", "ok", 3); /* ignored */
	metrics_commit_observe(&fx->pd, 0.0003, 5);
	s = scrape(&fx->pd);
	/* Cumulative buckets: 0 is in the first, 2.5 from le=5 on. */
	assert_true(has_line(s, "poold_wait_seconds_bucket{pool=\"p\",le=\"0.001\"} 1"));
	assert_true(has_line(s, "poold_wait_seconds_bucket{pool=\"p\",le=\"1\"} 1"));
	assert_true(has_line(s, "poold_wait_seconds_bucket{pool=\"p\",le=\"5\"} 2"));
	assert_true(has_line(s, "poold_wait_seconds_bucket{pool=\"p\",le=\"+Inf\"} 2"));
	assert_true(has_line(s, "poold_wait_seconds_sum{pool=\"p\"} 2.5"));
	assert_true(has_line(s, "poold_wait_seconds_count{pool=\"p\"} 2"));
	assert_true(has_line(s, "poold_lease_held_seconds_bucket{pool=\"p\",le=\"60\"} 0"));
	assert_true(has_line(s, "poold_lease_held_seconds_bucket{pool=\"p\",le=\"300\"} 1"));
	assert_true(has_line(s, "poold_commands_total{pool=\"p\",kind=\"create\",result=\"failed\"} 1"));
	assert_true(has_line(s, "poold_commands_total{pool=\"p\",kind=\"create\",result=\"ok\"} 1"));
	assert_true(has_line(s, "poold_command_seconds_count{pool=\"p\",kind=\"create\"} 2"));
	assert_true(has_line(s, "poold_command_seconds_count{pool=\"p\",kind=\"reset\"} 0"));
	/* The pool.create's own commit is counted too (a batch of 1). */
	assert_int_equal(value(s, "poold_commit_seconds_count"), 2);
	assert_true(value(s, "poold_commit_seconds_bucket{le=\"0.0005\"}") -
		    value(s, "poold_commit_seconds_bucket{le=\"0.00025\"}") >= 1);
	assert_int_equal(value(s, "poold_commit_batch_size_bucket{le=\"8\"}") -
			 value(s, "poold_commit_batch_size_bucket{le=\"4\"}"), 1);
	assert_int_equal(value(s, "poold_commit_batch_size_bucket{le=\"1\"}"),
			 1);
	free(s);
}

static void test_deleted_pool_goes(void **state)
{
	struct fixture *fx = *state;
	char *s;

	ok_call(fx, "{\"op\":\"pool.create\",\"pool\":\"gone\",\"create\":\"none\"}\n");
	ok_call(fx, "{\"op\":\"pool.create\",\"pool\":\"kept\",\"create\":\"none\"}\n");
	metrics_event(&fx->pd, "gone", "leased", 1);
	metrics_event(&fx->pd, "kept", "returned", 1);
	ok_call(fx, "{\"op\":\"pool.delete\",\"pool\":\"gone\"}\n");
	s = scrape(&fx->pd);
	assert_null(strstr(s, "pool=\"gone\""));
	assert_true(has_line(s, "poold_lease_held_seconds_count{pool=\"kept\"} 1"));
	free(s);
	/* Forgetting explicitly is the same, and harmless twice. */
	metrics_pool_forget(&fx->pd, "kept");
	metrics_pool_forget(&fx->pd, "kept");
	s = scrape(&fx->pd);
	assert_true(has_line(s, "poold_lease_held_seconds_count{pool=\"kept\"} 0"));
	free(s);
	/* Deleted and made again between two scrapes: a new pool, empty. */
	metrics_event(&fx->pd, "kept", "returned", 1);
	ok_call(fx, "{\"op\":\"pool.delete\",\"pool\":\"kept\"}\n");
	ok_call(fx, "{\"op\":\"pool.create\",\"pool\":\"kept\",\"create\":\"none\"}\n");
	s = scrape(&fx->pd);
	assert_true(has_line(s, "poold_lease_held_seconds_count{pool=\"kept\"} 0"));
	free(s);
}

/* A lease ends with returned or expired; a "discarded" after either, or
 * after a failed reset, is no second end. */
static void test_discarded_is_no_end(void **state)
{
	struct fixture *fx = *state;
	char *s;

	ok_call(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"create\":\"none\"}\n");
	metrics_event(&fx->pd, "p", "returned", 4);
	metrics_event(&fx->pd, "p", "discarded", 4);
	metrics_event(&fx->pd, "p", "expired", 20);
	s = scrape(&fx->pd);
	assert_true(has_line(s, "poold_lease_held_seconds_count{pool=\"p\"} 2"));
	assert_true(has_line(s, "poold_lease_held_seconds_sum{pool=\"p\"} 24"));
	free(s);
}

static int setup(void **state)
{
	*state = fx_open();
	return 0;
}

static int teardown(void **state)
{
	fx_close(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histogram_buckets),
		cmocka_unit_test(test_sample_format),
		cmocka_unit_test_setup_teardown(test_scrape_has_every_family,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_observations_in_scrape,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_pool_goes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_discarded_is_no_end,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
