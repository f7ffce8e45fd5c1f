/*
 * events.h - the watch stream. A connection that sent "watch" gets one line
 * per event of its pool (or of every pool): created, leased, returned,
 * checked_out, renewed, replaced, expired, discarded, destroyed, create_failed,
 * pool_changed. The journal sends them once they are committed (a watcher never
 * sees a change that was rolled back), in the order they happened.
 */
#ifndef POOLD_EVENTS_H
#define POOLD_EVENTS_H

#include <jansson.h>
#include <stdbool.h>

struct poold;
struct conn;
struct caller;

/* Makes the connection a watcher of pool (NULL = every pool). */
void events_watch(struct poold *pd, struct conn *c, const struct caller *who,
		  const char *pool);
void events_drop_conn(struct poold *pd, const struct conn *c);
bool events_watching(struct poold *pd, const struct conn *c);
/* The tokens file was read again: c's watch streams now show every lease
 * id, or only c's own (admin), as new requests of c would. */
void events_set_admin(struct poold *pd, const struct conn *c, bool admin);
void events_free(struct poold *pd);

/* Sends one committed event's watch line (borrowed) to the watchers of
 * pool; with a lease, "lease" is its id for an admin or its caller, null for
 * the others (the id is a capability). Called by the journal only. */
void events_send(struct poold *pd, const char *pool, json_t *line,
		 const char *lease, const char *lease_caller);

#endif
