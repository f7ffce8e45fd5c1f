/* options.c - see options.h. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pool_protocol.h"
#include "poold.h"
#include "util.h"

enum opt_type { OPT_STRING, OPT_SIZE, OPT_INT, OPT_INT64, OPT_LOGLEVEL, OPT_LOGFORMAT,
		OPT_GROUP,
		OPT_SYNC, OPT_FLAG, OPT_HELP, OPT_VERSION };

struct opt {
	const char *name;
	enum opt_type type;
	size_t offset;           /* into struct config */
	long long min, max;      /* OPT_SIZE / OPT_INT / OPT_INT64 */
	const char *metavar;
	const char *help;
};

#define OFF(f) offsetof(struct config, f)
static const struct opt opt_table[] = {
	{ "socket", OPT_STRING, OFF(socket_path), 0, 0, "PATH",
	  "Unix socket to listen on (default: $POOLD_SOCKET, else "
	  "/run/poold/poold.sock as root, else $XDG_RUNTIME_DIR/poold.sock)" },
	{ "db", OPT_STRING, OFF(db_path), 0, 0, "PATH",
	  "SQLite database file (default: $POOLD_DB, else "
	  "/var/lib/poold/poold.db as root, else ./poold.db)" },
	{ "store", OPT_STRING, OFF(db_path), 0, 0, "URL",
	  "where the state is kept: sqlite:PATH (the same as --db PATH) or "
	  "a PostgreSQL URI postgresql://... (the last of --db and --store "
	  "counts)" },
	{ "max-line", OPT_SIZE, OFF(max_line), 64, 1LL << 30, "BYTES",
	  "longest request line accepted (default 1048576)" },
	{ "max-conns", OPT_INT, OFF(max_conns), 1, 1000000, "N",
	  "most Unix socket connections at once; beyond it: busy "
	  "(default 1024)" },
	{ "max-tcp-conns", OPT_INT, OFF(max_tcp_conns), 1, 1000000, "N",
	  "most TCP connections at once, counted apart from the Unix "
	  "socket's (default 1024)" },
	{ "max-hello-conns", OPT_INT, OFF(max_hello_conns), 1, 1000000, "N",
	  "most TCP connections that have not said hello yet (default 32)" },
	{ "hello-timeout", OPT_INT, OFF(hello_timeout), 1, 3600, "SECONDS",
	  "a TCP connection without a good hello this long is closed "
	  "(default 10)" },
	{ "max-descriptor", OPT_SIZE, OFF(max_descriptor), 64, 1LL << 30,
	  "BYTES", "largest descriptor, as compact JSON (default 65536)" },
	{ "max-depth", OPT_INT, OFF(max_depth), 2, 1000, "N",
	  "deepest JSON nesting in a request (default 64)" },
	{ "max-match-keys", OPT_INT, OFF(max_match_keys), 1, 1000000, "N",
	  "most keys in a checkout's match (default 32)" },
	{ "max-match-bytes", OPT_SIZE, OFF(max_match_bytes), 16, 1LL << 30,
	  "BYTES", "largest checkout match, as compact JSON (default 4096)" },
	{ "max-waiting", OPT_INT, OFF(max_waiting), 1, 10000000, "N",
	  "most waiting lease/checkout requests of one caller across all "
	  "pools; beyond it: busy (default 256)" },
	{ "max-batch", OPT_INT, OFF(max_batch), 1, 10000000, "N",
	  "most resources in one resource.add (default 10000)" },
	{ "max-output", OPT_SIZE, OFF(max_output), 4096, 1LL << 40, "BYTES",
	  "answers a client may leave unread before it is disconnected "
	  "(default 16777216)" },
	{ "idle-timeout", OPT_INT, OFF(idle_timeout), 0, 100000000, "SECONDS",
	  "close connections silent this long that hold no connection-bound "
	  "lease, wait or watch (default 3600; 0 = never)" },
	{ "max-db-size", OPT_SIZE, OFF(max_db_size), 0, 1LL << 50, "BYTES",
	  "largest the database may grow; past it writes fail with "
	  "internal, as on a full disk (default 0: no limit)" },
	{ "sync", OPT_SYNC, OFF(sync_full), 0, 0, "MODE",
	  "normal (default: a commit survives a crash of poold) or full "
	  "(also a power loss: fsync at every commit)" },
	{ "admin-group", OPT_GROUP, OFF(admin_group), 0, 0, "GROUP",
	  "members of GROUP may use admin ops (besides root and the "
	  "daemon's own user)" },
	{ "pools", OPT_STRING, OFF(pools_path), 0, 0, "FILE",
	  "declare pools in FILE (JSON Lines, one pool per line); SIGHUP "
	  "applies it again" },
	{ "check-pools", OPT_STRING, OFF(check_pools), 0, 0, "FILE",
	  "check a pools file and exit (0 if it is good)" },
	{ "listen", OPT_STRING, OFF(listen), 0, 0, "HOST:PORT",
	  "also listen on TCP (off by default); callers must say hello with "
	  "a token from --tokens first" },
	{ "listen-public", OPT_FLAG, OFF(listen_public), 0, 0, NULL,
	  "allow --listen or --http on an address that is not loopback" },
	{ "http", OPT_STRING, OFF(http), 0, 0, "HOST:PORT",
	  "serve /metrics, /healthz, /api/status and the dashboard over "
	  "HTTP (off by default; read-only)" },
	{ "tokens", OPT_STRING, OFF(tokens_path), 0, 0, "FILE",
	  "TCP callers' tokens: lines \"NAME TOKEN [admin]\"; mode 600" },
	{ "tls-cert", OPT_STRING, OFF(tls_cert), 0, 0, "FILE",
	  "serve TCP with TLS using this PEM certificate chain" },
	{ "tls-key", OPT_STRING, OFF(tls_key), 0, 0, "FILE",
	  "the private key of --tls-cert (PEM)" },
	{ "history-max-age", OPT_INT, OFF(history_max_age), 0, 1000000000,
	  "SECONDS", "keep history this long (default 2592000: 30 days; 0 = "
	  "no limit)" },
	{ "history-max-rows", OPT_INT, OFF(history_max_rows), 0, 2000000000,
	  "N", "keep at most N history events (default 1000000; 0 = no "
	  "limit)" },
	{ "advertise", OPT_STRING, OFF(advertise), 0, 0, "ADDR",
	  "the address clients are sent to while this front end leads "
	  "(not_leader answers of standbys; default unix:SOCKET)" },
	{ "failover-timeout", OPT_INT, OFF(failover_timeout), 1, 3600,
	  "SECONDS", "with --store postgresql://: a standby takes over "
	  "within this long after the leader stops (default 5)" },
	{ "reattach-grace", OPT_INT, OFF(reattach_grace), 0, 3600,
	  "SECONDS", "a waiting request's place in its queue is kept this "
	  "long after a restart or failover for its client to send it "
	  "again (default 10)" },
	{ "max-pool-size", OPT_INT64, OFF(max_pool_size), 1, 100000000,
	  "N", "largest max_size, min_idle and max_idle a pool may have "
	  "(default 100000)" },
	{ "max-concurrent", OPT_INT64, OFF(max_concurrent), 1, 100000, "N",
	  "largest max_concurrent of a pool's create, reset or destroy "
	  "command (default 64)" },
	{ "max-destroys", OPT_INT, OFF(max_destroys), 1, 100000, "N",
	  "most destroy commands running at once, all pools together "
	  "(default 64)" },
	{ "log-level", OPT_LOGLEVEL, 0, 0, 0, "LEVEL",
	  "error, warn, info (default) or debug" },
	{ "log-format", OPT_LOGFORMAT, 0, 0, 0, "FORMAT",
	  "text (default) or json: one JSON object per line with time, "
	  "level, message and the message's key=value words" },
	{ "help", OPT_HELP, 0, 0, 0, NULL, "show this help and exit" },
	{ "version", OPT_VERSION, 0, 0, 0, NULL, "show the version and exit" },
};
#undef OFF
#define NOPTS (sizeof opt_table / sizeof *opt_table)

void options_usage(FILE *out)
{
	fprintf(out, "usage: poold [OPTIONS]\n\npoold keeps pools of reusable "
		"resources and leases them over a JSON Lines socket.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opt_table[i];
		char left[40];

		snprintf(left, sizeof left, "--%s%s%s", o->name,
			 o->metavar ? " " : "", o->metavar ? o->metavar : "");
		fprintf(out, "  %-24s %s\n", left, o->help);
	}
	fprintf(out, "\nSee docs/protocol.md for the wire protocol and "
		"poold(8) for details.\n");
}

static int set_number(const struct opt *o, struct config *cfg,
		      const char *arg)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || *end || end == arg || v < o->min || v > o->max) {
		fprintf(stderr, "poold: --%s wants a whole number from %lld to "
			"%lld, not \"%s\"\n", o->name, o->min, o->max, arg);
		return -1;
	}
	if (o->type == OPT_SIZE)
		*(size_t *)((char *)cfg + o->offset) = (size_t)v;
	else if (o->type == OPT_INT64)
		*(int64_t *)((char *)cfg + o->offset) = v;
	else
		*(int *)((char *)cfg + o->offset) = (int)v;
	return 0;
}

static int set_option(const struct opt *o, struct config *cfg,
		      const char *arg)
{
	char **str = (char **)((char *)cfg + o->offset);
	struct group *g;
	enum log_level lvl;

	switch (o->type) {
	case OPT_STRING:
		free(*str);
		*str = xstrdup(arg);
		return 0;
	case OPT_SIZE:
	case OPT_INT:
	case OPT_INT64:
		return set_number(o, cfg, arg);
	case OPT_LOGLEVEL:
		if (log_level_parse(arg, &lvl) < 0) {
			fprintf(stderr, "poold: --log-level wants error, warn, "
				"info or debug, not \"%s\"\n", arg);
			return -1;
		}
		log_threshold = lvl;
		return 0;
	case OPT_LOGFORMAT:
		if (strcmp(arg, "text") && strcmp(arg, "json")) {
			fprintf(stderr, "poold: --log-format wants text or "
				"json, not \"%s\"\n", arg);
			return -1;
		}
		log_json = strcmp(arg, "json") == 0;
		return 0;
	case OPT_FLAG:
		*(int *)((char *)cfg + o->offset) = 1;
		return 0;
	case OPT_SYNC:
		if (strcmp(arg, "normal") && strcmp(arg, "full")) {
			fprintf(stderr, "poold: --sync wants normal or full, "
				"not \"%s\"\n", arg);
			return -1;
		}
		cfg->sync_full = strcmp(arg, "full") == 0;
		return 0;
	case OPT_GROUP:
		if (!(g = getgrnam(arg))) {
			fprintf(stderr, "poold: --admin-group: no group "
				"\"%s\"\n", arg);
			return -1;
		}
		free(*str);
		*str = xstrdup(arg);
		cfg->admin_gid = g->gr_gid;
		return 0;
	case OPT_HELP:
		options_usage(stdout);
		return 1;
	case OPT_VERSION:
		printf("poold %s (protocol %d)\n", POOL_VERSION,
		       POOL_PROTOCOL_VERSION);
		return 1;
	}
	return -1;
}

void options_defaults(struct config *cfg)
{
	const char *db = getenv(POOL_DB_ENV);
	char sock[4096];

	memset(cfg, 0, sizeof *cfg);
	cfg->socket_path = xstrdup(pool_socket_default(sock, sizeof sock));
	/* Root runs as a system service: its state lives where systemd's
	 * StateDirectory=poold puts it, not wherever it was started. */
	cfg->db_path = xstrdup(db && *db ? db : geteuid() == 0 ?
			       POOLD_DB_ROOT : POOL_DB_DEFAULT);
	cfg->max_line = POOL_DEFAULT_MAX_LINE;
	cfg->max_conns = 1024;
	cfg->max_tcp_conns = 1024;
	cfg->max_hello_conns = 32;
	cfg->hello_timeout = 10;
	cfg->max_descriptor = 65536;
	cfg->max_depth = 64;
	cfg->max_batch = 10000;
	cfg->max_match_keys = 32;
	cfg->max_match_bytes = 4096;
	cfg->max_waiting = 256;
	cfg->max_output = 16 << 20;
	cfg->idle_timeout = 3600;
	cfg->tick = 0.1;
	cfg->expired_keep = 86400;
	cfg->expired_max = 100000;
	cfg->history_max_age = 30 * 86400;
	cfg->history_max_rows = 1000000;
	cfg->failover_timeout = 5;
	cfg->reattach_grace = 10;
	cfg->max_pool_size = 100000;
	cfg->max_concurrent = 64;
	cfg->max_destroys = 64;
}

/* Options that only make sense together. */
static int check_combinations(const struct config *cfg)
{
	const char *why = NULL;

	if (cfg->listen && !cfg->tokens_path)
		why = "--listen needs --tokens FILE: TCP callers authenticate "
		      "with a token";
	else if (!cfg->listen && (cfg->tls_cert || cfg->tls_key))
		why = "--tls-cert and --tls-key apply to --listen";
	else if (!cfg->tls_cert != !cfg->tls_key)
		why = "--tls-cert and --tls-key go together";
	if (!why)
		return 0;
	fprintf(stderr, "poold: %s\n", why);
	return -1;
}

int options_parse(struct config *cfg, int argc, char **argv)
{
	struct option longopts[NOPTS + 1];
	int idx, c, rc;

	options_defaults(cfg);
	memset(longopts, 0, sizeof longopts);
	for (size_t i = 0; i < NOPTS; i++) {
		longopts[i].name = opt_table[i].name;
		longopts[i].has_arg = opt_table[i].metavar ? required_argument :
							      no_argument;
		longopts[i].val = 0;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		if (c != 0) {
			fprintf(stderr, "poold: try 'poold --help'\n");
			return -1;
		}
		if ((rc = set_option(&opt_table[idx], cfg, optarg)) != 0)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "poold: unexpected argument \"%s\"; try "
			"'poold --help'\n", argv[optind]);
		return -1;
	}
	return check_combinations(cfg);
}

void options_free(struct config *cfg)
{
	free(cfg->socket_path);
	free(cfg->db_path);
	free(cfg->admin_group);
	free(cfg->pools_path);
	free(cfg->listen);
	free(cfg->tokens_path);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->check_pools);
	free(cfg->http);
	free(cfg->advertise);
	memset(cfg, 0, sizeof *cfg);
}
