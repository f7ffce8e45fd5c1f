/*
 * test_hardening2.c - black-box regression tests of the second half of
 * issue 11: bounded pool sizes and janitor ticks, bounded destroys, the
 * command "env" setting and tiny durations in pool settings. Each test is
 * named after the behaviour that failed before the fix.
 */
#include "harness.h"
#include "h_files.h"
#include "../h_pgstore.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool log_has(const poold_proc *d, const char *needle)
{
	char *s = h_slurp(d->log);
	bool found = s && strstr(s, needle);

	free(s);
	return found;
}

/* The number in file DIR/name, 0 if there is none yet. */
static long file_number(const poold_proc *d, const char *name)
{
	char *s = h_slurp(h_at(d, name));
	long v = s ? atol(s) : 0;

	free(s);
	return v;
}

static void ping(pool_client *c)
{
	json_decref(CALL_OK(c, "ping", NULL));
}

/* Runs sql on the stopped daemon's database with the sqlite3 shell. */
static void sqlite_exec(const poold_proc *d, const char *sql)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"%s\"", d->db, sql);
	assert_int_equal(system(cmd), 0);
}

/* ---- item 1: bounded pool sizes, bounded janitor ticks ------------------- */

static void test_unbounded_min_idle_is_refused_naming_the_flag(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	const char *msg;

	msg = CALL_ERR(c, "pool.create", J("{s:s, s:I}", "pool", "p", "min_idle",
					   (json_int_t)9223372036854775807LL),
		       POOL_E_BAD_REQUEST);
	assert_non_null(strstr(msg, "min_idle"));
	assert_non_null(strstr(msg, "--max-pool-size"));
	CALL_ERR(c, "pool.create", J("{s:s, s:I}", "pool", "p", "max_idle",
				     (json_int_t)100001), POOL_E_BAD_REQUEST);
	CALL_ERR(c, "pool.create", J("{s:s, s:I}", "pool", "p", "max_size",
				     (json_int_t)100001), POOL_E_BAD_REQUEST);
	msg = CALL_ERR(c, "pool.create", J("{s:s, s:{s:[s], s:i}}", "pool", "p", "create",
					   "cmd", "/bin/true", "max_concurrent", 65),
		       POOL_E_BAD_REQUEST);
	assert_non_null(strstr(msg, "--max-concurrent"));
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "p"), POOL_E_NOT_FOUND);
	json_decref(CALL_OK(c, "pool.create", J("{s:s}", "pool", "p")));
	CALL_ERR(c, "pool.set", J("{s:s, s:I}", "pool", "p", "min_idle",
				  (json_int_t)100001), POOL_E_BAD_REQUEST);
	pool_close(c);
	poold_stop(d);
}

static void test_filling_the_largest_min_idle_leaves_pings_and_sigterm_working(void **state)
{
	poold_proc *d = poold_start(NULL); /* --max-pool-size 100000 */
	pool_client *c = h_connect(d);

	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:I}", "pool", "p", "min_idle",
						(json_int_t)100000)));
	/* The janitor fills it a bounded step per tick: it is growing, and
	 * requests are answered between the steps. */
	WAIT_UNTIL(h_status_field(c, "p", "free") > 0, 20);
	for (int i = 0; i < 20; i++)
		ping(c);
	/* Another pool's min_idle is not starved: ticks take pools in turn,
	 * so q is full long before p's 100,000 (at most 256 a tick). */
	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:i}", "pool", "q", "min_idle", 5)));
	WAIT_UNTIL(h_status_field(c, "q", "free") == 5, 20);
	assert_true(h_status_field(c, "p", "free") < 100000);
	pool_close(c);
	poold_stop(d); /* asserts SIGTERM ends it, exit 0, within 10 s */
}

static void test_stored_absurd_min_idle_is_clamped_at_start(void **state)
{
	poold_proc *d;
	pool_client *c;
	json_t *p;

	if (h_pg_mode()) /* it writes the row with sqlite3 */
		skip();
	d = poold_start("--max-pool-size", "1000", NULL);
	c = h_connect(d);
	json_decref(CALL_OK(c, "pool.create", J("{s:s}", "pool", "p")));
	pool_close(c);
	poold_kill9(d);
	/* what an older poold, which bounded nothing, may have stored */
	sqlite_exec(d, "UPDATE pools SET settings = json_set(settings, '$.min_idle', "
		       "9223372036854775807) WHERE name = 'p'");
	poold_respawn(d);
	c = h_connect(d);
	ping(c);
	assert_true(log_has(d, "pool p: stored min_idle 9223372036854775807 is above "
			       "--max-pool-size 1000"));
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "p"));
	assert_int_equal(JINT(p, "min_idle"), 1000);
	json_decref(p);
	WAIT_UNTIL(h_status_field(c, "p", "free") == 1000, 60);
	ping(c);
	pool_close(c);
	poold_stop(d);
}

/* ---- item 5: bounded destroys --------------------------------------------- */

/* A destroy command that counts how many run at once, in its pool
 * ($D/now-POOL, highest in $D/max-POOL) and in all ($D/now, $D/max). */
static const char counting_destroy[] =
	"cat >/dev/null\n"
	"bump() { exec 9>>\"$D/lock\"; flock 9\n"
	"  for f in \"$D/now\" \"$D/now-$POOL_NAME\"; do\n"
	"    n=$(( $(cat \"$f\" 2>/dev/null || echo 0) + $1 )); echo $n > \"$f\"\n"
	"    m=$(cat \"${f%now*}max${f##*now}\" 2>/dev/null || echo 0)\n"
	"    [ $n -gt $m ] && echo $n > \"${f%now*}max${f##*now}\"\n"
	"  done\n"
	"  [ $1 -lt 0 ] && echo x >> \"$D/done\"; flock -u 9; exec 9>&-; }\n"
	"bump 1; sleep 0.05; bump -1\n";

static void add_many(pool_client *c, const char *pool, int n)
{
	json_t *list = json_array();
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%s-%d", pool, i);
		json_array_append_new(list, json_pack("{s:s, s:{}}", "name", name,
						      "descriptor"));
	}
	json_decref(CALL_OK(c, "resource.add", J("{s:s, s:o}", "pool", pool, "resources", list)));
}

/* How many counting destroys have ended (a line each in $D/done). */
static size_t destroys_done(const poold_proc *d)
{
	char *s = h_slurp(h_at(d, "done"));
	size_t n = s ? strlen(s) / 2 : 0;

	free(s);
	return n;
}

static void test_draining_many_resources_runs_destroys_within_the_limits(void **state)
{
	poold_proc *d = poold_start("--max-destroys", "6", NULL);
	pool_client *c = h_connect(d);
	const char *path = h_script(d, "destroy", counting_destroy);

	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:{s:[s]}}", "pool", "a", "destroy",
						"cmd", path)));
	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:{s:[s], s:i}}", "pool", "b",
						"destroy", "cmd", path, "max_concurrent", 5)));
	add_many(c, "a", 150);
	add_many(c, "b", 150);
	json_decref(CALL_OK(c, "pool.drain", J("{s:s}", "pool", "a")));
	json_decref(CALL_OK(c, "pool.drain", J("{s:s}", "pool", "b")));
	ping(c);
	WAIT_UNTIL(h_status_field(c, "a", "total") == 0 &&
		   h_status_field(c, "b", "total") == 0, 120);
	/* a takes the default 4 at once, b its 5, both together 6 */
	assert_in_range(file_number(d, "max-a"), 1, 4);
	assert_in_range(file_number(d, "max-b"), 1, 5);
	assert_in_range(file_number(d, "max"), 2, 6);
	assert_int_equal(h_counter(c, "a", "destroy_failed"), 0);
	pool_close(c);
	poold_stop(d);
}

static void test_deleted_pool_destroys_run_within_the_total_limit(void **state)
{
	poold_proc *d = poold_start("--max-destroys", "3", NULL);
	pool_client *c = h_connect(d);
	const char *path = h_script(d, "destroy", counting_destroy);
	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:{s:[s], s:i}}", "pool", "a",
						"destroy", "cmd", path, "max_concurrent", 50)));
	add_many(c, "a", 60);
	json_decref(CALL_OK(c, "pool.delete", J("{s:s, s:b}", "pool", "a", "force", 1)));
	WAIT_UNTIL(destroys_done(d) == 60, 120);
	assert_in_range(file_number(d, "max"), 1, 3);
	pool_close(c);
	poold_stop(d);
}

/* ---- leftovers: the command env, tiny durations -------------------------- */

static void test_pool_command_env_reaches_the_command(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	const char *path = h_script(d, "create", "printf '{\"greeting\":\"%s\"}' \"$GREETING\"\n");
	json_t *l;

	json_decref(CALL_OK(c, "pool.create",
			    J("{s:s, s:{s:[s], s:{s:s}}}", "pool", "p", "create", "cmd", path,
			      "env", "GREETING", "hello from env")));
	l = CALL_OK(c, "lease", J("{s:s, s:i}", "pool", "p", "wait", 30));
	assert_string_equal(JSTR(JOBJ(JOBJ(l, "resource"), "descriptor"), "greeting"),
			    "hello from env");
	json_decref(l);
	pool_close(c);
	poold_stop(d);
}

static void test_denormal_duration_in_pool_settings_is_bad_request(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	const char *msg;

	msg = CALL_ERR(c, "pool.create", J("{s:s, s:f}", "pool", "p", "idle_ttl", 1e-320),
		       POOL_E_BAD_REQUEST);
	assert_non_null(strstr(msg, "0.001"));
	CALL_ERR(c, "pool.create", J("{s:s, s:f}", "pool", "p", "lease_ttl", 1e-320),
		 POOL_E_BAD_REQUEST);
	CALL_ERR(c, "pool.create", J("{s:s, s:{s:[s], s:f}}", "pool", "p", "create", "cmd",
				     "/bin/true", "timeout", 1e-320),
		 POOL_E_BAD_REQUEST);
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "p"), POOL_E_NOT_FOUND);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_unbounded_min_idle_is_refused_naming_the_flag),
		FTEST(test_filling_the_largest_min_idle_leaves_pings_and_sigterm_working),
		FTEST(test_stored_absurd_min_idle_is_clamped_at_start),
		FTEST(test_draining_many_resources_runs_destroys_within_the_limits),
		FTEST(test_deleted_pool_destroys_run_within_the_total_limit),
		FTEST(test_pool_command_env_reaches_the_command),
		FTEST(test_denormal_duration_in_pool_settings_is_bad_request),
	};

	return RUN_FTESTS(tests);
}
