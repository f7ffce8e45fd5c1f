/*
 * Black-box tests of TCP: --listen with tokens (hello first, forbidden and
 * closed otherwise; the caller is the token's name; admin tokens), the
 * token file's mode, loopback-only without --listen-public, and TLS with a
 * real TLS client (openssl s_client).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "h_net.h"
#include "h_files.h"

static char dir[] = "/tmp/poold-tcp-XXXXXX";
static char tokens[300], listen_arg[64];
static int port;

static poold_proc *start_tcp(const char *extra1, const char *extra2)
{
	port = h_free_port();
	snprintf(listen_arg, sizeof listen_arg, "127.0.0.1:%d", port);
	return poold_start("--listen", listen_arg, "--tokens", tokens, extra1,
			   extra2, NULL);
}

static void test_hello_first(void **state)
{
	poold_proc *d = start_tcp(NULL, NULL);
	raw_conn *r;
	json_t *a;

	/* Anything but hello first: forbidden, and closed (the rest of the
	 * pipelined lines is not answered). */
	r = raw_connect_tcp(port);
	raw_send(r, "{\"op\":\"ping\"}\n{\"op\":\"ping\"}\n");
	a = raw_recv(r, 5);
	resp_expect_err(a, "forbidden");
	json_decref(a);
	assert_true(raw_wait_eof(r, 5));
	raw_close(r);
	/* Not even a malformed line is let through. */
	r = raw_connect_tcp(port);
	raw_send(r, "nonsense\n");
	a = raw_recv(r, 5);
	resp_expect_err(a, "bad_request");
	json_decref(a);
	assert_true(raw_wait_eof(r, 5));
	raw_close(r);
	/* A wrong token, or none. */
	r = raw_connect_tcp(port);
	a = raw_req(r, "{\"op\":\"hello\",\"token\":\"wrong-wrong-wrong-wrong\"}");
	resp_expect_err(a, "forbidden");
	json_decref(a);
	assert_true(raw_wait_eof(r, 5));
	raw_close(r);
	r = raw_connect_tcp(port);
	a = raw_req(r, "{\"op\":\"hello\"}");
	resp_expect_err(a, "forbidden");
	json_decref(a);
	raw_close(r);
	poold_stop(d);
}

static void test_callers_by_token(void **state)
{
	poold_proc *d = start_tcp(NULL, NULL);
	raw_conn *alice = raw_connect_tcp(port), *bob = raw_connect_tcp(port);
	char line[200];
	json_t *a, *res;

	a = raw_req(alice, "{\"op\":\"hello\",\"token\":\"alice-secret-token-0001\"}");
	res = resp_result(a);
	assert_string_equal(JSTR(res, "caller"), "alice");
	assert_true(json_is_true(json_object_get(res, "admin")));
	json_decref(a);
	a = raw_req(bob, "{\"op\":\"hello\",\"token\":\"bob-secret-token-000002\"}");
	assert_string_equal(JSTR(resp_result(a), "caller"), "bob");
	assert_true(json_is_false(json_object_get(resp_result(a), "admin")));
	json_decref(a);
	/* bob is no admin; alice is. */
	a = raw_req(bob, "{\"op\":\"pool.create\",\"pool\":\"p\"}");
	resp_expect_err(a, "forbidden");
	json_decref(a);
	json_decref(raw_req(alice, "{\"op\":\"pool.create\",\"pool\":\"p\"}"));
	/* bob's lease is bob's: its owner is his name, alice (admin) may
	 * return it, and he may not return alice's. */
	a = raw_req(bob, "{\"op\":\"lease\",\"pool\":\"p\"}");
	res = resp_result(a);
	assert_string_equal(JSTR(res, "owner"), "bob");
	snprintf(line, sizeof line, "{\"op\":\"return\",\"lease\":\"%s\"}",
		 JSTR(res, "lease"));
	json_decref(a);
	a = raw_req(alice, "{\"op\":\"lease\",\"pool\":\"p\"}");
	res = resp_result(a);
	{
		char other[200];
		json_t *b;

		snprintf(other, sizeof other, "{\"op\":\"return\",\"lease\":\"%s\"}",
			 JSTR(res, "lease"));
		b = raw_req(bob, other);
		resp_expect_err(b, "forbidden");
		json_decref(b);
	}
	json_decref(a);
	a = raw_req(alice, line);
	assert_true(json_is_true(json_object_get(a, "ok")));
	json_decref(a);
	raw_close(alice);
	raw_close(bob);
	poold_stop(d);
}

static void test_refusals_at_start(void **state)
{
	char cmd[2048], out[2048], loose[320];

	/* A token file others can read is refused. */
	snprintf(loose, sizeof loose, "%s/loose", dir);
	snprintf(cmd, sizeof cmd, "cp %s %s && chmod 644 %s && %s --socket "
		 "%s/a.sock --db %s/a.db --listen 127.0.0.1:1 --tokens %s 2>&1",
		 tokens, loose, loose, POOLD_BIN, dir, dir, loose);
	assert_int_equal(h_run(cmd, out, sizeof out), 1);
	assert_non_null(strstr(out, "chmod 600"));
	/* Not loopback without --listen-public. */
	snprintf(cmd, sizeof cmd, "%s --socket %s/a.sock --db %s/a.db --listen "
		 "0.0.0.0:1 --tokens %s 2>&1", POOLD_BIN, dir, dir, tokens);
	assert_int_equal(h_run(cmd, out, sizeof out), 1);
	assert_non_null(strstr(out, "--listen-public"));
	/* --listen without tokens. */
	snprintf(cmd, sizeof cmd, "%s --listen 127.0.0.1:1 2>&1", POOLD_BIN);
	assert_int_equal(h_run(cmd, out, sizeof out), 2);
	assert_non_null(strstr(out, "--tokens"));
}

static void test_tls(void **state)
{
	char cmd[2048], out[4096], cert[320], key[320];
	poold_proc *d;

	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey rsa:2048 -nodes "
		 "-keyout %s -out %s -days 1 -subj /CN=localhost 2>&1", key,
		 cert);
	assert_int_equal(h_run(cmd, out, sizeof out), 0);
	port = h_free_port();
	snprintf(listen_arg, sizeof listen_arg, "127.0.0.1:%d", port);
	d = poold_start("--listen", listen_arg, "--tokens", tokens, "--tls-cert",
			cert, "--tls-key", key, NULL);
	snprintf(cmd, sizeof cmd, "printf '%%s\\n%%s\\n' "
		 "'{\"op\":\"hello\",\"token\":\"alice-secret-token-0001\"}' "
		 "'{\"id\":2,\"op\":\"status\"}' | timeout 10 openssl s_client "
		 "-quiet -connect 127.0.0.1:%d 2>/dev/null", port);
	h_run(cmd, out, sizeof out);
	assert_non_null(strstr(out, "\"caller\":\"alice\""));
	assert_non_null(strstr(out, "\"id\":2,\"ok\":true"));
	poold_stop(d);
}

/* poolctl over TCP: --tcp with --token-file or $POOLD_TOKEN; a wrong token
 * is forbidden (exit 5); a whole lease / run / return works. */
static void test_poolctl_tcp(void **state)
{
	poold_proc *d = start_tcp(NULL, NULL);
	char cmd[2048], out[4096], tok[320];
	FILE *f;

	snprintf(tok, sizeof tok, "%s/alice.token", dir);
	f = fopen(tok, "w");
	assert_non_null(f);
	fputs("alice-secret-token-0001\n", f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "%s --tcp 127.0.0.1:%d --token-file %s pool create "
		 "t --max-size 2 >/dev/null && %s --tcp 127.0.0.1:%d --token-file %s "
		 "run t -- sh -c 'echo held $POOL_RESOURCE' && %s --tcp 127.0.0.1:%d "
		 "--token-file %s hello --json", POOLCTL_BIN, port, tok, POOLCTL_BIN, port,
		 tok, POOLCTL_BIN, port, tok);
	assert_int_equal(h_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "held t-"));
	assert_non_null(strstr(out, "\"caller\": \"alice\""));
	/* $POOLD_TOKEN, a non-admin: leases work, admin ops are forbidden. */
	snprintf(cmd, sizeof cmd, "export POOLD_TOKEN=bob-secret-token-000002; "
		 "L=$(%s --tcp 127.0.0.1:%d lease t -q) && %s --tcp 127.0.0.1:%d "
		 "return \"$L\" && %s --tcp 127.0.0.1:%d pool delete t --force "
		 "2>&1; echo \"exit $?\"", POOLCTL_BIN, port, POOLCTL_BIN, port,
		 POOLCTL_BIN, port);
	h_run(cmd, out, sizeof out);
	assert_non_null(strstr(out, "exit 5"));
	/* A wrong token: forbidden, exit 5; nothing listening: exit 7. */
	snprintf(cmd, sizeof cmd, "POOLD_TOKEN=nope-nope-nope-nope %s --tcp "
		 "127.0.0.1:%d status >/dev/null 2>&1; echo \"exit $?\"; %s --tcp "
		 "127.0.0.1:1 --token-file %s status >/dev/null 2>&1; echo \"exit $?\"",
		 POOLCTL_BIN, port, POOLCTL_BIN, tok);
	h_run(cmd, out, sizeof out);
	assert_non_null(strstr(out, "exit 5\nexit 7"));
	poold_stop(d);
}

static int group_setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(tokens, sizeof tokens, "%s/tokens", dir);
	h_write_file(tokens, "# NAME TOKEN [admin]\nalice alice-secret-token-0001 admin\n"
		     "bob bob-secret-token-000002\n", 0600);
	return 0;
}

static int group_teardown(void **state)
{
	return h_rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_hello_first),
		FTEST(test_callers_by_token),
		FTEST(test_refusals_at_start),
		FTEST(test_tls),
		FTEST(test_poolctl_tcp),
	};

	harness_init();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
