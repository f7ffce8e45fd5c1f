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

#endif
