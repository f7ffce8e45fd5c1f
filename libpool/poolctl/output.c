/*
 * output.c - what poolctl prints on success: indented JSON for --json,
 * compact JSON lines for streams, readable summaries and aligned tables by
 * default, and shell export lines for eval. Times are shown as the daemon
 * sent them plus a relative "in 5m" / "12s ago" where that is what a person
 * wants to know.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../jsonexact.h"
#include "poolctl.h"

/* v as JSON text with flags and exact short reals on stdout, then '\n'. */
static void print_json(const json_t *v, size_t flags)
{
	char *text = json_dumps_exact(v, flags | JSON_ENCODE_ANY);

	if (text)
		puts(text);
	else
		fputs("poolctl: out of memory printing JSON\n", stderr);
	free(text);
}

void out_json(const json_t *v)
{
	print_json(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}

void out_json_line(const json_t *v)
{
	print_json(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	fflush(stdout);
}

const char *out_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

/* RFC 3339 UTC ("2026-11-22T10:04:05.123Z") to Unix seconds; NAN if not one. */
static double parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	double frac = 0, scale = 0.1;

	if (!p)
		return NAN;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += (*p - '0') * scale;
	if (strcmp(p, "Z") != 0)
		return NAN;
	return (double)timegm(&tm) + frac;
}

double out_seconds_until(const char *rfc3339)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return parse_time(rfc3339) - ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* "2026-...Z (in 59m58s)" or "... (12s ago)" into buf. */
static const char *time_with_relative(const char *t, char *buf, size_t len)
{
	double d = out_seconds_until(t);
	char rel[32];

	if (isnan(d))
		snprintf(buf, len, "%s", t);
	else
		snprintf(buf, len, "%s (%s%s%s)", t, d >= 0 ? "in " : "",
			 duration_format(fabs(d), rel, sizeof(rel)), d < 0 ? " ago" : "");
	return buf;
}

/* A JSON value as compact text, malloc'd. */
static char *compact(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}

void out_lease(const json_t *lease)
{
	const json_t *res = json_object_get(lease, "resource");
	const char *exp = json_string_value(json_object_get(lease, "expires_at"));
	char *desc = compact(json_object_get(res, "descriptor"));
	char when[96];

	printf("lease       %s\n", json_is_string(json_object_get(lease, "lease"))
					   ? out_str(lease, "lease") : "(another caller's)");
	printf("pool        %s\n", out_str(lease, "pool"));
	printf("resource    %s (version %lld)\n", out_str(res, "name"),
	       (long long)json_integer_value(json_object_get(res, "version")));
	printf("mode        %s\n", out_str(lease, "mode"));
	printf("token       %lld\n", (long long)json_integer_value(json_object_get(lease, "token")));
	printf("owner       %s\n", out_str(lease, "owner"));
	printf("bind        %s\n", out_str(lease, "bind"));
	printf("acquired    %s\n",
	       time_with_relative(out_str(lease, "acquired_at"), when, sizeof(when)));
	printf("expires     %s\n", exp ? time_with_relative(exp, when, sizeof(when)) : "never");
	printf("descriptor  %s\n", desc ? desc : "{}");
	free(desc);
}

/* s as one single-quoted shell word (' becomes '\''), malloc'd. */
static char *shell_quote(const char *s)
{
	size_t n = 3;
	char *q, *p;

	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	if (!(q = p = malloc(n)))
		return NULL;
	*p++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *s;
		}
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

bool out_desc_env_name(const char *key, char *buf, size_t len)
{
	static const char prefix[] = "POOL_DESC_";
	size_t n = sizeof(prefix) - 1, klen = strlen(key);

	if (klen == 0 || n + klen + 1 > len)
		return false;
	memcpy(buf, prefix, n);
	/* Anything a shell variable name cannot hold becomes '_'. */
	for (const char *k = key; *k; k++)
		buf[n++] = isalnum((unsigned char)*k) && isascii((unsigned char)*k)
				   ? (char)toupper((unsigned char)*k) : '_';
	buf[n] = '\0';
	return true;
}

char *out_scalar_text(const json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_null(v))
		return strdup("");
	if (json_is_object(v) || json_is_array(v))
		return NULL;
	return compact(v);
}

static void print_export(const char *name, const char *value)
{
	char *q = shell_quote(value);

	if (q)
		printf("export %s=%s\n", name, q);
	free(q);
}

void out_lease_env(const json_t *lease)
{
	const json_t *res = json_object_get(lease, "resource");
	json_t *desc = json_object_get(res, "descriptor");
	char *text = compact(desc);
	char name[160];
	const char *key;
	json_t *v;

	print_export("POOL_LEASE", out_str(lease, "lease"));
	print_export("POOL_RESOURCE", out_str(res, "name"));
	print_export("POOL_DESCRIPTOR", text ? text : "{}");
	free(text);
	json_object_foreach(desc, key, v) {
		char *s = out_scalar_text(v);

		if (s && out_desc_env_name(key, name, sizeof(name)))
			print_export(name, s);
		free(s);
	}
}

void out_fields(const json_t *obj)
{
	const char *key;
	json_t *v;
	size_t width = 0;

	json_object_foreach((json_t *)obj, key, v)
		width = strlen(key) > width ? strlen(key) : width;
	json_object_foreach((json_t *)obj, key, v) {
		char *text = json_is_string(v) ? strdup(json_string_value(v)) : compact(v);

		printf("%-*s  %s\n", (int)width, key, text ? text : "");
		free(text);
	}
}

/* ---- tables --------------------------------------------------------------- */

struct table {
	size_t ncols;
	size_t nrows;   /* including the header */
	size_t cap;     /* rows allocated */
	char **cells;   /* owned; nrows * ncols strings, each owned */
};

static void table_push(struct table *t, va_list ap)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));

		if (!cells) {
			fprintf(stderr, "poolctl: out of memory\n");
			exit(CTL_ERR);
		}
		t->cells = cells;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);

		t->cells[t->nrows * t->ncols + i] = strdup(s ? s : "");
	}
	t->nrows++;
}

struct table *table_new(size_t ncols, ...)
{
	struct table *t = calloc(1, sizeof(*t));
	va_list ap;

	if (!t) {
		fprintf(stderr, "poolctl: out of memory\n");
		exit(CTL_ERR);
	}
	t->ncols = ncols;
	va_start(ap, ncols);
	table_push(t, ap);
	va_end(ap);
	return t;
}

void table_add(struct table *t, ...)
{
	va_list ap;

	va_start(ap, t);
	table_push(t, ap);
	va_end(ap);
}

void table_print(struct table *t, FILE *f)
{
	size_t *w = calloc(t->ncols, sizeof(*w));

	for (size_t i = 0; w && i < t->nrows * t->ncols; i++) {
		size_t n = t->cells[i] ? strlen(t->cells[i]) : 0;

		if (n > w[i % t->ncols])
			w[i % t->ncols] = n;
	}
	for (size_t r = 0; w && r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c + 1 < t->ncols)
				fprintf(f, "%-*s  ", (int)w[c], s ? s : "");
			else
				fprintf(f, "%s\n", s ? s : "");
		}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	free(w);
}
