/*
 * poolctl.h - what the modules of poolctl share: the run context, the command
 * table's row type, the argument parser's result, exit codes, and the helpers
 * of output.c and duration.c. Nothing here is API outside poolctl.
 */
#ifndef POOLCTL_H
#define POOLCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "pool.h"

/* Exit codes: the same for every command, listed in --help and the docs. */
enum {
	CTL_OK = 0,
	CTL_ERR = 1,         /* anything not below */
	CTL_USAGE = 2,       /* bad command line */
	CTL_NO_RESOURCE = 3, /* exhausted, timeout, busy */
	CTL_GONE = 4,        /* not_found, expired (also: run lost its lease) */
	CTL_FORBIDDEN = 5,
	CTL_CONFLICT = 6,
	CTL_UNREACHABLE = 7, /* cannot reach the daemon */
	CTL_TIMED_OUT = 8    /* the daemon did not answer within --timeout */
};

/* One option a command takes; a table of them ends with a NULL name. */
struct ctl_opt {
	const char *name;  /* long name without "--" */
	int key;           /* a short option letter, or an id >= 256 */
	const char *arg;   /* metavariable for --help; NULL for a flag */
	const char *help;
};

/* Option ids of the lease-taking options shared by lease, checkout and run. */
enum { OPT_TTL = 256, OPT_WAIT, OPT_OWNER, OPT_BIND, OPT_REQUEST_ID, OPT_CMD_BASE };

/* The rows of the lease-taking options, to put into a command's table. */
#define CTL_LEASE_OPTS                                                                    \
	{ "ttl", OPT_TTL, "DURATION", "lease time to live (0: none; default: the pool's)" }, \
	{ "wait", OPT_WAIT, "DURATION", "wait this long when nothing is free" },              \
	{ "owner", OPT_OWNER, "LABEL", "owner label shown in lease lists" },                  \
	{ "bind", OPT_BIND, "none|connection", "connection: end with the connection" },       \
	{ "request-id", OPT_REQUEST_ID, "ID", "make the request idempotent (retry-safe)" }

struct ctl_optval {
	int key;
	const char *val;   /* borrowed from argv; NULL for a flag */
};

/* A command line split by the command's option table. */
struct ctl_args {
	const char **pos;          /* positional arguments; owned array */
	int npos;
	struct ctl_optval *opts;   /* options in command-line order; owned array */
	int nopts;
	char *const *rest;         /* after "--" (run's COMMAND), borrowed; NULL if none */
	int nrest;
};

struct ctl;

struct ctl_cmd {
	const char *name;            /* "lease", "pool create", ... */
	const char *usage;           /* the arguments after the name */
	const char *summary;         /* one line for poolctl --help */
	const char *details;         /* more for COMMAND --help, or NULL */
	const struct ctl_opt *opts;  /* the command's own options, or NULL */
	int min_pos, max_pos;        /* positional arguments allowed (-1: any) */
	bool takes_command;          /* what follows "--" is a COMMAND (run) */
	int (*run)(struct ctl *ctx, const struct ctl_args *a);
};

/* Everything a command needs besides its arguments. */
struct ctl {
	const char *socket;         /* --socket, or NULL: pool_socket_default() */
	const char *tcp;            /* --tcp HOST:PORT, or NULL: the socket */
	const char *token_file;     /* --token-file, else $POOLD_TOKEN */
	const char *timeout_arg;    /* --timeout, else $POOLCTL_TIMEOUT, or NULL */
	double timeout;             /* seconds, parsed from timeout_arg; 0: none */
	bool tls;                   /* --tls (also implied by --tls-ca, --tls-insecure) */
	const char *tls_ca;         /* --tls-ca FILE, or NULL: the system's CAs */
	bool tls_insecure;          /* --tls-insecure: no certificate verification */
	bool json;                  /* --json: print the exact result object */
	bool quiet;                 /* -q: only the lease id (or nothing) */
	const struct ctl_cmd *cmd;  /* the command running */
	const struct ctl_args *args; /* its arguments, once split; borrowed */
	pool_client *client;        /* owned; connected on first use */
	int connect_rc;             /* exit code if connecting failed (7, 8 for
				     * --timeout, or 5 for a TCP token refused) */
};

/* ---- poolctl.c ---------------------------------------------------------- */

/* The connected client (connecting on first use), or NULL after printing why. */
pool_client *ctl_client(struct ctl *ctx);
/* A new connection as the options say (Unix socket, or TCP + hello); NULL
 * with err set. */
pool_client *ctl_connect(struct ctl *ctx, pool_error *err);
/* Prints err (and a hint where it helps) and returns its exit code. */
int ctl_fail(struct ctl *ctx, const pool_error *err);
/* Prints a usage error for the running command; returns CTL_USAGE. */
int ctl_usage(struct ctl *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code of a libpool error code. */
int ctl_exit_code(pool_code code);

/* ---- args.c ------------------------------------------------------------- */

/* Parses a non-negative integer option; 0, or CTL_USAGE after saying why. */
int arg_count(struct ctl *ctx, const char *opt, const char *val, long long *out);
/* Parses a duration option (see duration.c); 0, or CTL_USAGE. */
int arg_duration(struct ctl *ctx, const char *opt, const char *val, double *out);
/* Reads a JSON object from "JSON", "@FILE" or "@-"; 0 with *out a new
 * reference, or CTL_USAGE after saying why. */
int arg_object(struct ctl *ctx, const char *opt, const char *val, json_t **out);
/* Applies v to o if it is a lease-taking option: returns 1 when applied, 0
 * when v is another option, CTL_USAGE after saying why its value is bad. */
int arg_lease_opt(struct ctl *ctx, pool_lease_opts *o, const struct ctl_optval *v);

/* ---- duration.c --------------------------------------------------------- */

/* "90", "1.5s", "5m", "2h", "1d" to seconds; 0, or -1 if s is not one. */
int duration_parse(const char *s, double *out);
/* Seconds (negative counts as 0) as "45s", "5m30s", "2h05m", "3d4h" into
 * buf; returns buf. */
char *duration_format(double secs, char *buf, size_t len);
/* Seconds to the millisecond in every unit it takes ("1h30m", "1d2h0.5s",
 * "0s"), for settings that must read back exactly; returns buf. */
char *duration_format_exact(double secs, char *buf, size_t len);

/* The i-th row of the command table, NULL past the end; the options every
 * command takes (poolctl.c). */
const struct ctl_cmd *ctl_command(size_t i);
const struct ctl_opt *ctl_common_options(void);

/* ---- complete.c: poolctl __complete WHAT ..., for shell completion ------- */

int complete_run(struct ctl *ctx, int argc, char **argv);

/* ---- words.c ------------------------------------------------------------ */

/* msg, a daemon's error message, into out with the protocol's words
 * ("pass wait", "pool.create", "max_size") as poolctl's ("--wait",
 * "poolctl pool create", "--max-size"), except where one of the nkeep
 * names in keep (the user's arguments) stands. */
void ctl_words(const char *msg, const char *const *keep, int nkeep, char *out, size_t len);

/* ---- output.c ----------------------------------------------------------- */

/* The whole value as indented JSON on stdout. */
void out_json(const json_t *v);
/* The value as one compact JSON line on stdout, flushed (for streams). */
void out_json_line(const json_t *v);
/* A Lease object as a readable summary. */
void out_lease(const json_t *lease);
/* "export NAME='value'" lines of a lease for eval in a shell. */
void out_lease_env(const json_t *lease);
/* Key-value lines of the scalar fields of obj, nested objects as JSON. */
void out_fields(const json_t *obj);
/* A string field of obj, or "" when absent or not a string. */
const char *out_str(const json_t *obj, const char *key);
/* Seconds from now until (positive) or since (negative) an RFC 3339 time;
 * NAN when s is not one. */
double out_seconds_until(const char *rfc3339);
/* The environment variable name POOL_DESC_<KEY> of a descriptor key, into
 * buf; false when key has nothing usable. */
bool out_desc_env_name(const char *key, char *buf, size_t len);
/* The text of a scalar JSON value for an environment variable, malloc'd;
 * NULL for objects and arrays. */
char *out_scalar_text(const json_t *v);

/* A table of text cells printed with aligned columns. */
struct table;
struct table *table_new(size_t ncols, ...);  /* header cells */
void table_add(struct table *t, ...);        /* ncols cells (copied) */
void table_print(struct table *t, FILE *f);  /* and frees it */

/* ---- commands (one struct per command, listed in poolctl.c) ---------- */

extern const struct ctl_cmd cmd_ping, cmd_hello, cmd_status, cmd_watch;          /* cmd-daemon.c */
extern const struct ctl_cmd cmd_lease, cmd_checkout, cmd_return, cmd_replace,     /* cmd-lease.c */
	cmd_checkin, cmd_renew, cmd_lease_get, cmd_lease_list;
extern const struct ctl_cmd cmd_pool_create, cmd_pool_set, cmd_pool_get,          /* cmd-pool.c */
	cmd_pool_list, cmd_pool_drain, cmd_pool_delete;
extern const struct ctl_cmd cmd_resource_add, cmd_resource_list, cmd_resource_get, /* cmd-resource.c */
	cmd_resource_update, cmd_resource_remove;
extern const struct ctl_cmd cmd_run;                                               /* run.c */
extern const struct ctl_cmd cmd_history;                                       /* cmd-history.c */
extern const struct ctl_cmd cmd_backup;                                        /* cmd-backup.c */

/* import.c: resource add POOL --file FILE. */
int import_file(struct ctl *ctx, const char *pool, const char *path);

#endif
