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

/* Reads the file; refuses one that others can read or write, or a bad
 * line. NULL with "FILE:LINE: reason" in err. */
struct auth *auth_load(const char *path, char *err, size_t errlen);
void auth_free(struct auth *a);

/* The name of the token's holder (and whether it is an admin), or NULL. */
const char *auth_check(const struct auth *a, const char *token, bool *admin);

#endif
