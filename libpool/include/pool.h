/*
 * pool.h - libpool, the blocking C client of poold. This header is the whole
 * API: if it is not here, it is not API. One pool_client is one connection to
 * the daemon; every call sends one request and blocks until its answer.
 *
 * Conventions, so that each function below needs only one sentence:
 *  - Functions returning int return 0 on success and -1 on failure with *err
 *    filled: the daemon's own code and message for its errors (not_leader is
 *    POOL_E_NOT_LEADER, seen only with one endpoint), else a
 *    POOL_E_UNREACHABLE / POOL_E_PROTOCOL / POOL_E_TIMEOUT made up here (see
 *    pool_timed_out() to tell the last from the daemon's timeout). err
 *    may be NULL anywhere; on success err->code is POOL_OK.
 *  - A json_t ** or pool_lease ** out-parameter may be NULL when the caller
 *    does not want the result; on success it receives a new reference (free
 *    it with json_decref() or pool_lease_free()), on failure it is set NULL.
 *  - Strings and json_t * arguments are borrowed for the call only; a NULL
 *    optional argument leaves the field out of the request, so the daemon
 *    applies its default (and names any required field that is missing).
 *  - A pool_client is not thread-safe: use one per thread.
 *
 * Function names follow the op names of the contract (docs/protocol.md):
 * "pool.create" is pool_pool_create(), "lease.get" is pool_lease_get(); the
 * op "lease" is pool_lease_acquire() because pool_lease is the lease type.
 */
#ifndef POOL_H
#define POOL_H

#include <stddef.h>
#include <jansson.h>
#include "pool_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pool_client pool_client;
typedef struct pool_lease pool_lease;

/* One code per error code of the contract, plus two that only a client sees.
 * Values never change: a code added to the contract goes at the end. */
typedef enum pool_code {
	POOL_OK = 0, POOL_E_BAD_REQUEST, POOL_E_UNKNOWN_OP, POOL_E_TOO_LARGE, POOL_E_NOT_FOUND,
	POOL_E_EXISTS, POOL_E_CONFLICT, POOL_E_EXHAUSTED, POOL_E_TIMEOUT, POOL_E_BUSY,
	POOL_E_EXPIRED, POOL_E_FORBIDDEN, POOL_E_DRAINING, POOL_E_CREATE_FAILED, POOL_E_INTERNAL,
	POOL_E_UNREACHABLE,  /* cannot connect, or the connection was lost */
	POOL_E_PROTOCOL,     /* the daemon's answer was not what the contract says */
	POOL_E_NOT_LEADER    /* a standby front end (docs/ha.md); a client given several
			      * endpoints follows it to the leader itself */
} pool_code;

typedef struct pool_error {
	pool_code code;
	char message[1024]; /* for humans: what went wrong and what to do */
} pool_error;

/* ---- Errors and version ------------------------------------------------ */

/* The wire name of c ("not_found"; "ok", "unreachable", "protocol" for the
 * codes the wire never carries, "unknown" out of range); a static string. */
const char *pool_code_name(pool_code c);
/* The code whose pool_code_name() is name; unknown names and NULL give
 * POOL_E_PROTOCOL. */
pool_code pool_code_from_name(const char *name);
/* libpool's release, POOL_VERSION; a static string. */
const char *pool_libversion(void);

/* ---- Connection -------------------------------------------------------- */

/* Connects to poold's Unix socket at socket_path (several, comma-separated:
 * see pool_connect_opts; NULL: pool_socket_default(),
 * or the system daemon's POOL_SOCKET_ROOT when that one does not exist and
 * $POOLD_SOCKET is not set);
 * returns a client to free with pool_close(), or NULL with err filled. */
pool_client *pool_connect(const char *socket_path, pool_error *err);
/* Wraps an already connected stream socket (e.g. one end of a socketpair or
 * a TCP connection made by the caller); takes ownership of fd (closed by
 * pool_close(), or at once on failure) and makes it non-blocking. */
pool_client *pool_connect_fd(int fd, pool_error *err);
/* Connects to poold over TCP ("HOST:PORT" or "[V6]:PORT"; poold --listen)
 * and says hello with token, as TCP requires first. NULL with *err set
 * (forbidden for a wrong token); free with pool_close(). No TLS and no
 * timeout: pool_connect_with() has both. */
pool_client *pool_connect_tcp(const char *hostport, const char *token,
			      pool_error *err);

/* How pool_connect_with() connects; all-zero ({0}) is pool_connect(NULL).
 * Strings are borrowed for the call only (the client keeps copies).
 *
 * Several endpoints, comma-separated ("/a.sock,/b.sock", "h1:7411,h2:7411",
 * also in $POOLD_SOCKET), are the front ends of one cluster (docs/ha.md): the
 * client connects to the first that accepts, and pool_call() (so every op
 * function) follows not_leader to the leader it names (or the next endpoint)
 * and a lost connection to the next endpoint that answers, sending the
 * request again only when that cannot act twice: not_leader (nothing was
 * done), reads, ping, hello, status, renew, and lease/checkout with a
 * request_id, which it generates when none is given. Other requests whose
 * answer was lost fail with POOL_E_UNREACHABLE saying they may or may not
 * have taken effect. Bounded by the call's deadline (pool_set_timeout() plus
 * the request's wait) if any, else 30 s of looking for a leader; a retried
 * lease sends the wait that is left. pool_send_line() and pool_recv_json()
 * never follow. */
typedef struct pool_connect_opts {
	const char *socket_path; /* Unix socket(s); NULL: as pool_connect(NULL) (unless tcp) */
	const char *tcp;         /* "HOST:PORT"(s): TCP instead, then hello with token */
	const char *token;       /* TCP: the token for hello; NULL: none */
	double timeout;          /* seconds that connecting, the TLS handshake and hello
				  * may each take, then pool_set_timeout(); 0: forever */
	int tls;                 /* TCP: speak TLS, verifying poold's certificate
				  * and that it names the HOST of tcp */
	const char *tls_ca;      /* TLS: PEM file of the CAs to trust; NULL: the system's */
	int tls_insecure;        /* TLS without any verification: anyone on the path
				  * can read and change the traffic (tests only) */
} pool_connect_opts;

/* Connects as o says (NULL: as {0}); NULL with *err set: POOL_E_TIMEOUT
 * when o->timeout ran out, POOL_E_UNREACHABLE for anything else that stops
 * the connection (a certificate that fails verification says so), or
 * hello's error. Free with pool_close(). */
pool_client *pool_connect_with(const pool_connect_opts *o, pool_error *err);
/* Closes the connection and frees c; leases bound to the connection end.
 * NULL is a harmless no-op. */
void pool_close(pool_client *c);
/* Bounds how long each later call waits for its answer, in seconds (0, the
 * default, or a negative or non-finite value: wait forever); a request with
 * "wait" gets its wait on top, so it can block longer than its wait. A call
 * that runs out fails with POOL_E_TIMEOUT, and then the request may still
 * take effect on the daemon (retry a lease with the same request_id); its
 * late answer is skipped by the next call. */
void pool_set_timeout(pool_client *c, double seconds);
/* Non-zero when the last call on c failed because pool_set_timeout()'s
 * bound ran out (POOL_E_TIMEOUT made up here), not because the daemon
 * answered timeout (a lease wait that ran out); 0 for NULL. */
int pool_timed_out(const pool_client *c);

/* ---- Raw messages ------------------------------------------------------ */

/* Sends {"op": op, "id": <next id>, ...fields of args} and waits for the
 * answer with that id, skipping watch events; args (an object or NULL, must
 * not hold "op" or "id") is borrowed; on success *result (if result is not
 * NULL) is a new reference to the "result" object. */
int pool_call(pool_client *c, const char *op, json_t *args, json_t **result, pool_error *err);
/* Sends len bytes of line followed by '\n' (unless line already ends with
 * one), as is, for pipelining and hostile-input tests; line is borrowed.
 * If poold closed the connection meanwhile, fails with POOL_E_UNREACHABLE but
 * its answer (say, too_large) may still be read with pool_recv_json(). */
int pool_send_line(pool_client *c, const char *line, size_t len, pool_error *err);
/* Reads the next whole message, whatever it is (an answer, a watch event);
 * on success *msg is a new reference to a JSON object. Answers to requests
 * sent with pool_send_line() must be read with this before the next
 * pool_call(), which would take them for a protocol error. */
int pool_recv_json(pool_client *c, json_t **msg, pool_error *err);

/* ---- Daemon ------------------------------------------------------------ */

/* op "ping"; *result is {"version", "uptime"}. */
int pool_ping(pool_client *c, json_t **result, pool_error *err);
/* op "hello" with token (NULL: none, as on the Unix socket); *result is
 * {"version", "caller", "admin"}. */
int pool_hello(pool_client *c, const char *token, json_t **result, pool_error *err);
/* op "status" for one pool (NULL: all); *result is {"pools": [...]}. */
int pool_status(pool_client *c, const char *pool, json_t **result, pool_error *err);
/* op "watch" on one pool (NULL: all); after it succeeds, read the event
 * stream with pool_recv_json() (pool_call() on this client skips events). */
int pool_watch(pool_client *c, const char *pool, pool_error *err);

/* ---- Pools (all but get and list are admin ops) ------------------------ */

/* op "pool.create"; settings (NULL: all defaults) holds Pool fields other
 * than "pool" and is borrowed; *pool_out is the Pool object. */
int pool_pool_create(pool_client *c, const char *pool, json_t *settings, json_t **pool_out,
		     pool_error *err);
/* op "pool.set": changes the fields in settings (borrowed); *pool_out is the
 * Pool object after the change. */
int pool_pool_set(pool_client *c, const char *pool, json_t *settings, json_t **pool_out,
		  pool_error *err);
/* op "pool.get"; *pool_out is the Pool object with "occupancy". */
int pool_pool_get(pool_client *c, const char *pool, json_t **pool_out, pool_error *err);
/* op "pool.list"; *result is {"pools": [Pool...]}. */
int pool_pool_list(pool_client *c, json_t **result, pool_error *err);
/* op "pool.drain"; *pool_out is the Pool object, now draining. */
int pool_pool_drain(pool_client *c, const char *pool, json_t **pool_out, pool_error *err);
/* op "pool.delete"; with force non-zero, a pool that still holds resources
 * is deleted too and its leases end. */
int pool_pool_delete(pool_client *c, const char *pool, int force, pool_error *err);

/* ---- Resources --------------------------------------------------------- */

/* op "resource.add": adds all of resources (a borrowed array of
 * {"name"?, "descriptor"}) or none; *added (if not NULL) is how many. */
int pool_resource_add(pool_client *c, const char *pool, json_t *resources, long long *added,
		      pool_error *err);
/* op "resource.list": one page in name order, of one state (NULL: any), at
 * most limit (<= 0: the daemon's default), after the name after (NULL: from
 * the start); *result is {"resources": [...], "next": name or null}. */
int pool_resource_list(pool_client *c, const char *pool, const char *state, long long limit,
		       const char *after, json_t **result, pool_error *err);
/* op "resource.get"; *resource is the Resource object. */
int pool_resource_get(pool_client *c, const char *pool, const char *name, json_t **resource,
		      pool_error *err);
/* op "resource.update": compare-and-swap of a free resource's descriptor
 * (borrowed) against version; *resource is the Resource object after it. */
int pool_resource_update(pool_client *c, const char *pool, const char *name,
			 json_t *descriptor, long long version, json_t **resource,
			 pool_error *err);
/* op "resource.remove"; with force non-zero, also a leased (its lease ends)
 * or busy resource. */
int pool_resource_remove(pool_client *c, const char *pool, const char *name, int force,
			 pool_error *err);

/* ---- Leases ------------------------------------------------------------ */

/* How to take a lease; all-zero ({0}) means every field absent, so the
 * daemon's defaults apply. Strings and match are borrowed. */
typedef struct pool_lease_opts {
	int ttl_set;            /* non-zero: send ttl; zero: the pool's lease_ttl */
	double ttl;             /* seconds; 0 = no TTL */
	double wait;            /* seconds to queue when nothing is free; 0 = don't */
	const char *owner;      /* free-form label; NULL: "uid:<uid> pid:<pid>" */
	const char *bind;       /* "none" or "connection"; NULL: "none" */
	const char *request_id; /* makes the request idempotent for this caller */
	const char *name;       /* checkout only: this resource */
	json_t *match;          /* checkout only: first free one whose descriptor has these keys */
} pool_lease_opts;

/* op "lease" (pop) on pool with opts (NULL: defaults); *lease is the
 * granted lease. */
int pool_lease_acquire(pool_client *c, const char *pool, const pool_lease_opts *opts,
		       pool_lease **lease, pool_error *err);
/* op "checkout" on pool with opts (NULL: defaults; name or match pick the
 * resource); *lease is the granted lease. */
int pool_checkout(pool_client *c, const char *pool, const pool_lease_opts *opts,
		  pool_lease **lease, pool_error *err);
/* op "return": ends the lease; descriptor (borrowed; NULL: keep the stored
 * one) replaces the resource's, discard non-zero destroys the resource. */
int pool_return(pool_client *c, const char *lease_id, json_t *descriptor, int discard,
		pool_error *err);
/* op "replace": compare-and-swap of the leased resource's descriptor
 * (borrowed) against version; *new_version (if not NULL) is the new one. */
int pool_replace(pool_client *c, const char *lease_id, json_t *descriptor, long long version,
		 long long *new_version, pool_error *err);
/* op "checkin": ends the lease, optionally with a final descriptor (borrowed;
 * NULL: none) checked against version (<= 0: not sent), or discarding. */
int pool_checkin(pool_client *c, const char *lease_id, json_t *descriptor, long long version,
		 int discard, pool_error *err);
/* op "renew": expires_at becomes now + ttl (< 0: the lease's TTL; 0: none);
 * *result is {"expires_at"}. */
int pool_renew(pool_client *c, const char *lease_id, double ttl, json_t **result,
	       pool_error *err);
/* op "lease.get"; *lease is the lease as it is now. */
int pool_lease_get(pool_client *c, const char *lease_id, pool_lease **lease, pool_error *err);
/* op "lease.list": one page in acquired_at order, of one pool (NULL: all), at
 * most limit (<= 0: the daemon's default), after the cursor after (NULL: from
 * the start); *result is {"leases": [...], "next"}; wrap an element with
 * pool_lease_from_json() if accessors help. */
int pool_lease_list(pool_client *c, const char *pool, long long limit, const char *after,
		    json_t **result, pool_error *err);

/* ---- The lease object -------------------------------------------------- */

/* Checks that obj is a Lease object of the contract and wraps it; obj is
 * borrowed (the lease keeps its own reference); free with pool_lease_free(). */
pool_lease *pool_lease_from_json(json_t *obj, pool_error *err);
/* Frees l; NULL is a harmless no-op. */
void pool_lease_free(pool_lease *l);
/* The Lease object as answered; borrowed from l, do not modify it. */
json_t *pool_lease_json(const pool_lease *l);
/* The lease id, the capability to renew/return it; NULL in a lease.list
 * entry of another caller's lease. Borrowed from l, like every string below. */
const char *pool_lease_id(const pool_lease *l);
/* The pool's name. */
const char *pool_lease_pool(const pool_lease *l);
/* "pop" or "checkout". */
const char *pool_lease_mode(const pool_lease *l);
/* The leased resource's name. */
const char *pool_lease_resource(const pool_lease *l);
/* The leased resource's descriptor at the time of the answer; borrowed from l. */
json_t *pool_lease_descriptor(const pool_lease *l);
/* The resource's version at the time of the answer (what replace and checkin
 * compare against). */
long long pool_lease_version(const pool_lease *l);
/* The fencing token: greater for every later lease in the pool. */
long long pool_lease_token(const pool_lease *l);
/* The owner label. */
const char *pool_lease_owner(const pool_lease *l);
/* "none" or "connection". */
const char *pool_lease_bind(const pool_lease *l);
/* RFC 3339 UTC time the lease was granted. */
const char *pool_lease_acquired_at(const pool_lease *l);
/* RFC 3339 UTC time the lease expires; NULL when it has no TTL. */
const char *pool_lease_expires_at(const pool_lease *l);

#ifdef __cplusplus
}
#endif

#endif
