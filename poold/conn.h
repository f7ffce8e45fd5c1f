/*
 * conn.h - a client connection: owns its socket (a plain one read and
 * written directly; TLS through a bufferevent), cuts the input into
 * bounded lines for proto.c, and sends replies. Closing is two-step: the
 * connection is marked closed at once (its waiters are dropped, its
 * bind:connection leases end), while the memory is freed only when the last
 * reference (a queued reply, a waiting request) lets go.
 */
#ifndef POOLD_CONN_H
#define POOLD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct poold;
struct conn;

/* Takes over fd (a connected, non-blocking socket): from the Unix socket
 * (the caller is its peer uid) or from TCP (anonymous until hello). */
void conn_accept(struct poold *pd, int fd, bool tcp);

/* TCP: true until a hello with a good token. */
bool conn_needs_hello(const struct conn *c);
/* TCP: the caller is now name (an admin or not), by the token whose
 * auth_check() id is token_id; it leaves the anonymous budget
 * (--max-hello-conns) and its --hello-timeout. */
void conn_authenticate(struct conn *c, const char *name, bool admin,
		       const unsigned char *token_id);
/* After the tokens file is read again: closes the TCP sessions whose token
 * is gone (or changed), updates the admin flag of the others. */
void conn_recheck_tokens(struct poold *pd);
/* Closes c once the answers queued so far are written (from c's own event,
 * never inside the reply flush). */
void conn_doom(struct conn *c, const char *reason);

struct conn *conn_ref(struct conn *c);
void conn_unref(struct conn *c);           /* NULL is a harmless no-op */
void conn_send(struct conn *c, const char *line, size_t len);
void conn_close(struct conn *c, const char *reason);
/* After a commit: writes what conn_send() queued on plain sockets, one
 * write() per connection. */
void conn_write_all(struct poold *pd);
void conn_close_all(struct poold *pd, const char *reason);
/* True while the connection with this id is open (not closed). */
bool conn_id_open(struct poold *pd, uint64_t id);

#endif
