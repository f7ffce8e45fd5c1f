/*
 * cmd-backup.c - poolctl backup FILE: the daemon copies its committed
 * database into FILE (a new file; an existing one is refused) with SQLite's
 * online backup, while it keeps serving. FILE is made absolute here, since
 * the daemon writes it from its own working directory.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolctl.h"

static int run_backup(struct ctl *ctx, const struct ctl_args *a)
{
	pool_client *c = ctl_client(ctx);
	char path[PATH_MAX], cwd[PATH_MAX];
	pool_error err;
	json_t *args, *res;
	int rc;

	if (!c)
		return ctx->connect_rc;
	if (a->pos[0][0] == '/') {
		snprintf(path, sizeof path, "%s", a->pos[0]);
	} else if (!getcwd(cwd, sizeof cwd) ||
		   snprintf(path, sizeof path, "%s/%s", cwd, a->pos[0]) >=
			   (int)sizeof path) {
		return ctl_usage(ctx, "backup: cannot make %s an absolute path; "
				 "give one", a->pos[0]);
	}
	args = json_pack("{s:s}", "file", path);
	rc = pool_call(c, "backup", args, &res, &err);
	json_decref(args);
	if (rc < 0)
		return ctl_fail(ctx, &err);
	if (ctx->json)
		out_json(res);
	else if (!ctx->quiet)
		printf("backed up to %s (%lld bytes, %.2f s)\n", out_str(res, "file"),
		       (long long)json_integer_value(json_object_get(res, "bytes")),
		       json_number_value(json_object_get(res, "seconds")));
	json_decref(res);
	return CTL_OK;
}

const struct ctl_cmd cmd_backup = {
	.name = "backup", .usage = "FILE",
	.summary = "copy the daemon's database into FILE while it runs (admin)",
	.details = "FILE must not exist; the daemon creates it (mode 0600, owned by its\n"
		   "user). The copy is consistent: everything committed before it.\n",
	.min_pos = 1, .max_pos = 1, .run = run_backup,
};
