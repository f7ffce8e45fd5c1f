/*
 * test_poolctl.c - the real poolctl binary against the real daemon: every
 * command and flag, every exit code, --json parsed back, -q, --env evaluated
 * in a shell, a 100,000-line bulk import with a bad line, and run (status
 * passing through, the lease returned after a normal exit, SIGTERM and a
 * killed COMMAND, SIGINT/SIGHUP forwarded, one lease only when the answer to
 * the lease request is lost (through a relay that drops it), renewal of a 2 s
 * TTL through a 7 s COMMAND, discard on failure, a lost lease stopping
 * COMMAND). Commands run through /bin/sh with poolctl on PATH and
 * POOLD_SOCKET set, as a job script would run them.
 */
#include "harness.h"
#include "h_cli.h"
#include "h_files.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* Output of the last sh() call; owned here, replaced by the next call. */
static char *out_text, *err_text;
#define OUT (out_text)
#define ERR (err_text)

/* Starts `sh -c script` (as nobody if asked) with stdout and stderr into
 * DIR/out and DIR/err; returns its pid. */
static pid_t sh_start(poold_proc *d, bool nobody, const char *script)
{
	char out[400], err[400];

	snprintf(out, sizeof(out), "%s/out", d->dir);
	snprintf(err, sizeof(err), "%s/err", d->dir);
	return h_sh_spawn(d, nobody, script, out, err);
}

static void collect(poold_proc *d)
{
	char path[400];

	free(out_text);
	free(err_text);
	snprintf(path, sizeof(path), "%s/out", d->dir);
	out_text = h_read_file(path);
	snprintf(path, sizeof(path), "%s/err", d->dir);
	err_text = h_read_file(path);
}

/* Runs the script and returns its exit status; OUT and ERR hold its output. */
static int sh_as(poold_proc *d, bool nobody, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int sh_as(poold_proc *d, bool nobody, const char *fmt, ...)
{
	char script[8192];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(script, sizeof(script), fmt, ap);
	va_end(ap);
	rc = h_wait_child_for(sh_start(d, nobody, script), 60);
	collect(d);
	if (getenv("POOL_TEST_VERBOSE"))
		fprintf(stderr, "$ %s\n-> %d\n%s%s", script, rc, out_text, err_text);
	return rc;
}
#define sh(d, ...) sh_as(d, false, __VA_ARGS__)

/* Asserts the script exits with rc; prints its output when it does not. */
#define SH_RC(rc, d, ...)                                                            \
	do {                                                                         \
		int sh_rc_ = sh(d, __VA_ARGS__);                                     \
		if (sh_rc_ != (rc))                                                  \
			fail_msg("exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", sh_rc_, \
				 (rc), OUT, ERR);                                    \
	} while (0)
#define SH_OK(d, ...) SH_RC(0, d, __VA_ARGS__)


/* OUT parsed as JSON (new ref); fails the test if it is not. */
static json_t *out_json_at(const char *file, int line)
{
	json_error_t jerr;
	json_t *v = json_loads(out_text, 0, &jerr);

	if (!v) {
		print_error("stdout is not JSON (%s):\n%s\n", jerr.text, out_text);
		_fail(file, line);
	}
	return v;
}
#define OUT_JSON() out_json_at(__FILE__, __LINE__)

/* OUT without its trailing newline, copied into buf. */
static const char *out_line(char *buf, size_t len)
{
	snprintf(buf, len, "%s", out_text);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static bool is_lease_id(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
			return false;
	return true;
}

/* ---- help, usage, durations ------------------------------------------------ */

static const char *const all_commands[] = {
	"lease", "return", "run", "checkout", "replace", "checkin", "renew", "lease get",
	"lease list", "status", "pool create", "pool set", "pool get", "pool list",
	"pool drain", "pool delete", "resource add", "resource list", "resource get",
	"resource update", "resource remove", "watch", "ping", "hello",
};

static void test_help(void **state)
{
	poold_proc *d = poold_start(NULL);

	SH_OK(d, "poolctl --help");
	for (size_t i = 0; i < sizeof(all_commands) / sizeof(all_commands[0]); i++) {
		char line[64];

		snprintf(line, sizeof(line), "\n  %s ", all_commands[i]);
		H_HAS(OUT, line);
	}
	H_HAS(OUT, "Exit codes");
	H_HAS(OUT, "7  cannot reach the daemon");
	for (size_t i = 0; i < sizeof(all_commands) / sizeof(all_commands[0]); i++) {
		char usage[64];

		SH_OK(d, "poolctl %s --help", all_commands[i]);
		snprintf(usage, sizeof(usage), "usage: poolctl %s", all_commands[i]);
		H_HAS(OUT, usage);
		H_HAS(OUT, "Exit codes");
	}
	SH_OK(d, "poolctl --version");
	H_HAS(OUT, "poolctl " POOL_VERSION);
	SH_OK(d, "poolctl pool --help");
	H_HAS(OUT, "pool create");
	SH_RC(2, d, "poolctl");
	SH_RC(2, d, "poolctl pool");
	SH_RC(2, d, "poolctl frobnicate");
	H_HAS(ERR, "unknown command 'frobnicate'");
	SH_RC(2, d, "poolctl lease");
	H_HAS(ERR, "usage: poolctl lease POOL");
	SH_RC(2, d, "poolctl lease p extra");
	SH_RC(2, d, "poolctl lease p --bogus");
	H_HAS(ERR, "unknown option --bogus");
	SH_RC(2, d, "poolctl lease p --ttl");
	SH_RC(2, d, "poolctl lease p --json -q");
	SH_RC(2, d, "poolctl lease p --bind sometimes");
	SH_RC(2, d, "poolctl lease p --env --json");
	SH_RC(2, d, "poolctl --nope ping");
	SH_RC(2, d, "poolctl ping --json=yes");
	poold_stop(d);
}

/* The TTL the daemon granted for --ttl VALUE, from the lease's "ttl". */
static double granted_ttl(poold_proc *d, const char *value)
{
	json_t *l;
	double ttl;

	SH_OK(d, "poolctl lease p --ttl '%s' --json", value);
	l = OUT_JSON();
	ttl = json_number_value(json_object_get(l, "ttl"));
	SH_OK(d, "poolctl return %s", JSTR(l, "lease"));
	json_decref(l);
	return ttl;
}

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		double seconds;
	} good[] = { { "90", 90 }, { "90s", 90 }, { "1.5s", 1.5 }, { "5m", 300 },
		     { "2h", 7200 }, { "1d", 86400 }, { "0", 0 }, { "2.5", 2.5 } };
	static const char *const bad[] = { "", "-1", "5min", "1e3", "abc", "1.5x", ".", "inf",
					   "nan", "m", "1 m", "+5" };
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);

	h_add(c, "p", "r1", NULL);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(fabs(granted_ttl(d, good[i].text) - good[i].seconds) < 1e-6);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char quoted[64];

		SH_RC(2, d, "poolctl lease p --ttl '%s'", bad[i]);
		snprintf(quoted, sizeof(quoted), "'%s' is not a duration", bad[i]);
		H_HAS(ERR, quoted);
	}
	SH_RC(2, d, "poolctl lease p --wait 10x");
	SH_RC(2, d, "poolctl status --watch soon");
	SH_RC(2, d, "poolctl pool set p --lease-ttl 1w");
	SH_RC(2, d, "poolctl run p --grace 5y -- true");
	h_finish(d, c);
}

/* ---- pools -------------------------------------------------------------------- */

static void test_pool_commands(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *p;

	SH_OK(d, "poolctl pool create spark --max-size 10 --min-idle 0 --max-idle 4 "
		 "--idle-ttl 1h --lease-ttl 30m --max-lease-ttl 2h --max-waiters 7 --order fifo "
		 "--on-expire discard "
		 "--create none --destroy null --reset null --json");
	p = OUT_JSON();
	assert_string_equal(JSTR(p, "name"), "spark");
	assert_int_equal(JINT(p, "max_size"), 10);
	assert_int_equal(JINT(p, "max_idle"), 4);
	assert_int_equal(JINT(p, "max_waiters"), 7);
	assert_true(json_number_value(json_object_get(p, "idle_ttl")) == 3600);
	assert_true(json_number_value(json_object_get(p, "lease_ttl")) == 1800);
	assert_true(json_number_value(json_object_get(p, "max_lease_ttl")) == 7200);
	assert_string_equal(JSTR(p, "order"), "fifo");
	assert_string_equal(JSTR(p, "on_expire"), "discard");
	assert_string_equal(JSTR(p, "create"), "none");
	assert_true(json_is_null(json_object_get(p, "reset")));
	json_decref(p);

	SH_OK(d, "poolctl pool set spark --max-size 0 --min-idle 1 --max-idle 0 --idle-ttl 0 "
		 "--lease-ttl 90 --max-waiters 3 --order lifo --on-expire return --create builtin "
		 "--json");
	p = OUT_JSON();
	assert_int_equal(JINT(p, "max_size"), 0);
	assert_int_equal(JINT(p, "min_idle"), 1);
	assert_int_equal(JINT(p, "max_waiters"), 3);
	assert_string_equal(JSTR(p, "order"), "lifo");
	assert_string_equal(JSTR(p, "create"), "builtin");
	json_decref(p);
	SH_OK(d, "poolctl pool set spark --min-idle 0 --create none -q");
	assert_string_equal(OUT, "");

	/* commands: inline JSON or @FILE; null turns one off */
	SH_OK(d, "echo '{\"cmd\": [\"/bin/true\"], \"timeout\": 5}' > %s/reset.json && "
		 "poolctl pool set spark --reset @%s/reset.json --destroy '{\"cmd\": [\"/bin/true\"]}' "
		 "--max-lease-ttl 0 --json", d->dir, d->dir);
	p = OUT_JSON();
	assert_int_equal(JINT(JOBJ(p, "reset"), "timeout"), 5);
	assert_string_equal(json_string_value(json_array_get(json_object_get(JOBJ(p, "destroy"),
									     "cmd"), 0)), "/bin/true");
	json_decref(p);
	SH_OK(d, "poolctl pool set spark --reset null --destroy null -q");

	SH_OK(d, "poolctl pool get spark");
	H_HAS(OUT, "lease_ttl");
	H_HAS(OUT, "occupancy");
	SH_OK(d, "poolctl pool get spark --json");
	p = OUT_JSON();
	assert_non_null(JOBJ(p, "occupancy"));
	json_decref(p);
	SH_OK(d, "poolctl pool list");
	H_HAS(OUT, "POOL");
	H_HAS(OUT, "spark");
	SH_OK(d, "poolctl pool list --json");
	p = OUT_JSON();
	assert_int_equal(json_array_size(json_object_get(p, "pools")), 1);
	json_decref(p);

	/* settings are checked before anything is sent */
	SH_RC(2, d, "poolctl pool set spark");
	SH_RC(2, d, "poolctl pool set spark --order random");
	SH_RC(2, d, "poolctl pool set spark --max-size -1");
	SH_RC(2, d, "poolctl pool set spark --max-size 2.5");
	SH_RC(2, d, "poolctl pool set spark --reset '[1]'");
	SH_RC(1, d, "poolctl pool create spark");
	H_HAS(ERR, "exists");

	h_add(c, "spark", "r1", NULL);
	SH_OK(d, "poolctl pool drain spark --json");
	p = OUT_JSON();
	assert_string_equal(JSTR(p, "state"), "draining");
	json_decref(p);
	SH_RC(1, d, "poolctl lease spark");
	H_HAS(ERR, "draining");
	SH_OK(d, "poolctl pool set spark --state active -q");
	SH_OK(d, "poolctl pool create other -q");
	h_add(c, "other", "o1", NULL);
	SH_RC(6, d, "poolctl pool delete other");
	SH_OK(d, "poolctl pool delete other --force");
	H_HAS(OUT, "deleted pool other");
	SH_RC(4, d, "poolctl pool get other");
	SH_OK(d, "poolctl pool delete spark --force --json");
	json_decref(OUT_JSON());
	h_finish(d, c);
}

/* ---- resources ------------------------------------------------------------ */

static void test_resource_commands(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	json_t *r;

	SH_OK(d, "poolctl resource add p r1 --descriptor '{\"zone\": \"eu\"}'");
	H_HAS(OUT, "added 1 resource");
	SH_OK(d, "echo '{\"zone\": \"us\"}' > %s/d.json && poolctl resource add p r2 "
		 "--descriptor @%s/d.json --json", d->dir, d->dir);
	r = OUT_JSON();
	assert_int_equal(JINT(r, "added"), 1);
	json_decref(r);
	SH_OK(d, "echo '{\"zone\": \"ap\"}' | poolctl resource add p r3 --descriptor @-");
	SH_OK(d, "poolctl resource add p -q");
	assert_string_equal(OUT, "");
	assert_int_equal(h_status_field(c, "p", "total"), 4);
	SH_RC(1, d, "poolctl resource add p r1");
	H_HAS(ERR, "exists");
	SH_RC(2, d, "poolctl resource add p r9 --descriptor '[1]'");
	SH_RC(2, d, "poolctl resource add p r9 --descriptor '{bad'");
	SH_RC(2, d, "poolctl resource add p r9 --descriptor @/nonexistent");
	SH_RC(4, d, "poolctl resource add nopool r9");

	SH_OK(d, "poolctl resource get p r2 --json");
	r = OUT_JSON();
	assert_string_equal(JSTR(JOBJ(r, "descriptor"), "zone"), "us");
	assert_int_equal(JINT(r, "version"), 1);
	json_decref(r);
	SH_OK(d, "poolctl resource get p r2");
	H_HAS(OUT, "state");
	H_HAS(OUT, "free");
	SH_RC(4, d, "poolctl resource get p nope");

	SH_OK(d, "poolctl resource list p");
	H_HAS(OUT, "NAME");
	H_HAS(OUT, "r3");
	H_HAS(OUT, "\"zone\":\"ap\"");
	SH_OK(d, "poolctl resource list p --json");
	r = OUT_JSON();
	assert_int_equal(json_array_size(json_object_get(r, "resources")), 4);
	assert_true(json_is_null(json_object_get(r, "next")));
	json_decref(r);
	SH_OK(d, "poolctl resource list p --limit 2 --json");
	r = OUT_JSON();
	assert_int_equal(json_array_size(json_object_get(r, "resources")), 2);
	assert_string_equal(JSTR(r, "next"),
			    JSTR(json_array_get(json_object_get(r, "resources"), 1), "name"));
	json_decref(r);

	/* update: the current version by default, CAS with --version */
	SH_OK(d, "poolctl resource update p r1 --descriptor '{\"zone\": \"eu2\"}' --json");
	r = OUT_JSON();
	assert_int_equal(JINT(r, "version"), 2);
	json_decref(r);
	SH_RC(6, d, "poolctl resource update p r1 --descriptor '{}' --version 1");
	SH_OK(d, "poolctl resource update p r1 --descriptor '{}' --version 2 -q");
	SH_RC(2, d, "poolctl resource update p r1");
	SH_RC(4, d, "poolctl resource update p nope --descriptor '{}'");

	SH_OK(d, "poolctl checkout p --name r2 -q");
	SH_OK(d, "poolctl resource list p --state leased --json");
	r = OUT_JSON();
	assert_int_equal(json_array_size(json_object_get(r, "resources")), 1);
	json_decref(r);
	SH_RC(6, d, "poolctl resource update p r2 --descriptor '{}'");
	SH_RC(6, d, "poolctl resource remove p r2");
	SH_OK(d, "poolctl resource remove p r2 --force");
	H_HAS(OUT, "removed r2");
	SH_OK(d, "poolctl resource remove p r3 --json");
	json_decref(OUT_JSON());
	SH_RC(4, d, "poolctl resource remove p r3");
	assert_int_equal(h_status_field(c, "p", "total"), 2);
	h_finish(d, c);
}

/* ---- leases --------------------------------------------------------------- */

static void test_lease_output(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, "{\"max_waiters\": 0}");
	json_t *l, *list;
	char id[64], id2[64];

	SH_OK(d, "poolctl resource add p r1 --descriptor "
		 "'{\"zone\": \"eu-1\", \"port\": 7077, \"tls\": true, \"quote\": \"it'\\''s\", "
		 "\"nested\": {\"a\": 1}}'");
	SH_OK(d, "poolctl lease p --json --owner 'job 42' --ttl 10m");
	l = OUT_JSON();
	assert_true(is_lease_id(JSTR(l, "lease")));
	assert_string_equal(JSTR(l, "pool"), "p");
	assert_string_equal(JSTR(l, "mode"), "pop");
	assert_string_equal(JSTR(l, "owner"), "job 42");
	assert_string_equal(JSTR(JOBJ(l, "resource"), "name"), "r1");
	assert_true(JINT(l, "token") > 0);
	SH_OK(d, "poolctl lease get %s -q", JSTR(l, "lease"));
	assert_string_equal(out_line(id, sizeof(id)), JSTR(l, "lease"));
	SH_OK(d, "poolctl lease get %s", JSTR(l, "lease"));
	H_HAS(OUT, "resource    r1");
	H_HAS(OUT, "owner       job 42");
	SH_OK(d, "poolctl lease get %s --json", JSTR(l, "lease"));
	list = OUT_JSON();
	assert_int_equal(JINT(list, "token"), JINT(l, "token"));
	json_decref(list);
	SH_RC(3, d, "poolctl lease p");
	H_HAS(ERR, "exhausted");
	SH_RC(3, d, "poolctl lease p --wait 0.2");
	H_HAS(ERR, "busy");
	SH_OK(d, "poolctl return %s", JSTR(l, "lease"));
	H_HAS(OUT, "returned lease");
	SH_RC(4, d, "poolctl return %s", JSTR(l, "lease"));
	SH_RC(4, d, "poolctl lease get %s", JSTR(l, "lease"));
	SH_RC(4, d, "poolctl lease nopool");
	json_decref(l);

	/* -q: the lease id alone, for LEASE=$(...) */
	SH_OK(d, "LEASE=$(poolctl lease p -q) && poolctl lease get \"$LEASE\" -q && "
		 "poolctl return \"$LEASE\" -q");
	assert_true(is_lease_id(out_line(id, sizeof(id))));

	/* --env: evaluated by a shell */
	SH_OK(d, "eval \"$(poolctl lease p --env)\" && "
		 "printf '%%s|%%s|%%s|%%s|%%s|%%s|%%s\\n' \"$POOL_LEASE\" \"$POOL_RESOURCE\" "
		 "\"$POOL_DESC_ZONE\" \"$POOL_DESC_PORT\" \"$POOL_DESC_TLS\" \"$POOL_DESC_QUOTE\" "
		 "\"${POOL_DESC_NESTED-unset}\" && echo \"$POOL_DESCRIPTOR\" && "
		 "poolctl return \"$POOL_LEASE\"");
	{
		char *bar = strchr(OUT, '|');
		json_t *desc;

		assert_non_null(bar);
		*bar = '\0';
		assert_true(is_lease_id(OUT));
		assert_string_equal(strtok(bar + 1, "\n"), "r1|eu-1|7077|true|it's|unset");
		desc = json_loads(strtok(NULL, "\n"), 0, NULL);
		assert_non_null(desc);
		assert_int_equal(JINT(desc, "port"), 7077);
		assert_int_equal(JINT(JOBJ(desc, "nested"), "a"), 1);
		json_decref(desc);
	}
	assert_int_equal(h_status_field(c, "p", "leased"), 0);

	/* --request-id: the same lease again; --bind connection: ends with poolctl */
	SH_OK(d, "poolctl lease p --request-id job-7 -q");
	out_line(id, sizeof(id));
	SH_OK(d, "poolctl lease p --request-id job-7 -q");
	assert_string_equal(out_line(id2, sizeof(id2)), id);
	SH_OK(d, "poolctl return %s", id);
	SH_OK(d, "poolctl lease p --bind connection --json");
	l = OUT_JSON();
	assert_string_equal(JSTR(l, "bind"), "connection");
	json_decref(l);
	WAIT_UNTIL(h_status_field(c, "p", "leased") == 0, 5);
	SH_OK(d, "poolctl lease p --bind none -q");
	assert_int_equal(h_status_field(c, "p", "leased"), 1);
	h_finish(d, c);
}

static void test_checkout_replace_checkin(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	json_t *l, *r;
	char id[64];

	SH_OK(d, "poolctl resource add p a --descriptor '{\"zone\": \"eu\", \"n\": 1}' -q && "
		 "poolctl resource add p b --descriptor '{\"zone\": \"us\", \"n\": 2}' -q && "
		 "poolctl resource add p c --descriptor '{\"zone\": \"us\", \"n\": \"2\"}' -q");
	SH_OK(d, "poolctl checkout p --match zone=us --match n=2 --json");
	l = OUT_JSON();
	assert_string_equal(JSTR(JOBJ(l, "resource"), "name"), "b");
	assert_string_equal(JSTR(l, "mode"), "checkout");
	SH_OK(d, "poolctl checkout p --match 'n=\"2\"' -q");
	SH_RC(3, d, "poolctl checkout p --match zone=ap");
	SH_RC(3, d, "poolctl checkout p --name b");
	SH_RC(3, d, "poolctl checkout p --name b --wait 0.2");
	H_HAS(ERR, "timeout");
	SH_RC(4, d, "poolctl checkout p --name zz");
	SH_RC(2, d, "poolctl checkout p --name a --match zone=eu");
	SH_RC(2, d, "poolctl checkout p --match zone");

	/* replace: current version by default; a stale --version is a conflict */
	SH_OK(d, "poolctl replace %s --descriptor '{\"zone\": \"us\", \"v\": 2}' --json",
	      JSTR(l, "lease"));
	r = OUT_JSON();
	assert_int_equal(JINT(r, "version"), JINT(JOBJ(l, "resource"), "version") + 1);
	json_decref(r);
	SH_RC(6, d, "poolctl replace %s --descriptor '{}' --version 1", JSTR(l, "lease"));
	SH_RC(2, d, "poolctl replace %s", JSTR(l, "lease"));
	SH_OK(d, "poolctl replace %s --descriptor '{\"v\": 3}'", JSTR(l, "lease"));
	H_HAS(OUT, "version");
	SH_OK(d, "poolctl checkin %s --descriptor '{\"v\": 4}'", JSTR(l, "lease"));
	H_HAS(OUT, "checked in");
	SH_RC(4, d, "poolctl checkin %s", JSTR(l, "lease"));
	SH_OK(d, "poolctl resource get p b --json");
	r = OUT_JSON();
	assert_int_equal(JINT(JOBJ(r, "descriptor"), "v"), 4);
	assert_string_equal(JSTR(r, "state"), "free");
	json_decref(r);
	json_decref(l);

	/* checkin --discard and return --discard destroy; return --descriptor stores */
	SH_OK(d, "L=$(poolctl checkout p --name b -q) && poolctl checkin \"$L\" --discard");
	assert_string_equal(h_res_state(c, "p", "b"), "");
	SH_OK(d, "L=$(poolctl checkout p --name a -q) && "
		 "poolctl return \"$L\" --descriptor '{\"back\": true}' --json");
	json_decref(OUT_JSON());
	SH_OK(d, "poolctl resource get p a --json");
	r = OUT_JSON();
	assert_true(json_is_true(json_object_get(JOBJ(r, "descriptor"), "back")));
	json_decref(r);
	SH_OK(d, "L=$(poolctl checkout p --name a -q) && poolctl return \"$L\" --discard");
	assert_string_equal(h_res_state(c, "p", "a"), "");
	SH_RC(2, d, "poolctl return x --discard --descriptor '{}'");

	/* renew: --ttl, --json; an expired lease is exit 4 */
	h_add(c, "p", "e", NULL);
	SH_OK(d, "poolctl checkout p --name e --ttl 5 -q");
	out_line(id, sizeof(id));
	SH_OK(d, "poolctl renew %s --ttl 1h --json", id);
	r = OUT_JSON();
	assert_true(fabs(h_parse_time(JSTR(r, "expires_at")) - h_wall() - 3600) < 10);
	json_decref(r);
	SH_OK(d, "poolctl renew %s --ttl 0", id);
	H_HAS(OUT, "never expires");
	SH_OK(d, "poolctl renew %s --ttl 0.3", id);
	H_HAS(OUT, "renewed lease");
	h_sleep(0.8);
	SH_RC(4, d, "poolctl renew %s", id);
	H_HAS(ERR, "expired");
	h_finish(d, c);
}

static void test_return_by_resource(void **state)
{
	pool_client *c;
	poold_proc *d;
	json_t *l;

	h_require_root();
	d = h_start_with_pool(&c, NULL);
	assert_int_equal(chmod(d->sock, 0666), 0);
	h_add(c, "p", "r1", "r2", "r3", NULL);
	SH_OK(d, "poolctl checkout p --name r1 --ttl 60 -q");
	SH_OK(d, "poolctl renew --pool p --resource r1 --ttl 2h --json");
	l = OUT_JSON();
	assert_true(h_parse_time(JSTR(l, "expires_at")) - h_wall() > 7000);
	json_decref(l);
	SH_OK(d, "poolctl return --pool p --resource r1");
	H_HAS(OUT, "returned lease");
	assert_string_equal(h_res_state(c, "p", "r1"), "free");
	SH_RC(4, d, "poolctl return --pool p --resource r1");
	H_HAS(ERR, "no live lease on resource r1");
	SH_RC(4, d, "poolctl renew --pool p --resource r1");
	SH_RC(2, d, "poolctl return --pool p");
	SH_RC(2, d, "poolctl return LEASE --pool p --resource r1");
	SH_RC(4, d, "poolctl return --pool nopool --resource r1");

	/* root's lease: nobody may not return it; nobody's own lease: it may */
	SH_OK(d, "poolctl checkout p --name r2 -q");
	assert_int_equal(sh_as(d, true, "poolctl return --pool p --resource r2"), 5);
	H_HAS(ERR, "another caller's");
	assert_int_equal(sh_as(d, true, "poolctl renew --pool p --resource r2"), 5);
	assert_int_equal(sh_as(d, true, "poolctl checkout p --name r3 -q && "
				       "poolctl renew --pool p --resource r3 -q && "
				       "poolctl return --pool p --resource r3"), 0);
	assert_int_equal(sh_as(d, true, "poolctl pool create mine"), 5);
	H_HAS(ERR, "forbidden");
	assert_int_equal(sh_as(d, true, "poolctl resource add p x"), 5);
	assert_int_equal(sh_as(d, true, "poolctl hello"), 0);
	H_HAS(OUT, "uid:");
	assert_true(strstr(OUT, "(admin)") == NULL);
	/* an admin returns anyone's */
	SH_OK(d, "poolctl hello");
	H_HAS(OUT, "(admin)");
	assert_int_equal(sh_as(d, true, "poolctl checkout p --name r3 -q"), 0);
	SH_OK(d, "poolctl return --pool p --resource r3");
	assert_string_equal(h_res_state(c, "p", "r3"), "free");
	h_finish(d, c);
}

static void test_lease_list(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	json_t *l;
	char *save, *line;
	int rows = 0;

	h_pool(c, "q", NULL);
	h_add(c, "p", "r1", "r2", NULL);
	h_add(c, "q", "s1", NULL);
	SH_OK(d, "poolctl lease p --owner alice --ttl 1h -q && poolctl lease p --ttl 0 -q && "
		 "poolctl lease q -q");
	SH_OK(d, "poolctl lease list");
	line = strtok_r(OUT, "\n", &save);
	H_HAS(line, "LEASE");
	H_HAS(line, "POOL");
	H_HAS(line, "RESOURCE");
	H_HAS(line, "OWNER");
	H_HAS(line, "AGE");
	H_HAS(line, "LEFT");
	while ((line = strtok_r(NULL, "\n", &save))) {
		rows++;
		if (strstr(line, "alice"))
			assert_null(strstr(line, "never"));
		if (strstr(line, " s1 "))
			H_HAS(line, " q ");
	}
	assert_int_equal(rows, 3);
	SH_OK(d, "poolctl lease list | grep -c never");
	assert_string_equal(OUT, "1\n");
	SH_OK(d, "poolctl lease list --pool p --json");
	l = OUT_JSON();
	assert_int_equal(json_array_size(json_object_get(l, "leases")), 2);
	assert_true(json_is_null(json_object_get(l, "next")));
	json_decref(l);
	SH_OK(d, "poolctl lease list --limit 1 --json");
	l = OUT_JSON();
	assert_int_equal(json_array_size(json_object_get(l, "leases")), 1);
	assert_true(json_is_string(json_object_get(l, "next")));
	json_decref(l);
	SH_OK(d, "poolctl lease list -q | wc -l");
	assert_int_equal(atoi(OUT), 3);
	SH_RC(4, d, "poolctl lease list --pool nopool");
	h_finish(d, c);
}

static void test_status_watch_ping(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, "{\"max_size\": 5}");
	json_t *s, *p;
	pid_t pid;
	char path[400];

	h_add(c, "p", "r1", "r2", NULL);
	SH_OK(d, "poolctl lease p -q");
	SH_OK(d, "poolctl status");
	H_HAS(OUT, "FREE");
	H_HAS(OUT, "TOTAL/MAX");
	H_HAS(OUT, "WAITERS");
	H_HAS(OUT, "OLDEST");
	H_HAS(OUT, "2/5");
	SH_OK(d, "poolctl status p --json");
	s = OUT_JSON();
	p = json_array_get(json_object_get(s, "pools"), 0);
	assert_int_equal(JINT(p, "free"), 1);
	assert_int_equal(JINT(p, "leased"), 1);
	assert_true(json_is_number(json_object_get(p, "oldest_lease_age")));
	json_decref(s);
	SH_RC(4, d, "poolctl status nopool");

	/* --watch redraws until SIGTERM, then exits 0 */
	SH_OK(d, "poolctl status --watch 0.1 > %s/w & sleep 0.6; kill $!; wait $!; "
		 "grep -c TOTAL/MAX %s/w", d->dir, d->dir);
	assert_true(atoi(OUT) >= 2);
	SH_OK(d, "poolctl status --watch 0.1 --json > %s/w & sleep 0.4; kill $!; wait $!; "
		 "head -n 1 %s/w", d->dir, d->dir);
	json_decref(OUT_JSON());

	/* watch streams events */
	snprintf(path, sizeof(path), "%s/out", d->dir);
	pid = sh_start(d, false, "exec poolctl watch p --json");
	h_sleep(0.3);
	json_decref(CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r1")));
	for (double end = h_now() + 5;; h_sleep(0.02)) {
		char *text = h_read_file(path);
		bool seen = strstr(text, "\"checked_out\"") != NULL;

		free(text);
		if (seen)
			break;
		assert_true(h_now() < end);
	}
	kill(pid, SIGTERM);
	h_wait_child(pid);
	collect(d);
	s = json_loads(OUT, JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(s);
	assert_string_equal(JSTR(s, "pool"), "p");
	json_decref(s);
	SH_OK(d, "poolctl watch p & sleep 0.3; poolctl return --pool p --resource r1 -q; "
		 "sleep 0.3; kill $!");
	H_HAS(OUT, "returned");
	H_HAS(OUT, "p/r1");

	SH_OK(d, "poolctl ping");
	H_HAS(OUT, "poold " POOL_VERSION);
	SH_OK(d, "poolctl ping --json");
	s = OUT_JSON();
	assert_string_equal(JSTR(s, "version"), POOL_VERSION);
	json_decref(s);
	SH_OK(d, "poolctl hello --json");
	s = OUT_JSON();
	assert_true(json_is_true(json_object_get(s, "admin")));
	json_decref(s);
	h_finish(d, c);
}

static void test_unreachable(void **state)
{
	poold_proc *d = poold_start(NULL);

	SH_RC(7, d, "poolctl --socket %s/nope.sock ping", d->dir);
	H_HAS(ERR, "is poold running?");
	H_HAS(ERR, "POOLD_SOCKET");
	SH_RC(7, d, "POOLD_SOCKET=%s/nope.sock poolctl lease p", d->dir);
	H_HAS(ERR, "nope.sock by default");
	SH_RC(7, d, "POOLD_SOCKET=%s/nope.sock poolctl run p -- true", d->dir);
	/* --socket wins over POOLD_SOCKET, before or after the command */
	SH_OK(d, "POOLD_SOCKET=/nonexistent poolctl --socket %s ping -q", d->sock);
	SH_OK(d, "POOLD_SOCKET=/nonexistent poolctl ping --socket=%s", d->sock);
	SH_OK(d, "poolctl ping");
	poold_stop(d);
}

/* ---- bulk import ------------------------------------------------------------ */

static void write_lines(const char *path, int n, int bad_at)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (int i = 1; i <= n; i++) {
		if (i == bad_at)
			fputs("{\"host\": oops}\n", f);
		else if (i % 2)
			fprintf(f, "{\"name\": \"n%d\", \"descriptor\": {\"host\": \"h%d\"}}\n", i, i);
		else
			fprintf(f, "{\"host\": \"h%d\", \"port\": %d}\n", i, i);
	}
	fclose(f);
}

static void test_import(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	char path[400];
	json_t *r;

	snprintf(path, sizeof(path), "%s/big.jsonl", d->dir);
	write_lines(path, 100000, 61234);
	SH_RC(1, d, "poolctl resource add p --file %s", path);
	H_HAS(ERR, "line 61234");
	H_HAS(ERR, "61233 resources were added before it");
	assert_int_equal(h_status_field(c, "p", "total"), 61233);
	assert_string_equal(h_res_state(c, "p", "n61233"), "free");
	assert_string_equal(h_res_state(c, "p", "n61235"), "");

	/* the rest of the file, as a new pool: all of it, counted */
	h_pool(c, "q", NULL);
	SH_OK(d, "sed -n '61235,$p' %s | poolctl resource add q --file - --json", path);
	r = OUT_JSON();
	assert_int_equal(JINT(r, "added"), 100000 - 61234);
	json_decref(r);

	/* a name the pool already has: the daemon's refusal, with its line */
	SH_RC(1, d, "printf '\\n{\"a\": 1}\\n\\n{\"name\": \"n1\", \"descriptor\": {}}\\n' | "
		 "poolctl resource add p --file -");
	H_HAS(ERR, "line 4");
	H_HAS(ERR, "already exists");
	H_HAS(ERR, "1 resources were added before it");
	SH_RC(1, d, "printf '{\"name\": \"bad name\", \"descriptor\": {}}\\n' | "
		 "poolctl resource add p --file -");
	H_HAS(ERR, "line 1");
	SH_RC(1, d, "printf '[1]\\n' | poolctl resource add p --file -");
	H_HAS(ERR, "not a JSON object");
	SH_RC(1, d, "printf '{\"name\": \"z\", \"descriptor\": 5}\\n' | "
		 "poolctl resource add p --file -");
	SH_RC(2, d, "poolctl resource add p --file %s/missing", d->dir);
	SH_RC(2, d, "poolctl resource add p n --file %s", path);
	SH_OK(d, "printf '{\"k\": 1}\\n' > %s/one && poolctl resource add p --file %s/one",
	      d->dir, d->dir);
	H_HAS(OUT, "added 1 resources");
	h_finish(d, c);
}

/* A daemon that takes fewer resources per request than poolctl sends. */
static void test_import_small_batches(void **state)
{
	poold_proc *d = poold_start("--max-batch", "100", NULL);
	pool_client *c = h_connect(d);
	char path[400];

	h_pool(c, "p", NULL);
	h_pool(c, "q", NULL);
	snprintf(path, sizeof(path), "%s/small.jsonl", d->dir);
	write_lines(path, 1000, 0);
	SH_OK(d, "poolctl resource add p --file %s", path);
	H_HAS(OUT, "added 1000 resources");
	assert_int_equal(h_status_field(c, "p", "total"), 1000);
	write_lines(path, 1000, 550);
	SH_RC(1, d, "poolctl resource add q --file %s", path);
	H_HAS(ERR, "line 550");
	H_HAS(ERR, "549 resources were added before it");
	assert_int_equal(h_status_field(c, "q", "total"), 549);
	h_finish(d, c);
}

/* ---- run -------------------------------------------------------------------- */

static void test_run_basics(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	char id[64];

	SH_OK(d, "poolctl resource add p r1 --descriptor '{\"host\": \"h1\", \"port\": 22, "
		 "\"deep\": {\"x\": 1}}' -q");
	SH_OK(d, "poolctl run p -- sh -c 'echo \"$POOL_LEASE $POOL_RESOURCE $POOL_DESC_HOST "
		 "$POOL_DESC_PORT ${POOL_DESC_DEEP-none}\"; echo \"$POOL_DESCRIPTOR\"; "
		 "poolctl lease get \"$POOL_LEASE\" -q'");
	{
		char lease[40], res[16], host[16], port[16], deep[16];

		assert_int_equal(sscanf(OUT, "%39s %15s %15s %15s %15s", lease, res, host, port,
					deep), 5);
		assert_true(is_lease_id(lease));
		assert_string_equal(res, "r1");
		assert_string_equal(host, "h1");
		assert_string_equal(port, "22");
		assert_string_equal(deep, "none");
		H_HAS(OUT, "\"deep\":{\"x\":1}");
	}
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	assert_int_equal(h_counter(c, "p", "returns"), 1);

	/* the status passes through, and the lease is returned anyway */
	SH_RC(3, d, "poolctl run p -- sh -c 'exit 3'");
	SH_RC(42, d, "poolctl run p --ttl 1m --owner ci -- sh -c 'exit 42'");
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	assert_int_equal(h_counter(c, "p", "returns"), 3);
	SH_OK(d, "poolctl run p true");
	SH_RC(127, d, "poolctl run p -- /nonexistent/cmd");
	H_HAS(ERR, "cannot run /nonexistent/cmd");
	assert_int_equal(h_status_field(c, "p", "leased"), 0);

	/* a COMMAND killed by a signal: 128+N, and the lease is returned */
	SH_RC(137, d, "poolctl run p -- sh -c 'kill -9 $$'");
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	assert_string_equal(h_res_state(c, "p", "r1"), "free");

	/* no resource: poolctl's own code, COMMAND never runs */
	SH_OK(d, "poolctl lease p -q");
	out_line(id, sizeof(id));
	SH_RC(3, d, "poolctl run p -- touch %s/ran", d->dir);
	SH_RC(3, d, "poolctl run p --wait 0.2 -- touch %s/ran", d->dir);
	SH_RC(1, d, "test -e %s/ran", d->dir);
	SH_OK(d, "poolctl return %s", id);
	SH_RC(2, d, "poolctl run p");
	SH_RC(2, d, "poolctl run p --");
	SH_RC(2, d, "poolctl run p extra -- true");
	SH_RC(4, d, "poolctl run nopool -- true");
	h_finish(d, c);
}

/* Starts poolctl run directly (no shell in between), so that the test can
 * signal it; stdout/stderr into DIR/out and DIR/err. */
static pid_t run_start(poold_proc *d, const char *const *args)
{
	const char *argv[24] = { POOLCTL_BIN, "run" };
	int n = 2;
	pid_t pid;

	while (*args)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char path[400];
		int o, e;

		snprintf(path, sizeof(path), "%s/out", d->dir);
		o = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		snprintf(path, sizeof(path), "%s/err", d->dir);
		e = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(o, 1);
		dup2(e, 2);
		h_sh_env(d);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], (char *const *)argv);
		_exit(122);
	}
	return pid;
}

static void test_run_sigterm(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	char marker[400];
	pid_t pid;

	h_add(c, "p", "r1", NULL);
	snprintf(marker, sizeof(marker), "%s/started", d->dir);
	{
		char script[600];
		const char *args[] = { "p", "--", "sh", "-c", script, NULL };

		/* the shell's trap shows that COMMAND got the forwarded SIGTERM */
		snprintf(script, sizeof(script),
			 "trap 'echo got-term; exit 9' TERM; touch %s; while :; do sleep 0.05; done",
			 marker);
		pid = run_start(d, args);
		WAIT_UNTIL(access(marker, F_OK) == 0, 5);
	}
	assert_int_equal(h_status_field(c, "p", "leased"), 1);
	kill(pid, SIGTERM);
	assert_int_equal(h_wait_child_for(pid, 10), 9);
	collect(d);
	H_HAS(OUT, "got-term");
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	assert_string_equal(h_res_state(c, "p", "r1"), "free");

	/* a COMMAND that dies of the forwarded signal: 128+15 */
	{
		const char *args[] = { "p", "--", "sleep", "30", NULL };

		pid = run_start(d, args);
		WAIT_UNTIL(h_status_field(c, "p", "leased") == 1, 5);
		h_sleep(0.1);
		kill(pid, SIGTERM);
		assert_int_equal(h_wait_child_for(pid, 10), 143);
		assert_int_equal(h_status_field(c, "p", "leased"), 0);
	}
	h_finish(d, c);
}

/* Waits until COMMAND of poolctl run `pid` created `marker`; fails at once,
 * with poolctl's status and stderr, if poolctl exits first. */
static void wait_started(poold_proc *d, pid_t pid, const char *marker, double secs)
{
	double deadline = h_now() + secs;
	int st;

	while (access(marker, F_OK) != 0) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			collect(d);
			fail_msg("poolctl run exited (status %d) before COMMAND started\nstderr:\n%s",
				 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), ERR);
		}
		if (h_now() > deadline)
			fail_msg("COMMAND did not start within %gs", secs);
		h_sleep(0.01);
	}
}

/* SIGINT and SIGHUP sent to poolctl (not to its process group, so only the
 * forwarding can deliver them) reach COMMAND; the lease is returned and
 * poolctl exits with COMMAND's status. */
static void test_run_forwards_int_hup(void **state)
{
	static const struct { int sig; const char *name; } sigs[] = {
		{ SIGINT, "INT" }, { SIGHUP, "HUP" },
	};
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);

	h_add(c, "p", "r1", NULL);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		char marker[400], got[400], script[1200];
		const char *args[] = { "p", "--", "sh", "-c", script, NULL };
		json_int_t returns = h_counter(c, "p", "returns");
		char *text;
		pid_t pid;

		snprintf(marker, sizeof(marker), "%s/started-%s", d->dir, sigs[i].name);
		snprintf(got, sizeof(got), "%s/got-%s", d->dir, sigs[i].name);
		snprintf(script, sizeof(script),
			 "trap 'echo \"got $POOL_RESOURCE\" > %s; exit 7' %s; touch %s; "
			 "i=0; while [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done",
			 got, sigs[i].name, marker);
		pid = run_start(d, args);
		wait_started(d, pid, marker, 5);
		assert_int_equal(h_status_field(c, "p", "leased"), 1);
		assert_int_equal(kill(pid, sigs[i].sig), 0);
		assert_int_equal(h_wait_child_for(pid, 10), 7);
		text = h_read_file(got);
		assert_string_equal(text, "got r1\n");
		free(text);
		assert_int_equal(h_status_field(c, "p", "leased"), 0);
		assert_int_equal(h_counter(c, "p", "returns"), returns + 1);
		assert_string_equal(h_res_state(c, "p", "r1"), "free");
	}
	h_finish(d, c);
}

/* ---- a relay that loses the answer to the first lease ------------------------ */

/*
 * A forked relay between poolctl and poold: it listens on DIR/NAME.sock and
 * forwards lines both ways, one poold connection per client connection. The
 * first request with op "lease" is forwarded, but poold's answer to it is
 * dropped and both connections are closed: the lease was granted, its answer
 * lost. Every lease request goes to DIR/NAME.requests, the dropped answer to
 * DIR/NAME.dropped. The relay dies with SIGTERM, or by itself after 30 s.
 */
typedef struct relay {
	pid_t pid;
	char sock[300];
	char requests[300];
	char dropped[300];
} relay;

#define RELAY_CONNS 8
#define RELAY_BUF 65536

struct relay_half {
	int from, to;            /* read from, write to */
	char buf[RELAY_BUF];
	size_t len;
};

struct relay_pair {
	bool used;
	bool dropping;           /* the next answer from poold is to be lost */
	struct relay_half up;    /* client -> poold */
	struct relay_half down;  /* poold -> client */
};

static void relay_append(const char *path, const char *line, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	if (fd < 0 || write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		_exit(101);
	close(fd);
}

static void relay_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the peer is gone; its reader will see it */
		p += w;
		n -= (size_t)w;
	}
}

static bool relay_is_lease(const char *line, size_t len)
{
	json_t *req = json_loadb(line, len, 0, NULL);
	const char *op = json_string_value(json_object_get(req, "op"));
	bool is = op && strcmp(op, "lease") == 0;

	json_decref(req);
	return is;
}

static void relay_close(struct relay_pair *p)
{
	close(p->up.from);
	close(p->up.to);
	p->used = false;
}

/* Moves the complete lines of one half; false when the pair was closed. */
static bool relay_lines(const relay *rl, struct relay_pair *p, bool upward, bool *dropped_once)
{
	struct relay_half *h = upward ? &p->up : &p->down;
	char *start = h->buf, *nl;

	while ((nl = memchr(start, '\n', h->len - (size_t)(start - h->buf)))) {
		size_t n = (size_t)(nl - start);

		if (upward && relay_is_lease(start, n)) {
			relay_append(rl->requests, start, n);
			if (!*dropped_once)
				p->dropping = *dropped_once = true;
		} else if (!upward && p->dropping) {
			relay_append(rl->dropped, start, n);
			relay_close(p);
			return false;
		}
		relay_write_all(h->to, start, n + 1);
		start = nl + 1;
	}
	h->len -= (size_t)(start - h->buf);
	memmove(h->buf, start, h->len);
	if (h->len == sizeof(h->buf)) { /* no line this long is expected */
		relay_write_all(h->to, h->buf, h->len);
		h->len = 0;
	}
	return true;
}

/* path into sa; false when it does not fit. */
static bool relay_addr(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	if (n >= sizeof(sa->sun_path))
		return false;
	memcpy(sa->sun_path, path, n + 1);
	return true;
}

static void relay_main(const relay *rl, int lfd, const char *target)
{
	struct relay_pair *pairs = calloc(RELAY_CONNS, sizeof(*pairs));
	bool dropped_once = false;

	if (!pairs)
		_exit(102);
	alarm(30);
	for (;;) {
		struct pollfd fds[1 + 2 * RELAY_CONNS];
		int n = 1;

		fds[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < RELAY_CONNS; i++) {
			fds[n++] = (struct pollfd){ .fd = pairs[i].used ? pairs[i].up.from : -1,
						    .events = POLLIN };
			fds[n++] = (struct pollfd){ .fd = pairs[i].used ? pairs[i].down.from : -1,
						    .events = POLLIN };
		}
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(103);
		}
		if (fds[0].revents & POLLIN) {
			int cfd = accept(lfd, NULL, NULL);
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			int ufd = socket(AF_UNIX, SOCK_STREAM, 0);
			int i = 0;

			while (i < RELAY_CONNS && pairs[i].used)
				i++;
			if (cfd < 0 || ufd < 0 || i == RELAY_CONNS || !relay_addr(&sa, target) ||
			    connect(ufd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				_exit(104);
			pairs[i] = (struct relay_pair){
				.used = true,
				.up = { .from = cfd, .to = ufd },
				.down = { .from = ufd, .to = cfd },
			};
		}
		for (int i = 0; i < RELAY_CONNS; i++) {
			for (int k = 0; k < 2 && pairs[i].used; k++) {
				struct relay_half *h = k == 0 ? &pairs[i].up : &pairs[i].down;
				ssize_t r;

				if (!(fds[1 + 2 * i + k].revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				r = read(h->from, h->buf + h->len, sizeof(h->buf) - h->len);
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0) {
					relay_close(&pairs[i]);
					continue;
				}
				h->len += (size_t)r;
				relay_lines(rl, &pairs[i], k == 0, &dropped_once);
			}
		}
	}
}

static void relay_start(poold_proc *d, const char *name, relay *rl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(rl->sock, sizeof(rl->sock), "%s/%s.sock", d->dir, name);
	snprintf(rl->requests, sizeof(rl->requests), "%s/%s.requests", d->dir, name);
	snprintf(rl->dropped, sizeof(rl->dropped), "%s/%s.dropped", d->dir, name);
	assert_true(relay_addr(&sa, rl->sock));
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	rl->pid = fork();
	assert_true(rl->pid >= 0);
	if (rl->pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		relay_main(rl, lfd, d->sock);
	}
	close(lfd);
}

static void relay_stop(relay *rl)
{
	kill(rl->pid, SIGTERM);
	assert_int_equal(h_wait_child_for(rl->pid, 10), 128 + SIGTERM);
}

/* The lines of a file as a NULL-ended array of JSON objects (new refs). */
static size_t relay_log(const char *path, json_t **out, size_t max)
{
	char *text = h_read_file(path), *save = NULL;
	size_t n = 0;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		assert_true(n < max);
		out[n] = json_loads(l, 0, NULL);
		assert_non_null(out[n]);
		n++;
	}
	free(text);
	return n;
}

/* The lease id of an answer line {"id", "ok": true, "result": lease}. */
static const char *answer_lease(json_t *answer)
{
	assert_true(json_is_true(json_object_get(answer, "ok")));
	return JSTR(JOBJ(answer, "result"), "lease");
}

/* The ids of the live leases of pool p (at most max, checked). */
static size_t live_leases(pool_client *c, char ids[][40], size_t max)
{
	json_t *page = CALL_OK(c, "lease.list", J("{s:s}", "pool", "p"));
	json_t *leases = json_object_get(page, "leases"), *l;
	size_t i;

	assert_true(json_is_array(leases));
	assert_true(json_array_size(leases) <= max);
	json_array_foreach(leases, i, l)
		snprintf(ids[i], sizeof(ids[i]), "%s", JSTR(l, "lease"));
	i = json_array_size(leases);
	json_decref(page);
	return i;
}

/*
 * poolctl run takes its lease with a request_id: when the answer is lost
 * (the connection closes after poold granted the lease), it asks again with
 * the same request_id and gets that same lease, never a second resource.
 */
static void test_run_lost_answer(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	char started[400], go[400], leasefile[400], script[1400], ids[4][40];
	const char *args[] = { "p", "--socket", NULL, "--", "sh", "-c", script, NULL };
	json_t *reqs[8], *drop[2];
	char *seen;
	size_t nreq;
	relay rl;
	pid_t pid;

	h_add(c, "p", "r1", "r2", NULL);
	relay_start(d, "relay", &rl);
	args[2] = rl.sock;
	snprintf(started, sizeof(started), "%s/started", d->dir);
	snprintf(go, sizeof(go), "%s/go", d->dir);
	snprintf(leasefile, sizeof(leasefile), "%s/lease", d->dir);
	snprintf(script, sizeof(script),
		 "echo \"$POOL_LEASE\" > %s; touch %s; i=0; "
		 "while [ ! -e %s ] && [ $i -lt 1000 ]; do sleep 0.02; i=$((i+1)); done",
		 leasefile, started, go);
	pid = run_start(d, args);
	wait_started(d, pid, started, 10);

	/* one resource taken, one lease: the retry got the lease of the lost answer */
	{
		json_int_t leased = h_status_field(c, "p", "leased");

		if (leased != 1)
			fail_msg("after one lost answer poolctl run holds %lld resources, not 1",
				 (long long)leased);
	}
	assert_int_equal(h_status_field(c, "p", "free"), 1);
	assert_int_equal(live_leases(c, ids, 4), 1);
	seen = h_read_file(leasefile);
	seen[strcspn(seen, "\n")] = '\0';
	assert_string_equal(seen, ids[0]);
	assert_int_equal(relay_log(rl.dropped, drop, 2), 1);
	assert_string_equal(answer_lease(drop[0]), ids[0]);
	/* the relay saw the lease asked twice, with one request_id */
	nreq = relay_log(rl.requests, reqs, 8);
	assert_int_equal(nreq, 2);
	assert_true(strlen(JSTR(reqs[0], "request_id")) > 0);
	assert_string_equal(JSTR(reqs[0], "request_id"), JSTR(reqs[1], "request_id"));
	assert_string_equal(JSTR(reqs[1], "pool"), "p");

	/* COMMAND ends: the one lease is returned, the pool is whole again */
	close(open(go, O_WRONLY | O_CREAT, 0644));
	assert_int_equal(h_wait_child_for(pid, 10), 0);
	collect(d);
	H_HAS(ERR, "retrying");
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	assert_int_equal(h_status_field(c, "p", "free"), 2);
	assert_int_equal(h_counter(c, "p", "returns"), 1);
	assert_int_equal(live_leases(c, ids, 4), 0);
	free(seen);
	for (size_t i = 0; i < nreq; i++)
		json_decref(reqs[i]);
	json_decref(drop[0]);
	relay_stop(&rl);

	/* poolctl lease tries once, but with --request-id running it again after a
	 * lost answer gets the same lease */
	relay_start(d, "relay2", &rl);
	SH_RC(7, d, "poolctl --socket %s lease p --request-id job-42 -q", rl.sock);
	assert_int_equal(h_status_field(c, "p", "leased"), 1);
	SH_OK(d, "poolctl --socket %s lease p --request-id job-42 -q", rl.sock);
	assert_int_equal(relay_log(rl.dropped, drop, 2), 1);
	{
		char id[64];

		assert_string_equal(out_line(id, sizeof(id)), answer_lease(drop[0]));
		assert_int_equal(h_status_field(c, "p", "leased"), 1);
		assert_int_equal(live_leases(c, ids, 4), 1);
		assert_string_equal(ids[0], id);
		SH_OK(d, "poolctl return %s -q", id);
	}
	json_decref(drop[0]);
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	relay_stop(&rl);
	h_finish(d, c);
}

static void test_run_renews(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	double t0 = h_now();

	h_add(c, "p", "r1", NULL);
	/* a 2 s TTL through a 7 s COMMAND: renewals every 2/3 s keep it */
	SH_OK(d, "poolctl run p --ttl 2 -- sh -c 'sleep 7; poolctl lease get \"$POOL_LEASE\" "
		 "--json'");
	assert_true(h_now() - t0 >= 7);
	{
		json_t *l = OUT_JSON();
		double left = h_parse_time(JSTR(l, "expires_at")) - h_wall();

		/* renewed within the last third of the TTL, plus slack */
		assert_true(left > 0.5);
		json_decref(l);
	}
	assert_int_equal(h_counter(c, "p", "expired"), 0);
	assert_int_equal(h_counter(c, "p", "returns"), 1);
	assert_string_equal(h_res_state(c, "p", "r1"), "free");
	h_finish(d, c);
}

/* poold closes idle connections; run connects again without a fuss. */
static void test_run_idle_timeout(void **state)
{
	poold_proc *d = poold_start("--idle-timeout", "1", NULL);
	pool_client *c = h_connect(d);

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	SH_OK(d, "poolctl run p --ttl 4.5 -- sleep 3.5");
	assert_null(strstr(ERR, "failed"));
	pool_close(c); /* idle for longer than a second: closed by poold too */
	c = h_connect(d);
	assert_int_equal(h_counter(c, "p", "expired"), 0);
	assert_int_equal(h_counter(c, "p", "returns"), 1);
	h_finish(d, c);
}

static void test_run_discard_on_failure(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);

	h_add(c, "p", "r1", "r2", NULL);
	SH_RC(1, d, "poolctl run p --discard-on-failure -- sh -c 'echo $POOL_RESOURCE; exit 1'");
	assert_string_equal(h_res_state(c, "p", strtok(OUT, "\n")), "");
	assert_int_equal(h_status_field(c, "p", "total"), 1);
	SH_OK(d, "poolctl run p --discard-on-failure -- true");
	/* without the flag a failure returns the resource for reuse */
	SH_RC(1, d, "poolctl run p -- false");
	assert_int_equal(h_status_field(c, "p", "total"), 1);
	assert_int_equal(h_status_field(c, "p", "free"), 1);
	h_finish(d, c);
}

static void test_run_lost(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);

	h_add(c, "p", "r1", NULL);
	/* an admin removes the resource: the next renewal says not_found */
	SH_RC(4, d, "poolctl run p --ttl 1.5 --grace 1 -- sh -c "
		 "'poolctl resource remove p \"$POOL_RESOURCE\" --force; exec sleep 30'");
	H_HAS(ERR, "lost the lease on p/r1");
	H_HAS(ERR, "SIGTERM");

	/* a COMMAND that ignores SIGTERM gets SIGKILL after --grace */
	h_add(c, "p", "r2", NULL);
	SH_RC(4, d, "poolctl run p --ttl 1.5 --grace 0.5 -- sh -c "
		 "'trap \"\" TERM; poolctl resource remove p \"$POOL_RESOURCE\" --force; "
		 "while :; do sleep 0.1; done'"); /* it ends: SIGKILL came */

	/* --keep-on-loss: COMMAND runs on, its status is poolctl's */
	h_add(c, "p", "r3", NULL);
	SH_RC(6, d, "poolctl run p --ttl 1 --keep-on-loss -- sh -c "
		 "'poolctl resource remove p \"$POOL_RESOURCE\" --force; sleep 1.5; exit 6'");
	H_HAS(ERR, "lost the lease");
	H_HAS(ERR, "keeps running");
	h_finish(d, c);
}

static void test_run_daemon_gone(void **state)
{
	pool_client *c;
	poold_proc *d = h_start_with_pool(&c, NULL);
	const char *args[] = { "p", "--ttl", "1.5", "--grace", "0.5", "--", "sleep", "30", NULL };
	pid_t pid;

	h_add(c, "p", "r1", NULL);
	pid = run_start(d, args);
	WAIT_UNTIL(h_status_field(c, "p", "leased") == 1, 5);
	pool_close(c);
	poold_kill9(d);
	/* unreachable past the expiry (at most 1.5 s after the last renewal) */
	assert_int_equal(h_wait_child_for(pid, 10), 4);
	collect(d);
	H_HAS(ERR, "unreachable until the lease expired");
	poold_respawn(d);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_help),
		FTEST(test_durations),
		FTEST(test_pool_commands),
		FTEST(test_resource_commands),
		FTEST(test_lease_output),
		FTEST(test_checkout_replace_checkin),
		FTEST(test_return_by_resource),
		FTEST(test_lease_list),
		FTEST(test_status_watch_ping),
		FTEST(test_unreachable),
		FTEST(test_import),
		FTEST(test_import_small_batches),
		FTEST(test_run_basics),
		FTEST(test_run_sigterm),
		FTEST(test_run_forwards_int_hup),
		FTEST(test_run_lost_answer),
		FTEST(test_run_renews),
		FTEST(test_run_idle_timeout),
		FTEST(test_run_discard_on_failure),
		FTEST(test_run_lost),
		FTEST(test_run_daemon_gone),
	};
	int rc = RUN_FTESTS(tests);

	free(out_text);
	free(err_text);
	return rc;
}
