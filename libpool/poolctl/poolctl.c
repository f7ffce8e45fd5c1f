/*
 * poolctl.c - the command line of poold: the command table (one row per
 * command drives dispatch and --help), the options every command takes,
 * the split of a command line by a command's option table, and the one
 * mapping from libpool's error codes to poolctl's exit codes.
 */
#include <limits.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_protocol.h"
#include "poolctl.h"

/* In the order poolctl --help lists them: the everyday ones first. */
static const struct ctl_cmd *const commands[] = {
	&cmd_lease, &cmd_return, &cmd_run, &cmd_checkout, &cmd_replace, &cmd_checkin,
	&cmd_renew, &cmd_lease_get, &cmd_lease_list, &cmd_status, &cmd_pool_create,
	&cmd_pool_set, &cmd_pool_get, &cmd_pool_list, &cmd_pool_drain, &cmd_pool_delete,
	&cmd_resource_add, &cmd_resource_list, &cmd_resource_get, &cmd_resource_update,
	&cmd_resource_remove, &cmd_watch, &cmd_history, &cmd_backup, &cmd_ping, &cmd_hello,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

enum { OPT_SOCKET = 1000, OPT_JSON, OPT_HELP, OPT_QUIET, OPT_VERSION, OPT_TCP,
       OPT_TOKEN_FILE, OPT_TIMEOUT, OPT_TLS, OPT_TLS_CA, OPT_TLS_INSECURE };

/* Options every command takes, before or after the command's name. */
static const struct ctl_opt common_opts[] = {
	{ "socket", OPT_SOCKET, "PATH", "poold's socket (default: as poold resolves it); "
	  "several, comma-separated: front ends, the leader is followed" },
	{ "tcp", OPT_TCP, "HOST:PORT", "talk to poold over TCP instead (poold --listen); "
	  "several, comma-separated, as --socket" },
	{ "token-file", OPT_TOKEN_FILE, "FILE",
	  "the TCP token, first line of FILE (default: $POOLD_TOKEN)" },
	{ "tls", OPT_TLS, NULL, "with --tcp: TLS, verifying poold's certificate and name" },
	{ "tls-ca", OPT_TLS_CA, "FILE", "trust the CAs of FILE (PEM; default: the system's)" },
	{ "tls-insecure", OPT_TLS_INSECURE, NULL, "TLS without verifying poold (unsafe; tests only)" },
	{ "timeout", OPT_TIMEOUT, "DURATION",
	  "give up without an answer by then (default: $POOLCTL_TIMEOUT)" },
	{ "json", OPT_JSON, NULL, "print the exact result object as JSON" },
	{ "quiet", 'q', NULL, "print only the lease id (or nothing)" },
	{ "help", 'h', NULL, "show this help" },
	{ NULL, 0, NULL, NULL },
};

static const char exit_codes_help[] =
	"Exit codes:\n"
	"  0  success\n"
	"  1  any other error\n"
	"  2  usage error\n"
	"  3  no resource: exhausted, timeout, busy\n"
	"  4  not_found or expired (run: the lease was lost)\n"
	"  5  forbidden\n"
	"  6  conflict\n"
	"  7  cannot reach the daemon (or only a standby: not_leader)\n"
	"  8  the daemon did not answer within --timeout\n"
	"run exits with COMMAND's status (128+N if a signal N ended it).\n";

int ctl_exit_code(pool_code code)
{
	switch (code) {
	case POOL_OK:
		return CTL_OK;
	case POOL_E_EXHAUSTED:
	case POOL_E_TIMEOUT:
	case POOL_E_BUSY:
		return CTL_NO_RESOURCE;
	case POOL_E_NOT_FOUND:
	case POOL_E_EXPIRED:
		return CTL_GONE;
	case POOL_E_FORBIDDEN:
		return CTL_FORBIDDEN;
	case POOL_E_CONFLICT:
		return CTL_CONFLICT;
	case POOL_E_UNREACHABLE:
	case POOL_E_NOT_LEADER:
		return CTL_UNREACHABLE;
	default:
		return CTL_ERR;
	}
}

int ctl_fail(struct ctl *ctx, const pool_error *err)
{
	char def[PATH_MAX], said[sizeof(err->message) * 2];

	/* Ours, not the daemon's timeout code (a lease wait that ran out): a
	 * connect never gets that one, and a call says which it was. */
	if (err->code == POOL_E_TIMEOUT && (!ctx->client || pool_timed_out(ctx->client))) {
		fprintf(stderr, "poolctl: timed out: %s\n", err->message);
		return CTL_TIMED_OUT;
	}

	/* The daemon's code helps a script's author; libpool's own ones do not. */
	if (err->code == POOL_E_UNREACHABLE || err->code == POOL_E_PROTOCOL)
		fprintf(stderr, "poolctl: %s\n", err->message);
	else {
		ctl_words(err->message, ctx->args ? ctx->args->pos : NULL,
			  ctx->args ? ctx->args->npos : 0, said, sizeof(said));
		fprintf(stderr, "poolctl: %s (%s)\n", said, pool_code_name(err->code));
	}
	if (err->code == POOL_E_UNREACHABLE && !ctx->tcp)
		fprintf(stderr,
			"poolctl: is poold running? it listens on %s by default; "
			"pass --socket or set " POOL_SOCKET_ENV "\n",
			pool_socket_default(def, sizeof(def)));
	return ctl_exit_code(err->code);
}

/* The token for --tcp: the first line of --token-file, else $POOLD_TOKEN. */
static int read_token(const struct ctl *ctx, char *buf, size_t len, pool_error *err)
{
	const char *env = getenv("POOLD_TOKEN");
	FILE *f;

	if (!ctx->token_file) {
		snprintf(buf, len, "%s", env ? env : "");
		return 0;
	}
	if (!(f = fopen(ctx->token_file, "r")) || !fgets(buf, (int)len, f)) {
		snprintf(err->message, sizeof(err->message), "cannot read a token from %s: %s",
			 ctx->token_file, f ? "it is empty" : strerror(errno));
		err->code = POOL_E_BAD_REQUEST;
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

pool_client *ctl_connect(struct ctl *ctx, pool_error *err)
{
	pool_connect_opts o = {
		.socket_path = ctx->socket, .tcp = ctx->tcp, .timeout = ctx->timeout,
		.tls = ctx->tls, .tls_ca = ctx->tls_ca, .tls_insecure = ctx->tls_insecure,
	};
	char token[512];
	pool_client *c;

	if (ctx->tcp && read_token(ctx, token, sizeof(token), err) < 0)
		return NULL;
	o.token = ctx->tcp ? token : NULL;
	c = pool_connect_with(&o, err);
	explicit_bzero(token, sizeof(token));
	return c;
}

pool_client *ctl_client(struct ctl *ctx)
{
	pool_error err;

	if (!ctx->client) {
		ctx->client = ctl_connect(ctx, &err);
		if (!ctx->client)
			ctx->connect_rc = ctl_fail(ctx, &err);
	}
	return ctx->client;
}

int ctl_usage(struct ctl *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "poolctl%s%s: ", ctx->cmd ? " " : "", ctx->cmd ? ctx->cmd->name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (ctx->cmd)
		fprintf(stderr, "\nusage: poolctl %s %s\nTry 'poolctl %s --help'.\n",
			ctx->cmd->name, ctx->cmd->usage, ctx->cmd->name);
	else
		fprintf(stderr, "\nTry 'poolctl --help'.\n");
	return CTL_USAGE;
}

/* ---- help ------------------------------------------------------------------ */

static void print_opts(const struct ctl_opt *o)
{
	for (; o && o->name; o++) {
		char left[64], flag[8] = "    ";

		if (o->key < 128)
			snprintf(flag, sizeof(flag), "-%c, ", o->key);
		snprintf(left, sizeof(left), "%s--%s%s%s", flag, o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		printf("  %-34s %s\n", left, o->help);
	}
}

static void print_command_list(const char *prefix)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char left[96];

		if (prefix && strncmp(commands[i]->name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(left, sizeof(left), "%s %s", commands[i]->name, commands[i]->usage);
		if (strlen(left) > 40)
			printf("  %s\n  %-40s %s\n", left, "", commands[i]->summary);
		else
			printf("  %-40s %s\n", left, commands[i]->summary);
	}
}

static void main_help(void)
{
	printf("usage: poolctl [--socket PATH | --tcp HOST:PORT [--token-file FILE]\n"
	       "               [--tls] [--tls-ca FILE]] [--timeout DURATION] [--json] [-q]\n"
	       "               COMMAND [ARGS...]\n\n"
	       "poolctl takes and returns leases on poold's resource pools, runs commands\n"
	       "under a lease, and manages pools and resources.\n\n"
	       "Commands:\n");
	print_command_list(NULL);
	printf("\nOptions of every command:\n");
	print_opts(common_opts);
	printf("      --version                      show poolctl's version\n\n"
	       "Durations: 90 (seconds), 90s, 1m30s, 2h05m, 1d2h, 500ms. Descriptors: JSON, @FILE or @- (stdin).\n"
	       "The socket is --socket, else $" POOL_SOCKET_ENV ", else " POOL_SOCKET_ROOT
	       " as root,\nelse $XDG_RUNTIME_DIR/" POOL_SOCKET_NAME ", else /tmp/poold-UID.sock; if that\n"
	       "one does not exist, the system daemon's " POOL_SOCKET_ROOT ".\n\n"
	       "%s\n'poolctl COMMAND --help' describes one command; see also poolctl(1).\n",
	       exit_codes_help);
}

static void command_help(const struct ctl_cmd *cmd)
{
	printf("usage: poolctl %s %s\n\n%s.\n", cmd->name, cmd->usage, cmd->summary);
	if (cmd->details)
		printf("\n%s", cmd->details);
	if (cmd->opts && cmd->opts->name) {
		printf("\nOptions:\n");
		print_opts(cmd->opts);
	}
	printf("\nOptions of every command:\n");
	print_opts(common_opts);
	printf("\n%s", exit_codes_help);
}

/* ---- the command line -------------------------------------------------------- */

static const struct ctl_opt *find_long(const struct ctl_opt *t, const char *name, size_t n)
{
	for (; t && t->name; t++)
		if (strlen(t->name) == n && strncmp(t->name, name, n) == 0)
			return t;
	return NULL;
}

static const struct ctl_opt *find_short(const struct ctl_opt *t, int c)
{
	for (; t && t->name; t++)
		if (t->key == c)
			return t;
	return NULL;
}

/* Looks an option word (its first n bytes) up in the command's table, then
 * in the common one. Short options are single letters, never bundled. */
static const struct ctl_opt *find_opt(const struct ctl_cmd *cmd, const char *word, size_t n)
{
	const struct ctl_opt *own = cmd ? cmd->opts : NULL;
	const struct ctl_opt *o;

	if (word[1] != '-') {
		if (n != 2)
			return NULL;
		o = find_short(own, word[1]);
		return o ? o : find_short(common_opts, word[1]);
	}
	o = find_long(own, word + 2, n - 2);
	return o ? o : find_long(common_opts, word + 2, n - 2);
}

/* Takes a common option into ctx; returns true if opt was one. */
static bool take_common(struct ctl *ctx, int key, const char *val, bool *help)
{
	switch (key) {
	case OPT_SOCKET:
		ctx->socket = val;
		return true;
	case OPT_TCP:
		ctx->tcp = val;
		return true;
	case OPT_TOKEN_FILE:
		ctx->token_file = val;
		return true;
	case OPT_TIMEOUT:
		ctx->timeout_arg = val;
		return true;
	case OPT_TLS_CA:
		ctx->tls_ca = val;
		ctx->tls = true;
		return true;
	case OPT_TLS_INSECURE:
		ctx->tls_insecure = true;
		ctx->tls = true;
		return true;
	case OPT_TLS:
		ctx->tls = true;
		return true;
	case OPT_JSON:
		ctx->json = true;
		return true;
	case 'q':
		ctx->quiet = true;
		return true;
	case 'h':
		*help = true;
		return true;
	default:
		return false;
	}
}

/*
 * Splits argv (after the command's name) into options and positionals, in
 * any order; "--" ends the options (for run, what follows is COMMAND).
 * Returns 0, or CTL_USAGE after saying why.
 */
static int split_args(struct ctl *ctx, int argc, char **argv, struct ctl_args *a, bool *help)
{
	const struct ctl_cmd *cmd = ctx->cmd;

	a->pos = calloc((size_t)argc + 1, sizeof(*a->pos));
	a->opts = calloc((size_t)argc + 1, sizeof(*a->opts));
	if (!a->pos || !a->opts)
		return ctl_usage(ctx, "out of memory");
	for (int i = 0; i < argc; i++) {
		const char *w = argv[i], *eq, *val = NULL;
		const struct ctl_opt *o;
		size_t n;

		if (strcmp(w, "--") == 0) {
			if (cmd->takes_command) {
				a->rest = argv + i + 1;
				a->nrest = argc - i - 1;
			} else {
				while (++i < argc)
					a->pos[a->npos++] = argv[i];
			}
			break;
		}
		if (w[0] != '-' || w[1] == '\0') {
			a->pos[a->npos++] = w;
			continue;
		}
		eq = strncmp(w, "--", 2) == 0 ? strchr(w, '=') : NULL;
		n = eq ? (size_t)(eq - w) : strlen(w);
		if (!(o = find_opt(cmd, w, n)))
			return ctl_usage(ctx, "unknown option %.*s", (int)n, w);
		if (o->arg) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return ctl_usage(ctx, "option %s needs a value (%s)", w, o->arg);
		} else if (eq) {
			return ctl_usage(ctx, "option --%s takes no value", o->name);
		}
		if (!take_common(ctx, o->key, val, help))
			a->opts[a->nopts++] = (struct ctl_optval){ o->key, val };
	}
	return 0;
}

static int check_positionals(struct ctl *ctx, const struct ctl_args *a)
{
	const struct ctl_cmd *cmd = ctx->cmd;

	if (a->npos < cmd->min_pos)
		return ctl_usage(ctx, "missing argument (%d given)", a->npos);
	if (cmd->max_pos >= 0 && a->npos > cmd->max_pos)
		return ctl_usage(ctx, "unexpected argument '%s'", a->pos[cmd->max_pos]);
	return 0;
}

/* The command named by argv[0] (and argv[1] for two-word ones); *used is
 * how many words its name took. */
static const struct ctl_cmd *find_command(int argc, char **argv, int *used)
{
	char two[128];

	if (argc >= 2) {
		snprintf(two, sizeof(two), "%s %s", argv[0], argv[1]);
		for (size_t i = 0; i < NCOMMANDS; i++)
			if (strcmp(commands[i]->name, two) == 0) {
				*used = 2;
				return commands[i];
			}
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, argv[0]) == 0) {
			*used = 1;
			return commands[i];
		}
	return NULL;
}

/* "poolctl pool" alone, or "poolctl pool frob": list the family. */
static int family_help(const char *family, int argc, char **argv)
{
	char prefix[80];
	bool asked = argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
	bool any = false;

	snprintf(prefix, sizeof(prefix), "%s ", family);
	for (size_t i = 0; i < NCOMMANDS; i++)
		any |= strncmp(commands[i]->name, prefix, strlen(prefix)) == 0;
	if (!any)
		return -1;
	if (!asked)
		fprintf(stderr, "poolctl %s: %s\n", family,
			argc < 2 ? "which one?" : "unknown subcommand");
	printf("usage:\n");
	print_command_list(prefix);
	return asked ? CTL_OK : CTL_USAGE;
}

/* Options before the command's name; returns how many words they took, or
 * -1 with *rc set when poolctl is done (help, version, error). */
static int global_opts(struct ctl *ctx, int argc, char **argv, int *rc)
{
	bool help = false;
	int i;

	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		const struct ctl_opt *o;
		const char *w = argv[i], *eq = strncmp(w, "--", 2) == 0 ? strchr(w, '=') : NULL;
		size_t n = eq ? (size_t)(eq - w) : strlen(w);

		if (strcmp(w, "--version") == 0) {
			printf("poolctl %s (libpool %s)\n", POOL_VERSION, pool_libversion());
			*rc = CTL_OK;
			return -1;
		}
		if (!(o = find_opt(NULL, w, n))) {
			*rc = ctl_usage(ctx, "unknown option %s", w);
			return -1;
		}
		if (o->arg && !eq && i + 1 >= argc) {
			*rc = ctl_usage(ctx, "option %s needs a value (%s)", w, o->arg);
			return -1;
		}
		take_common(ctx, o->key, o->arg ? (eq ? eq + 1 : argv[++i]) : NULL, &help);
	}
	if (help || i == argc) {
		main_help();
		*rc = help ? CTL_OK : CTL_USAGE;
		return -1;
	}
	return i;
}

/* Checks the options every command shares once they are all known:
 * 0, or CTL_USAGE after saying why. */
static int check_common(struct ctl *ctx)
{
	const char *env = getenv("POOLCTL_TIMEOUT");

	if (!ctx->timeout_arg && env && *env) {
		if (duration_parse(env, &ctx->timeout) < 0)
			return ctl_usage(ctx, "$POOLCTL_TIMEOUT: '%s' is not a duration (90, 90s, "
					 "1m30s, 2h, 500ms)", env);
	} else if (ctx->timeout_arg && arg_duration(ctx, "timeout", ctx->timeout_arg,
						      &ctx->timeout)) {
		return CTL_USAGE;
	}
	if (ctx->tls && !ctx->tcp)
		return ctl_usage(ctx, "--tls, --tls-ca and --tls-insecure go with --tcp HOST:PORT "
				 "(the Unix socket needs no TLS)");
	if (ctx->tls_insecure)
		fprintf(stderr, "poolctl: WARNING: --tls-insecure: poold's certificate is NOT "
			"verified, so anyone on the network path can pose as poold and read your "
			"token; use --tls-ca FILE instead\n");
	return 0;
}

static int dispatch(struct ctl *ctx, int argc, char **argv)
{
	struct ctl_args a = { 0 };
	bool help = false;
	int used, rc;

	if (strcmp(argv[0], "__complete") == 0)
		return complete_run(ctx, argc - 1, argv + 1);
	ctx->cmd = find_command(argc, argv, &used);
	if (!ctx->cmd) {
		rc = family_help(argv[0], argc, argv);
		return rc >= 0 ? rc : ctl_usage(ctx, "unknown command '%s'", argv[0]);
	}
	rc = split_args(ctx, argc - used, argv + used, &a, &help);
	ctx->args = &a;
	if (rc == 0 && help)
		command_help(ctx->cmd);
	else if (rc == 0 && ctx->json && ctx->quiet)
		rc = ctl_usage(ctx, "--json and -q do not go together");
	else if (rc == 0 && (rc = check_positionals(ctx, &a)) == 0 &&
		 (rc = check_common(ctx)) == 0)
		rc = ctx->cmd->run(ctx, &a);
	ctx->args = NULL;
	free(a.pos);
	free(a.opts);
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl ctx = { 0 };
	int rc = CTL_OK, skip;

	skip = global_opts(&ctx, argc - 1, argv + 1, &rc);
	if (skip >= 0)
		rc = dispatch(&ctx, argc - 1 - skip, argv + 1 + skip);
	pool_close(ctx.client);
	if (fflush(stdout) != 0 && rc == CTL_OK) {
		perror("poolctl: writing the output");
		rc = CTL_ERR;
	}
	return rc;
}

const struct ctl_cmd *ctl_command(size_t i)
{
	return i < NCOMMANDS ? commands[i] : NULL;
}

const struct ctl_opt *ctl_common_options(void)
{
	return common_opts;
}
