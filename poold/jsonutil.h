/* jsonutil.h - JSON forms of durations, times and client text used by every
 * object. */
#ifndef POOLD_JSONUTIL_H
#define POOLD_JSONUTIL_H

#include <jansson.h>

#include "../libpool/jsonexact.h" /* json_dumps_exact() */

/* Seconds as a JSON integer when whole, else a real: 3600, not 3600.0. */
json_t *json_seconds(double s);
/* An RFC 3339 string, or null for 0 (never / none). */
json_t *json_time(double t);
/* s as a JSON string even when it is not UTF-8 (bytes a client sent): then
 * every byte from 0x80 up becomes '?' rather than lose the whole text. */
json_t *json_string_lossy(const char *s);

#endif
