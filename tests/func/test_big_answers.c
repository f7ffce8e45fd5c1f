/*
 * test_big_answers.c - an answer bigger than --max-output does not drop
 * its caller (issue 11 item 7): lists stop a page early in bytes, with
 * "next" set, and an answer that cannot fit at all is a too_large error
 * telling the caller to page; the connection stays usable.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds n resources rNNN with a descriptor of about bytes bytes. */
static void add_big(raw_conn *r, int n, size_t bytes)
{
	char *pad = malloc(bytes + 1), *line = malloc(bytes + 200);

	memset(pad, 'x', bytes);
	pad[bytes] = '\0';
	for (int i = 0; i < n; i++) {
		json_t *a;

		snprintf(line, bytes + 200, "{\"op\":\"resource.add\",\"pool\":"
			 "\"p\",\"resources\":[{\"name\":\"r%03d\",\"descriptor\":"
			 "{\"pad\":\"%s\"}}]}", i, pad);
		a = raw_req(r, line);
		assert_true(json_is_true(json_object_get(a, "ok")));
		json_decref(a);
	}
	free(pad);
	free(line);
}

static void test_list_bigger_than_max_output_comes_in_pages(void **state)
{
	poold_proc *d = poold_start("--max-output", "65536", NULL);
	pool_client *c = h_connect(d);
	raw_conn *r = raw_connect(d->sock);
	char line[200], after[64] = "";
	int seen = 0, pages = 0;

	(void)state;
	h_pool(c, "p", NULL);
	add_big(r, 200, 1024); /* about 240 KB as one list */
	for (;;) {
		json_t *a, *res, *next;

		snprintf(line, sizeof line, "{\"op\":\"resource.list\",\"pool\":\"p\","
			 "\"limit\":100000%s%s%s}", *after ? ",\"after\":\"" : "",
			 after, *after ? "\"" : "");
		a = raw_req(r, line);
		assert_true(json_is_true(json_object_get(a, "ok")));
		res = json_object_get(json_object_get(a, "result"), "resources");
		next = json_object_get(json_object_get(a, "result"), "next");
		assert_true(json_array_size(res) > 0);
		assert_true(json_array_size(res) < 200);
		for (size_t i = 0; i < json_array_size(res); i++) {
			char want[16];

			snprintf(want, sizeof want, "r%03d", seen++);
			assert_string_equal(JSTR(json_array_get(res, i), "name"), want);
		}
		pages++;
		if (json_is_null(next)) {
			json_decref(a);
			break;
		}
		snprintf(after, sizeof after, "%s", json_string_value(next));
		json_decref(a);
	}
	assert_int_equal(seen, 200);
	assert_true(pages >= 4);
	/* the caller was never taken for a slow reader */
	json_decref(raw_req(r, "{\"op\":\"ping\"}"));
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

static void test_answer_that_cannot_fit_is_too_large_and_says_to_page(void **state)
{
	poold_proc *d = poold_start("--max-output", "4096", NULL);
	pool_client *c = h_connect(d);
	raw_conn *r = raw_connect(d->sock);
	json_t *a, *e;

	(void)state;
	h_pool(c, "p", NULL);
	add_big(r, 1, 5000);
	a = raw_req(r, "{\"id\":9,\"op\":\"resource.get\",\"pool\":\"p\",\"name\":\"r000\"}");
	e = json_object_get(a, "error");
	assert_int_equal(JINT(a, "id"), 9);
	assert_string_equal(JSTR(e, "code"), "too_large");
	assert_non_null(strstr(JSTR(e, "message"), "--max-output"));
	assert_non_null(strstr(JSTR(e, "message"), "after"));
	json_decref(a);
	/* the connection stays usable */
	a = raw_req(r, "{\"op\":\"ping\"}");
	assert_true(json_is_true(json_object_get(a, "ok")));
	json_decref(a);
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_list_bigger_than_max_output_comes_in_pages),
		FTEST(test_answer_that_cannot_fit_is_too_large_and_says_to_page),
	};

	return RUN_FTESTS(tests);
}
