/*
 * Black-box tests of poolctl over TLS (poold --listen --tls-cert/--tls-key)
 * with a CA and a server certificate the test makes: --tls-ca verifies and
 * leases work; the system's CAs do not know the test CA, a name the
 * certificate does not list, and plain TCP against TLS each fail with a
 * message that says what is wrong; --tls-insecure works but warns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h_cli.h"

static char dir[64];
static int port;

static int setup(void **state)
{
	h_tmpdir(dir, sizeof(dir));
	h_make_certs(dir);
	h_make_tokens(dir);
	return 0;
}

static int teardown(void **state)
{
	h_rmdir(dir);
	return 0;
}

/* poolctl over TLS to the test daemon, with more options and a command. */
#define TLS_SH(rc, d, opts, ...)                                                       \
	H_SH_RC(rc, d, "POOLD_TOKEN=" H_ALICE_TOKEN " poolctl --tcp 127.0.0.1:%d " opts \
		" " __VA_ARGS__)

static void test_verified(void **state)
{
	poold_proc *d = h_start_tcp(dir, true, &port);

	TLS_SH(0, d, "--tls-ca %s/ca.pem", "hello", port, dir);
	H_HAS(h_out, "you are alice (admin)");
	/* --tls with $SSL_CERT_FILE is the system store pointed at the test CA. */
	H_SH_OK(d, "SSL_CERT_FILE=%s/ca.pem POOLD_TOKEN=%s poolctl --tcp 127.0.0.1:%d --tls "
		"pool create t --create none --max-size 1 >/dev/null && "
		"SSL_CERT_FILE=%s/ca.pem POOLD_TOKEN=%s poolctl --tcp 127.0.0.1:%d --tls "
		"resource add t r1 >/dev/null && "
		"SSL_CERT_FILE=%s/ca.pem POOLD_TOKEN=%s poolctl --tcp 127.0.0.1:%d --tls "
		"run t -- sh -c 'echo held $POOL_RESOURCE'", dir, H_ALICE_TOKEN, port, dir,
		H_ALICE_TOKEN, port, dir, H_ALICE_TOKEN, port);
	H_HAS(h_out, "held r1");
	poold_stop(d);
}

static void test_unverified_certificate(void **state)
{
	poold_proc *d = h_start_tcp(dir, true, &port);

	/* The system's CAs do not include the test's CA. */
	TLS_SH(7, d, "--tls", "ping", port);
	H_HAS(h_err, "TLS certificate verification failed");
	H_HAS(h_err, "--tls-ca");
	/* A CA that did not sign it: the server's own certificate is no CA. */
	TLS_SH(7, d, "--tls-ca %s/cert.pem", "ping", port, dir);
	H_HAS(h_err, "TLS certificate verification failed");
	/* A CA file that cannot be read. */
	TLS_SH(7, d, "--tls-ca %s/nonexistent.pem", "ping", port, dir);
	H_HAS(h_err, "cannot load the CA certificates from");
	H_HAS(h_err, "nonexistent.pem");
	poold_stop(d);
}

static void test_wrong_host_name(void **state)
{
	poold_proc *d = h_start_tcp(dir, true, &port);

	/* The certificate lists poold.test and 127.0.0.1, not localhost. */
	H_SH_RC(7, d, "POOLD_TOKEN=%s poolctl --tcp localhost:%d --tls-ca %s/ca.pem ping",
		H_ALICE_TOKEN, port, dir);
	H_HAS(h_err, "TLS certificate verification failed");
	H_HAS(h_err, "not for \"localhost\"");
	poold_stop(d);
}

static void test_plain_tcp_to_tls_says_tls(void **state)
{
	poold_proc *d = h_start_tcp(dir, true, &port);

	TLS_SH(7, d, "", "ping", port);
	H_HAS(h_err, "--tls");
	poold_stop(d);
}

static void test_insecure_warns(void **state)
{
	poold_proc *d = h_start_tcp(dir, true, &port);

	TLS_SH(0, d, "--tls-insecure", "ping", port);
	H_HAS(h_out, "poold ");
	H_HAS(h_err, "WARNING");
	H_HAS(h_err, "NOT verified");
	poold_stop(d);
}

static void test_tls_needs_tcp(void **state)
{
	poold_proc *d = poold_start(NULL);

	H_SH_RC(2, d, "poolctl --tls ping");
	H_HAS(h_err, "--tcp");
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_verified),
		FTEST(test_unverified_certificate),
		FTEST(test_wrong_host_name),
		FTEST(test_plain_tcp_to_tls_says_tls),
		FTEST(test_insecure_warns),
		FTEST(test_tls_needs_tcp),
	};

	harness_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
