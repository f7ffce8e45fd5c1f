/* events.c - see events.h. */
#include "events.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conn.h"
#include "jsonutil.h"
#include "poold.h"
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

void events_set_admin(struct poold *pd, const struct conn *c, bool admin)
{
	struct watcher *w;

	TAILQ_FOREACH(w, &pd->watchers, link)
		if (w->conn == c)
			w->admin = admin;
}

bool events_watching(struct poold *pd, const struct conn *c)
{
	struct watcher *w;

	TAILQ_FOREACH(w, &pd->watchers, link)
		if (w->conn == c)
			return true;
	return false;
}

/* Watch lines are not answers: they leave after the commit, straight to
 * the connection. */
static void send_line(struct conn *c, char *text)
{
	size_t n = strlen(text);

	text[n] = '\n';
	conn_send(c, text, n + 1);
	text[n] = '\0';
}

void events_free(struct poold *pd)
{
	while (!TAILQ_EMPTY(&pd->watchers))
		watcher_free(pd, TAILQ_FIRST(&pd->watchers));
}

void events_send(struct poold *pd, const char *pool, json_t *line,
		 const char *lease, const char *lease_caller)
{
	struct watcher *w;

	TAILQ_FOREACH(w, &pd->watchers, link) {
		json_t *ev;
		char *text;

		if (w->pool && strcmp(w->pool, pool) != 0)
			continue;
		ev = json_copy(line);
		if (lease)
			json_object_set_new(ev, "lease",
				w->admin || strcmp(w->caller, lease_caller) == 0 ?
				json_string(lease) : json_null());
		text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(ev);
		if (!text)
			abort();
		send_line(w->conn, text);
		free(text);
	}
}
