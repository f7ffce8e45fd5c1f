/*
 * req.h - one parsed request on its way through dispatch to a handler, and
 * the only way a handler answers. Handlers never touch sockets.
 *
 * A request comes in one of two forms: the common flat one read by
 * reqparse.h into fixed fields inside the req (no tree, no allocation), or
 * a jansson tree for everything else. The accessors below read either, so
 * handlers and dispatch never ask which.
 */
#ifndef POOLD_REQ_H
#define POOLD_REQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "reqparse.h"

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
	const char *op;          /* borrowed from the fields */
	struct caller who;
	double now;              /* wall time the request was handled */
	const char *id_text;     /* the id as compact JSON text; NULL when
				  * absent. In scan.line, or id_owned */
	size_t id_len;
	char *id_owned;          /* owned: the id dumped (jansson form) */
	json_t *id;              /* owned: req_id()'s value, or NULL */
	json_t *tree;            /* owned: the whole request (jansson form),
				  * or req_msg()'s, or NULL */
	bool scanned;            /* the fields are in scan */
	struct reqparse scan;    /* last: not cleared between requests */
};

enum req_status { REQ_DONE, REQ_KEPT }; /* KEPT: a waiter now owns the req */

/* A request of caller who on c (a reference is taken), with no fields
 * yet: give it req_scan() or req_adopt(), or req_free() it. */
struct req *req_new(struct poold *pd, struct conn *c, const struct caller *who);
/* Reads line without a tree. false: not handled (not flat and plain, or
 * no string op, or an id that is not a string, an integer or null); r is
 * unchanged, and the line must take jansson's path (proto.c). */
bool req_scan(struct req *r, const char *line, size_t len);
/* Takes the jansson form: msg (a reference is taken) has a string op and
 * an id that is absent, a string, an integer or null. */
void req_adopt(struct req *r, json_t *msg);

void req_ok(struct req *r, json_t *result);                  /* stolen */
/* The result given as JSON text (see answer.h). */
void req_ok_text(struct req *r, const char *result, size_t len);
void req_fail(struct req *r, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void req_free(struct req *r);                 /* NULL is a harmless no-op */

/* Field accessors for handlers; dispatch has already checked every type. */
const char *req_str(const struct req *r, const char *field); /* NULL absent */
bool req_has(const struct req *r, const char *field);
int64_t req_int(const struct req *r, const char *field, int64_t dflt);
double req_num(const struct req *r, const char *field, double dflt);
bool req_bool(const struct req *r, const char *field, bool dflt);
/* Objects and arrays (match, descriptor, ...); borrowed. A flat request
 * has none, so this builds no tree unless the field is there. */
json_t *req_get(struct req *r, const char *field);
/* The whole request as a tree (built from the line the first time, for
 * the few handlers that read it whole); borrowed. */
json_t *req_msg(struct req *r);
/* The id as a value (built the first time; for error answers), or NULL
 * when absent; borrowed. */
json_t *req_id(struct req *r);

/* One field's value, whichever form the request has (for dispatch). */
enum req_kind { RK_ABSENT, RK_STRING, RK_INT, RK_REAL, RK_TRUE, RK_FALSE,
		RK_NULL, RK_OBJECT, RK_ARRAY };
struct req_value {
	enum req_kind kind;
	const char *str;         /* RK_STRING */
	int64_t num;             /* RK_INT */
	double real;             /* RK_INT and RK_REAL: the number */
	json_t *json;            /* the jansson form's value, else NULL */
};
void req_value(const struct req *r, const char *field, struct req_value *v);
/* Calls fn for every field in request order until it returns nonzero;
 * returns that, or 0. */
int req_each(struct req *r, int (*fn)(struct req *r, const char *key,
				      const struct req_value *v, void *arg),
	     void *arg);

#endif
