/*
 * reqparse.h - the common request line read without a jansson tree: a flat
 * JSON object of plain scalars, such as {"op":"lease","pool":"p"}. The
 * scanner is deliberately strict and small: whatever it does not fully
 * accept (escapes, reals, nesting, non-ASCII, a long line, bad JSON) it
 * declines, and the caller parses the line with jansson as before, so every
 * refusal of bad input keeps its one home and its exact words (proto.c).
 * Anything it accepts, jansson accepts too, with the same values.
 */
#ifndef POOLD_REQPARSE_H
#define POOLD_REQPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REQPARSE_LINE_MAX 512   /* longer lines take jansson's path */
#define REQPARSE_FIELDS_MAX 16  /* more keys take jansson's path */
#define REQPARSE_DIGITS_MAX 18  /* any such integer fits int64_t */

enum reqparse_type { RP_STRING, RP_INT, RP_TRUE, RP_FALSE, RP_NULL };

struct reqparse_field {
	const char *key;          /* NUL-terminated, in text[] */
	enum reqparse_type type;
	const char *str;          /* RP_STRING: NUL-terminated, in text[] */
	int64_t num;              /* RP_INT */
	const char *raw;          /* the value's JSON text, in line[]: it is
				   * what jansson's compact dump would write */
	size_t raw_len;
};

struct reqparse {
	size_t n;                 /* fields */
	struct reqparse_field f[REQPARSE_FIELDS_MAX];
	size_t len;               /* of line */
	char line[REQPARSE_LINE_MAX];  /* the request as received */
	char text[REQPARSE_LINE_MAX];  /* keys and strings, NUL-terminated */
};

/* Reads line into rp. true: every field is in rp. false: not handled here
 * (rp holds nothing usable); parse the line with jansson instead. */
bool reqparse(struct reqparse *rp, const char *line, size_t len);

/* The field named key, or NULL. */
const struct reqparse_field *reqparse_find(const struct reqparse *rp,
					   const char *key);

#endif
