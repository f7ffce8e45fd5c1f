/*
 * req.h - one parsed request on its way through dispatch to a handler, and
 * the only way a handler answers. Handlers never touch sockets.
 */
#ifndef POOLD_REQ_H
#define POOLD_REQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct poold;
struct conn;

struct caller {
	char name[48];           /* "uid:N" (Unix socket) or a token's name */
	uid_t uid;
	pid_t pid;
	bool admin;
	uint64_t conn_id;        /* the connection it came on */
};

struct req {
	struct poold *pd;
	struct conn *conn;       /* reference held; replies go here */
	json_t *id;              /* owned; NULL when absent */
	json_t *msg;             /* owned; the whole request object */
	const char *op;          /* borrowed from msg */
	struct caller who;
	double now;              /* wall time the request was handled */
};

enum req_status { REQ_DONE, REQ_KEPT }; /* KEPT: a waiter now owns the req */

void req_ok(struct req *r, json_t *result);                  /* stolen */
/* The result given as JSON text (see answer.h). */
void req_ok_text(struct req *r, const char *result, size_t len);
void req_fail(struct req *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void req_free(struct req *r);

/* Field accessors for handlers; dispatch has already checked every type. */
const char *req_str(const struct req *r, const char *field); /* NULL absent */
bool req_has(const struct req *r, const char *field);
json_t *req_get(const struct req *r, const char *field);     /* borrowed */
int64_t req_int(const struct req *r, const char *field, int64_t dflt);
double req_num(const struct req *r, const char *field, double dflt);
bool req_bool(const struct req *r, const char *field, bool dflt);

#endif
