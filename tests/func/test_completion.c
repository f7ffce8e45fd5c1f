/*
 * Black-box tests of poolctl's bash completion (dist/poolctl.bash): bash
 * sources it, sets COMP_WORDS and COMP_CWORD as readline would, calls the
 * function and prints COMPREPLY; commands, options and option values come
 * from poolctl itself, pool names, resource names and lease ids from the
 * running poold that the line's --socket (or $POOLD_SOCKET) names.
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

/* The source tree, from the test data directory beside it. */
static const char *completion_script(void)
{
	static char path[sizeof(POOL_TESTDATA_DIR) + 64];
	char *end;

	snprintf(path, sizeof(path), "%s", POOL_TESTDATA_DIR);
	end = strstr(path, "/../shared/testdata");
	assert_non_null(end);
	snprintf(end, sizeof(path) - (size_t)(end - path), "/dist/poolctl.bash");
	return path;
}

/* COMPREPLY, sorted and space-separated, for the words of a poolctl command
 * line whose last word is being completed (words are shell words). */
static const char *complete(poold_proc *d, const char *words)
{
	H_SH_OK(d, "exec bash --norc -c '. %s; COMP_WORDS=(poolctl %s); "
		"COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _poolctl; "
		"printf \"%%s\\n\" \"${COMPREPLY[@]}\" | sort | tr \"\\n\" \" \"'",
		completion_script(), words);
	return h_out;
}

#define COMPLETES(d, words, want)                                                     \
	do {                                                                          \
		const char *got_ = complete(d, words);                                \
		if (strcmp(got_, want) != 0)                                          \
			fail_msg("poolctl %s<TAB>: got \"%s\", want \"%s\"", words,   \
				 got_, want);                                         \
	} while (0)

static poold_proc *start_with_pools(pool_client **c)
{
	poold_proc *d = poold_start(NULL);

	*c = h_connect(d);
	h_pool(*c, "spark", NULL);
	h_pool(*c, "sql", NULL);
	h_add(*c, "spark", "c1", "c2", NULL);
	return d;
}

static void test_commands_and_options(void **state)
{
	pool_client *c;
	poold_proc *d = start_with_pools(&c);

	COMPLETES(d, "po", "pool ");
	COMPLETES(d, "pool \"\"", "create delete drain get list set ");
	COMPLETES(d, "resource r", "remove ");
	COMPLETES(d, "lease spark --w", "--wait ");
	COMPLETES(d, "--ti", "--timeout ");
	COMPLETES(d, "pool create x --on-expire \"\"", "discard return ");
	COMPLETES(d, "lease spark --bind c", "connection ");
	/* No candidates for a value nobody can guess. */
	COMPLETES(d, "lease spark --owner \"\"", " ");
	pool_close(c);
	poold_stop(d);
}

static void test_names_from_the_daemon(void **state)
{
	pool_client *c;
	poold_proc *d = start_with_pools(&c);
	char want[80];

	COMPLETES(d, "lease s", "spark sql ");
	COMPLETES(d, "status \"\"", "spark sql ");
	COMPLETES(d, "resource get spark \"\"", "c1 c2 ");
	COMPLETES(d, "return --pool spark --resource \"\"", "c1 c2 ");
	COMPLETES(d, "checkout spark --name c", "c1 c2 ");
	/* The caller's live leases. */
	COMPLETES(d, "return \"\"", " ");
	H_SH_OK(d, "poolctl lease spark -q");
	snprintf(want, sizeof(want), "%.32s ", h_out);
	COMPLETES(d, "return \"\"", want);
	COMPLETES(d, "lease get \"\"", want);
	/* The daemon the line names, not $POOLD_SOCKET's. */
	H_SH_OK(d, "mkdir %s/other", d->dir);
	{
		char words[400];

		snprintf(words, sizeof(words), "--socket %s/other/none.sock lease \"\"", d->dir);
		COMPLETES(d, words, "get list ");
	}
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_commands_and_options),
		FTEST(test_names_from_the_daemon),
	};

	return RUN_FTESTS(tests);
}
