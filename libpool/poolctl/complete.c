/*
 * complete.c - `poolctl __complete WHAT ...`, the hidden helper of the shell
 * completions in dist/: it prints one candidate per line, taken from the
 * command table (so that completion never lists a command or option poolctl
 * lacks) or from the running daemon (pool names, resource names, lease ids).
 * It prints nothing rather than an error: a completion must never spill
 * messages onto the user's command line.
 *
 *   __complete commands            first words of the commands
 *   __complete commands FAMILY     second words after FAMILY ("pool" ...)
 *   __complete options WORD [WORD] --options of that command and common ones
 *   __complete flags               every --option that takes no value
 *   __complete pools               pool names
 *   __complete resources POOL      resource names of POOL
 *   __complete leases [POOL]       ids of the caller's live leases
 */
#include <stdlib.h>
#include <string.h>

#include "poolctl.h"

/* The word of cmd's name to complete: its first, or after "FAMILY " its
 * second; false when cmd is not of family. */
static bool command_word(const struct ctl_cmd *cmd, const char *family, char *buf, size_t len)
{
	const char *space = strchr(cmd->name, ' ');
	size_t flen = family ? strlen(family) : 0;

	if (!family) {
		snprintf(buf, len, "%.*s", (int)(space ? (size_t)(space - cmd->name)
						       : strlen(cmd->name)), cmd->name);
		return true;
	}
	if (!space || (size_t)(space - cmd->name) != flen || strncmp(cmd->name, family, flen))
		return false;
	snprintf(buf, len, "%s", space + 1);
	return true;
}

/* Each word once: "lease" is a command and the family of "lease get". */
static void print_commands(const char *family)
{
	const struct ctl_cmd *cmd;

	for (size_t i = 0; (cmd = ctl_command(i)) != NULL; i++) {
		char word[64], prev[64];
		bool seen = false;

		if (!command_word(cmd, family, word, sizeof(word)))
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = command_word(ctl_command(j), family, prev, sizeof(prev)) &&
			       strcmp(prev, word) == 0;
		if (!seen)
			printf("%s\n", word);
	}
}

static void print_opts(const struct ctl_opt *o)
{
	for (; o && o->name; o++)
		printf("--%s\n", o->name);
}

static void print_flags(const struct ctl_opt *o)
{
	for (; o && o->name; o++)
		if (!o->arg)
			printf("--%s\n", o->name);
}

static void print_all_flags(void)
{
	const struct ctl_cmd *cmd;

	for (size_t i = 0; (cmd = ctl_command(i)) != NULL; i++)
		print_flags(cmd->opts);
	print_flags(ctl_common_options());
}

static void print_options(int argc, char **argv)
{
	const struct ctl_cmd *cmd;
	char two[128];

	snprintf(two, sizeof(two), "%s %s", argc > 0 ? argv[0] : "", argc > 1 ? argv[1] : "");
	for (size_t i = 0; (cmd = ctl_command(i)) != NULL; i++)
		if (strcmp(cmd->name, two) == 0 || (argc > 0 && strcmp(cmd->name, argv[0]) == 0))
			break;
	if (cmd)
		print_opts(cmd->opts);
	print_opts(ctl_common_options());
}

/* Prints the string field key of each element of the array arr of res. */
static void print_field(json_t *res, const char *arr, const char *key)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(res, arr), i, e)
		if (json_is_string(json_object_get(e, key)))
			printf("%s\n", json_string_value(json_object_get(e, key)));
}

/* Candidates from the daemon; nothing at all when it cannot be asked. */
static void print_from_daemon(struct ctl *ctx, int argc, char **argv)
{
	pool_error err;
	pool_client *c;
	json_t *res = NULL;

	/* A completion that hangs is worse than none. */
	if (ctx->timeout <= 0)
		ctx->timeout = 2;
	if (!(c = ctl_connect(ctx, &err)))
		return;
	if (strcmp(argv[0], "pools") == 0 && pool_pool_list(c, &res, &err) == 0)
		print_field(res, "pools", "name");
	else if (strcmp(argv[0], "resources") == 0 && argc > 1 &&
		 pool_resource_list(c, argv[1], NULL, 0, NULL, &res, &err) == 0)
		print_field(res, "resources", "name");
	else if (strcmp(argv[0], "leases") == 0 &&
		 pool_lease_list(c, argc > 1 ? argv[1] : NULL, 0, NULL, &res, &err) == 0)
		print_field(res, "leases", "lease");
	json_decref(res);
	pool_close(c);
}

int complete_run(struct ctl *ctx, int argc, char **argv)
{
	if (ctx->timeout_arg && duration_parse(ctx->timeout_arg, &ctx->timeout) < 0)
		ctx->timeout = 0;
	if (argc < 1)
		return CTL_USAGE;
	if (strcmp(argv[0], "commands") == 0)
		print_commands(argc > 1 ? argv[1] : NULL);
	else if (strcmp(argv[0], "options") == 0)
		print_options(argc - 1, argv + 1);
	else if (strcmp(argv[0], "flags") == 0)
		print_all_flags();
	else
		print_from_daemon(ctx, argc, argv);
	return CTL_OK;
}
