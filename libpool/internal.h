/*
 * internal.h - what libpool's own files share and callers must not see:
 * hidden from the shared library's symbol table, so it is not API.
 */
#ifndef POOL_INTERNAL_H
#define POOL_INTERNAL_H

#include <sys/types.h>

#include "pool.h"

#define POOL_HIDDEN __attribute__((visibility("hidden")))

/* Fills err (if not NULL) with code and a printf-formatted message. */
POOL_HIDDEN void pool__seterr(pool_error *err, pool_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Marks err (if not NULL) as success, so that stale messages never linger. */
POOL_HIDDEN void pool__clearerr(pool_error *err);

/* CLOCK_MONOTONIC seconds. */
POOL_HIDDEN double pool__now(void);
/* Waits until fd is ready for events, until the absolute pool__now() time
 * deadline (< 0: none): 0 ready, 1 deadline passed, -1 with errno. */
POOL_HIDDEN int pool__wait_fd(int fd, short events, double deadline);

/* ---- tls.c: a TLS session over a connected socket ---------------------- */

typedef struct pool__tls pool__tls;
/* Shakes hands over fd (non-blocking, not owned) by deadline, verifying the
 * certificate for host unless o->tls_insecure; where names the peer in
 * messages. NULL with err set (POOL_E_TIMEOUT when the deadline passed). */
POOL_HIDDEN pool__tls *pool__tls_start(int fd, const char *host, const char *where,
				       const pool_connect_opts *o, double deadline,
				       pool_error *err);
/* read(2) and write(2) through the session: -1 with errno EAGAIN and *events
 * the poll events to wait for when it would block; 0 from read at the end. */
POOL_HIDDEN ssize_t pool__tls_read(pool__tls *t, void *buf, size_t n, short *events);
POOL_HIDDEN ssize_t pool__tls_write(pool__tls *t, const void *buf, size_t n, short *events);
/* Frees the session (not the fd); NULL is a harmless no-op. */
POOL_HIDDEN void pool__tls_free(pool__tls *t);

/* ---- client.c, for follow.c ------------------------------------------- */

/* One request on c's current connection, as pool_call() without following;
 * *went is 1 once any of it may have reached the daemon. */
POOL_HIDDEN int pool__call_once(pool_client *c, const char *op, json_t *args,
				json_t **result, int *went, pool_error *err);
/* Drops c's connection and connects it to endpoint (of c's kind, with c's
 * token and TLS), giving up at the absolute time deadline (< 0: none). */
POOL_HIDDEN int pool__reconnect(pool_client *c, const char *endpoint, double deadline,
				pool_error *err);
/* Drops c's connection (the next call connects again). */
POOL_HIDDEN void pool__drop(pool_client *c);
POOL_HIDDEN int pool__connected(const pool_client *c);
/* What c is connected to, for messages; borrowed. */
POOL_HIDDEN const char *pool__where(const pool_client *c);
/* pool_set_timeout()'s bound; 0: none. */
POOL_HIDDEN double pool__timeout(const pool_client *c);
/* The leader address the last not_leader answer named, or NULL; borrowed. */
POOL_HIDDEN const char *pool__leader(const pool_client *c);

/* ---- follow.c: several endpoints, going to the leader ------------------ */

typedef struct pool__follow pool__follow;
/* Splits list ("a,b,c") into *f when it names several endpoints (tcp: HOST:PORT
 * ones, else socket paths); *f NULL for one. -1 with err for an empty one. */
POOL_HIDDEN int pool__follow_parse(const char *list, int tcp, pool__follow **f,
				   pool_error *err);
POOL_HIDDEN void pool__follow_free(pool__follow *f);
POOL_HIDDEN int pool__follow_count(const pool__follow *f);
POOL_HIDDEN const char *pool__follow_endpoint(const pool__follow *f, int i);
POOL_HIDDEN int pool__follow_is_tcp(const pool__follow *f);
/* pool_call() on a client with several endpoints: follows not_leader and lost
 * connections to the leader within the call's bounds (docs/ha.md). */
POOL_HIDDEN int pool__follow_call(pool_client *c, pool__follow *f, const char *op,
				  json_t *args, json_t **result, pool_error *err);

#endif
