/* h_lock.c - see h_lock.h. libsqlite3 is opened with dlopen, as in
 * h_sqlite.h, so that the func tests need no extra link line. */
#include "h_lock.h"
#include "harness.h"

#include <dlfcn.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

pid_t h_hold_write_lock(const char *db, double hold)
{
	int p[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		__typeof__(&sqlite3_open_v2) open_v2;
		__typeof__(&sqlite3_exec) exec;
		__typeof__(&sqlite3_busy_timeout) busy;
		sqlite3 *h;
		void *lib;

		/* The test's connections must not live on in the child. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != p[1])
				close(fd);
		lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL);
		CHILD_CHECK(lib);
		*(void **)&open_v2 = dlsym(lib, "sqlite3_open_v2");
		*(void **)&exec = dlsym(lib, "sqlite3_exec");
		*(void **)&busy = dlsym(lib, "sqlite3_busy_timeout");
		CHILD_CHECK(open_v2 && exec && busy);
		CHILD_CHECK(open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) ==
			    SQLITE_OK);
		busy(h, 10000);
		CHILD_CHECK(exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
			    SQLITE_OK);
		CHILD_CHECK(write(p[1], "L", 1) == 1);
		usleep((useconds_t)(hold * 1e6));
		exec(h, "ROLLBACK", NULL, NULL, NULL);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}
