/*
 * events.h - the watch stream. A connection that sent "watch" gets one line
 * per event of its pool (or of every pool): created, leased, returned,
 * checked_out, replaced, expired, discarded, destroyed, create_failed,
 * pool_changed. Events travel in the reply batch, so a watcher never sees a
 * change before it is committed, and sees them in the order they happened.
 */
#ifndef POOLD_EVENTS_H
#define POOLD_EVENTS_H

#include <stdbool.h>

struct poold;
struct conn;
struct pool;
struct resource;
struct lease;
struct caller;

/* Makes the connection a watcher of pool (NULL = every pool). */
void events_watch(struct poold *pd, struct conn *c, const struct caller *who,
		  const char *pool);
void events_drop_conn(struct poold *pd, const struct conn *c);
bool events_watching(struct poold *pd, const struct conn *c);
void events_free(struct poold *pd);

/* Emits one event; r and l may be NULL. */
void events_emit(struct poold *pd, const char *event, const struct pool *p,
		 const struct resource *r, const struct lease *l);

#endif
