/*
 * schema.h - the migrations of schema/NNN_*.sql, compiled into the binary
 * by CMake (poold/embed_schema.cmake) so nothing is read at run time.
 */
#ifndef POOLD_SCHEMA_H
#define POOLD_SCHEMA_H

#include <stddef.h>

struct schema_migration {
	int version;        /* NNN of the file name */
	const char *sql;
};

extern const struct schema_migration schema_migrations[];
extern const size_t schema_migration_count;

/* schema/postgresql/NNN_*.sql, for store-pg.c. */
extern const struct schema_migration pg_schema_migrations[];
extern const size_t pg_schema_migration_count;

#endif
