/*
 * listener.h - the Unix socket poold listens on: refuses to start over a
 * live daemon, replaces a stale socket file, creates the file mode 0660.
 */
#ifndef POOLD_LISTENER_H
#define POOLD_LISTENER_H

#include <stddef.h>

struct poold;

int listener_open(struct poold *pd, char *err, size_t errlen);
/* --listen HOST:PORT; a non-loopback address needs --listen-public. */
int listener_open_tcp(struct poold *pd, char *err, size_t errlen);
void listener_close(struct poold *pd);  /* also removes the socket file */

#endif
