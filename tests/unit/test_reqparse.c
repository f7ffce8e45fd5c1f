/*
 * test_reqparse.c - the request scanner without a tree (reqparse.c): what
 * it accepts, jansson accepts too with the same values, and each value's
 * text is what jansson's compact dump writes (ids are spliced as that
 * text); what it must leave to jansson it declines. The JSONTestSuite
 * corpus checks the same on hostile input: a y_ case is declined or read as
 * jansson reads it, an n_ case is never accepted.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "reqparse.h"

#define CORPUS POOL_TESTDATA_DIR "/jsontestsuite/test_parsing"

static struct reqparse rp;

/* Every field of rp against jansson's reading of the same line. */
static void assert_same_as_jansson(const char *line, size_t len)
{
	json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES |
				 JSON_DECODE_ANY, NULL);

	assert_non_null(msg);
	assert_true(json_is_object(msg));
	assert_int_equal(json_object_size(msg), rp.n);
	for (size_t i = 0; i < rp.n; i++) {
		const struct reqparse_field *f = &rp.f[i];
		json_t *v = json_object_get(msg, f->key);
		char *dump;

		assert_non_null(v);
		switch (f->type) {
		case RP_STRING:
			assert_true(json_is_string(v));
			assert_string_equal(json_string_value(v), f->str);
			break;
		case RP_INT:
			assert_true(json_is_integer(v));
			assert_true(json_integer_value(v) == f->num);
			break;
		case RP_TRUE: assert_true(json_is_true(v)); break;
		case RP_FALSE: assert_true(json_is_false(v)); break;
		case RP_NULL: assert_true(json_is_null(v)); break;
		}
		dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		assert_int_equal(strlen(dump), f->raw_len);
		assert_memory_equal(dump, f->raw, f->raw_len);
		free(dump);
	}
	json_decref(msg);
}

static bool scan(const char *line)
{
	return reqparse(&rp, line, strlen(line));
}

static void test_accepted_lines_read_as_jansson_reads_them(void **state)
{
	static const char *const lines[] = {
		"{\"op\":\"lease\",\"pool\":\"p\"}",
		"{}",
		" \t{ \"op\" : \"ping\" , \"id\" : 17 }\r",
		"{\"id\":-123456789012345678,\"op\":\"x\",\"n\":0,\"m\":-1}",
		"{\"id\":null,\"a\":true,\"b\":false,\"c\":null}",
		"{\"\":\"empty key\",\"k\":\"\"}",
		"{\"s\":\"/ ~ \x7f{}[],:\"}",
		"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
		"\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,"
		"\"p\":16}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		assert_true(scan(lines[i]));
		assert_same_as_jansson(lines[i], strlen(lines[i]));
	}
	assert_true(scan("{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":30}"));
	assert_string_equal(reqparse_find(&rp, "pool")->str, "p");
	assert_int_equal(reqparse_find(&rp, "ttl")->num, 30);
	assert_null(reqparse_find(&rp, "wait"));
}

static void test_what_jansson_must_read_is_declined(void **state)
{
	static const char *const lines[] = {
		"{\"op\":\"p\\u0069ng\"}",             /* an escape */
		"{\"op\":\"a\\\"b\"}",
		"{\"ttl\":1.5}", "{\"ttl\":1e3}", "{\"ttl\":1E3}", /* reals */
		"{\"match\":{\"a\":\"b\"}}", "{\"r\":[1]}", /* nesting */
		"{\"owner\":\"\xc3\xa9\"}",           /* not ASCII */
		"{\"owner\":\"a\tb\"}", "{\"a\x01\":1}", /* control characters */
		"{\"op\":\"a\",\"op\":\"b\"}",         /* a duplicate key */
		"{\"n\":1234567890123456789}",         /* 19 digits */
		"{\"n\":-1234567890123456789}",
		"{\"n\":01}", "{\"n\":-01}", "{\"n\":-0}", "{\"n\":-}",
		"{\"n\":+1}",
		"{\"a\":1} x", "{\"a\":1}}", "{\"a\":1},", /* trailing garbage */
		"{\"a\" 1}", "{\"a\":1 \"b\":2}", "{\"a\":1,}", "{,}",
		"{\"a\":}", "{\"a\"}", "{a:1}", "{'a':1}", "{\"a\":1",
		"{\"a\":\"b}", "{\"a\":tru}", "{\"a\":truex}", "{\"a\":nul}",
		"{\"a\":12a}", "{\"a\":TRUE}", "[1]", "\"s\"", "1", "", " ",
		"{\"a\":1}\v", "\xef\xbb\xbf{}",      /* not RFC 8259 space */
		"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
		"\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,"
		"\"p\":16,\"q\":17}",                  /* more than 16 keys */
	};

	(void)state;
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
		if (scan(lines[i]))
			fail_msg("accepted %s", lines[i]);
	assert_false(reqparse(&rp, "{\"a\":1}\0", 8)); /* a NUL byte */
}

static void test_a_long_line_is_declined(void **state)
{
	char line[REQPARSE_LINE_MAX + 16];
	size_t n;

	(void)state;
	memset(line, 'x', sizeof line);
	/* {"s":"xxx...x"} exactly one byte too long, then one that fits */
	n = REQPARSE_LINE_MAX;
	memcpy(line, "{\"s\":\"", 6);
	memcpy(line + n - 2, "\"}", 2);
	assert_false(reqparse(&rp, line, n));
	memcpy(line + n - 3, "\"}", 2);
	assert_true(reqparse(&rp, line, n - 1));
	assert_same_as_jansson(line, n - 1);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return data;
}

static void test_the_corpus_is_declined_or_read_as_jansson(void **state)
{
	DIR *dir = opendir(CORPUS);
	struct dirent *de;
	int accepted_y = 0, cases = 0;

	(void)state;
	if (!dir)
		fail_msg("cannot open %s", CORPUS);
	while ((de = readdir(dir))) {
		char path[600];
		size_t len;
		char *data;

		if (de->d_name[0] == '.' || de->d_name[1] != '_')
			continue;
		snprintf(path, sizeof path, "%s/%s", CORPUS, de->d_name);
		data = read_file(path, &len);
		cases++;
		if (reqparse(&rp, data, len)) {
			if (de->d_name[0] == 'n')
				fail_msg("accepted the invalid %s", de->d_name);
			assert_same_as_jansson(data, len);
			accepted_y += de->d_name[0] == 'y';
		}
		free(data);
	}
	closedir(dir);
	assert_true(cases > 300);
	assert_true(accepted_y > 0); /* e.g. y_object_basic.json */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted_lines_read_as_jansson_reads_them),
		cmocka_unit_test(test_what_jansson_must_read_is_declined),
		cmocka_unit_test(test_a_long_line_is_declined),
		cmocka_unit_test(test_the_corpus_is_declined_or_read_as_jansson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
