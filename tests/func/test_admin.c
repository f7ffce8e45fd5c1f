/*
 * test_admin.c - identity and permissions against the real daemon: a client
 * running as nobody is not admin, gets forbidden for admin ops and for other
 * callers' leases, sees their lease ids as null, and has its own request_id
 * scope; root acts on nobody's leases; --admin-group makes a group admin.
 * Each client as nobody is a forked child (no cmocka there: CHILD_CHECK).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEASE_ID(l) JSTR(l, "lease")

/* In the child: the call must fail with `code`. */
#define CHILD_EXPECT(c, op, args, code) CHILD_CHECK(child_call(c, op, args, NULL) == (code))

/* The child part of test_nobody: writes its own lease id to fd. */
static void nobody_client(const char *sock, const char *root_lease, int fd)
{
	pool_error err;
	pool_client *c = pool_connect(sock, &err);
	json_t *res = NULL, *e;
	char want[64];
	size_t i;
	const char *mine;
	int own = 0, hidden = 0;

	CHILD_CHECK(c != NULL);
	pool_set_timeout(c, 30);
	CHILD_CHECK(child_call(c, "hello", NULL, &res) == POOL_OK);
	snprintf(want, sizeof(want), "uid:%u", (unsigned)getuid());
	CHILD_CHECK(strcmp(json_string_value(json_object_get(res, "caller")), want) == 0);
	CHILD_CHECK(json_is_false(json_object_get(res, "admin")));
	json_decref(res);

	/* admin ops */
	CHILD_EXPECT(c, "pool.create", json_pack("{s:s}", "pool", "mine"), POOL_E_FORBIDDEN);
	CHILD_EXPECT(c, "pool.set", json_pack("{s:s, s:i}", "pool", "p", "max_size", 1),
		     POOL_E_FORBIDDEN);
	CHILD_EXPECT(c, "pool.drain", json_pack("{s:s}", "pool", "p"), POOL_E_FORBIDDEN);
	CHILD_EXPECT(c, "pool.delete", json_pack("{s:s, s:b}", "pool", "p", "force", 1),
		     POOL_E_FORBIDDEN);
	CHILD_EXPECT(c, "resource.add",
		     json_pack("{s:s, s:[{s:s, s:{}}]}", "pool", "p", "resources", "name", "x",
			       "descriptor"),
		     POOL_E_FORBIDDEN);
	CHILD_EXPECT(c, "resource.update",
		     json_pack("{s:s, s:s, s:{}, s:i}", "pool", "p", "name", "r2", "descriptor",
			       "version", 1),
		     POOL_E_FORBIDDEN);
	CHILD_EXPECT(c, "resource.remove", json_pack("{s:s, s:s, s:b}", "pool", "p", "name", "r2", "force", 1),
		     POOL_E_FORBIDDEN);

	/* reading is for everyone */
	CHILD_CHECK(child_call(c, "pool.get", json_pack("{s:s}", "pool", "p"), NULL) == POOL_OK);
	CHILD_CHECK(child_call(c, "pool.list", NULL, NULL) == POOL_OK);
	CHILD_CHECK(child_call(c, "status", NULL, NULL) == POOL_OK);
	CHILD_CHECK(child_call(c, "resource.list", json_pack("{s:s}", "pool", "p"), NULL) == POOL_OK);
	CHILD_CHECK(child_call(c, "resource.get", json_pack("{s:s, s:s}", "pool", "p", "name", "r1"),
			       NULL) == POOL_OK);
	CHILD_CHECK(child_call(c, "ping", NULL, NULL) == POOL_OK);

	/* another caller's lease */
	CHILD_EXPECT(c, "return", json_pack("{s:s}", "lease", root_lease), POOL_E_FORBIDDEN);
	CHILD_EXPECT(c, "renew", json_pack("{s:s}", "lease", root_lease), POOL_E_FORBIDDEN);
	CHILD_EXPECT(c, "checkin", json_pack("{s:s}", "lease", root_lease), POOL_E_FORBIDDEN);
	CHILD_EXPECT(c, "replace", json_pack("{s:s, s:{}, s:i}", "lease", root_lease, "descriptor", "version", 2),
		     POOL_E_FORBIDDEN);

	/* a lease of its own works; request_id is scoped per caller, so the id
	 * root uses for its live lease is free for nobody */
	CHILD_CHECK(child_call(c, "lease", json_pack("{s:s, s:s}", "pool", "p", "request_id", "same"),
			       &res) == POOL_OK);
	mine = json_string_value(json_object_get(res, "lease"));
	CHILD_CHECK(mine && strlen(mine) == 32);
	CHILD_CHECK(strcmp(mine, root_lease) != 0);
	CHILD_CHECK(child_call(c, "renew", json_pack("{s:s}", "lease", mine), NULL) == POOL_OK);
	CHILD_CHECK(dprintf(fd, "%s\n", mine) == 33);

	/* lease.list: own id visible, others' null */
	{
		json_t *list = NULL;

		CHILD_CHECK(child_call(c, "lease.list", NULL, &list) == POOL_OK);
		json_array_foreach(json_object_get(list, "leases"), i, e)
		{
			json_t *id = json_object_get(e, "lease");

			CHILD_CHECK(id != NULL);
			if (json_is_null(id))
				hidden++;
			else if (strcmp(json_string_value(id), mine) == 0)
				own++;
			else
				CHILD_CHECK(!"another caller's lease id is visible");
		}
		CHILD_CHECK(own == 1);
		CHILD_CHECK(hidden == 2);
		json_decref(list);
	}
	json_decref(res);
	pool_close(c);
	_exit(0);
}

static void test_nobody(void **state)
{
	poold_proc *d;
	pool_client *c;
	json_t *root_lease, *root_rid, *p, *list, *e;
	int fds[2];
	pid_t pid;
	char buf[64] = "";
	size_t i;
	int visible = 0;
	ssize_t n;

	h_require_root();
	d = poold_start(NULL);
	c = h_connect(d);
	assert_int_equal(chmod(d->sock, 0666), 0);
	h_pool(c, "p", "{\"max_size\": 10}");
	h_add(c, "p", "r1", "r2", "r3", "r4", NULL);
	root_lease = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	root_rid = CALL_OK(c, "checkout", J("{s:s, s:s, s:s}", "pool", "p", "name", "r2", "request_id", "same"));

	assert_int_equal(pipe(fds), 0);
	pid = h_fork_as_nobody((gid_t)-1);
	if (pid == 0) {
		close(fds[0]);
		nobody_client(d->sock, LEASE_ID(root_lease), fds[1]);
	}
	close(fds[1]);
	assert_int_equal(h_wait_child(pid), 0);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_int_equal(n, 33);
	buf[32] = '\0';

	/* nothing the child was refused happened */
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "p"));
	assert_int_equal(JINT(p, "max_size"), 10);
	assert_string_equal(JSTR(p, "state"), "active");
	json_decref(p);
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "mine"), POOL_E_NOT_FOUND);
	assert_int_equal(h_status_field(c, "p", "total"), 4);
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");
	json_decref(CALL_OK(c, "lease.get", J("{s:s}", "lease", LEASE_ID(root_lease))));
	assert_int_equal(h_status_field(c, "p", "leased"), 3);

	/* root (admin) sees every lease id, and may end nobody's lease */
	list = CALL_OK(c, "lease.list", NULL);
	json_array_foreach(json_object_get(list, "leases"), i, e)
	{
		assert_true(json_is_string(json_object_get(e, "lease")));
		if (strcmp(LEASE_ID(e), buf) == 0) {
			char owner[64];

			visible++;
			snprintf(owner, sizeof(owner), "uid:%u pid:", (unsigned)h_nobody_uid());
			assert_true(strncmp(JSTR(e, "owner"), owner, strlen(owner)) == 0);
		}
	}
	assert_int_equal(visible, 1);
	json_decref(list);
	json_decref(CALL_OK(c, "renew", J("{s:s}", "lease", buf)));
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", buf)));
	assert_int_equal(h_status_field(c, "p", "leased"), 2);

	json_decref(root_lease);
	json_decref(root_rid);
	pool_close(c);
	poold_stop(d);
}

/* A non-admin watcher sees other callers' lease ids as null. */
static void test_nobody_watch(void **state)
{
	poold_proc *d;
	pool_client *c;
	json_t *l;
	pid_t pid;
	int ready[2], go[2];
	char ch;

	h_require_root();
	d = poold_start(NULL);
	c = h_connect(d);
	assert_int_equal(chmod(d->sock, 0666), 0);
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = h_fork_as_nobody((gid_t)-1);
	if (pid == 0) {
		raw_conn *r = raw_connect_try(d->sock);
		char *line;
		json_t *m;

		static const char req[] = "{\"id\":1,\"op\":\"watch\",\"pool\":\"p\"}\n";

		CHILD_CHECK(r != NULL);
		CHILD_CHECK(raw_write(r, req, strlen(req)) == 0);
		line = raw_read_line(r, 5);
		CHILD_CHECK(line != NULL);
		m = json_loads(line, 0, NULL);
		if (!json_is_true(json_object_get(m, "ok"))) {
			fprintf(stderr, "watch answered %s\n", line);
			_exit(1);
		}
		json_decref(m);
		free(line);
		CHILD_CHECK(write(ready[1], "r", 1) == 1);
		CHILD_CHECK(read(go[0], &ch, 1) == 1);
		line = raw_read_line(r, 5);
		CHILD_CHECK(line != NULL);
		m = json_loads(line, 0, NULL);
		CHILD_CHECK(m != NULL);
		CHILD_CHECK(strcmp(json_string_value(json_object_get(m, "event")), "leased") == 0);
		CHILD_CHECK(json_is_null(json_object_get(m, "lease")));
		_exit(0);
	}
	assert_int_equal(read(ready[0], &ch, 1), 1);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(h_wait_child(pid), 0);
	json_decref(l);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	pool_close(c);
	poold_stop(d);
}

static void test_admin_group(void **state)
{
	poold_proc *d;
	pid_t pid;

	h_require_root();
	d = poold_start("--admin-group", "nogroup", NULL);
	assert_int_equal(chmod(d->sock, 0666), 0);
	pid = h_fork_as_nobody(h_nobody_gid());
	if (pid == 0) {
		pool_error err;
		pool_client *c = pool_connect(d->sock, &err);
		json_t *res = NULL;

		CHILD_CHECK(c != NULL);
		pool_set_timeout(c, 30);
		CHILD_CHECK(child_call(c, "hello", NULL, &res) == POOL_OK);
		CHILD_CHECK(json_is_true(json_object_get(res, "admin")));
		json_decref(res);
		CHILD_CHECK(child_call(c, "pool.create",
				       json_pack("{s:s, s:s}", "pool", "g", "create", "none"),
				       NULL) == POOL_OK);
		CHILD_CHECK(child_call(c, "resource.add",
				       json_pack("{s:s, s:[{s:s, s:{}}]}", "pool", "g", "resources",
						 "name", "x", "descriptor"),
				       NULL) == POOL_OK);
		pool_close(c);
		_exit(0);
	}
	assert_int_equal(h_wait_child(pid), 0);
	{
		pool_client *c = h_connect(d);

		assert_string_equal(h_res_state(c, "g", "x"), "free");
		pool_close(c);
	}
	poold_stop(d);
}

/* The socket file is created mode 0660. */
static void test_socket_mode(void **state)
{
	poold_proc *d = poold_start(NULL);
	struct stat st;

	assert_int_equal(stat(d->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_nobody),
		FTEST(test_nobody_watch),
		FTEST(test_admin_group),
		FTEST(test_socket_mode),
	};

	return RUN_FTESTS(tests);
}
