/*
 * h_sqlite.h - read-only look into a stopped daemon's database for the
 * black-box tests (integrity_check, counting rows). libsqlite3 is opened with
 * dlopen() so that the func tests need no extra link line; header-only, one
 * copy per test file that includes it.
 */
#ifndef FUNC_H_SQLITE_H
#define FUNC_H_SQLITE_H

#include <dlfcn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

struct h_sqlite {
	void *lib;
	sqlite3 *db;
	__typeof__(&sqlite3_open_v2) open_v2;
	__typeof__(&sqlite3_close) close;
	__typeof__(&sqlite3_prepare_v2) prepare;
	__typeof__(&sqlite3_step) step;
	__typeof__(&sqlite3_column_text) column_text;
	__typeof__(&sqlite3_column_count) column_count;
	__typeof__(&sqlite3_finalize) finalize;
	__typeof__(&sqlite3_errmsg) errmsg;
};

/* Opens path read-only; 0, or -1 with a message in err. */
static inline int h_sqlite_open(struct h_sqlite *s, const char *path, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	s->lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!s->lib) {
		snprintf(err, errlen, "dlopen libsqlite3.so.0: %s", dlerror());
		return -1;
	}
#define H_SQLITE_SYM(field, name)                                                  \
	do {                                                                       \
		*(void **)(&s->field) = dlsym(s->lib, name);                       \
		if (!s->field) {                                                   \
			snprintf(err, errlen, "dlsym %s: %s", name, dlerror());    \
			return -1;                                                 \
		}                                                                  \
	} while (0)
	H_SQLITE_SYM(open_v2, "sqlite3_open_v2");
	H_SQLITE_SYM(close, "sqlite3_close");
	H_SQLITE_SYM(prepare, "sqlite3_prepare_v2");
	H_SQLITE_SYM(step, "sqlite3_step");
	H_SQLITE_SYM(column_text, "sqlite3_column_text");
	H_SQLITE_SYM(column_count, "sqlite3_column_count");
	H_SQLITE_SYM(finalize, "sqlite3_finalize");
	H_SQLITE_SYM(errmsg, "sqlite3_errmsg");
#undef H_SQLITE_SYM
	if (s->open_v2(path, &s->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "open %s: %s", path,
			 s->db ? s->errmsg(s->db) : "out of memory");
		return -1;
	}
	return 0;
}

static inline void h_sqlite_close(struct h_sqlite *s)
{
	if (s->db)
		s->close(s->db);
	if (s->lib)
		dlclose(s->lib);
	memset(s, 0, sizeof *s);
}

/* Runs sql and calls row(arg, ncols, values) for each row (values are NULL
 * for SQL NULL). Returns the number of rows, or -1 with a message in err. */
static inline long h_sqlite_query(struct h_sqlite *s, const char *sql,
				  void (*row)(void *arg, int n, const char **v), void *arg,
				  char *err, size_t errlen)
{
	sqlite3_stmt *st;
	long rows = 0;
	int rc;

	if (s->prepare(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", sql, s->errmsg(s->db));
		return -1;
	}
	while ((rc = s->step(st)) == SQLITE_ROW) {
		const char *v[16];
		int n = s->column_count(st);

		if (n > 16)
			n = 16;
		for (int i = 0; i < n; i++)
			v[i] = (const char *)s->column_text(st, i);
		if (row)
			row(arg, n, v);
		rows++;
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", sql, s->errmsg(s->db));
		rows = -1;
	}
	s->finalize(st);
	return rows;
}

/* The first column of the first row of sql into out ("" if none); 0 or -1. */
static inline int h_sqlite_scalar(struct h_sqlite *s, const char *sql, char *out, size_t outlen,
				  char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	out[0] = '\0';
	if (s->prepare(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", sql, s->errmsg(s->db));
		return -1;
	}
	rc = s->step(st);
	if (rc == SQLITE_ROW && s->column_text(st, 0))
		snprintf(out, outlen, "%s", (const char *)s->column_text(st, 0));
	s->finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", sql, s->errmsg(s->db));
		return -1;
	}
	return 0;
}

#endif
