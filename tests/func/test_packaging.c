/*
 * Black-box tests of the install: `cmake --install` into a private prefix
 * puts the binaries, man pages, documents, the systemd unit and the bash
 * completion where the docs say; the unit points at that prefix, runs
 * poold with its database in /var/lib/poold and socket in /run/poold, and
 * passes `systemd-analyze verify` (skipped only where that is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h_cli.h"

static char prefix[64];

/* The build directory, from where poolctl was built. */
static const char *build_dir(void)
{
	static char dir[sizeof(POOLCTL_BIN)];
	char *end;

	snprintf(dir, sizeof(dir), "%s", POOLCTL_BIN);
	end = strstr(dir, "/libpool/poolctl/poolctl");
	assert_non_null(end);
	*end = '\0';
	return dir;
}

static int setup(void **state)
{
	h_tmpdir(prefix, sizeof(prefix));
	H_SH_OK(NULL, "cmake --install '%s' --prefix '%s' >/dev/null", build_dir(), prefix);
	return 0;
}

static int teardown(void **state)
{
	h_rmdir(prefix);
	return 0;
}

static void test_layout(void **state)
{
	static const char *const files[] = {
		"bin/poolctl", "sbin/poold", "share/man/man1/poolctl.1", "share/man/man8/poold.8",
		"share/doc/poold/protocol.md", "share/doc/poold/poolctl.md",
		"lib/systemd/system/poold.service", "lib/sysusers.d/poold.conf",
		"share/bash-completion/completions/poolctl", "include/pool.h",
		"lib/pkgconfig/libpool.pc",
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[300];

		snprintf(path, sizeof(path), "%s/%s", prefix, files[i]);
		if (access(path, R_OK) != 0)
			fail_msg("cmake --install did not install %s", path);
	}
	/* The man pages point to the protocol where it is installed. */
	H_SH_OK(NULL, "grep -l 'share/doc/poold/protocol.md' '%s/share/man/man1/poolctl.1' "
		"'%s/share/man/man8/poold.8'", prefix, prefix);
}

static void test_unit_contents(void **state)
{
	H_SH_OK(NULL, "cat '%s/lib/systemd/system/poold.service'", prefix);
	H_HAS(h_out, "Type=notify");
	H_HAS(h_out, "StateDirectory=poold\n");
	H_HAS(h_out, "RuntimeDirectory=poold\n");
	H_HAS(h_out, "--db /var/lib/poold/poold.db");
	H_HAS(h_out, "--socket /run/poold/poold.sock");
	H_HAS(h_out, "ProtectSystem=strict");
	H_HAS(h_out, "NoNewPrivileges=yes");
	H_HAS(h_out, "PrivateTmp=yes");
	/* The unit runs the poold of this prefix. */
	{
		char exec[200];

		snprintf(exec, sizeof(exec), "ExecStart=%s/sbin/poold ", prefix);
		H_HAS(h_out, exec);
	}
}

static void test_unit_verifies(void **state)
{
	if (h_sh(NULL, "command -v systemd-analyze") != 0)
		skip();
	/* --man=no: the pages are in the private prefix, not where man looks. */
	H_SH_OK(NULL, "systemd-analyze verify --man=no '%s/lib/systemd/system/poold.service' 2>&1",
		prefix);
	/* Unknown or misspelled settings are only warnings: none may appear. */
	if (strstr(h_out, "poold.service"))
		fail_msg("systemd-analyze verify complains:\n%s", h_out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_layout),
		FTEST(test_unit_contents),
		FTEST(test_unit_verifies),
	};

	harness_init();
	return cmocka_run_group_tests(tests, setup, teardown);
}
