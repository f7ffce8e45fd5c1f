/* answer.c - see answer.h. */
#include "answer.h"

#include "lease.h"
#include "pool.h"
#include "util.h"

void answer_resource(struct jtext *b, const struct resource *r)
{
	jtext_lit(b, "{\"pool\":");
	jtext_str(b, r->pool->name);
	jtext_lit(b, ",\"name\":");
	jtext_str(b, r->name);
	jtext_lit(b, ",\"state\":\"");
	jtext_lit(b, res_state_name(r->state));
	/* Stored as compact JSON text (json_dumps_exact) when it was taken
	 * in; a bad one shows as {}, as in resource_descriptor(). */
	jtext_lit(b, "\",\"descriptor\":");
	jtext_lit(b, r->descriptor[0] == '{' ? r->descriptor : "{}");
	jtext_lit(b, ",\"version\":");
	jtext_int(b, r->version);
	jtext_lit(b, ",\"created_at\":");
	jtext_stamp(b, r->created_at);
	jtext_lit(b, ",\"last_used_at\":");
	jtext_time(b, r->last_used_at);
	jtext_lit(b, ",\"lease_count\":");
	jtext_int(b, r->lease_count);
	jtext_raw(b, "}", 1);
}

void answer_lease(struct jtext *b, const struct lease *l, bool show_id)
{
	jtext_lit(b, "{\"lease\":");
	if (show_id)
		jtext_str(b, l->id);
	else
		jtext_lit(b, "null");
	jtext_lit(b, ",\"pool\":");
	jtext_str(b, l->pool);
	jtext_lit(b, l->mode == MODE_POP ? ",\"mode\":\"pop\",\"resource\":" :
		   ",\"mode\":\"checkout\",\"resource\":");
	answer_resource(b, l->res);
	jtext_lit(b, ",\"token\":");
	jtext_int(b, l->token);
	jtext_lit(b, ",\"owner\":");
	jtext_str(b, l->owner);
	jtext_lit(b, l->bind_conn ? ",\"bind\":\"connection\"" :
		   ",\"bind\":\"none\"");
	jtext_lit(b, ",\"acquired_at\":");
	jtext_stamp(b, l->acquired_at);
	jtext_lit(b, ",\"expires_at\":");
	jtext_time(b, l->expires_at);
	jtext_lit(b, ",\"ttl\":");
	jtext_seconds(b, l->ttl);
	jtext_raw(b, "}", 1);
}
