/*
 * dispatch.h - the table of operations. Each op-*.c file defines one
 * struct op: its name, whether it needs an admin, the fields it takes with
 * their types, and the handler. dispatch() checks all of that before the
 * handler runs, so a handler sees only well-typed requests.
 */
#ifndef POOLD_DISPATCH_H
#define POOLD_DISPATCH_H

#include <stdbool.h>

#include "req.h"

enum field_type {
	F_STRING,    /* a JSON string */
	F_NAME,      /* a pool name */
	F_RESNAME,   /* a resource name */
	F_COUNT,     /* a non-negative JSON integer */
	F_VERSION,   /* a JSON integer >= 1 */
	F_SECONDS,   /* a finite non-negative number */
	F_BOOL,
	F_OBJECT,
	F_DESCRIPTOR, /* an object no larger than --max-descriptor */
	F_ARRAY,
	F_ANY,       /* any value: the handler checks it */
};

struct field {
	const char *name;
	enum field_type type;
	bool required;
};

#define OP_ADMIN    0x1  /* needs an admin caller */
#define OP_SETTINGS 0x2  /* also takes every Pool setting */
#define OP_STANDBY  0x4  /* a standby answers it too (leader.h) */

struct op {
	const char *name;
	unsigned flags;
	const struct field *fields;  /* ends with { NULL } */
	enum req_status (*exec)(struct req *r);
};

void dispatch(struct req *r);

#endif
