/*
 * import.c - resource add POOL --file FILE: bulk import of a JSON Lines file,
 * one resource per line, either {"name": N, "descriptor": {...}} or a
 * descriptor alone. Lines go to the daemon in batches (a few thousand, and
 * well under its default line limit) because one request per line would
 * make a million lines take minutes. Each line is checked here first so that
 * a bad one is reported with its number after everything before it was
 * added; when the daemon refuses a batch (a taken name, max_size) the items
 * before the culprit are sent again on their own, for the same guarantee.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool_protocol.h"
#include "poolctl.h"

#define BATCH_ITEMS 4000         /* poold's --max-batch is 10000 by default */
#define BATCH_BYTES (512 * 1024) /* half of poold's default --max-line */

struct import {
	struct ctl *ctx;
	const char *pool;
	json_t *items;        /* owned; the batch being filled */
	long *lines;          /* owned; the line number of each item of the batch */
	size_t bytes;         /* text size of the batch so far */
	long long added;      /* resources the daemon took so far */
	long long size;       /* of the file, for the progress bar; 0 if unknown */
	long long read;       /* bytes read so far */
	bool progress;        /* draw a progress bar on stderr */
	size_t max_items;     /* items per request: ours, or the daemon's if smaller */
};

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > POOL_RESOURCE_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._:-", *s))
			return false;
	return true;
}

/* One line as a resources[] item (a new reference), or NULL with why set. */
static json_t *parse_line(const char *line, size_t len, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr), *name;
	const char *key;
	json_t *v;
	bool wrapped;

	if (!obj) {
		snprintf(why, whylen, "not valid JSON: %s (column %d)", jerr.text, jerr.column);
		return NULL;
	}
	if (!json_is_object(obj)) {
		snprintf(why, whylen, "not a JSON object");
		json_decref(obj);
		return NULL;
	}
	wrapped = json_object_get(obj, "descriptor") != NULL;
	json_object_foreach(obj, key, v)
		wrapped &= strcmp(key, "name") == 0 || strcmp(key, "descriptor") == 0;
	if (!wrapped)
		return json_pack("{s:o}", "descriptor", obj);
	name = json_object_get(obj, "name");
	if (!json_is_object(json_object_get(obj, "descriptor")))
		snprintf(why, whylen, "\"descriptor\" must be a JSON object");
	else if (name && (!json_is_string(name) || !valid_name(json_string_value(name))))
		snprintf(why, whylen, "\"name\" must be 1-128 characters of A-Z a-z 0-9 . _ : -");
	else
		return obj;
	json_decref(obj);
	return NULL;
}

static void draw_progress(struct import *im)
{
	char bar[41];
	int pct = im->size > 0 ? (int)(im->read * 100 / im->size) : 0;

	if (!im->progress)
		return;
	memset(bar, ' ', 40);
	memset(bar, '#', (size_t)(pct * 40 / 100));
	bar[40] = '\0';
	if (im->size > 0)
		fprintf(stderr, "\r[%s] %3d%%  %lld added", bar, pct, im->added);
	else
		fprintf(stderr, "\r%lld added", im->added);
}

/* Which item of the refused items [from, to) the daemon's message is about,
 * relative to from, or -1: "resources[i]..." or "resource NAME already exists". */
static long culprit(const struct import *im, size_t from, size_t to, const pool_error *err)
{
	const char *p = strstr(err->message, "resources[");

	if (p)
		return strtol(p + strlen("resources["), NULL, 10);
	if (err->code != POOL_E_EXISTS)
		return -1;
	for (size_t i = from; i < to; i++) {
		const char *name = json_string_value(json_object_get(json_array_get(im->items, i),
								     "name"));
		size_t n = name ? strlen(name) : 0;
		const char *at = name ? strstr(err->message, name) : NULL;

		if (at && at[n] == ' ' && at > err->message && at[-1] == ' ')
			return (long)(i - from);
	}
	return -1;
}

/* The --max-batch limit a refusal names, or 0 if it is not about that. */
static long batch_limit(const pool_error *err)
{
	const char *p = strstr(err->message, "the limit is ");

	if (err->code != POOL_E_BAD_REQUEST || !p || !strstr(err->message, "--max-batch"))
		return 0;
	return strtol(p + strlen("the limit is "), NULL, 10);
}

/* Sends items [from, to) of the batch; 0, or -1 with err set. */
static int send_items(struct import *im, size_t from, size_t to, pool_error *err)
{
	json_t *part = im->items;
	long long added = 0;
	int rc;

	if (from > 0 || to < json_array_size(im->items)) {
		part = json_array();
		for (size_t i = from; i < to; i++)
			json_array_append(part, json_array_get(im->items, i));
	}
	rc = pool_resource_add(im->ctx->client, im->pool, part, &added, err);
	if (part != im->items)
		json_decref(part);
	if (rc == 0)
		im->added += added;
	return rc;
}

/* Says which line stopped the import and how far it got. */
static int report(struct import *im, size_t from, size_t to, long k, const pool_error *err)
{
	if (im->progress)
		fputc('\n', stderr);
	if (k >= 0 && from + (size_t)k < to)
		fprintf(stderr, "poolctl: line %ld: ", im->lines[from + (size_t)k]);
	else
		fprintf(stderr, "poolctl: lines %ld-%ld: ", im->lines[from], im->lines[to - 1]);
	fprintf(stderr, "%s\npoolctl: %lld resources were added before it; nothing after\n",
		err->message, im->added);
	return ctl_exit_code(err->code);
}

/*
 * Sends items [from, to). A daemon with a smaller --max-batch than ours says
 * so: the rest goes in batches of its size. A refused item is reported after
 * the items before it were sent on their own. 0, or an exit code.
 */
static int send_range(struct import *im, size_t from, size_t to)
{
	pool_error err, err2;
	long k, limit;
	int rc = 0;

	if (send_items(im, from, to, &err) == 0)
		return 0;
	limit = batch_limit(&err);
	if (limit > 0 && (size_t)limit < to - from) {
		im->max_items = (size_t)limit;
		for (size_t s = from; s < to && rc == 0; s += (size_t)limit)
			rc = send_range(im, s, s + (size_t)limit < to ? s + (size_t)limit : to);
		return rc;
	}
	k = err.code == POOL_E_UNREACHABLE ? -1 : culprit(im, from, to, &err);
	if (k > 0 && from + (size_t)k < to && send_items(im, from, from + (size_t)k, &err2) < 0)
		k = -1;
	return report(im, from, to, k, &err);
}

/* Sends the batch and empties it; 0, or an exit code after saying why. */
static int flush(struct import *im)
{
	int rc = send_range(im, 0, json_array_size(im->items));

	json_array_clear(im->items);
	im->bytes = 0;
	if (rc == 0)
		draw_progress(im);
	return rc;
}

/* Adds one line to the batch, sending the batch when it is full. */
static int take_line(struct import *im, char *line, size_t len, long lineno)
{
	char why[256];
	json_t *item;
	int rc;

	while (len > 0 && isspace((unsigned char)line[len - 1]))
		len--;
	if (strspn(line, " \t") >= len)
		return 0;
	if (!(item = parse_line(line, len, why, sizeof(why)))) {
		if ((rc = flush(im)) != 0)
			return rc;
		if (im->progress)
			fputc('\n', stderr);
		fprintf(stderr, "poolctl: line %ld: %s\npoolctl: %lld resources were added before "
			"it; nothing after\n", lineno, why, im->added);
		return CTL_ERR;
	}
	if (json_array_size(im->items) > 0 && im->bytes + len > BATCH_BYTES &&
	    (rc = flush(im)) != 0) {
		json_decref(item);
		return rc;
	}
	im->lines[json_array_size(im->items)] = lineno;
	json_array_append_new(im->items, item);
	im->bytes += len;
	return json_array_size(im->items) >= im->max_items ? flush(im) : 0;
}

static int import_stream(struct import *im, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;
	int rc = 0;

	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		im->read += len;
		rc = take_line(im, line, (size_t)len, ++lineno);
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "poolctl: reading the file: %s\n", strerror(errno));
		rc = CTL_ERR;
	}
	free(line);
	return rc ? rc : flush(im);
}

int import_file(struct ctl *ctx, const char *pool, const char *path)
{
	struct import im = { .ctx = ctx, .pool = pool, .max_items = BATCH_ITEMS };
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	struct stat st;
	int rc;

	if (!f)
		return ctl_usage(ctx, "--file: cannot open %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		im.size = (long long)st.st_size;
	im.progress = isatty(STDERR_FILENO) && !ctx->quiet && !ctx->json;
	im.items = json_array();
	im.lines = malloc(BATCH_ITEMS * sizeof(*im.lines));
	if (!im.items || !im.lines)
		rc = CTL_ERR;
	else
		rc = ctl_client(ctx) ? import_stream(&im, f) : ctx->connect_rc;
	if (f != stdin)
		fclose(f);
	if (rc == 0 && im.progress)
		fputc('\n', stderr);
	if (rc == 0 && ctx->json) {
		json_t *r = json_pack("{s:I}", "added", (json_int_t)im.added);

		out_json(r);
		json_decref(r);
	} else if (rc == 0 && !ctx->quiet) {
		printf("added %lld resources to pool %s from %s\n", im.added, pool, path);
	}
	json_decref(im.items);
	free(im.lines);
	return rc;
}
