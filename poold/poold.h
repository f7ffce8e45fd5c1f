/*
 * poold.h - the daemon's one state struct, passed everywhere instead of
 * globals, and its configuration.
 */
#ifndef POOLD_POOLD_H
#define POOLD_POOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "hmap.h"
#include "reply.h"

struct event_base;
struct event;
struct evconnlistener;
struct store;
struct conn;
struct lease;
struct auth;

struct config {
	char *socket_path;     /* owned */
	char *db_path;         /* owned */
	size_t max_line;       /* bytes, '\n' not counted */
	size_t max_descriptor; /* bytes of a descriptor as compact JSON */
	int max_depth;         /* JSON nesting depth of a request */
	int max_match_keys;    /* keys of a checkout match */
	size_t max_match_bytes; /* bytes of a checkout match, compact JSON */
	int max_waiting;       /* waiting requests of one caller, all pools */
	int max_batch;         /* resources per resource.add */
	size_t max_output;     /* bytes of answers a client has not read */
	int idle_timeout;      /* seconds; 0 = never close idle connections */
	int sync_full;         /* --sync full: fsync every commit */
	size_t max_db_size;    /* bytes; 0 = no limit */
	int max_conns;         /* Unix socket connections */
	int max_tcp_conns;     /* TCP connections, with or without hello */
	int max_hello_conns;   /* TCP connections that have not said hello */
	int hello_timeout;     /* seconds a TCP connection has for hello */
	char *admin_group;     /* owned; NULL = none */
	char *pools_path;      /* owned; --pools FILE, or NULL */
	char *listen;          /* owned; --listen HOST:PORT, or NULL */
	int listen_public;     /* a non-loopback --listen is allowed */
	char *tokens_path;     /* owned; --tokens FILE */
	char *tls_cert;        /* owned; --tls-cert FILE (PEM chain) */
	char *tls_key;         /* owned; --tls-key FILE */
	char *check_pools;     /* owned; --check-pools FILE: check and exit */
	char *http;            /* owned; --http HOST:PORT, or NULL */
	gid_t admin_gid;
	double tick;           /* janitor period, seconds */
	double expired_keep;   /* how long an expired lease id answers "expired" */
	size_t expired_max;    /* and how many such ids at most */
	int history_max_age;   /* seconds of history kept; 0 = no limit */
	int history_max_rows;  /* events of history kept; 0 = no limit */
	char *advertise;       /* owned; --advertise ADDR, or NULL */
	int failover_timeout;  /* seconds; see leader.c */
	int reattach_grace;    /* seconds a stored waiter's place is kept */
	int64_t max_pool_size; /* largest max_size, min_idle, max_idle */
	int64_t max_concurrent; /* largest max_concurrent of a command */
	int max_destroys;      /* destroy commands running at once, in all */
};

/* Event priorities: everything runs at the default; the group commit
 * runs after each turn of the loop (see reply_run()). */
#define PRIO_COUNT 3

TAILQ_HEAD(conn_list, conn);
TAILQ_HEAD(watcher_list, watcher);
TAILQ_HEAD(job_list, job);
TAILQ_HEAD(task_list, task);

struct poold {
	struct config cfg;
	struct event_base *base;
	struct store *store;
	struct journal *journal;   /* the batch's changes, until the commit */
	struct leader *leader;     /* owned; leader.c */
	struct hmap pools;         /* name -> struct pool */
	struct hmap leases;        /* live lease id -> struct lease */
	struct hmap expired;       /* expired lease id -> struct lease (ended) */
	struct hmap request_ids;   /* "caller\x1frequest_id" -> live lease */
	struct hmap waiting_ids;   /* same key -> waiter still waiting */
	int64_t next_wait_seq;     /* queue order of stored waiters (wait.c) */
	size_t nplaces;            /* stored places not yet taken back */
	struct hmap waiting_callers; /* caller name -> its count (wait.c) */
	size_t nbound;             /* live leases with bind: connection */
	struct lease **heap;       /* min-heap of leases by expires_at */
	size_t heap_len, heap_cap;
	int64_t next_token;        /* fencing tokens (lease.c) */
	int64_t token_limit;       /* meta's next_token: tokens below it are
				    * reserved, stored or in this batch */
	bool token_dirty;          /* token_limit moved in this batch */
	int64_t next_seq;          /* lease grant order */
	int64_t next_orphan_id;    /* see provision_orphan() */
	struct conn_list conns;
	struct conn_list dirty;    /* with answers to write (conn.c) */
	struct watcher_list watchers; /* connections that sent "watch" */
	struct job_list jobs;      /* running commands */
	struct hmap tasks;         /* "pool\x1fresource" -> its running command */
	struct task_list orphans_waiting; /* orphan destroys waiting for a slot
					   * of --max-destroys (provision.c) */
	int destroys_running;      /* destroy commands running, in all pools */
	struct event *sigchld_ev;
	int nconns;                /* all open connections */
	int ntcp, nanon;           /* of which TCP, and TCP before hello */
	int ndraining;             /* closed, still writing their last answers */
	uint64_t next_conn_id;
	struct {                   /* refusals since start, in status */
		int64_t conns_refused, too_large, bad_requests, too_deep,
			slow_readers, idle_closed, hello_timeouts,
			accept_paused; /* EMFILE/ENFILE episodes */
	} refused;
	struct reply_batch batch;  /* replies waiting for the commit */
	struct event *retry_ev;    /* runs reply_flush() again while another
				    * process holds the database's lock */
	double blocked_since;      /* monotonic; 0 = not blocked */
	double started;            /* monotonic */
	uid_t uid;                 /* the daemon's own uid: an admin */
	double last_purge;         /* wall time of the last expired-id sweep */
	double last_prune;         /* wall time of the last history prune */
	size_t janitor_pos;        /* the pool a janitor tick starts at */
	double last_checkpoint;    /* wall time of the last WAL checkpoint */
	bool stopping;
	struct event *tick_ev, *sigterm_ev, *sigint_ev, *sighup_ev;
	struct evconnlistener *listener;
	struct evconnlistener *tcp_listener;
	struct event *accept_ev;   /* re-enables accepting after EMFILE */
	bool accept_trouble;       /* in an EMFILE episode: logged once */
	struct auth *auth;         /* the --tokens file, for TCP callers */
	void *tls;                 /* SSL_CTX *, when --tls-cert is given */
	struct metrics *metrics;   /* owned; histograms (metrics.h) */
	struct http *http;         /* owned; the --http listener (http.h) */
};

/* Opens the store, creates the event loop and loads the state (with crash
 * recovery). 0, or -1 with a message in err. cfg must be filled. */
int poold_open(struct poold *pd, char *err, size_t errlen);
/* Frees what poold_open made and everything loaded since (not cfg). */
void poold_close(struct poold *pd);

#endif
