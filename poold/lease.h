/*
 * lease.h - leases: granting one on a free resource, ending one exactly once
 * (return, checkin, expiry, a closed connection, a forced removal), renewal,
 * the expiry heap and the Lease JSON form.
 */
#ifndef POOLD_LEASE_H
#define POOLD_LEASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

struct poold;
struct pool;
struct resource;
struct caller;

enum lease_mode { MODE_POP, MODE_CHECKOUT };

/* How a lease ends; decides the counter and what happens to the resource. */
enum lease_end { END_RETURN, END_EXPIRE, END_CONN_CLOSED, END_REMOVED };

/* What a lease or checkout request asks for. */
struct want {
	enum lease_mode mode;
	const char *name;          /* checkout by name; borrowed from request */
	json_t *match;             /* checkout by match; borrowed */
	double ttl;                /* resolved: 0 = none */
	double wait;               /* seconds; 0 = answer at once */
	const char *owner;         /* NULL = default "uid:N pid:P" */
	bool bind_conn;
	const char *request_id;    /* NULL = none */
	double waited;             /* request to grant, s (0: at once) */
};

struct lease {
	char id[33];               /* 32 hex chars */
	int64_t seq;               /* grant order */
	struct resource *res;      /* NULL once ended */
	/* The strings point into text (lease_new()). */
	char *pool;                /* the pool's name */
	char *res_name;
	enum lease_mode mode;
	int64_t token;
	char *owner;
	char *caller;              /* who took it */
	bool bind_conn;
	uint64_t conn_id;
	double ttl;                /* 0 = none */
	double acquired_at;
	double waited;             /* want.waited; memory only (metrics) */
	double expires_at;         /* wall clock, stored and shown; 0 = none; for
				    * an ended one: when it expired */
	double deadline;           /* now_mono() when it expires (if expires_at
				    * > 0): what the expiry heap orders by */
	char *request_id;          /* NULL = none */
	char *rid_key;             /* "caller\x1frequest_id", if request_id */
	char *text;                /* owned: the strings above */
	size_t text_cap;
	size_t heap_idx;           /* position in pd->heap, SIZE_MAX if none */
	TAILQ_ENTRY(lease) pool_link; /* in pool->leases while live */
};

/* Fencing tokens reserved by one write of meta's next_token. */
#define TOKEN_BLOCK 1024

/* The next fencing token; reserves the next block when the stored limit
 * is reached (pd->token_dirty: the commit writes it). */
int64_t lease_next_token(struct poold *pd);
/* Grants a lease on r (free or just created) to who, moving r to leased. */
struct lease *lease_grant(struct poold *pd, struct resource *r,
			  const struct want *w, const struct caller *who,
			  double now);
/* Links a lease loaded from the store to its resource. */
void lease_attach(struct poold *pd, struct lease *l, struct resource *r);
void lease_attach_expired(struct poold *pd, struct lease *l);

/* Ends a live lease. descriptor (stolen, may be NULL) replaces the stored
 * one; discard destroys the resource instead of freeing it. */
void lease_end(struct poold *pd, struct lease *l, enum lease_end how,
	       json_t *descriptor, bool discard, double now);

void lease_renew(struct poold *pd, struct lease *l, double ttl, double now);
/* Ends (as expired) at most max leases whose monotonic deadline has
 * passed, soonest first. */
void lease_expire_due(struct poold *pd, size_t max);
/* True if l has a TTL and its monotonic deadline has passed. */
bool lease_due(const struct lease *l);
void lease_end_conn(struct poold *pd, uint64_t conn_id, double now);
/* A lease with copies of its strings (request_id may be NULL) and every
 * other field zero; a freed one is reused, with its text's memory. */
struct lease *lease_new(const char *pool, const char *res_name,
			const char *owner, const char *caller,
			const char *request_id);
/* Keeps a bounded number of freed leases for lease_new(). */
void lease_free(struct lease *l);
/* Gives the kept ones back (at shutdown). */
void lease_spares_free(void);

/* The Lease object; show_id false hides the capability (another caller's). */
json_t *lease_to_json(const struct lease *l, bool show_id);
/* The live lease answered again for an idempotent retry, or NULL. */
struct lease *lease_by_request_id(struct poold *pd, const char *caller,
				  const char *request_id);
/* The key of the request_id maps: "caller\x1frequest_id" (caller frees). */
char *request_id_key(const char *caller, const char *request_id);

#endif
