#!/usr/bin/env bash
# Installs the Debian packages poold needs, if any is missing.
#   scripts/deps.sh build   compiler, CMake and the libraries (libpq: the
#                           PostgreSQL store), and socat (the README's
#                           examples talk to poold with it)
#   scripts/deps.sh test    the above plus cmocka and clang (fuzzing),
#                           openssl (test certificates), systemd
#                           (systemd-analyze verify of dist/poold.service),
#                           promtool (prometheus) and chromium (the --http
#                           tests), python3 with venv (the Python client),
#                           a PostgreSQL server (scripts/pg-test.sh)
set -euo pipefail

pkgs=(gcc make cmake pkg-config libsqlite3-dev libevent-dev libjansson-dev
	libssl-dev libpq-dev socat)
if [ "${1:-build}" = test ]; then
	pkgs+=(libcmocka-dev clang libclang-rt-dev openssl systemd sqlite3)
	pkgs+=(prometheus chromium curl python3 python3-venv)
	pkgs+=(postgresql postgresql-client)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run as root: apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
