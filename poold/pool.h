/*
 * pool.h - pools and their resources: the state lists, the one function that
 * moves a resource between states, and the Pool/Resource JSON forms.
 *
 * Memory is the source of truth while poold runs (docs/architecture.md);
 * every change made here is reported to the journal, which writes it with
 * the batch, so the store and memory agree whenever the batch commits.
 */
#ifndef POOLD_POOL_H
#define POOLD_POOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "hmap.h"

struct poold;
struct lease;
struct waiter;

enum res_state { RS_CREATING, RS_FREE, RS_LEASED, RS_CLEANING, RS_DESTROYING,
		 RS_NSTATES };
enum pool_order { ORDER_LIFO, ORDER_FIFO };
enum on_expire { EXPIRE_RETURN, EXPIRE_DISCARD };

struct pool_settings {
	int64_t max_size;     /* 0 = no limit */
	int64_t min_idle;
	int64_t max_idle;     /* 0 = no limit */
	int64_t max_waiters;
	double idle_ttl;      /* 0 = never */
	double lease_ttl;     /* 0 = no TTL */
	double max_lease_ttl; /* 0 = no limit on a lease's TTL */
	enum pool_order order;
	enum on_expire on_expire;
	json_t *create;       /* owned: "builtin", "none" or {"cmd": ...} */
	json_t *destroy;      /* owned: null or {"cmd": ...} */
	json_t *reset;        /* owned: null or {"cmd": ...} */
};

struct counters {
	int64_t leases, checkouts, returns, expired, created, create_failed,
		destroyed, waited, wait_timeouts, busy, exhausted, added,
		removed, replaced, reset_failed, destroy_failed;
};

struct resource {
	struct pool *pool;
	enum res_state state;
	/* The descriptor is kept as compact JSON text, not a json_t: a
	 * million resources then fit in a fraction of the memory, and the
	 * store and the commands take the text as it is. */
	char *descriptor;            /* owned */
	int64_t version;
	double created_at;
	double last_used_at;         /* 0 = never leased */
	int64_t lease_count;
	struct lease *lease;         /* the one live lease holding it, or NULL */
	TAILQ_ENTRY(resource) link;  /* in pool->lists[state] */
	char name[];                 /* inline: one allocation per resource */
};

TAILQ_HEAD(res_list, resource);
TAILQ_HEAD(waiter_list, waiter);
TAILQ_HEAD(lease_list, lease);

struct pool {
	struct poold *pd;
	struct match_index *mindex;  /* owned; NULL until a match (match_index.h) */
	char *name;                  /* owned */
	bool draining;
	bool declared;               /* managed by the --pools file */
	bool ready;                  /* marked by journal_ready() */
	double created_at;
	struct pool_settings set;
	/* One list per state; a free list is in the order resources became
	 * free, so lifo takes the tail and fifo the head. */
	struct res_list lists[RS_NSTATES];
	size_t count[RS_NSTATES];
	size_t total;
	struct hmap by_name;         /* name -> struct resource */
	struct waiter_list waiters;  /* FIFO of waiting requests */
	size_t nwaiters;
	struct waiter_list creators; /* requests waiting for the resource a
				      * create command makes for them */
	struct lease_list leases;    /* live leases in grant order */
	struct counters stats;       /* since start; memory only */
	int destroys_running;        /* destroy commands running (provision.c) */
};

const char *res_state_name(enum res_state s);
int res_state_parse(const char *s, enum res_state *out);

/* Settings: defaults, and applying a request's fields (pool.create/pool.set
 * or a stored row). Returns 0, or -1 with a message in err. On error *s is
 * unchanged. "state" is not a setting; callers handle it. */
void pool_settings_init(struct pool_settings *s);
void pool_settings_clear(struct pool_settings *s);
int pool_settings_apply(struct pool_settings *s, json_t *fields, char *err,
			size_t errlen);
bool pool_setting_known(const char *field);
/* 0 if the counts and command concurrency a request's fields set are
 * within the daemon's limits (--max-pool-size, --max-concurrent), else -1
 * with a message naming the limit and its flag in err. */
struct config;
int pool_settings_bound(json_t *fields, const struct config *cfg, char *err,
			size_t errlen);
/* Lowers what is above those limits, with a log line each: settings stored
 * by an older poold, or a --pools file, never hang the janitor. */
void pool_settings_clamp(struct pool_settings *s, const struct config *cfg,
			 const char *pool);
/* 0 if a lease TTL of ttl (0 = none) fits max_lease_ttl, else -1 with a
 * message naming what in err. */
int pool_ttl_check(const struct pool_settings *s, double ttl,
		   const char *what, char *err, size_t errlen);

/* Pools. pool_new registers the pool in pd and writes it to the store;
 * pool_attach only registers (used when loading). */
struct pool *pool_find(struct poold *pd, const char *name);
struct pool *pool_new(struct poold *pd, const char *name,
		      const struct pool_settings *s, double now);
struct pool *pool_attach(struct poold *pd, const char *name,
			 const struct pool_settings *s, bool draining,
			 bool declared, double created_at);
void pool_save(struct pool *p);      /* after changing settings or state */
void pool_free(struct pool *p);      /* resources too; no store writes */
void pool_remove(struct pool *p);    /* deletes from store and frees */
json_t *pool_to_json(const struct pool *p);
json_t *pool_occupancy_json(const struct pool *p, double now);
bool pool_can_grow(const struct pool *p);

/* Resources. resource_new writes version 1; resource_attach only links a
 * loaded row. */
struct resource *resource_find(const struct pool *p, const char *name);
struct resource *resource_new(struct pool *p, const char *name,
			      json_t *descriptor, enum res_state state,
			      double now);
struct resource *resource_attach(struct pool *p, const char *name,
				 char *descriptor, enum res_state state,
				 int64_t version, double created_at,
				 double last_used_at, int64_t lease_count);
/* The one function that changes a resource's state or descriptor: moves it
 * to state, replaces the descriptor when one is given (stolen), adds one to
 * version and reports it to the journal. */
void resource_change(struct resource *r, enum res_state state,
		     json_t *descriptor);
/* Deletes it now, whatever its state (no command runs). */
void resource_delete(struct resource *r);
json_t *resource_to_json(const struct resource *r);
/* The same object as JSON text, without parsing the descriptor, into buf
 * (what the journal keeps for each event): the length it has, as
 * snprintf(); no allocation. */
int resource_json_write(const struct resource *r, char *buf, size_t cap);
/* The descriptor as a JSON object (new reference). */
json_t *resource_descriptor(const struct resource *r);

/* The pool's create, reset or destroy command object ({"cmd", "timeout",
 * "max_concurrent"}), or NULL when it has none (builtin, none, null). */
json_t *pool_command(const struct pool *p, const char *which);
/* How many of a command may run at once in one pool: its max_concurrent,
 * or the default 4 (destroy may leave it out). */
int64_t pool_command_concurrency(json_t *cmd);

/* A name "<pool>-<5 random lowercase letters>" not yet taken in p. */
void resource_name_generate(const struct pool *p, char *buf, size_t len);
/* 0 if d fits --max-descriptor, else -1 with a message in err. */
int descriptor_check(const struct poold *pd, json_t *d, char *err,
		     size_t errlen);
/* True if r's descriptor has every top-level key of match with an equal
 * value. */
bool descriptor_matches(const struct resource *r, json_t *match);

/* The first free resource in pool order that a request may take: the named
 * one, the first matching one, or any. NULL if none is free. */
struct resource *pool_take_free(struct pool *p, const char *name,
				json_t *match);

#endif
