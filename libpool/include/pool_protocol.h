/*
 * pool_protocol.h - the constants of the poold wire contract, shared by the
 * daemon, libpool and poolctl so that the three can never disagree on a name.
 * The contract itself is docs/protocol.md.
 */
#ifndef POOL_PROTOCOL_H
#define POOL_PROTOCOL_H

#define POOL_VERSION "0.1.0"      /* poold / libpool release */
#define POOL_PROTOCOL_VERSION 1   /* wire contract version */

/* Error codes, exactly as they appear in "error": {"code": ...}. */
#define POOL_ERR_BAD_REQUEST   "bad_request"
#define POOL_ERR_UNKNOWN_OP    "unknown_op"
#define POOL_ERR_TOO_LARGE     "too_large"
#define POOL_ERR_NOT_FOUND     "not_found"
#define POOL_ERR_EXISTS        "exists"
#define POOL_ERR_CONFLICT      "conflict"
#define POOL_ERR_EXHAUSTED     "exhausted"
#define POOL_ERR_TIMEOUT       "timeout"
#define POOL_ERR_BUSY          "busy"
#define POOL_ERR_EXPIRED       "expired"
#define POOL_ERR_FORBIDDEN     "forbidden"
#define POOL_ERR_DRAINING      "draining"
#define POOL_ERR_CREATE_FAILED "create_failed"
#define POOL_ERR_INTERNAL      "internal"
#define POOL_ERR_NOT_LEADER    "not_leader"

/* Defaults and limits of the contract. */
#define POOL_DEFAULT_MAX_LINE      (1024 * 1024) /* bytes, the '\n' not counted */
#define POOL_DEFAULT_LEASE_TTL     3600          /* seconds */
#define POOL_DEFAULT_MAX_WAITERS   1024
#define POOL_DEFAULT_LIST_LIMIT    1000
#define POOL_NAME_MAX              64            /* pool names */
#define POOL_RESOURCE_NAME_MAX     128           /* resource names */
#define POOL_REQUEST_ID_MAX        128
#define POOL_LEASE_ID_LEN          32            /* hex chars of a lease id */
#define POOL_DURATION_MAX          1e9           /* seconds (~31 years): the
						  * largest ttl, wait or
						  * timeout accepted */
#define POOL_DURATION_MIN          0.001         /* seconds: a duration is 0
						  * or at least this */

/* Where poold listens and poolctl connects when no --socket is given. */
#define POOL_SOCKET_ENV    "POOLD_SOCKET"
#define POOL_SOCKET_ROOT   "/run/poold/poold.sock"
#define POOL_SOCKET_NAME   "poold.sock"      /* under $XDG_RUNTIME_DIR */
#define POOL_DB_ENV        "POOLD_DB"
#define POOL_DB_DEFAULT    "poold.db"        /* in the current directory */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * The socket path used when none is given: $POOLD_SOCKET, else the system
 * path for root, else $XDG_RUNTIME_DIR/poold.sock, else /tmp/poold-<uid>.sock.
 * Inline so that poold and every client resolve it the same way.
 */
static inline const char *pool_socket_default(char *buf, size_t len)
{
	const char *env = getenv(POOL_SOCKET_ENV);
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		snprintf(buf, len, "%s", POOL_SOCKET_ROOT);
	else if (xdg && *xdg)
		snprintf(buf, len, "%s/%s", xdg, POOL_SOCKET_NAME);
	else
		snprintf(buf, len, "/tmp/poold-%u.sock", (unsigned)geteuid());
	return buf;
}

#endif
