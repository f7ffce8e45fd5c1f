/* http.c - see http.h. */
#include "http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "auth.h"
#include "jsonutil.h"
#include "lease.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "ops.h"
#include "pool.h"
#include "poold.h"
#include "store.h"
#include "tls.h"
#include "util.h"
#include "wait.h"

/* The page, embedded at build time from dashboard.html (dashboard.c). */
extern const char dashboard_html[];
extern const size_t dashboard_html_len;

#define LEASES_SHOWN 50 /* per pool on the dashboard; the rest are counted */
#define EVENTS_SHOWN 30 /* the latest events on the dashboard */

struct http {
	struct poold *pd;
	struct evhttp *evh;             /* owned */
	struct evconnlistener *lev;     /* owned by evh once bound */
	bool loopback;                  /* bound to a loopback address */
	bool tls;                       /* HTTPS: not loopback, --tls-cert */
	/* Each connection's bufferevent, with a reference of ours: evhttp
	 * frees a connection without telling (libevent 2.1 has no hook), and
	 * a freed bufferevent loses its callbacks, which is how the sweep
	 * tells it went; then our reference goes and the socket closes. */
	struct bufferevent **conns;     /* owned array */
	size_t nconns, cap;
	struct event *sweep_ev;         /* owned; every second, and on close */
};

/* ---- connection count -------------------------------------------------- */

static void sweep(struct http *h)
{
	size_t kept = 0;

	for (size_t i = 0; i < h->nconns; i++) {
		bufferevent_event_cb eventcb;
		void *arg;

		bufferevent_getcb(h->conns[i], NULL, NULL, &eventcb, &arg);
		if (eventcb)
			h->conns[kept++] = h->conns[i];
		else
			bufferevent_decref(h->conns[i]);
	}
	h->nconns = kept;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	sweep(arg);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct http *h = arg;

	event_active(h->sweep_ev, EV_TIMEOUT, 0);
}

/* At HTTP_MAX_CONNS the oldest connection makes room: a shutdown() of its
 * socket, after which evhttp sees the end and frees it as usual. Silent or
 * slow connections therefore cannot keep a scrape or /healthz out, and the
 * count stays bounded. */
static void evict_oldest(struct http *h)
{
	evutil_socket_t fd = bufferevent_getfd(h->conns[0]);

	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	bufferevent_decref(h->conns[0]);
	memmove(h->conns, h->conns + 1, --h->nconns * sizeof *h->conns);
	metrics_http_refused(h->pd, "evicted");
}

/* evhttp asks for each accepted connection's bufferevent here: TLS when
 * --tls-cert is given and the address is not loopback (bearer tokens never
 * cross a network in clear text). */
static struct bufferevent *on_new_conn(struct event_base *base, void *arg)
{
	struct http *h = arg;
	struct bufferevent *bev;

	sweep(h);
	if (h->nconns >= HTTP_MAX_CONNS)
		evict_oldest(h);
	bev = h->tls ? tls_accept(base, -1, h->pd->tls) :
		bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL; /* evhttp makes its own, uncounted */
	if (h->nconns == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 16;
		h->conns = realloc(h->conns, h->cap * sizeof *h->conns);
		if (!h->conns)
			abort();
	}
	bufferevent_incref(bev);
	h->conns[h->nconns++] = bev;
	return bev;
}

/* ---- answers ----------------------------------------------------------- */

/* Sends b as the answer, or for HEAD only its length (evhttp 2.1 would
 * send the body). */
static void reply(struct evhttp_request *req, int code, const char *reason,
		  struct evbuffer *b)
{
	char len[32];

	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		snprintf(len, sizeof len, "%zu", evbuffer_get_length(b));
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Content-Length", len);
		evbuffer_drain(b, evbuffer_get_length(b));
	}
	evhttp_send_reply(req, code, reason, b);
}

static void send_text(struct evhttp_request *req, int code,
		      const char *reason, const char *type, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", type);
	evbuffer_add(b, body, strlen(body));
	reply(req, code, reason, b);
	evbuffer_free(b);
}

static void refuse(struct http *h, struct evhttp_request *req, int code,
		   const char *reason, const char *why, const char *body)
{
	metrics_http_refused(h->pd, why);
	send_text(req, code, reason, "text/plain; charset=utf-8", body);
}

static void send_json(struct evhttp_request *req, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	send_text(req, 200, "OK", "application/json", s ? s : "null");
	free(s);
	json_decref(j);
}

static void get_metrics(struct http *h, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();

	metrics_write(h->pd, b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "text/plain; version=0.0.4; "
			  "charset=utf-8");
	reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void get_healthz(struct http *h, struct evhttp_request *req)
{
	struct store *st = h->pd->store;
	char err[256], why[300];

	if (st->ops->ping(st, err, sizeof err) != STORE_OK) {
		snprintf(why, sizeof why, "store: %s\n", err);
		send_text(req, 503, "Service Unavailable", "text/plain", why);
	}
	else
		send_text(req, 200, "OK", "text/plain", "ok\n");
}

/* A live lease as the page shows it: never its id. */
static json_t *lease_view(const struct lease *l, double now)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:o}",
			 "owner", l->owner, "resource", l->res_name,
			 "mode", l->mode == MODE_CHECKOUT ? "checkout" : "lease",
			 "age", json_seconds(now - l->acquired_at),
			 "time_left", l->expires_at > 0 ?
				json_seconds(l->expires_at - now) :
				json_null());
}

/* An event of the history as the page shows it: never its lease id. */
static int add_event(void *arg, const struct store_history_row *row)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "event", row->event,
			      "pool", row->pool, "at", json_time(row->at));

	if (row->resource)
		json_object_set_new(o, "resource",
				    json_string(row->resource));
	if (row->owner)
		json_object_set_new(o, "owner", json_string(row->owner));
	json_array_insert_new(arg, 0, o); /* newest first */
	return 0;
}

/* The latest committed events, from the history (they survive a
 * restart); on a store error, none and why. */
static void latest_events(struct poold *pd, json_t *into)
{
	struct store_history_filter f = { .limit = EVENTS_SHOWN,
					  .tail = true };
	json_t *list = json_array();
	char err[256];

	if (pd->store->ops->history_query(pd->store, &f, add_event, list, err,
					  sizeof err) < 0) {
		json_array_clear(list);
		json_object_set_new(into, "events_error", json_string(err));
	}
	json_object_set_new(into, "events", list);
}

/* /api/dashboard: the status, each pool with its first LEASES_SHOWN live
 * leases and how long its longest-waiting request has waited (null: none
 * waits), and the latest events. */
static void get_dashboard_data(struct http *h, struct evhttp_request *req)
{
	double now = now_wall();
	json_t *st = op_status_json(h->pd, NULL, now);
	json_t *pools = json_object_get(st, "pools"), *entry;
	size_t i;

	json_array_foreach(pools, i, entry) {
		struct pool *p = pool_find(h->pd, json_string_value(
					   json_object_get(entry, "pool")));
		json_t *list = json_array();
		const struct lease *l;
		size_t n = 0;

		TAILQ_FOREACH(l, &p->leases, pool_link)
			if (n++ < LEASES_SHOWN)
				json_array_append_new(list, lease_view(l, now));
		json_object_set_new(entry, "leases", list);
		json_object_set_new(entry, "leases_live", json_integer(
					    (json_int_t)n));
		json_object_set_new(entry, "longest_wait", p->nwaiters ||
				    !TAILQ_EMPTY(&p->creators) ?
				    json_seconds(wait_oldest_age(p)) :
				    json_null());
	}
	latest_events(h->pd, st);
	json_object_set_new(st, "now", json_time(now));
	send_json(req, st);
}

static void get_page(struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);

	evhttp_add_header(hd, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(hd, "Content-Security-Policy", "default-src 'self'; "
			  "style-src 'unsafe-inline'; script-src "
			  "'unsafe-inline'");
	evbuffer_add_reference(b, dashboard_html, dashboard_html_len, NULL,
			       NULL);
	reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* ---- routing ----------------------------------------------------------- */

bool http_needs_token(bool loopback, const char *path)
{
	return !loopback && strcmp(path, "/") != 0;
}

static bool authorized(struct http *h, struct evhttp_request *req)
{
	const char *a = evhttp_find_header(evhttp_request_get_input_headers(
					   req), "Authorization");
	unsigned char id[AUTH_ID_LEN];
	bool admin;

	return a && strncmp(a, "Bearer ", 7) == 0 && h->pd->auth &&
	       auth_check(h->pd->auth, a + 7, &admin, id) != NULL;
}

static void route(struct http *h, struct evhttp_request *req,
		  const char *path)
{
	if (strcmp(path, "/metrics") == 0)
		get_metrics(h, req);
	else if (strcmp(path, "/healthz") == 0)
		get_healthz(h, req);
	else if (strcmp(path, "/api/status") == 0)
		send_json(req, op_status_json(h->pd, NULL, now_wall()));
	else if (strcmp(path, "/api/dashboard") == 0)
		get_dashboard_data(h, req);
	else if (strcmp(path, "/") == 0)
		get_page(req);
	else
		refuse(h, req, 404, "Not Found", "not_found",
		       "no such page; try /, /metrics, /healthz, "
		       "/api/status or /api/dashboard\n");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *uri = evhttp_request_get_uri(req);
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;

	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
				      on_conn_close, h);
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Allow", "GET, HEAD");
		refuse(h, req, 405, "Method Not Allowed", "method",
		       "read-only: only GET and HEAD are served\n");
	} else if (strlen(uri) > HTTP_MAX_URI) {
		refuse(h, req, 414, "URI Too Long", "too_large",
		       "the URI is too long\n");
	} else if (!path || !*path) {
		refuse(h, req, 404, "Not Found", "not_found", "no path\n");
	} else if (http_needs_token(h->loopback, path) &&
		   !authorized(h, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "WWW-Authenticate", "Bearer");
		refuse(h, req, 401, "Unauthorized", "unauthorized",
		       "send \"Authorization: Bearer TOKEN\" with a token of "
		       "poold's --tokens file\n");
	} else {
		route(h, req, path);
	}
}

/* ---- open and close ---------------------------------------------------- */

/* Resolves --http and checks the address against --listen-public and
 * --tokens. Returns the address (free with freeaddrinfo) or NULL. */
static struct addrinfo *resolve(struct http *h, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM }, *ai;
	const struct config *cfg = &h->pd->cfg;
	const char *host, *port;
	char buf[300];
	int rc;

	if (listener_split_hostport(cfg->http, buf, sizeof buf, &host,
				    &port) < 0) {
		snprintf(err, errlen, "--http wants HOST:PORT, not \"%s\"",
			 cfg->http);
		return NULL;
	}
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "--http %s: %s", cfg->http,
			 gai_strerror(rc));
		return NULL;
	}
	h->loopback = listener_loopback(ai->ai_addr);
	if (!h->loopback && !cfg->listen_public)
		snprintf(err, errlen, "--http %s is not a loopback address; "
			 "add --listen-public to serve the network", cfg->http);
	else if (!h->loopback && !h->pd->auth)
		snprintf(err, errlen, "--http %s is not a loopback address: "
			 "it needs --tokens FILE (callers send a bearer token)",
			 cfg->http);
	else {
		h->tls = !h->loopback && h->pd->tls;
		return ai;
	}
	freeaddrinfo(ai);
	return NULL;
}

static int bind_listener(struct http *h, char *err, size_t errlen)
{
	struct addrinfo *ai = resolve(h, err, errlen);
	struct timeval sec = { 1, 0 };

	if (!ai)
		return -1;
	h->lev = evconnlistener_new_bind(h->pd->base, NULL, NULL,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
		LEV_OPT_CLOSE_ON_EXEC, 128, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (!h->lev || !evhttp_bind_listener(h->evh, h->lev)) {
		snprintf(err, errlen, "cannot listen on --http %s: %s",
			 h->pd->cfg.http, strerror(errno));
		if (h->lev)
			evconnlistener_free(h->lev);
		h->lev = NULL;
		return -1;
	}
	h->sweep_ev = event_new(h->pd->base, -1, EV_PERSIST, on_sweep, h);
	event_add(h->sweep_ev, &sec);
	return 0;
}

int http_open(struct poold *pd, char *err, size_t errlen)
{
	struct http *h = xcalloc(1, sizeof *h);

	h->pd = pd;
	pd->http = h;
	h->evh = evhttp_new(pd->base);
	evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
		EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
		EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
		EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(h->evh, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->evh, HTTP_MAX_BODY);
	evhttp_set_timeout(h->evh, HTTP_TIMEOUT);
	evhttp_set_bevcb(h->evh, on_new_conn, h);
	evhttp_set_gencb(h->evh, on_request, h);
	if (bind_listener(h, err, errlen) < 0) {
		http_close(pd);
		return -1;
	}
	log_info("serving %s on %s%s", h->tls ? "HTTPS" : "HTTP",
		 pd->cfg.http, h->loopback ? "" : " (bearer token required)");
	if (!h->loopback && !h->tls)
		log_warn("--http %s sends bearer tokens in clear text: give "
			 "--tls-cert and --tls-key to serve HTTPS", pd->cfg.http);
	return 0;
}

void http_close(struct poold *pd)
{
	struct http *h = pd->http;

	if (!h)
		return;
	/* evhttp_free frees the listener and every connection; then our
	 * references are the last ones. */
	evhttp_free(h->evh);
	for (size_t i = 0; i < h->nconns; i++)
		bufferevent_decref(h->conns[i]);
	free(h->conns);
	if (h->sweep_ev)
		event_free(h->sweep_ev);
	free(h);
	pd->http = NULL;
}
