/*
 * args.c - the values of options: counts, durations, descriptors (inline
 * JSON, @FILE or @- for stdin) and the lease-taking options that lease,
 * checkout and run share. Each parser names the option and the bad value,
 * and a bad value is a usage error (exit 2).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "poolctl.h"

int arg_count(struct ctl *ctx, const char *opt, const char *val, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(val, &end, 10);
	if (errno || end == val || *end || *out < 0 || val[0] == '-' || val[0] == '+')
		return ctl_usage(ctx, "--%s: '%s' is not a non-negative integer", opt, val);
	return 0;
}

int arg_duration(struct ctl *ctx, const char *opt, const char *val, double *out)
{
	if (duration_parse(val, out) < 0)
		return ctl_usage(ctx, "--%s: '%s' is not a duration (90, 90s, 1m30s, 2h, 1d, 500ms)", opt,
				 val);
	return 0;
}

int arg_object(struct ctl *ctx, const char *opt, const char *val, json_t **out)
{
	json_error_t jerr;
	FILE *f = NULL;

	if (strcmp(val, "@-") == 0)
		*out = json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr);
	else if (val[0] == '@' && !(f = fopen(val + 1, "r")))
		return ctl_usage(ctx, "--%s: cannot open %s: %s", opt, val + 1, strerror(errno));
	else if (f)
		*out = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	else
		*out = json_loads(val, JSON_REJECT_DUPLICATES, &jerr);
	if (f)
		fclose(f);
	if (!*out)
		return ctl_usage(ctx, "--%s: %s is not valid JSON: %s (line %d, column %d)", opt,
				 val[0] == '@' ? val : "the value", jerr.text, jerr.line,
				 jerr.column);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return ctl_usage(ctx, "--%s: %s must be a JSON object", opt,
				 val[0] == '@' ? val : "the value");
	}
	return 0;
}

int arg_lease_opt(struct ctl *ctx, pool_lease_opts *o, const struct ctl_optval *v)
{
	switch (v->key) {
	case OPT_TTL:
		o->ttl_set = 1;
		return arg_duration(ctx, "ttl", v->val, &o->ttl) ? CTL_USAGE : 1;
	case OPT_WAIT:
		return arg_duration(ctx, "wait", v->val, &o->wait) ? CTL_USAGE : 1;
	case OPT_OWNER:
		o->owner = v->val;
		return 1;
	case OPT_BIND:
		if (strcmp(v->val, "none") != 0 && strcmp(v->val, "connection") != 0)
			return ctl_usage(ctx, "--bind: '%s' is not none or connection", v->val);
		o->bind = v->val;
		return 1;
	case OPT_REQUEST_ID:
		o->request_id = v->val;
		return 1;
	default:
		return 0;
	}
}
