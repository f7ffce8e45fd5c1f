/* jsonutil.h - JSON forms of durations and times used by every object. */
#ifndef POOLD_JSONUTIL_H
#define POOLD_JSONUTIL_H

#include <jansson.h>

/* Seconds as a JSON integer when whole, else a real: 3600, not 3600.0. */
json_t *json_seconds(double s);
/* An RFC 3339 string, or null for 0 (never / none). */
json_t *json_time(double t);
/* json_dumps() with each real in the fewest digits that read back as the
 * same double ("oldest_lease_age":6.666); free() it. NULL if out of memory. */
char *json_dumps_exact(const json_t *v, size_t flags);

#endif
