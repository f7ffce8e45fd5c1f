/* Unit tests of util and jsonutil: the name rules, time format and
 * durations as the wire shows them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jsonutil.h"
#include "util.h"

static void test_names(void **state)
{
	char long_name[200];

	assert_true(name_valid_pool("spark-1.a_b"));
	assert_false(name_valid_pool(""));
	assert_false(name_valid_pool("a:b"));   /* ':' only in resources */
	assert_true(name_valid_resource("a:b"));
	assert_false(name_valid_resource("a b"));
	assert_false(name_valid_resource("é"));
	memset(long_name, 'a', sizeof long_name);
	long_name[64] = '\0';
	assert_true(name_valid_pool(long_name));
	long_name[64] = 'a';
	long_name[65] = '\0';
	assert_false(name_valid_pool(long_name));
	memset(long_name, 'a', sizeof long_name);
	long_name[128] = '\0';
	assert_true(name_valid_resource(long_name));
	long_name[128] = 'a';
	long_name[129] = '\0';
	assert_false(name_valid_resource(long_name));
}

static void test_rfc3339(void **state)
{
	char buf[40];

	assert_string_equal(time_rfc3339(0, buf, sizeof buf),
			    "1970-01-01T00:00:00.000Z");
	assert_string_equal(time_rfc3339(1795860245.123, buf, sizeof buf),
			    "2026-11-28T10:04:05.123Z");
	/* The arithmetic calendar agrees with gmtime_r over leap years,
	 * century rules (2000, 2100) and every month end, to 9999. */
	for (double t = 0.5; t < 253402300800.0; t += 86400.0 * 13 + 3723.0) {
		time_t sec = (time_t)t;
		struct tm tm;
		char want[64];

		gmtime_r(&sec, &tm);
		snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.500Z",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		assert_string_equal(time_rfc3339(t, buf, sizeof buf), want);
	}
	assert_string_equal(time_rfc3339(951782400.0, buf, sizeof buf),
			    "2000-02-29T00:00:00.000Z");
	assert_string_equal(time_rfc3339(4107542400.999, buf, sizeof buf),
			    "2100-03-01T00:00:00.999Z");
}

static void test_seconds(void **state)
{
	json_t *a = json_seconds(3600), *b = json_seconds(1.25);
	json_t *c = json_seconds(0.123456), *t = json_time(0);

	assert_true(json_is_integer(a));
	assert_int_equal(json_integer_value(a), 3600);
	assert_true(json_is_real(b));
	assert_true(json_real_value(b) == 1.25);
	assert_true(json_real_value(c) == 0.123);
	assert_true(json_is_null(t));
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(t);
}

static void test_random(void **state)
{
	char a[33], b[33], l[6];

	random_hex(a, 16);
	random_hex(b, 16);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
	random_letters(l, 5);
	assert_int_equal(strspn(l, "abcdefghijklmnopqrstuvwxyz"), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
