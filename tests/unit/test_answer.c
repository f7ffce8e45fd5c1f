/*
 * test_answer.c - the answers written directly (answer.c, reply_queue_text)
 * are byte for byte what the json_t forms dump to: a lease answer equals
 * lease.get's answer for the same lease, with reals in their shortest exact
 * form and strings escaped as jansson escapes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"
#include "jsonutil.h"


/* The text of "result" in an answer line (it is the last member). */
static const char *result_text(const char *line)
{
	const char *p = strstr(line, "\"result\":");

	assert_non_null(p);
	return p + strlen("\"result\":");
}

static void test_lease_answer_equals_the_json_form(void **state)
{
	struct fixture *fx = *state;
	char *setup_lines[] = {
		fx_call_raw(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"create\":\"none\"}"),
		fx_call_raw(fx, "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":"
			 "[{\"name\":\"r1\",\"descriptor\":{\"x\":6.666,\"big\":1e300,"
			 "\"s\":\"\\u00e9\\\"\\\\\\n\\u0001\\u001f/\",\"n\":[1,2.5,null]}}]}"),
	};
	char *lease, *get, *want, req[200];
	json_t *a;

	for (size_t i = 0; i < 2; i++) {
		assert_non_null(strstr(setup_lines[i], "\"ok\":true"));
		free(setup_lines[i]);
	}
	lease = fx_call_raw(fx, "{\"id\":\"q\\u0002\\\"\",\"op\":\"lease\",\"pool\":\"p\","
			 "\"ttl\":1.5,\"owner\":\"me \\\"\\u0007\\t\\u00fc\"}");
	assert_non_null(lease);
	assert_string_equal(strstr(lease, ",\"ok\"") - strlen("{\"id\":\"q\\u0002\\\"\""),
			    lease);
	a = json_loads(lease, 0, NULL);
	assert_non_null(a);
	snprintf(req, sizeof req, "{\"op\":\"lease.get\",\"lease\":\"%s\"}",
		 json_string_value(json_object_get(fx_result(a), "lease")));
	get = fx_call_raw(fx, req);
	assert_string_equal(result_text(lease), result_text(get));
	/* the id is echoed as jansson writes it */
	assert_int_equal(strncmp(lease, "{\"id\":\"q\\u0002\\\"\",\"ok\":true,", 27), 0);
	/* the real keeps its shortest exact form */
	assert_non_null(strstr(lease, "\"x\":6.666,"));
	assert_non_null(strstr(lease, "\"ttl\":1.5}"));
	/* the same as the json_t form dumps to */
	want = json_dumps_exact(json_object_get(a, "result"),
				JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_int_equal(strncmp(result_text(lease), want, strlen(want)), 0);
	free(want);
	json_decref(a);
	free(lease);
	free(get);
}

static void test_jtext_escapes_as_jansson(void **state)
{
	static const char *const strings[] = {
		"", "plain", "quote \" backslash \\ slash /", "\x01\x1f\x7f",
		"\b\f\n\r\t", "\xc3\xa9\xe2\x80\xa8 UTF-8",
	};
	struct jtext b = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
		json_t *s = json_string(strings[i]);
		char *want = json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT);

		b.len = 0;
		jtext_str(&b, strings[i]);
		assert_string_equal(b.p, want);
		free(want);
		json_decref(s);
	}
	for (double d = -3.0; d < 3.0; d += 0.37) {
		json_t *v = json_seconds(d);
		char *want = json_dumps_exact(v, JSON_ENCODE_ANY | JSON_COMPACT);

		b.len = 0;
		jtext_seconds(&b, d);
		assert_string_equal(b.p, want);
		free(want);
		json_decref(v);
	}
	jtext_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lease_answer_equals_the_json_form,
						fx_setup, fx_teardown),
		cmocka_unit_test(test_jtext_escapes_as_jansson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
