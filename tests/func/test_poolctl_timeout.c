/*
 * Black-box tests of poolctl --timeout and $POOLCTL_TIMEOUT against a daemon
 * that stopped answering (SIGSTOP): every command gives up with exit 8 and
 * says what timed out, over the Unix socket and over TCP; a lease --wait or
 * run --wait longer than the timeout still gets the whole wait it asked for.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "h_cli.h"

/* The daemon a test stopped; teardown resumes it, so that a failed test
 * never leaves it frozen. */
static pid_t stopped;
static char tmpdir[64];

static void freeze(poold_proc *d)
{
	stopped = d->pid;
	assert_int_equal(kill(d->pid, SIGSTOP), 0);
}

static void thaw(void)
{
	if (stopped > 0)
		kill(stopped, SIGCONT);
	stopped = 0;
}

static int teardown(void **state)
{
	thaw();
	if (tmpdir[0])
		h_rmdir(tmpdir);
	tmpdir[0] = '\0';
	return harness_teardown(state);
}

static poold_proc *start_with_pool(const char *settings)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);

	h_pool(c, "p", settings);
	h_add(c, "p", "r1", NULL);
	pool_close(c);
	return d;
}

static void test_stopped_daemon_times_out(void **state)
{
	poold_proc *d = start_with_pool(NULL);

	freeze(d);
	H_SH_RC(8, d, "poolctl --timeout 1s ping");
	H_HAS(h_err, "timed out");
	H_HAS(h_err, "no answer from poold at");
	H_HAS(h_err, "1 s timeout");
	/* After the command's name, and as a combined duration. */
	H_SH_RC(8, d, "poolctl status --timeout 0m1.5s");
	H_HAS(h_err, "1.5 s timeout");
	/* From the environment, for every command. */
	H_SH_RC(8, d, "POOLCTL_TIMEOUT=500ms poolctl pool list");
	H_HAS(h_err, "0.5 s timeout");
	H_SH_RC(8, d, "POOLCTL_TIMEOUT=1 poolctl lease p");
	/* --timeout wins over the environment. */
	H_SH_RC(8, d, "POOLCTL_TIMEOUT=1h poolctl --timeout 1 lease list");
	thaw();
	/* Once it answers again, the same commands work. */
	H_SH_OK(d, "POOLCTL_TIMEOUT=30s poolctl ping");
	H_HAS(h_out, "poold ");
	poold_stop(d);
}

static void test_bad_timeout_is_usage(void **state)
{
	poold_proc *d = start_with_pool(NULL);

	H_SH_RC(2, d, "poolctl --timeout 5min ping");
	H_HAS(h_err, "--timeout: '5min' is not a duration");
	H_SH_RC(2, d, "POOLCTL_TIMEOUT=soon poolctl ping");
	H_HAS(h_err, "$POOLCTL_TIMEOUT: 'soon' is not a duration");
	poold_stop(d);
}

/* The wait the user asked for is not cut short by --timeout: the daemon's
 * own answer (timeout: nothing came free, exit 3) arrives, not exit 8. */
static void test_wait_is_not_bounded_by_timeout(void **state)
{
	poold_proc *d = start_with_pool(NULL);
	char id[64];

	H_SH_OK(d, "poolctl --timeout 30s lease p -q");
	snprintf(id, sizeof(id), "%.*s", (int)strcspn(h_out, "\n"), h_out);
	H_SH_RC(3, d, "poolctl --timeout 0.5s lease p --wait 2s");
	H_HAS(h_err, "(timeout)");
	H_HASNT(h_err, "timed out:");
	H_SH_RC(3, d, "poolctl --timeout 0.5s run p --wait 2s -- true");
	H_HASNT(h_err, "timed out:");
	/* A return while a --wait is pending hands the resource over. */
	H_SH_OK(d, "(sleep 0.5; poolctl return %s) & poolctl --timeout 0.5s run p "
		"--wait 60s -- sh -c 'echo got $POOL_RESOURCE'; wait", id);
	H_HAS(h_out, "got r1");
	/* run keeps working with a timeout: it renews and returns. */
	H_SH_OK(d, "poolctl --timeout 5s run p --ttl 3s -- sh -c 'sleep 2; echo held'");
	H_HAS(h_out, "held");
	H_SH_OK(d, "poolctl lease list --json");
	H_HAS(h_out, "\"leases\": []");
	poold_stop(d);
}

/* Over TCP the connection is accepted by the kernel, and the hello goes
 * unanswered: also exit 8. */
static void test_tcp_hello_times_out(void **state)
{
	poold_proc *d;
	int port;

	h_tmpdir(tmpdir, sizeof(tmpdir));
	h_make_tokens(tmpdir);
	d = h_start_tcp(tmpdir, false, &port);
	freeze(d);
	H_SH_RC(8, d, "POOLD_TOKEN=%s poolctl --tcp 127.0.0.1:%d --timeout 1s ping",
		H_ALICE_TOKEN, port);
	H_HAS(h_err, "timed out");
	H_HAS(h_err, "127.0.0.1");
	thaw();
	H_SH_OK(d, "POOLD_TOKEN=%s poolctl --tcp 127.0.0.1:%d --timeout 30s ping", H_ALICE_TOKEN,
		port);
	poold_stop(d);
	h_rmdir(tmpdir);
	tmpdir[0] = '\0';
}

/* A listener whose accept queue is full drops new SYNs, so connect()
 * never finishes: --timeout bounds it too. The queue of listen(fd, 0)
 * holds one connection; a few more fill it for sure. */
static void test_connect_times_out(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	H_SH_RC(8, NULL, "POOLD_TOKEN=x poolctl --tcp 127.0.0.1:%d --timeout 1s ping",
		ntohs(sa.sin_port));
	H_HAS(h_err, "did not accept the connection within 1 s");
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
}

/* The same on a Unix socket, whose full backlog answers EAGAIN. */
static void test_unix_connect_times_out(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0), fill[4];

	h_tmpdir(tmpdir, sizeof(tmpdir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/full.sock", tmpdir);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	H_SH_RC(8, NULL, "poolctl --socket %s --timeout 1s ping", sa.sun_path);
	H_HAS(h_err, "did not accept the connection within 1 s");
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_stopped_daemon_times_out, teardown),
		cmocka_unit_test_teardown(test_bad_timeout_is_usage, teardown),
		cmocka_unit_test_teardown(test_wait_is_not_bounded_by_timeout, teardown),
		cmocka_unit_test_teardown(test_tcp_hello_times_out, teardown),
		cmocka_unit_test_teardown(test_connect_times_out, teardown),
		cmocka_unit_test_teardown(test_unix_connect_times_out, teardown),
	};

	return RUN_FTESTS(tests);
}
