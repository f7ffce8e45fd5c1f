/* events.c - see events.h. */
#include "events.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conn.h"
#include "jsonutil.h"
#include "lease.h"
#include "pool.h"
#include "poold.h"
#include "reply.h"
#include "req.h"
#include "util.h"

struct watcher {
	struct conn *conn;        /* reference held */
	char *pool;               /* owned; NULL = every pool */
	char caller[48];
	bool admin;               /* sees every lease id */
	TAILQ_ENTRY(watcher) link;
};

void events_watch(struct poold *pd, struct conn *c, const struct caller *who,
		  const char *pool)
{
	struct watcher *w = xcalloc(1, sizeof *w);

	w->conn = conn_ref(c);
	w->pool = pool ? xstrdup(pool) : NULL;
	snprintf(w->caller, sizeof w->caller, "%s", who->name);
	w->admin = who->admin;
	TAILQ_INSERT_TAIL(&pd->watchers, w, link);
}

static void watcher_free(struct poold *pd, struct watcher *w)
{
	TAILQ_REMOVE(&pd->watchers, w, link);
	conn_unref(w->conn);
	free(w->pool);
	free(w);
}

void events_drop_conn(struct poold *pd, const struct conn *c)
{
	struct watcher *w, *next;

	for (w = TAILQ_FIRST(&pd->watchers); w; w = next) {
		next = TAILQ_NEXT(w, link);
		if (w->conn == c)
			watcher_free(pd, w);
	}
}

bool events_watching(struct poold *pd, const struct conn *c)
{
	struct watcher *w;

	TAILQ_FOREACH(w, &pd->watchers, link)
		if (w->conn == c)
			return true;
	return false;
}

void events_free(struct poold *pd)
{
	while (!TAILQ_EMPTY(&pd->watchers))
		watcher_free(pd, TAILQ_FIRST(&pd->watchers));
}

void events_emit(struct poold *pd, const char *event, const struct pool *p,
		 const struct resource *r, const struct lease *l)
{
	struct watcher *w;
	json_t *base;

	if (TAILQ_EMPTY(&pd->watchers))
		return;
	base = json_pack("{s:s, s:s, s:o}", "event", event, "pool", p->name,
			 "at", json_time(now_wall()));
	if (r)
		json_object_set_new(base, "resource", resource_to_json(r));
	TAILQ_FOREACH(w, &pd->watchers, link) {
		json_t *ev;

		if (w->pool && strcmp(w->pool, p->name) != 0)
			continue;
		ev = json_copy(base);
		if (l)
			json_object_set_new(ev, "lease",
				w->admin || strcmp(w->caller, l->caller) == 0 ?
				json_string(l->id) : json_null());
		reply_queue(pd, w->conn, NULL, ev);
	}
	json_decref(base);
}
