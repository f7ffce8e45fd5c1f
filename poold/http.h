/*
 * http.h - the read-only HTTP listener (--http HOST:PORT), served by
 * libevent's evhttp in the daemon's own loop: /metrics (Prometheus text
 * format), /healthz, /api/status, /api/dashboard and the dashboard page at /.
 *
 * Only GET and HEAD are served (anything else is 405). Requests are bounded
 * (headers, body, URI) and so are open connections (HTTP_MAX_CONNS; a new one
 * past it closes the oldest, so idle or silent ones cannot lock out a scrape
 * or /healthz). On an address that is not loopback (which needs
 * --listen-public) every path but the page itself needs
 * "Authorization: Bearer TOKEN" with a token of the --tokens file, and with
 * --tls-cert/--tls-key the listener speaks HTTPS.
 */
#ifndef POOLD_HTTP_H
#define POOLD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct poold;

#define HTTP_MAX_CONNS 64
#define HTTP_MAX_HEADERS 8192  /* bytes of request line and headers */
#define HTTP_MAX_BODY 1024     /* a GET has none; room for a 405 to answer */
#define HTTP_MAX_URI 1024
#define HTTP_TIMEOUT 10        /* seconds a connection may stay silent */

/* Opens --http (pd->cfg.http). 0, or -1 with a message in err. */
int http_open(struct poold *pd, char *err, size_t errlen);
/* Closes the listener and every HTTP connection (NULL-safe). */
void http_close(struct poold *pd);

/* The token rule: a request needs a token unless the listener is on
 * loopback or the path is the page itself. */
bool http_needs_token(bool loopback, const char *path);

#endif
