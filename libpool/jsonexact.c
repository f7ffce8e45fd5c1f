/*
 * jsonexact.c - see jsonexact.h. One source file compiled into both poold
 * (poold_core) and poolctl, so that the daemon's answers and poolctl's
 * output write reals alike; it needs jansson and libc only.
 */
#include "jsonexact.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fewest of 15, 16 or 17 significant digits that read back as d, with
 * ".0" when that looks like an integer, as jansson writes reals. */
void json_real_text(double d, char *buf, size_t len)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".eEni"))
		strncat(buf, ".0", len - strlen(buf) - 1);
}

/*
 * Rewrites the reals of JSON text (as json_dumps writes it) with the
 * fewest digits that read back as the same double: 6.666, not
 * 6.6660000000000004. Nothing is lost, unlike a lower JSON_REAL_PRECISION,
 * which would round descriptors' reals too. Takes text; NULL if out of memory.
 */
static char *shorten_reals(char *text)
{
	size_t n = text ? strlen(text) : 0, o = 0;
	char *out = text ? malloc(2 * n + 32) : NULL;
	bool in_string = false;

	for (size_t i = 0; out && i < n;) {
		bool number = text[i] == '-' || isdigit((unsigned char)text[i]);
		size_t tok = number ? strspn(text + i, "-+0123456789.eE") : 0;

		if (in_string || tok == 0) {
			if (text[i] == '"')
				in_string = !in_string;
			else if (in_string && text[i] == '\\')
				out[o++] = text[i++];
			out[o++] = text[i++];
			continue;
		}
		if (strcspn(text + i, ".eE") < tok) {
			char num[40];

			json_real_text(strtod(text + i, NULL), num, sizeof(num));
			memcpy(out + o, num, strlen(num));
			o += strlen(num);
		} else {
			memcpy(out + o, text + i, tok);
			o += tok;
		}
		i += tok;
	}
	if (out)
		out[o] = '\0';
	free(text);
	return out;
}

char *json_text_exact(const char *text)
{
	char *out;

	if (!strpbrk(text, ".eE"))
		out = strdup(text); /* no real in it: most descriptors */
	else
		out = shorten_reals(strdup(text));
	if (!out)
		abort();
	return out;
}

char *json_dumps_exact(const json_t *v, size_t flags)
{
	return shorten_reals(json_dumps(v, flags));
}
