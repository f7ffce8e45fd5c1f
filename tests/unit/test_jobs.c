/*
 * test_jobs.c - what a pool command gets from jobs.c: the environment its
 * command setting gives it ({"cmd": [...], "env": {...}}) and nothing of
 * poold's own, run for real on the engine's event loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"
#include "jobs.h"

struct outcome {
	bool done;
	int status;
	char out[4096];
};

static void on_done(struct poold *pd, void *arg, const struct job_result *res)
{
	struct outcome *o = arg;

	o->done = true;
	o->status = res->status;
	snprintf(o->out, sizeof o->out, "%s", res->out);
}

static void run_job(struct fixture *fx, json_t *cmd, struct outcome *o)
{
	double until = now_mono() + 30;

	job_start(&fx->pd, cmd, 30, "create", "p", "p-abcde", NULL, on_done, o);
	jobs_seal(&fx->pd);
	jobs_launch(&fx->pd);
	while (!o->done && now_mono() < until)
		reply_turn(&fx->pd, EVLOOP_ONCE);
	assert_true(o->done);
}

/* env's strings are added; POOL_* cannot be overridden; PATH may be;
 * nothing of poold's environment passes. */
static void test_command_env_object(void **state)
{
	struct fixture *fx = fx_open();
	struct outcome o = { 0 };
	json_t *cmd = json_pack("{s:[s], s:{s:s, s:s, s:s}}", "cmd", "/usr/bin/env",
				"env", "TEAM", "blue", "POOL_NAME", "forged",
				"PATH", "/opt/x/bin:/usr/bin:/bin");

	setenv("POOLD_TEST_SECRET", "do-not-leak", 1);
	run_job(fx, cmd, &o);
	unsetenv("POOLD_TEST_SECRET");
	assert_int_equal(o.status, 0);
	assert_string_equal(o.out, "PATH=/opt/x/bin:/usr/bin:/bin\nTEAM=blue\n"
			    "POOL_NAME=p\nPOOL_RESOURCE=p-abcde\n");
	json_decref(cmd);
	fx_close(fx);
}

/* Without env: poold's PATH and the two POOL_* variables, no more. */
static void test_command_minimal_env(void **state)
{
	struct fixture *fx = fx_open();
	struct outcome o = { 0 };
	json_t *cmd = json_pack("{s:[s]}", "cmd", "/usr/bin/env");
	char want[4200];

	setenv("POOLD_TEST_SECRET", "do-not-leak", 1);
	run_job(fx, cmd, &o);
	unsetenv("POOLD_TEST_SECRET");
	snprintf(want, sizeof want, "PATH=%s\nPOOL_NAME=p\nPOOL_RESOURCE=p-abcde\n",
		 getenv("PATH"));
	assert_string_equal(o.out, want);
	json_decref(cmd);
	fx_close(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_env_object),
		cmocka_unit_test(test_command_minimal_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
