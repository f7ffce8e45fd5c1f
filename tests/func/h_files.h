/*
 * h_files.h - files of the black-box tests: paths in the daemon's
 * directory, the sh scripts poold runs as commands, reading a file whole,
 * and running a shell command for its output.
 */
#ifndef FUNC_H_FILES_H
#define FUNC_H_FILES_H

#include "harness.h"

#include <sys/types.h>

/* DIR/name of the daemon, in one of 16 rotating buffers (enough for one
 * statement). */
const char *h_at(const poold_proc *d, const char *name);

/* Writes an executable sh script DIR/name that starts with D='DIR';
 * returns its path (see h_at()). */
const char *h_script(const poold_proc *d, const char *name, const char *body);

/* The whole file (malloc'd), or NULL when it does not exist. */
char *h_slurp(const char *path);
/* The same, failing the test when it does not exist. */
char *h_read_file(const char *path);
/* True once the file at path holds a whole line (a command's output is
 * complete); *text gets what it holds (malloc'd, replacing the old). */
bool h_line_in(const char *path, char **text);

/* Writes text to path (replacing it) with the given mode; fails the test
 * when it cannot. */
void h_write_file(const char *path, const char *text, mode_t mode);

/* rm -rf dir: 0, or -1 when that failed (a group teardown's answer). */
int h_rm_tree(const char *dir);

/* True when path exists. */
bool h_exists(const char *path);

/* Runs a shell command (popen); returns its exit status, its stdout
 * (at most outlen - 1 bytes) in out. */
int h_run(const char *cmd, char *out, size_t outlen);

#endif
