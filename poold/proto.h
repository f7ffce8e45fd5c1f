/*
 * proto.h - one request line in: parse it as JSON, check the envelope, hand
 * it to dispatch. Every line gets exactly one answer (or, for a waiting
 * request, one later); a bad line never closes the connection.
 */
#ifndef POOLD_PROTO_H
#define POOLD_PROTO_H

#include <stddef.h>

struct poold;
struct conn;
struct caller;

void proto_handle_line(struct poold *pd, struct conn *c,
		       const struct caller *who, const char *line, size_t len);

#endif
