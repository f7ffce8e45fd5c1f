/*
 * tls.h - TLS for TCP callers, through libevent's OpenSSL bufferevents:
 * a server context from --tls-cert/--tls-key, and a bufferevent that
 * accepts a TLS session on a new connection.
 */
#ifndef POOLD_TLS_H
#define POOLD_TLS_H

#include <stddef.h>

struct event_base;
struct bufferevent;

/* An SSL_CTX for serving (as void *), or NULL with a message in err. */
void *tls_context(const char *cert, const char *key, char *err,
		  size_t errlen);
void tls_context_free(void *ctx);
/* A bufferevent that owns fd and a new TLS session on it, or NULL. */
struct bufferevent *tls_accept(struct event_base *base, int fd, void *ctx);

#endif
