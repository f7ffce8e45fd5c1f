/*
 * test_log_json.c - --log-format json lines are written without jansson
 * (log.c): each is byte for byte what the json_t form dumps to with
 * JSON_COMPACT | JSON_ENSURE_ASCII, for escapes, control characters,
 * UTF-8 up to 4 bytes, text that is not UTF-8 (made lossy), repeated and
 * reserved keys, NULL values, and a line too long for the direct writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonutil.h"
#include "log.h"

/* stderr goes to a file while a line is logged (cmocka's messages go to
 * the real one); the line is read back. */
static FILE *capture;
static int saved_fd;

static int setup(void **state)
{
	(void)state;
	capture = tmpfile();
	saved_fd = dup(STDERR_FILENO);
	log_json = true;
	log_threshold = LOG_DEBUG;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(saved_fd);
	fclose(capture);
	log_json = false;
	return 0;
}

/* The last line written (malloc'd), from the start of the file. */
static char *written(void)
{
	long size;
	char *text;

	size = lseek(fileno(capture), 0, SEEK_END);
	text = calloc(1, (size_t)size + 1);
	assert_int_equal(pread(fileno(capture), text, (size_t)size, 0), size);
	assert_int_equal(ftruncate(fileno(capture), 0), 0);
	lseek(fileno(capture), 0, SEEK_SET);
	return text;
}

/* What jansson makes of the same line, with the time the line has. */
static char *expected(const char *line, const char *level, const char *msg,
		      const char *const *kv, size_t n)
{
	json_t *got = json_loads(line, 0, NULL), *o, *fields = json_object();
	char *text;

	assert_non_null(got);
	o = json_pack("{s:O, s:s, s:o}", "time", json_object_get(got, "time"),
		      "level", level, "message", json_string_lossy(msg));
	for (size_t i = 0; i + 1 < n; i += 2)
		if (kv[i + 1])
			json_object_set_new(fields, kv[i], json_string_lossy(kv[i + 1]));
	json_object_update_missing(o, fields);
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(fields);
	json_decref(o);
	json_decref(got);
	return text;
}

static void check(const char *what, const char *const kv[8])
{
	char *line, *want, msg[8192];
	size_t n = 0, len;

	dup2(fileno(capture), STDERR_FILENO);
	log_kv_write(LOG_INFO, what, kv[0], kv[1], kv[2], kv[3], kv[4], kv[5],
		     kv[6], kv[7], NULL);
	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	line = written();
	len = strlen(line);
	assert_true(len > 0 && line[len - 1] == '\n');
	line[len - 1] = '\0';
	assert_null(strchr(line, '\n')); /* one line */
	/* the message is the text form of the line */
	{
		json_t *got = json_loads(line, 0, NULL);

		assert_non_null(got);
		snprintf(msg, sizeof msg, "%s", json_string_value(json_object_get(got, "message")));
		json_decref(got);
	}
	while (n < 8 && kv[n])
		n += 2;
	want = expected(line, "info", msg, kv, n);
	assert_string_equal(line, want);
	free(want);
	free(line);
}

static void test_values_as_jansson_writes_them(void **state)
{
	static const char *const cases[][8] = {
		{ "pool", "p1", "resource", "r1", NULL },
		{ "owner", "a \"quoted\" back\\slash /slash", "caller", "tab\there", NULL },
		{ "x", "\x01\x02\x1f\x7f\b\f\n\r", NULL },
		{ "utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", NULL },
		/* not UTF-8: overlong, a lone continuation, a surrogate, cut */
		{ "bad", "ov\xc0\xaf", "cont", "a\x80z", "sur", "\xed\xa0\x80", "cut", "\xe2\x82" },
		/* reserved keys and repeats; a NULL value is no field */
		{ "time", "t", "message", "m", "k", "first", "k", "second" },
		{ "gone", NULL, "k", "v", "level", "l", NULL },
		{ "", "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		check("committed", cases[i]);
}

static void test_a_long_line(void **state)
{
	char *big = malloc(20000);
	const char *kv[8] = { "big", big, NULL };

	(void)state;
	for (int i = 0; i < 19999; i++)
		big[i] = (char)('a' + i % 26);
	big[19999] = '\0';
	big[100] = '\x01'; /* escaped: the line grows further */
	check("long", kv);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_as_jansson_writes_them),
		cmocka_unit_test(test_a_long_line),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
