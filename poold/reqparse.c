/*
 * reqparse.c - see reqparse.h. Each function takes the position of what it
 * reads and returns the position after it, or NULL to decline: declining
 * is always safe (jansson reads the line instead), accepting must never be
 * wrong, so every rule below errs towards declining.
 */
#include "reqparse.h"

#include <string.h>

/* RFC 8259's whitespace; jansson skips the same four. */
static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
			   *p == '\n'))
		p++;
	return p;
}

/* A string without escapes, control characters or bytes from 0x80 (so its
 * bytes are its value, and jansson would dump it unchanged), copied
 * NUL-terminated to *out. p is at the opening quote. */
static const char *scan_string(const char *p, const char *end, char **out)
{
	const char *s = ++p;
	size_t n;

	while (p < end && *p != '"') {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20 || ch >= 0x80 || ch == '\\')
			return NULL;
		p++;
	}
	if (p == end)
		return NULL;
	n = (size_t)(p - s);
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	*out += n + 1;
	return p + 1;
}

/* An integer as RFC 8259 writes it, at most REQPARSE_DIGITS_MAX digits.
 * Reals decline (their text need not be what jansson would dump), and so
 * does -0 (jansson reads it as 0, which it writes as "0"). */
static const char *scan_int(const char *p, const char *end, int64_t *v)
{
	bool neg = *p == '-';
	const char *digits;
	int64_t n = 0;

	if (neg)
		p++;
	digits = p;
	while (p < end && *p >= '0' && *p <= '9') {
		if (p - digits == REQPARSE_DIGITS_MAX)
			return NULL;
		n = n * 10 + (*p - '0');
		p++;
	}
	if (p == digits || (*digits == '0' && p - digits > 1))
		return NULL;
	if (p < end && (*p == '.' || *p == 'e' || *p == 'E'))
		return NULL;
	if (neg && n == 0)
		return NULL;
	*v = neg ? -n : n;
	return p;
}

static const char *scan_word(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);

	return (size_t)(end - p) >= n && memcmp(p, w, n) == 0 ? p + n : NULL;
}

/* One scalar value into f. What follows it is checked by the caller: a
 * value must end at whitespace, ',' or '}' ("truex", "12a" decline). */
static const char *scan_value(struct reqparse_field *f, const char *p,
			      const char *end, char **out)
{
	const char *after = NULL;

	if (p == end)
		return NULL;
	f->raw = p;
	if (*p == '"') {
		f->type = RP_STRING;
		f->str = *out;
		after = scan_string(p, end, out);
	} else if (*p == '-' || (*p >= '0' && *p <= '9')) {
		f->type = RP_INT;
		after = scan_int(p, end, &f->num);
	} else if ((after = scan_word(p, end, "true"))) {
		f->type = RP_TRUE;
	} else if ((after = scan_word(p, end, "false"))) {
		f->type = RP_FALSE;
	} else if ((after = scan_word(p, end, "null"))) {
		f->type = RP_NULL;
	}
	if (after)
		f->raw_len = (size_t)(after - p);
	return after;
}

/* "key": value, appended to rp's fields. A repeated key declines: jansson
 * refuses it (JSON_REJECT_DUPLICATES) with its own words. */
static const char *scan_member(struct reqparse *rp, const char *p,
			       const char *end, char **out)
{
	struct reqparse_field *f = &rp->f[rp->n];

	if (rp->n == REQPARSE_FIELDS_MAX || p == end || *p != '"')
		return NULL;
	f->key = *out;
	if (!(p = scan_string(p, end, out)) || reqparse_find(rp, f->key))
		return NULL;
	p = skip_ws(p, end);
	if (p == end || *p != ':')
		return NULL;
	if (!(p = scan_value(f, skip_ws(p + 1, end), end, out)))
		return NULL;
	rp->n++;
	return skip_ws(p, end);
}

/* The members of an object up to its closing brace; p is after '{'. */
static const char *scan_members(struct reqparse *rp, const char *p,
				const char *end, char **out)
{
	p = skip_ws(p, end);
	if (p < end && *p == '}')
		return p + 1;
	for (;;) {
		if (!(p = scan_member(rp, p, end, out)) || p == end)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p != ',')
			return NULL;
		p = skip_ws(p + 1, end);
	}
}

bool reqparse(struct reqparse *rp, const char *line, size_t len)
{
	const char *p, *end;
	char *out = rp->text;

	rp->n = 0;
	if (len >= sizeof rp->line)
		return false;
	memcpy(rp->line, line, len);
	rp->line[len] = '\0';
	rp->len = len;
	end = rp->line + len;
	p = skip_ws(rp->line, end);
	if (p == end || *p != '{')
		return false;
	if (!(p = scan_members(rp, p + 1, end, &out)))
		return false;
	return skip_ws(p, end) == end;
}

const struct reqparse_field *reqparse_find(const struct reqparse *rp,
					   const char *key)
{
	for (size_t i = 0; i < rp->n; i++)
		if (strcmp(rp->f[i].key, key) == 0)
			return &rp->f[i];
	return NULL;
}
