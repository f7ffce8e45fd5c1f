/*
 * h_pgstore.h - the tests' PostgreSQL mode. When POOL_TEST_STORE holds a
 * libpq URI (scripts/pg-test.sh sets it to a private server), every daemon a
 * test starts keeps its state in PostgreSQL instead of SQLite: one schema
 * per test directory (made fresh, dropped at the end), reached through the
 * URI with search_path set to it. psql does the administration, so that the
 * tests need no libpq of their own. Header-only, for the unit fixture and
 * the black-box harness alike.
 */
#ifndef TESTS_H_PGSTORE_H
#define TESTS_H_PGSTORE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when the tests run against PostgreSQL. */
static inline bool h_pg_mode(void)
{
	const char *s = getenv("POOL_TEST_STORE");

	return s && *s;
}

/* The schema of a test directory: "t_" and the hex of its last component
 * (mkdtemp's letters differ in case, which PostgreSQL's names fold). */
static inline void h_pg_schema(const char *dir, char *out, size_t len)
{
	const char *base = strrchr(dir, '/');
	size_t used = (size_t)snprintf(out, len, "t_");

	for (base = base ? base + 1 : dir; *base && used + 3 < len; base++)
		used += (size_t)snprintf(out + used, len - used, "%02x",
					 (unsigned char)*base);
}

/* The --store URL of a test directory's daemon (its connections are named
 * after the schema, so that a test can find its own in pg_stat_activity). */
static inline void h_pg_url(const char *dir, char *out, size_t len)
{
	const char *base = getenv("POOL_TEST_STORE");
	char schema[80];

	h_pg_schema(dir, schema, sizeof schema);
	snprintf(out, len, "%s%soptions=-csearch_path%%3D%s&application_name="
		 "%s", base, strchr(base, '?') ? "&" : "?", schema, schema);
}

/* Runs one SQL command with psql on the directory's schema (dir NULL: on
 * the server's database). The first line of its output goes to out (may be
 * NULL). Returns psql's exit status (0 = done). */
static inline int h_pg_sql(const char *dir, const char *sql, char *out,
			   size_t outlen)
{
	char url[1024], cmd[4096];
	FILE *p;
	int rc;

	if (dir)
		h_pg_url(dir, url, sizeof url);
	else
		snprintf(url, sizeof url, "%s", getenv("POOL_TEST_STORE"));
	snprintf(cmd, sizeof cmd, "psql -XAtq -v ON_ERROR_STOP=1 '%s' -c "
		 "'SET client_min_messages = warning' -c \"%s\"", url, sql);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (out) {
		out[0] = '\0';
		if (fgets(out, (int)outlen, p))
			out[strcspn(out, "\n")] = '\0';
	}
	while (fgetc(p) != EOF)
		;
	rc = pclose(p);
	return rc;
}

/* A fresh, empty schema for the directory (dropped first if it exists). */
static inline int h_pg_create(const char *dir)
{
	char schema[80], sql[256];

	h_pg_schema(dir, schema, sizeof schema);
	snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE "
		 "SCHEMA %s", schema, schema);
	return h_pg_sql(NULL, sql, NULL, 0);
}

static inline int h_pg_drop(const char *dir)
{
	char schema[80], sql[256];

	h_pg_schema(dir, schema, sizeof schema);
	snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
	return h_pg_sql(NULL, sql, NULL, 0);
}

#endif
