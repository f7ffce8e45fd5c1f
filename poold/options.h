/*
 * options.h - the option table: one row per command-line option with its
 * type, default, bounds and help. It drives parsing, --help and defaults.
 */
#ifndef POOLD_OPTIONS_H
#define POOLD_OPTIONS_H

#include <stdio.h>

struct config;

/* The database as root when neither --db nor $POOLD_DB says otherwise. */
#define POOLD_DB_ROOT_DIR "/var/lib/poold"
#define POOLD_DB_ROOT POOLD_DB_ROOT_DIR "/poold.db"

/* Fills cfg from argv. Returns 0 to run, 1 if it printed help or the
 * version (exit 0), -1 after printing a usage error (exit 2). */
int options_parse(struct config *cfg, int argc, char **argv);
void options_usage(FILE *out);
/* Every option at its default (also for in-process tests). */
void options_defaults(struct config *cfg);
void options_free(struct config *cfg);

#endif
