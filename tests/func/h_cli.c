/* h_cli.c - see h_cli.h. */
#include "h_cli.h"
#include "h_files.h"

#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *h_out, *h_err;

void h_sh_env(const poold_proc *d)
{
	char bin[sizeof(POOLCTL_BIN)], path[4096];

	memcpy(bin, POOLCTL_BIN, sizeof(bin));
	snprintf(path, sizeof(path), "%s:%s", dirname(bin),
		 getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	if (d)
		setenv("POOLD_SOCKET", d->sock, 1);
}

pid_t h_sh_spawn(const poold_proc *d, bool nobody, const char *script,
		 const char *out, const char *err)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int n = open("/dev/null", O_RDONLY);

		if (o < 0 || e < 0 || n < 0)
			_exit(120);
		dup2(n, 0);
		dup2(o, 1);
		dup2(e, 2);
		if (nobody) {
			gid_t gid = h_nobody_gid();

			if (setgroups(1, &gid) || setgid(gid) ||
			    setuid(h_nobody_uid()))
				_exit(121);
		}
		h_sh_env(d);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(122);
	}
	return pid;
}

int h_sh(poold_proc *d, const char *fmt, ...)
{
	char script[8192], out[400], err[400], dir[64] = "/tmp/poold-sh-XXXXXX";
	va_list ap;
	pid_t pid;
	int rc;

	va_start(ap, fmt);
	vsnprintf(script, sizeof(script), fmt, ap);
	va_end(ap);
	if (!d)
		assert_non_null(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/sh.out", d ? d->dir : dir);
	snprintf(err, sizeof(err), "%s/sh.err", d ? d->dir : dir);
	pid = h_sh_spawn(d, false, script, out, err);
	rc = h_wait_child_for(pid, 60);
	free(h_out);
	free(h_err);
	h_out = h_read_file(out);
	h_err = h_read_file(err);
	if (!d)
		h_rmdir(dir);
	if (getenv("POOL_TEST_VERBOSE"))
		fprintf(stderr, "$ %s\n-> %d\n%s%s", script, rc, h_out, h_err);
	return rc;
}

void h_tmpdir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/poold-cli-XXXXXX");
	assert_non_null(mkdtemp(buf));
}

void h_rmdir(const char *dir)
{
	if (h_rm_tree(dir) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

void h_make_certs(const char *dir)
{
	H_SH_OK(NULL,
		"set -e; cd '%s'\n"
		"openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
		"-days 2 -subj /CN=poold-test-ca 2>&1\n"
		"openssl req -newkey rsa:2048 -nodes -keyout key.pem -out server.csr "
		"-subj /CN=poold.test 2>&1\n"
		"printf 'subjectAltName=DNS:poold.test,IP:127.0.0.1\\n' > san.ext\n"
		"openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		"-out cert.pem -days 2 -extfile san.ext 2>&1\n", dir);
}

void h_make_tokens(const char *dir)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/tokens", dir);
	h_write_file(path, "alice " H_ALICE_TOKEN " admin\n", 0600);
}

poold_proc *h_start_tcp(const char *dir, bool tls, int *port)
{
	char listen[64], tokens[300], cert[300], key[300];

	*port = h_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", *port);
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	if (tls)
		return poold_start("--listen", listen, "--tokens", tokens, "--tls-cert", cert,
				   "--tls-key", key, NULL);
	return poold_start("--listen", listen, "--tokens", tokens, NULL);
}

poold_proc *h_start_with_pool(pool_client **c, const char *settings)
{
	poold_proc *d = poold_start(NULL);

	*c = h_connect(d);
	h_pool(*c, "p", settings);
	return d;
}

void h_finish(poold_proc *d, pool_client *c)
{
	pool_close(c);
	poold_stop(d);
}
