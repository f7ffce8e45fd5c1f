/*
 * ops.h - every operation's table entry (one op-*.c file each), and the few
 * helpers that several handlers share.
 */
#ifndef POOLD_OPS_H
#define POOLD_OPS_H

#include "dispatch.h"
#include "lease.h"

struct pool;
struct resource;

extern const struct op op_ping, op_hello;
extern const struct op op_pool_create, op_pool_set, op_pool_get,
	op_pool_list, op_pool_drain, op_pool_delete;
extern const struct op op_resource_add, op_resource_list, op_resource_get,
	op_resource_update, op_resource_remove;
extern const struct op op_lease, op_return, op_checkout, op_replace,
	op_checkin, op_renew, op_lease_get, op_lease_list, op_status,
	op_watch, op_history, op_backup;

/* The request's "pool" / "name", or NULL after answering not_found. */
struct pool *op_pool(struct req *r);
struct resource *op_resource(struct req *r, struct pool *p);

/* lease and checkout: the pool, the request's options, then take a
 * resource, create one, or wait. */
enum req_status op_take(struct req *r, enum lease_mode mode);
/* return and checkin: end l with the request's descriptor and discard. */
enum req_status op_give_back(struct req *r, struct lease *l);

/* Looks up a live lease for renew/return/replace/checkin, ending it first if
 * its TTL has run out. Returns it, or NULL after answering r with not_found,
 * expired or forbidden. */
struct lease *lease_for_request(struct req *r, const char *id);

/* Before a page query: the batch's own rows, if it has any, are written
 * (in its transaction), so that the query sees them; with none, no
 * transaction is opened. 0, or -1 after answering internal. */
int op_page_sync(struct req *r);

/* The request's "after" for a page whose cursor is a sequence number (a
 * string of digits; absent or null = 0), or -1 after answering. */
int op_after_seq(struct req *r, int64_t *after);

/* The request's "limit" for a page, or -1 after answering. */
int op_limit(struct req *r);
/* Pages are bounded in bytes as well as in count: a list stops early, with
 * "next" set, once its items reach this many bytes (half of --max-output,
 * so that the page fits the caller's output even beside other answers). */
size_t op_page_bytes(const struct req *r);

/* The pools sorted by name (caller frees the array). */
struct pool **op_pools_sorted(struct poold *pd, size_t *n);
/* The status op's result for one pool or all (NULL); new reference. */
json_t *op_status_json(struct poold *pd, const struct pool *one, double now);

/* Drains p: no new leases, waiters answered draining, free resources
 * destroyed, leased ones destroyed on return. */
void op_pool_start_drain(struct pool *p);

/* Answers a CAS field: 0 if version is r's current version, else -1 after
 * answering conflict. */
int op_check_version(struct req *r, const struct resource *res);

#endif
