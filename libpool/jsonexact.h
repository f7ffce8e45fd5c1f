/*
 * jsonexact.h - JSON text with reals in the fewest digits that read back as
 * the same double. Internal (not installed): shared by poold and poolctl.
 */
#ifndef POOL_JSONEXACT_H
#define POOL_JSONEXACT_H

#include <jansson.h>

/* json_dumps() with each real in the fewest digits that read back as the
 * same double ("oldest_lease_age":6.666); free() it. NULL if out of memory. */
char *json_dumps_exact(const json_t *v, size_t flags);
/* A copy of JSON text with each real in its fewest exact digits (text
 * stored before descriptors were kept that way); free() it. Aborts when
 * out of memory. */
char *json_text_exact(const char *text);
/* The shortest exact form of a real, as json_dumps_exact() writes it. */
void json_real_text(double d, char *buf, size_t len);

#endif
