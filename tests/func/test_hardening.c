/*
 * test_hardening.c - black-box regression tests of issue 11 (hostile
 * clients, careless settings, faults) and the daemon side of issue 14
 * (TLS reload, JSON logs, service manager notification, root's database).
 * Each test is named after the behaviour that failed before the fix.
 */
#include "harness.h"
#include "h_net.h"
#include "h_files.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/poold-hard-XXXXXX";
static char tokens[300], listen_arg[64];
static int port;

static poold_proc *start_tcp(const char *a1, const char *a2, const char *a3,
			     const char *a4)
{
	port = h_free_port();
	snprintf(listen_arg, sizeof listen_arg, "127.0.0.1:%d", port);
	return poold_start("--listen", listen_arg, "--tokens", tokens, a1, a2,
			   a3, a4, NULL);
}

/* A pool whose resources are made by the script at path. */
static void command_pool(pool_client *c, const char *pool, const char *path)
{
	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:{s:[s]}}", "pool", pool,
						"create", "cmd", path)));
}

static json_int_t daemon_counter(pool_client *c, const char *name)
{
	json_t *st = CALL_OK(c, "status", NULL);
	json_int_t v = JINT(JOBJ(st, "daemon"), name);

	json_decref(st);
	return v;
}

static int log_count(const poold_proc *d, const char *needle)
{
	char *s = h_slurp(d->log);
	int n = 0;

	for (char *p = s; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(s);
	return n;
}

/* ---- item 9: NUL bytes ---------------------------------------------------- */

static void test_nul_byte_after_a_number_is_bad_request(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	static const char ping[] = "{\"op\":\"ping\",\"id\":12\0}\n";
	static const char add[] = "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":"
		"[{\"name\":\"a\",\"descriptor\":{\"n\":12\0}}]}\n";
	pool_client *c = h_connect(d);
	json_t *a;

	h_pool(c, "p", NULL);
	assert_int_equal(raw_write(r, ping, sizeof ping - 1), 0);
	a = raw_recv(r, 10);
	resp_expect_err(a, "bad_request");
	json_decref(a);
	assert_int_equal(raw_write(r, add, sizeof add - 1), 0);
	a = raw_recv(r, 10);
	resp_expect_err(a, "bad_request");
	json_decref(a);
	/* nothing was added, and the connection goes on */
	assert_string_equal(h_res_state(c, "p", "a"), "");
	json_decref(raw_req(r, "{\"op\":\"ping\"}"));
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

/* ---- item 14: small ones -------------------------------------------------- */

static void test_denormal_ttl_is_bad_request_naming_the_bound(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *r = raw_connect(d->sock);
	const char *reqs[] = {
		"{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":1e-320}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":0.0000001}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"wait\":1e-300}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":1e300}",
	};

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
		json_t *a = raw_req(r, reqs[i]);

		resp_expect_err(a, "bad_request");
		assert_non_null(strstr(JSTR(JOBJ(a, "error"), "message"), "0.001"));
		json_decref(a);
	}
	assert_string_equal(h_res_state(c, "p", "r1"), "free");
	json_decref(raw_req(r, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":0.5}"));
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

static void test_overflowing_lease_list_cursor_is_bad_request(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);

	CALL_ERR(c, "lease.list", J("{s:s}", "after", "99999999999999999999999"),
		 POOL_E_BAD_REQUEST);
	json_decref(CALL_OK(c, "lease.list", J("{s:s}", "after", "9223372036854775806")));
	pool_close(c);
	poold_stop(d);
}

/* ---- item 6 and 14: tokens ------------------------------------------------ */

static void test_token_named_like_a_unix_caller_is_refused(void **state)
{
	char cmd[2048], out[2048];

	h_write_file(tokens, "uid:0 a-token-that-is-long-enough\n", 0600);
	snprintf(cmd, sizeof cmd, "timeout 20 %s --socket %s/u.sock --db %s/u.db --listen "
		 "127.0.0.1:1 --tokens %s 2>&1", POOLD_BIN, dir, dir, tokens);
	assert_int_equal(h_run(cmd, out, sizeof out), 1);
	assert_non_null(strstr(out, "uid:"));
	assert_non_null(strstr(out, ":1:"));
}

static void test_token_file_owned_by_another_user_is_refused(void **state)
{
	char cmd[2048], out[2048];

	h_require_root();
	h_write_file(tokens, "alice alice-secret-token-0001 admin\n", 0600);
	assert_int_equal(chown(tokens, h_nobody_uid(), (gid_t)-1), 0);
	snprintf(cmd, sizeof cmd, "timeout 20 %s --socket %s/o.sock --db %s/o.db --listen "
		 "127.0.0.1:1 --tokens %s 2>&1", POOLD_BIN, dir, dir, tokens);
	assert_int_equal(h_run(cmd, out, sizeof out), 1);
	assert_non_null(strstr(out, "chown"));
	assert_int_equal(chown(tokens, 0, (gid_t)-1), 0);
}

static void test_sighup_closes_sessions_of_revoked_tokens(void **state)
{
	poold_proc *d;
	raw_conn *alice, *bob;
	json_t *a;

	h_write_file(tokens, "alice alice-secret-token-0001 admin\n"
		     "bob bob-secret-token-000002\n", 0600);
	d = start_tcp(NULL, NULL, NULL, NULL);
	alice = raw_connect_tcp(port);
	bob = raw_connect_tcp(port);
	raw_hello(alice, "alice-secret-token-0001");
	raw_hello(bob, "bob-secret-token-000002");
	/* bob is removed, alice's token is kept but her admin right goes */
	h_write_file(tokens, "alice alice-secret-token-0001\n", 0600);
	kill(d->pid, SIGHUP);
	assert_true(raw_wait_eof(bob, 10));
	a = raw_req(alice, "{\"op\":\"hello\"}");
	assert_true(json_is_false(json_object_get(resp_result(a), "admin")));
	json_decref(a);
	/* a rotated token ends the session opened with the old one */
	h_write_file(tokens, "alice alice-rotated-token-0002\n", 0600);
	kill(d->pid, SIGHUP);
	assert_true(raw_wait_eof(alice, 10));
	raw_close(alice);
	raw_close(bob);
	poold_stop(d);
}

/* ---- item 3: TCP before hello --------------------------------------------- */

static void test_silent_tcp_connections_do_not_lock_out_the_unix_socket(void **state)
{
	poold_proc *d;
	raw_conn *silent[8], *r;
	pool_client *c;
	json_t *a;

	h_write_file(tokens, "alice alice-secret-token-0001 admin\n", 0600);
	d = start_tcp("--max-conns", "4", "--max-hello-conns", "3");
	for (int i = 0; i < 8; i++)
		silent[i] = raw_connect_tcp(port);
	/* root on the Unix socket is served */
	c = h_connect(d);
	json_decref(CALL_OK(c, "ping", NULL));
	/* the ones beyond --max-hello-conns were refused, and counted */
	WAIT_UNTIL(daemon_counter(c, "conns_refused") == 5, 10);
	a = raw_recv(silent[7], 10);
	resp_expect_err(a, "busy");
	assert_non_null(strstr(JSTR(JOBJ(a, "error"), "message"), "--max-hello-conns"));
	json_decref(a);
	/* a caller with a token gets in once the anonymous ones are gone */
	for (int i = 0; i < 8; i++)
		raw_close(silent[i]);
	WAIT_UNTIL(daemon_counter(c, "connections") == 1, 10);
	r = raw_connect_tcp(port);
	raw_hello(r, "alice-secret-token-0001");
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

static void test_tcp_without_hello_is_closed_at_the_hello_deadline(void **state)
{
	poold_proc *d;
	raw_conn *r;
	pool_client *c;

	h_write_file(tokens, "alice alice-secret-token-0001 admin\n", 0600);
	d = start_tcp("--hello-timeout", "1", "--idle-timeout", "3600");
	r = raw_connect_tcp(port);
	/* a byte now and then, never a line: that kept it open for
	 * --idle-timeout before */
	for (int i = 0; i < 1000 && !r->eof; i++) {
		if (raw_write(r, " ", 1) < 0 || !raw_silent(r, 0.1))
			break;
	}
	assert_true(raw_wait_eof(r, 10));
	raw_close(r);
	c = h_connect(d);
	assert_int_equal(daemon_counter(c, "hello_timeouts"), 1);
	/* an authenticated connection has no such deadline */
	r = raw_connect_tcp(port);
	raw_hello(r, "alice-secret-token-0001");
	assert_true(raw_silent(r, 2));
	json_decref(raw_req(r, "{\"op\":\"ping\"}"));
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

/* ---- item 4: what commands inherit ---------------------------------------- */

/* The pid of a child of parent running argv[0] == exe, or 0. */
static pid_t child_running(pid_t parent, const char *exe, const char *arg1)
{
	char path[300], buf[4096], want[512];
	int n = snprintf(want, sizeof want, "%s%c%s", exe, '\0', arg1) + 1;
	DIR *proc = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	/* Only the processes that exist: scanning every possible pid costs
	 * seconds on a loaded machine. */
	while (proc && !found && (e = readdir(proc))) {
		pid_t pid = (pid_t)atoi(e->d_name);
		FILE *f;
		size_t len;
		int ppid = -1;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
		if (!(f = fopen(path, "r")))
			continue;
		len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		if (!strrchr(buf, ')') || sscanf(strrchr(buf, ')'), ") %*c %d", &ppid) != 1 ||
		    ppid != parent)
			continue;
		snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
		if (!(f = fopen(path, "r")))
			continue;
		len = fread(buf, 1, sizeof buf, f);
		fclose(f);
		if (len >= (size_t)n && memcmp(buf, want, (size_t)n) == 0)
			found = pid;
	}
	if (proc)
		closedir(proc);
	return found;
}

static void test_commands_get_only_stdio_and_the_documented_environment(void **state)
{
	poold_proc *d;
	pool_client *c;
	raw_conn *r;
	pid_t pid = 0;
	char path[64], *env, fds[256] = "";
	DIR *dp;
	struct dirent *e;
	size_t len;

	setenv("POOLD_TEST_SECRET", "do-not-leak", 1);
	d = poold_start(NULL);
	unsetenv("POOLD_TEST_SECRET");
	c = h_connect(d);
	/* a client connected while the command starts, and the command
	 * itself looked at from outside (no shell adding its own) */
	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:{s:[s, s]}}", "pool", "p",
						"create", "cmd", "/bin/sleep", "117")));
	r = raw_connect(d->sock);
	raw_send(r, "{\"op\":\"lease\",\"pool\":\"p\",\"wait\":60}\n");
	WAIT_UNTIL((pid = child_running(d->pid, "/bin/sleep", "117")) > 0, 20);
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	assert_non_null(dp = opendir(path));
	while ((e = readdir(dp)))
		if (e->d_name[0] != '.' && strlen(fds) + strlen(e->d_name) + 2 < sizeof fds) {
			strcat(fds, e->d_name);
			strcat(fds, " ");
		}
	closedir(dp);
	assert_string_equal(fds, "0 1 2 ");
	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	env = h_slurp(path);
	assert_non_null(env);
	/* NUL-separated: PATH and POOL_* (the "env" object is test_jobs's) */
	for (char *v = env; *v; v += len + 1) {
		len = strlen(v);
		if (strncmp(v, "PATH=", 5) && strcmp(v, "POOL_NAME=p") && strncmp(v, "POOL_RESOURCE=p-", 16))
			fail_msg("the command's environment has %s", v);
	}
	free(env);
	kill(pid, SIGKILL);
	json_decref(raw_recv(r, 20));
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

static void test_helper_left_by_a_command_does_not_hold_a_closed_client(void **state)
{
	poold_proc *d = poold_start("--max-line", "400", NULL);
	pool_client *c = h_connect(d);
	raw_conn *victim = raw_connect(d->sock);
	char *pid;

	json_decref(raw_req(victim, "{\"op\":\"ping\"}")); /* accepted */
	command_pool(c, "p", h_script(d, "create.sh",
				    "sleep 120 </dev/null >/dev/null 2>&1 &\n"
				    "echo $! >\"$D/helper\"\n"
				    "echo '{}'\n"));
	json_decref(CALL_OK(c, "lease", J("{s:s, s:i}", "pool", "p", "wait", 30)));
	WAIT_UNTIL(h_exists(h_at(d, "helper")), 10);
	/* the daemon closes the victim (a line over --max-line): it sees EOF
	 * although the helper still runs */
	{
		char big[600];

		memset(big, '.', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		raw_send(victim, big);
	}
	assert_true(raw_wait_eof(victim, 10));
	pid = h_slurp(h_at(d, "helper"));
	assert_int_equal(kill(atoi(pid), 0), 0); /* it did still run */
	kill(atoi(pid), SIGKILL);
	free(pid);
	raw_close(victim);
	pool_close(c);
	poold_stop(d);
}

/* ---- item 5: out of descriptors ------------------------------------------- */

static void test_emfile_pauses_accepting_and_logs_once(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *held[64];
	char cmd[256], out[512];
	int n = 0;

	snprintf(cmd, sizeof cmd, "prlimit --pid %d --nofile=48:48 2>&1", (int)d->pid);
	if (h_run(cmd, out, sizeof out) != 0) {
		print_message("prlimit failed (%s): skipped\n", out);
		pool_close(c);
		poold_stop(d);
		skip();
	}
	/* more connections than descriptors: the kernel queues them */
	for (; n < 64; n++)
		held[n] = raw_connect(d->sock);
	WAIT_UNTIL(daemon_counter(c, "accept_paused") >= 1, 20);
	/* the loop is not spinning: the old connection is served */
	json_decref(CALL_OK(c, "ping", NULL));
	for (int i = 0; i < n; i++)
		raw_close(held[i]);
	/* accepting resumes by itself, and the episode was logged once */
	{
		raw_conn *r = NULL;

		WAIT_UNTIL(daemon_counter(c, "connections") == 1, 20);
		r = raw_connect(d->sock);
		json_decref(raw_req(r, "{\"op\":\"ping\"}"));
		raw_close(r);
	}
	assert_int_equal(log_count(d, "cannot accept connections"),
			 (int)daemon_counter(c, "accept_paused"));
	/* an episode, not every failed accept (that spun and logged 832,640
	 * lines in 2 s) */
	assert_true(daemon_counter(c, "accept_paused") < 20);
	pool_close(c);
	poold_stop(d);
}

/* ---- item 8: half-closed clients ------------------------------------------ */

static void test_half_closed_client_gets_its_waiting_lease(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *r = raw_connect(d->sock);
	json_t *l, *a;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	raw_send(r, "{\"id\":1,\"op\":\"ping\"}\n{\"id\":2,\"op\":\"lease\",\"pool\":\"p\",\"wait\":60}\n");
	assert_int_equal(shutdown(r->fd, SHUT_WR), 0);
	a = raw_recv(r, 10);
	assert_int_equal(JINT(a, "id"), 1);
	json_decref(a);
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 10);
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(l, "lease"))));
	a = raw_recv(r, 10);
	assert_int_equal(JINT(a, "id"), 2);
	assert_string_equal(JSTR(JOBJ(resp_result(a), "resource"), "name"), "r1");
	json_decref(a);
	/* then, all answered, the daemon closes it; the lease stays */
	assert_true(raw_wait_eof(r, 10));
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");
	json_decref(l);
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

/* ---- issue 14: logs, notification, TLS, root's database ------------------- */

static void test_log_format_json_writes_one_object_per_line(void **state)
{
	poold_proc *d = poold_start("--log-format", "json", "--log-level", "debug", NULL);
	pool_client *c = h_connect(d);
	char *log, *line, *save = NULL;
	int lines = 0;

	json_decref(CALL_OK(c, "ping", NULL));
	pool_close(c);
	log = h_slurp(d->log);
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_error_t err;
		json_t *o = json_loads(line, 0, &err);

		if (!o)
			fail_msg("log line is not JSON: %s", line);
		assert_true(json_is_string(json_object_get(o, "time")));
		assert_true(json_is_string(json_object_get(o, "level")));
		assert_true(json_is_string(json_object_get(o, "message")));
		json_decref(o);
		lines++;
	}
	assert_true(lines > 0);
	free(log);
	poold_stop(d);
}

/* A datagram socket bound at name (a path, or "@x" for an abstract one). */
static int notify_socket(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[256];
	struct timeval tv = { 10, 0 };
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	n = recv(fd, buf, sizeof buf - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_ready_and_stopping_are_notified(void **state)
{
	char path[320], abstract[64];
	const char *names[2];

	snprintf(path, sizeof path, "%s/notify", dir);
	snprintf(abstract, sizeof abstract, "@poold-test-%d", (int)getpid());
	names[0] = path;
	names[1] = abstract;
	for (int i = 0; i < 2; i++) {
		int fd = notify_socket(names[i]);
		poold_proc *d;

		setenv("NOTIFY_SOCKET", names[i], 1);
		d = poold_start(NULL);
		unsetenv("NOTIFY_SOCKET");
		expect_datagram(fd, "READY=1");
		poold_stop(d);
		expect_datagram(fd, "STOPPING=1");
		close(fd);
	}
	unlink(path);
}

static void make_cert(const char *cn, const char *cert, const char *key)
{
	char cmd[1024], out[2048];

	snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s "
		 "-out %s -days 1 -subj /CN=%s 2>&1", key, cert, cn);
	assert_int_equal(h_run(cmd, out, sizeof out), 0);
}

/* The subject the TLS listener presents now. */
static void served_subject(char *out, size_t len)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "timeout 10 openssl s_client -connect 127.0.0.1:%d "
		 "</dev/null 2>/dev/null | grep '^subject='", port);
	h_run(cmd, out, len);
}

static void test_sighup_reloads_the_tls_certificate(void **state)
{
	char cert[320], key[320], cmd[1024], out[2048];
	poold_proc *d;

	h_write_file(tokens, "alice alice-secret-token-0001 admin\n", 0600);
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	make_cert("first.example", cert, key);
	d = start_tcp("--tls-cert", cert, "--tls-key", key);
	served_subject(out, sizeof out);
	assert_non_null(strstr(out, "first.example"));
	make_cert("second.example", cert, key);
	kill(d->pid, SIGHUP);
	WAIT_UNTIL(log_count(d, "TLS certificate") >= 1, 10);
	served_subject(out, sizeof out);
	assert_non_null(strstr(out, "second.example"));
	/* a broken certificate keeps the one in use, and says why */
	snprintf(cmd, sizeof cmd, "echo broken >%s", cert);
	assert_int_equal(h_run(cmd, out, sizeof out), 0);
	kill(d->pid, SIGHUP);
	WAIT_UNTIL(log_count(d, "TLS certificate refused") == 1, 10);
	served_subject(out, sizeof out);
	assert_non_null(strstr(out, "second.example"));
	poold_stop(d);
}

static void test_root_without_db_uses_var_lib_poold(void **state)
{
	char cmd[2048], out[4096];

	h_require_root();
	/* in a mount namespace of its own, over an empty /var/lib */
	snprintf(cmd, sizeof cmd,
		 "cd %s && unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib || "
		 "{ echo NO-NAMESPACE; exit 0; }; "
		 "S=%s/r.sock; unset POOLD_DB; %s --socket $S 2>r.log & p=$!; i=0; "
		 "while [ ! -S $S ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; "
		 "ls /var/lib/poold; kill $p; wait $p; echo exit $?' 2>&1; ls", dir, dir,
		 POOLD_BIN);
	h_run(cmd, out, sizeof out);
	if (strstr(out, "NO-NAMESPACE") || strstr(out, "unshare:")) {
		print_message("no mount namespace here: skipped\n");
		skip();
	}
	assert_non_null(strstr(out, "poold.db\n"));
	assert_non_null(strstr(out, "exit 0"));
	/* and nothing in the directory it was started from */
	snprintf(cmd, sizeof cmd, "%s/poold.db", dir);
	assert_false(h_exists(cmd));
}

static int group_setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(tokens, sizeof tokens, "%s/tokens", dir);
	return 0;
}

static int group_teardown(void **state)
{
	return h_rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_nul_byte_after_a_number_is_bad_request),
		FTEST(test_denormal_ttl_is_bad_request_naming_the_bound),
		FTEST(test_overflowing_lease_list_cursor_is_bad_request),
		FTEST(test_token_named_like_a_unix_caller_is_refused),
		FTEST(test_token_file_owned_by_another_user_is_refused),
		FTEST(test_sighup_closes_sessions_of_revoked_tokens),
		FTEST(test_silent_tcp_connections_do_not_lock_out_the_unix_socket),
		FTEST(test_tcp_without_hello_is_closed_at_the_hello_deadline),
		FTEST(test_commands_get_only_stdio_and_the_documented_environment),
		FTEST(test_helper_left_by_a_command_does_not_hold_a_closed_client),
		FTEST(test_emfile_pauses_accepting_and_logs_once),
		FTEST(test_half_closed_client_gets_its_waiting_lease),
		FTEST(test_log_format_json_writes_one_object_per_line),
		FTEST(test_ready_and_stopping_are_notified),
		FTEST(test_sighup_reloads_the_tls_certificate),
		FTEST(test_root_without_db_uses_var_lib_poold),
	};

	harness_init();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
