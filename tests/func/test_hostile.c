/*
 * test_hostile.c - hostile input from the JSONTestSuite corpus (see its README
 * in POOL_TESTDATA_DIR/jsontestsuite): every case sent raw as one line gets
 * exactly one answer and the daemon keeps serving; embedded as a descriptor
 * value, y_ cases are accepted and stored as given (except duplicate keys and
 * NUL, which poold rejects by design) and n_ cases are bad_request.
 */
#include "harness.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORPUS POOL_TESTDATA_DIR "/jsontestsuite/test_parsing"

/* Failures of a corpus run are collected and reported together. */
static int failures;
#define CASE_FAIL(...)                                                             \
	do {                                                                       \
		print_error(__VA_ARGS__);                                          \
		print_error("\n");                                                 \
		failures++;                                                        \
	} while (0)

struct json_case {
	char name[256];
	char *data; /* owned; NUL-terminated, may hold NULs before len */
	size_t len;
};

static int cmp_case(const void *a, const void *b)
{
	return strcmp(((const struct json_case *)a)->name, ((const struct json_case *)b)->name);
}

/* Loads the corpus, sorted by name; returns the count. */
static size_t load_corpus(struct json_case **out)
{
	DIR *dir = opendir(CORPUS);
	struct dirent *de;
	struct json_case *cases = NULL;
	size_t n = 0;

	if (!dir)
		fail_msg("cannot open %s", CORPUS);
	while ((de = readdir(dir))) {
		char path[600];
		FILE *f;
		long len;

		if (strlen(de->d_name) < 3 || de->d_name[1] != '_' ||
		    !strstr(de->d_name, ".json"))
			continue;
		cases = realloc(cases, (n + 1) * sizeof(*cases));
		assert_non_null(cases);
		snprintf(cases[n].name, sizeof(cases[n].name), "%s", de->d_name);
		snprintf(path, sizeof(path), "%s/%s", CORPUS, de->d_name);
		f = fopen(path, "rb");
		assert_non_null(f);
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		cases[n].data = calloc(1, (size_t)len + 1);
		assert_non_null(cases[n].data);
		assert_int_equal(fread(cases[n].data, 1, (size_t)len, f), (size_t)len);
		cases[n].len = (size_t)len;
		fclose(f);
		n++;
	}
	closedir(dir);
	assert_true(n > 300);
	qsort(cases, n, sizeof(*cases), cmp_case);
	*out = cases;
	return n;
}

static void free_corpus(struct json_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(cases[i].data);
	free(cases);
}

/* True when a raw newline occurs inside a JSON string (so it cannot be
 * flattened onto one line without changing the case). */
static bool newline_in_string(const struct json_case *c)
{
	bool in = false;

	for (size_t i = 0; i < c->len; i++) {
		char ch = c->data[i];

		if (in && ch == '\\') {
			i++;
			continue;
		}
		if (ch == '"')
			in = !in;
		else if (ch == '\n' && in)
			return true;
	}
	return false;
}

/* The case with raw newlines replaced by spaces (malloc'd, length *len). */
static char *flatten(const struct json_case *c, size_t *len)
{
	char *s = malloc(c->len + 1);

	assert_non_null(s);
	for (size_t i = 0; i < c->len; i++)
		s[i] = c->data[i] == '\n' ? ' ' : c->data[i];
	s[c->len] = '\0';
	*len = c->len;
	return s;
}

static bool only_whitespace(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* True when the case holds a \u0000 escape (a real one, not "\\u0000"). */
static bool has_nul_escape(const struct json_case *c)
{
	for (size_t i = 0; i + 5 < c->len; i++) {
		if (c->data[i] == '\\') {
			if (strncmp(c->data + i + 1, "u0000", 5) == 0)
				return true;
			i++;
		}
	}
	return false;
}

static void test_corpus_raw_lines(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	struct json_case *cases;
	size_t n = load_corpus(&cases);
	int sent = 0, skipped = 0;

	failures = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *line;
		char sync[64];
		int answers = 0;
		bool blank;

		if (newline_in_string(&cases[i])) {
			skipped++;
			continue;
		}
		line = flatten(&cases[i], &len);
		blank = only_whitespace(line, len);
		snprintf(sync, sizeof(sync), "{\"op\":\"ping\",\"id\":\"sync-%zu\"}\n", i);
		if (raw_write(r, line, len) != 0 || raw_write(r, "\n", 1) != 0 ||
		    raw_write(r, sync, strlen(sync)) != 0)
			fail_msg("%s: write failed (connection closed?)", cases[i].name);
		free(line);
		sent++;
		/* every answer up to the sync ping's is this case's */
		for (;;) {
			char *ans = raw_read_line(r, 10);
			json_t *j;
			json_error_t jerr;

			if (!ans)
				fail_msg("%s: no answer (%s)", cases[i].name,
					 r->eof ? "connection closed" : "timeout");
			j = json_loads(ans, JSON_REJECT_DUPLICATES, &jerr);
			if (!json_is_object(j))
				fail_msg("%s: answer is not a JSON object: %.200s", cases[i].name, ans);
			free(ans);
			if (json_is_string(json_object_get(j, "id")) &&
			    strncmp(json_string_value(json_object_get(j, "id")), "sync-", 5) == 0) {
				char want[32];

				snprintf(want, sizeof(want), "sync-%zu", i);
				assert_string_equal(json_string_value(json_object_get(j, "id")), want);
				resp_result(j);
				json_decref(j);
				break;
			}
			/* none of these is a valid request */
			if (strcmp(resp_code(j), "bad_request") != 0 &&
			    strcmp(resp_code(j), "unknown_op") != 0) {
				char *txt = json_dumps(j, JSON_COMPACT);

				CASE_FAIL("%s: answered %s (want an error with a code)", cases[i].name, txt);
				free(txt);
			}
			json_decref(j);
			answers++;
		}
		if (blank ? answers > 1 : answers != 1)
			CASE_FAIL("%s: %d answers to one line", cases[i].name, answers);
	}
	if (failures)
		fail_msg("%d corpus cases failed (listed above)", failures);
	print_message("%d cases sent raw, %d skipped (newline inside a string)\n", sent, skipped);
	raw_close(r);
	r = raw_connect(d->sock);
	json_decref(raw_req(r, "{\"op\":\"ping\"}"));
	raw_close(r);
	free_corpus(cases, n);
	poold_stop(d);
}

static void test_corpus_embedded(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	pool_client *c = h_connect(d);
	struct json_case *cases;
	size_t n = load_corpus(&cases);
	int accepted = 0, rejected = 0, skipped = 0;
	static const char prefix[] = "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":"
				     "[{\"name\":\"t%zu\",\"descriptor\":{\"x\":";
	static const char suffix[] = "}}]}\n";

	failures = 0;
	h_pool(c, "p", NULL);
	for (size_t i = 0; i < n; i++) {
		const struct json_case *jc = &cases[i];
		size_t len, hl;
		char head[200], rname[32];
		char *body = flatten(jc, &len);
		char *req = malloc(len + 300);
		json_t *resp, *check;
		json_error_t jerr;
		char kind = jc->name[0];
		bool dup = strstr(jc->name, "duplicated_key") != NULL;
		bool either = strcmp(jc->name, "y_string_backslash_and_u_escaped_zero.json") == 0;

		assert_non_null(req);
		snprintf(rname, sizeof(rname), "t%zu", i);
		hl = (size_t)snprintf(head, sizeof(head), prefix, i);
		memcpy(req, head, hl);
		memcpy(req + hl, body, len);
		memcpy(req + hl + len, suffix, sizeof(suffix));
		/* an n_ case that the embedding turns valid (or whose newline sits in
		 * a string) proves nothing */
		check = json_loadb(req, hl + len + sizeof(suffix) - 2, JSON_REJECT_DUPLICATES, &jerr);
		if (kind == 'n' && (check || newline_in_string(jc))) {
			skipped++;
			json_decref(check);
			free(body);
			free(req);
			continue;
		}
		json_decref(check);
		if (raw_write(r, req, hl + len + sizeof(suffix) - 1) != 0)
			fail_msg("%s: write failed", jc->name);
		resp = raw_recv(r, 10);
		if (kind == 'y' && !dup && !has_nul_escape(jc) && !either) {
			if (!json_is_true(json_object_get(resp, "ok"))) {
				char *s = json_dumps(resp, JSON_COMPACT);

				CASE_FAIL("%s (valid JSON) embedded in a descriptor: %s", jc->name, s);
				free(s);
			}
			accepted++;
			/* stored as given: the descriptor reads back equal */
			check = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
			if (check) {
				json_t *res = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", rname));

				if (!json_equal(json_object_get(JOBJ(res, "descriptor"), "x"), check)) {
					char *s = json_dumps(res, JSON_COMPACT);

					CASE_FAIL("%s: descriptor changed: %s", jc->name, s);
					free(s);
				}
				json_decref(res);
				json_decref(check);
			}
		} else if (kind == 'y' && !either) {
			/* duplicate keys and NUL: rejected by design */
			if (strcmp(resp_code(resp), "bad_request") != 0) {
				char *s = json_dumps(resp, JSON_COMPACT);

				CASE_FAIL("%s (duplicate key or NUL) embedded: expected bad_request, got %s",
					  jc->name, s);
				free(s);
			}
			assert_string_equal(h_res_state(c, "p", rname), "");
			rejected++;
		} else if (kind == 'n') {
			if (strcmp(resp_code(resp), "bad_request") != 0) {
				char *s = json_dumps(resp, JSON_COMPACT);

				CASE_FAIL("%s (invalid JSON) embedded: expected bad_request, got %s",
					  jc->name, s);
				free(s);
			}
			assert_string_equal(h_res_state(c, "p", rname), "");
			rejected++;
		} else if (!json_is_true(json_object_get(resp, "ok")) &&
			   strcmp(resp_code(resp), "bad_request") != 0) {
			/* i_ cases: either way, but an answer of the contract */
			char *s = json_dumps(resp, JSON_COMPACT);

			CASE_FAIL("%s (implementation-defined) embedded: got %s", jc->name, s);
			free(s);
		}
		json_decref(resp);
		free(body);
		free(req);
	}
	print_message("%d accepted, %d rejected, %d n_ cases skipped\n", accepted, rejected, skipped);
	if (failures)
		fail_msg("%d corpus cases failed (listed above)", failures);
	assert_true(accepted > 80);
	assert_true(rejected > 150);
	/* still serving, and every accepted case is a resource */
	assert_true(h_status_field(c, "p", "total") >= accepted);
	free_corpus(cases, n);
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

/* Other hostile shapes: deep nesting, huge numbers, NUL bytes, control bytes. */
static void test_hostile_shapes(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	pool_client *c = h_connect(d);
	size_t depth = 100000;
	char *deep = malloc(2 * depth + 200);
	size_t off;
	json_t *resp;

	h_pool(c, "p", NULL);
	assert_non_null(deep);
	off = (size_t)sprintf(deep, "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":\"deep\",\"descriptor\":{\"x\":");
	memset(deep + off, '[', depth);
	memset(deep + off + depth, ']', depth);
	strcpy(deep + off + 2 * depth, "}}]}\n");
	raw_send(r, deep);
	resp = raw_recv(r, 10);
	/* either stored or refused as bad_request; never a crash */
	if (!json_is_true(json_object_get(resp, "ok")))
		resp_expect_err(resp, "bad_request");
	json_decref(resp);
	free(deep);

	/* raw NUL and control bytes inside a line */
	{
		static const char nul[] = "{\"op\":\"ping\",\"id\":\"a\0b\"}\n";

		assert_int_equal(raw_write(r, nul, sizeof(nul) - 1), 0);
		resp = raw_recv(r, 5);
		resp_expect_err(resp, "bad_request");
		json_decref(resp);
	}
	resp = raw_req(r, "{\"op\":\"ping\",\"id\":\"a\x01" "b\"}");
	resp_expect_err(resp, "bad_request");
	json_decref(resp);
	/* huge numbers where integers are expected */
	resp = raw_req(r, "{\"op\":\"pool.create\",\"pool\":\"h\",\"max_size\":99999999999999999999999}");
	resp_expect_err(resp, "bad_request");
	json_decref(resp);
	resp = raw_req(r, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":1e999}");
	resp_expect_err(resp, "bad_request");
	json_decref(resp);
	resp = raw_req(r, "{\"op\":\"lease\",\"pool\":\"p\",\"wait\":NaN}");
	resp_expect_err(resp, "bad_request");
	json_decref(resp);
	/* a lone surrogate in a name */
	resp = raw_req(r, "{\"op\":\"pool.get\",\"pool\":\"\\ud800\"}");
	if (strcmp(resp_code(resp), "bad_request") != 0 && strcmp(resp_code(resp), "not_found") != 0)
		fail_msg("lone surrogate: unexpected answer");
	json_decref(resp);
	/* many requests on one line are one bad line */
	resp = raw_req(r, "{\"op\":\"ping\"} {\"op\":\"ping\"}");
	resp_expect_err(resp, "bad_request");
	json_decref(resp);
	assert_true(raw_silent(r, 0.1));
	json_decref(CALL_OK(c, "ping", NULL));
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_corpus_raw_lines),
		FTEST(test_corpus_embedded),
		FTEST(test_hostile_shapes),
	};

	return RUN_FTESTS(tests);
}
