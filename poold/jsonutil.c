/* jsonutil.c - see jsonutil.h. */
#include "jsonutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

json_t *json_seconds(double s)
{
	double whole;

	if (modf(s, &whole) == 0.0 && fabs(whole) < 9e15)
		return json_integer((json_int_t)whole);
	/* Milliseconds are as precise as any timestamp poold shows. */
	if (fabs(s) < 9e12)
		s = round(s * 1000.0) / 1000.0;
	return json_real(s);
}

json_t *json_time(double t)
{
	char buf[40];

	return t > 0 ? json_string(time_rfc3339(t, buf, sizeof buf)) : json_null();
}

json_t *json_string_lossy(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static void jtext_room(struct jtext *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;

	if (b->len + n + 1 <= b->cap)
		return;
	while (cap < b->len + n + 1)
		cap *= 2;
	b->p = realloc(b->p, cap);
	if (!b->p)
		abort();
	b->cap = cap;
}

void jtext_raw(struct jtext *b, const char *s, size_t n)
{
	jtext_room(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void jtext_lit(struct jtext *b, const char *s)
{
	jtext_raw(b, s, strlen(s));
}

/* As jansson escapes without flags: '"', '\\' and control characters;
 * UTF-8 is written as it is. */
void jtext_str(struct jtext *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	jtext_raw(b, "\"", 1);
	for (const char *run = s;; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[7] = "\\u00";
		size_t n = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		jtext_raw(b, run, (size_t)(s - run));
		if (ch == '\0')
			break;
		run = s + 1;
		switch (ch) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			n = 6;
		}
		jtext_raw(b, esc, n);
	}
	jtext_raw(b, "\"", 1);
}

void jtext_int(struct jtext *b, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof num, "%lld", (long long)v);

	jtext_raw(b, num, (size_t)n);
}

void jtext_time(struct jtext *b, double t)
{
	if (t > 0)
		jtext_stamp(b, t);
	else
		jtext_raw(b, "null", 4);
}

void jtext_stamp(struct jtext *b, double t)
{
	char buf[40];

	time_rfc3339(t, buf, sizeof buf);
	jtext_raw(b, "\"", 1);
	jtext_lit(b, buf);
	jtext_raw(b, "\"", 1);
}

void jtext_seconds(struct jtext *b, double s)
{
	double whole;
	char num[40];

	if (modf(s, &whole) == 0.0 && fabs(whole) < 9e15) {
		jtext_int(b, (int64_t)whole);
		return;
	}
	if (fabs(s) < 9e12)
		s = round(s * 1000.0) / 1000.0;
	json_real_text(s, num, sizeof num);
	jtext_lit(b, num);
}

void jtext_json(struct jtext *b, const json_t *v)
{
	char *text;

	if (json_is_integer(v)) {
		jtext_int(b, json_integer_value(v));
		return;
	}
	if (json_is_string(v)) {
		jtext_str(b, json_string_value(v));
		return;
	}
	text = json_dumps_exact(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
				   JSON_ENCODE_ANY);
	if (!text)
		abort();
	jtext_lit(b, text);
	free(text);
}

void jtext_free(struct jtext *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
