/*
 * answer.h - the answers of the hot path (lease, checkout, return) written
 * as JSON text directly: the stored descriptor text spliced in as it is,
 * no json_t tree, no json_dumps. The text is the same as the json_t forms
 * (lease_to_json(), resource_to_json()) would dump to.
 */
#ifndef POOLD_ANSWER_H
#define POOLD_ANSWER_H

#include <stdbool.h>

#include "jsonutil.h"

struct lease;
struct resource;

/* The Resource object. */
void answer_resource(struct jtext *b, const struct resource *r);
/* The Lease object; show_id false hides the capability (another caller's). */
void answer_lease(struct jtext *b, const struct lease *l, bool show_id);

#endif
