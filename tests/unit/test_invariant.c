/*
 * test_invariant.c - the one-lease invariant is checked in every build:
 * moving a resource to leased with no lease holding it stops the process
 * with SIGABRT and an "Assertion failed: invariant" error line, also when
 * the daemon is compiled with -DNDEBUG (the default RelWithDebInfo and the
 * Release build), where assert() checked nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool.h"
#include "poold.h"
#include "util.h"

/* Runs fn in a child with stderr on a pipe; its wait status, and what it
 * wrote in out. */
static int in_child(void (*fn)(void), char *out, size_t outlen)
{
	int fds[2], status;
	size_t n = 0;
	ssize_t k;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGABRT, SIG_DFL);
		dup2(fds[1], 2);
		close(fds[0]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (n + 1 < outlen && (k = read(fds[0], out + n, outlen - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void lease_a_resource_without_a_lease(void)
{
	struct poold pd;
	struct pool_settings s;
	struct pool *p;
	struct resource *r;

	memset(&pd, 0, sizeof pd);
	hmap_init(&pd.pools);
	pool_settings_init(&s);
	p = pool_attach(&pd, "p", &s, false, false, 0);
	r = resource_attach(p, "r", xstrdup("{}"), RS_FREE, 1, 0, 0, 0);
	resource_change(r, RS_LEASED, NULL); /* no r->lease: a violation */
}

static void test_one_lease_invariant_is_checked_in_every_build(void **state)
{
	char out[4096];
	int status = in_child(lease_a_resource_without_a_lease, out, sizeof out);

	(void)state;
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(out, "Assertion failed: invariant"));
	assert_non_null(strstr(out, "r->lease"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_lease_invariant_is_checked_in_every_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
