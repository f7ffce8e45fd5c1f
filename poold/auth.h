/*
 * auth.h - callers on TCP: the token file (--tokens FILE, lines
 * "NAME TOKEN [admin]") and the check of a hello's token. Tokens are
 * compared in constant time, against every entry, so timing tells nothing
 * about which part of a guess was right.
 */
#ifndef POOLD_AUTH_H
#define POOLD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct auth;

/* Reads the file; refuses one that others can read or write, one owned
 * by another user than poold's or root, a NAME starting with "uid:" (the
 * Unix socket's callers), or a bad line. NULL with "FILE:LINE: reason" in err. */
struct auth *auth_load(const char *path, char *err, size_t errlen);
void auth_free(struct auth *a);

/* Identifies a token without keeping it: its SHA-256. */
#define AUTH_ID_LEN 32

/* The name of the token's holder (and whether it is an admin, and the
 * token's id into id[AUTH_ID_LEN]), or NULL. */
const char *auth_check(const struct auth *a, const char *token, bool *admin,
		       unsigned char *id);
/* Whether a (say, read again on SIGHUP) still has name with the token id:
 * true, with its admin flag, or false when it was removed or changed. */
bool auth_holds(const struct auth *a, const char *name,
		const unsigned char *id, bool *admin);

#endif
