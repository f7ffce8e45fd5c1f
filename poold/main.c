/*
 * main.c - poold's start-up and shutdown: options, database, state, socket,
 * signals, the janitor, then the event loop. SIGTERM/SIGINT stop it cleanly:
 * what is in flight is answered, the database is closed, the socket file
 * removed, and the exit status is 0.
 */
#include <event2/event.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "http.h"
#include "janitor.h"
#include "leader.h"
#include "listener.h"
#include "log.h"
#include "options.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poolfile.h"
#include "poold.h"
#include "reply.h"
#include "store.h"
#include "tls.h"
#include "util.h"
#include "wait.h"

static void stop(struct poold *pd, const char *why)
{
	struct pool *p;
	size_t pos = 0;
	struct timeval grace = { 5, 0 };

	if (pd->stopping)
		return;
	pd->stopping = true;
	notify_service_manager("STOPPING=1");
	log_info("shutting down: %s", why);
	listener_close(pd);
	http_close(pd);
	janitor_stop(pd);
	while ((p = hmap_next(&pd->pools, &pos)))
		wait_fail_all(p, POOL_ERR_INTERNAL, "poold is shutting down; "
			      "retry when it is back");
	reply_flush(pd);
	conn_close_all(pd, "poold is shutting down");
	reply_flush(pd);
	event_del(pd->sigterm_ev);
	event_del(pd->sigint_ev);
	event_del(pd->sighup_ev);
	/* The loop ends when the last answers are written, or after grace. */
	if (pd->ndraining == 0)
		event_base_loopbreak(pd->base);
	else
		event_base_loopexit(pd->base, &grace);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	stop(arg, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Applies the pools file; a bad file changes nothing. */
static int load_pools(struct poold *pd, char *err, size_t errlen)
{
	json_t *pools = poolfile_read(pd->cfg.pools_path, err, errlen);

	if (!pools)
		return -1;
	poolfile_apply(pd, pools, now_wall());
	json_decref(pools);
	reply_flush(pd);
	return 0;
}

/* A renewed certificate applies to new connections; sessions already open
 * keep the one they started with. A bad pair leaves the old one. */
static void reload_tls(struct poold *pd)
{
	char err[768];
	void *ctx = tls_context(pd->cfg.tls_cert, pd->cfg.tls_key, err,
				sizeof err);

	if (!ctx) {
		log_error("SIGHUP: TLS certificate refused, the old one stays: "
			  "%s", err);
		return;
	}
	tls_context_free(pd->tls);
	pd->tls = ctx;
	log_info("SIGHUP: TLS certificate %s read again", pd->cfg.tls_cert);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	struct poold *pd = arg;
	char err[768];

	if (pd->tls)
		reload_tls(pd);
	if (pd->cfg.tokens_path) {
		struct auth *a = auth_load(pd->cfg.tokens_path, err, sizeof err);

		if (a) {
			auth_free(pd->auth);
			pd->auth = a;
			log_info("SIGHUP: tokens read again");
			conn_recheck_tokens(pd);
		} else {
			log_error("SIGHUP: tokens file refused, the old tokens "
				  "stay: %s", err);
		}
	}
	if (!pd->cfg.pools_path || !leader_active(pd))
		return;
	if (load_pools(pd, err, sizeof err) < 0)
		log_error("SIGHUP: pools file refused, nothing changed: %s",
			  err);
	else
		log_info("SIGHUP: applied %s", pd->cfg.pools_path);
}

static int check_pools(const char *path)
{
	char err[768];
	json_t *pools = poolfile_read(path, err, sizeof err);

	if (!pools) {
		fprintf(stderr, "poold: %s\n", err);
		return 1;
	}
	printf("%s: %zu pools, all valid\n", path, json_array_size(pools));
	json_decref(pools);
	return 0;
}

/* Enough descriptors for --max-conns plus the database, listeners and
 * command pipes: raise the soft limit toward the hard one, as far as it
 * goes. */
static void raise_fd_limit(const struct config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_conns + 256 +
		      (cfg->listen ? (rlim_t)cfg->max_tcp_conns : 0);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		log_warn("only %llu file descriptors: fewer than --max-conns %d "
			 "connections may be served", (unsigned long long)
			 rl.rlim_cur, cfg->max_conns);
}

/* This front end leads (from the start, or after a standby's takeover):
 * housekeeping runs, and a takeover applies the pools file (at the start
 * it is applied already, and a bad one stops poold). */
static void lead(struct poold *pd, bool takeover)
{
	char err[768];

	janitor_start(pd);
	if (takeover && pd->cfg.pools_path &&
	    load_pools(pd, err, sizeof err) < 0)
		log_error("pools file refused, nothing changed: %s", err);
}

static int start(struct poold *pd)
{
	char err[512], *where;

	raise_fd_limit(&pd->cfg);
	/* The default database of root: create its directory like systemd's
	 * StateDirectory=poold would. */
	if (strcmp(pd->cfg.db_path, POOLD_DB_ROOT) == 0 &&
	    mkdir(POOLD_DB_ROOT_DIR, 0700) < 0 && errno != EEXIST)
		log_warn("cannot create %s: %s", POOLD_DB_ROOT_DIR,
			 strerror(errno));
	if ((pd->cfg.tokens_path &&
	     !(pd->auth = auth_load(pd->cfg.tokens_path, err, sizeof err))) ||
	    (pd->cfg.tls_cert && !(pd->tls = tls_context(pd->cfg.tls_cert,
				pd->cfg.tls_key, err, sizeof err))) ||
	    poold_open(pd, err, sizeof err) < 0 ||
	    (pd->cfg.pools_path && leader_active(pd) &&
	     load_pools(pd, err, sizeof err) < 0) ||
	    listener_open(pd, err, sizeof err) < 0 ||
	    (pd->cfg.listen && listener_open_tcp(pd, err, sizeof err) < 0) ||
	    (pd->cfg.http && http_open(pd, err, sizeof err) < 0)) {
		fprintf(stderr, "poold: %s\n", err);
		return -1;
	}
	pd->sigterm_ev = evsignal_new(pd->base, SIGTERM, on_signal, pd);
	pd->sigint_ev = evsignal_new(pd->base, SIGINT, on_signal, pd);
	event_add(pd->sigterm_ev, NULL);
	event_add(pd->sigint_ev, NULL);
	pd->sighup_ev = evsignal_new(pd->base, SIGHUP, on_sighup, pd);
	event_add(pd->sighup_ev, NULL);
	leader_run(pd, lead);
	where = store_redact(pd->cfg.db_path);
	log_info("poold %s ready: socket %s, database %s", POOL_VERSION,
		 pd->cfg.socket_path, where);
	free(where);
	notify_service_manager("READY=1");
	return 0;
}

static void finish(struct poold *pd)
{
	listener_close(pd);
	http_close(pd);
	janitor_stop(pd);
	if (pd->sigterm_ev)
		event_free(pd->sigterm_ev);
	if (pd->sigint_ev)
		event_free(pd->sigint_ev);
	if (pd->sighup_ev)
		event_free(pd->sighup_ev);
	poold_close(pd);
	auth_free(pd->auth);
	if (pd->tls)
		tls_context_free(pd->tls);
	options_free(&pd->cfg);
}

int main(int argc, char **argv)
{
	struct poold pd;
	int rc;

	memset(&pd, 0, sizeof pd);
	rc = options_parse(&pd.cfg, argc, argv);
	if (rc != 0) {
		options_free(&pd.cfg);
		return rc > 0 ? 0 : 2;
	}
	if (pd.cfg.check_pools) {
		rc = check_pools(pd.cfg.check_pools);
		options_free(&pd.cfg);
		return rc;
	}
	/* A client that vanishes must cost an EPIPE, not the daemon. */
	signal(SIGPIPE, SIG_IGN);
	/* glibc returns freed memory at the top of the heap to the kernel
	 * once 128 KiB are free; the churn of a request (JSON, SQLite pages)
	 * then costs a brk() down and up again on many requests. Keep a
	 * margin instead. */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 16 << 20);
	if (start(&pd) < 0) {
		finish(&pd);
		return 1;
	}
	reply_run(&pd);
	log_info("stopped");
	finish(&pd);
	return 0;
}
