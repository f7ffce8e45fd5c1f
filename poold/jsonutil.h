/* jsonutil.h - JSON forms of durations, times and client text used by every
 * object. */
#ifndef POOLD_JSONUTIL_H
#define POOLD_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../libpool/jsonexact.h" /* json_dumps_exact(), json_text_exact(),
					    json_real_text() */

/* Seconds as a JSON integer when whole, else a real: 3600, not 3600.0. */
json_t *json_seconds(double s);
/* An RFC 3339 string, or null for 0 (never / none). */
json_t *json_time(double t);
/* s as a JSON string even when it is not UTF-8 (bytes a client sent): then
 * every byte from 0x80 up becomes '?' rather than lose the whole text. */
json_t *json_string_lossy(const char *s);

/*
 * JSON text written directly, for the answers of the hot path (no json_t
 * tree, no json_dumps): a growable buffer that is reused, not freed, between
 * answers. Each writer gives exactly what json_dumps_exact() with
 * JSON_COMPACT would give for the same value.
 */
struct jtext {
	char *p;                  /* owned */
	size_t len, cap;
};

void jtext_raw(struct jtext *b, const char *s, size_t n);
void jtext_lit(struct jtext *b, const char *s);          /* unescaped */
void jtext_str(struct jtext *b, const char *s);          /* "escaped" */
void jtext_int(struct jtext *b, int64_t v);
void jtext_time(struct jtext *b, double t);   /* as json_time() */
void jtext_stamp(struct jtext *b, double t);  /* always a string */
void jtext_seconds(struct jtext *b, double s); /* as json_seconds() */
/* A json_t of any kind (an id, a descriptor), through json_dumps_exact. */
void jtext_json(struct jtext *b, const json_t *v);
void jtext_free(struct jtext *b);

#endif
