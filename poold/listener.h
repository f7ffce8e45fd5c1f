/*
 * listener.h - the Unix socket poold listens on: refuses to start over a
 * live daemon, replaces a stale socket file, creates the file mode 0660.
 */
#ifndef POOLD_LISTENER_H
#define POOLD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

struct poold;

int listener_open(struct poold *pd, char *err, size_t errlen);
/* --listen HOST:PORT; a non-loopback address needs --listen-public. */
int listener_open_tcp(struct poold *pd, char *err, size_t errlen);
void listener_close(struct poold *pd);  /* also removes the socket file */

/* Shared with --http: a 127/8 or ::1 address; "HOST:PORT" or "[V6]:PORT"
 * split into host and port (pointing into buf), 0 or -1. */
struct sockaddr;
bool listener_loopback(const struct sockaddr *sa);
int listener_split_hostport(const char *s, char *buf, size_t len,
			    const char **host, const char **port);

#endif
