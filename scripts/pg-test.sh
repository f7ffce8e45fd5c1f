#!/usr/bin/env bash
# pg-test.sh - runs COMMAND next to a private PostgreSQL 15 started for it.
#
#   scripts/pg-test.sh COMMAND [ARG...]
#
# initdb into a temporary directory, a server on a Unix socket in that
# directory only (listen_addresses=''), then COMMAND with
#   POOL_TEST_STORE=postgresql:///postgres?host=DIR&user=postgres
# in its environment (the tests make one schema per daemon under it). The
# server is stopped and the directory removed by a trap, whatever COMMAND's
# outcome; the exit status is COMMAND's.
#
# initdb and postgres refuse to run as root: as root they run as the user
# postgres (Debian's package creates it), otherwise as the caller.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ $# -eq 0 ]; then
	echo "usage: scripts/pg-test.sh COMMAND [ARG...]" >&2
	exit 2
fi
if [ ! -x "$PGBIN/initdb" ]; then
	echo "pg-test: no $PGBIN/initdb; install Debian's postgresql (scripts/deps.sh test)" >&2
	exit 1
fi

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

DIR=$(mktemp -d /tmp/poold-pg.XXXXXX)
chmod 755 "$DIR"
[ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
started=
cleanup() {
	set +e
	if [ -n "$started" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

pguser=$(if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi)
if ! as_pg "$PGBIN/initdb" -D "$DIR/data" -A trust -U "$pguser" --no-sync \
	>"$DIR/initdb.log" 2>&1; then
	cat "$DIR/initdb.log" >&2
	exit 1
fi
# Many short-lived daemons, each with a connection; fsync stays on so that
# the tests see the server's real commit path.
started=1
if ! as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/pg.log" -w -t 60 -o \
	"-c listen_addresses='' -c unix_socket_directories=$DIR -c max_connections=200 -c shared_buffers=64MB" \
	start >/dev/null; then
	cat "$DIR/pg.log" >&2
	exit 1
fi
export POOL_TEST_STORE="postgresql:///postgres?host=$DIR&user=$pguser"
echo "pg-test: PostgreSQL on $DIR (POOL_TEST_STORE=$POOL_TEST_STORE)" >&2
rc=0
"$@" || rc=$?
exit "$rc"
