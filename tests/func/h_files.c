/* h_files.c - see h_files.h. */
#include "h_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *h_at(const poold_proc *d, const char *name)
{
	static char ring[16][512];
	static unsigned next;
	char *buf = ring[next++ % 16];

	snprintf(buf, sizeof(ring[0]), "%s/%s", d->dir, name);
	return buf;
}

const char *h_script(const poold_proc *d, const char *name, const char *body)
{
	const char *path = h_at(d, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nD='%s'\n%s", d->dir, body);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

char *h_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		assert_true(feof(f));
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	assert_non_null(buf);
	return buf;
}

bool h_line_in(const char *path, char **text)
{
	char *now = h_slurp(path);

	if (!now)
		return false;
	free(*text);
	*text = now;
	return strchr(now, '\n') != NULL;
}

char *h_read_file(const char *path)
{
	char *text = h_slurp(path);

	if (!text)
		fail_msg("cannot read %s", path);
	return text;
}

void h_write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fail_msg("cannot write %s", path);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

int h_rm_tree(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

bool h_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

int h_run(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	size_t n;

	assert_non_null(p);
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}
