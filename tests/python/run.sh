#!/usr/bin/env bash
# The Python client's checks, for scripts/test (each stage counts once):
#   tests/python/run.sh suite   the unittest suite against the real poold
#                               ($POOLD_BIN, else build/poold/poold)
#   tests/python/run.sh pg      the tests that need PostgreSQL (several
#                               front ends: test_follow.py), under
#                               scripts/pg-test.sh; the suite skips them
#   tests/python/run.sh venv    pip installs libpool/python offline into a
#                               fresh venv, and it imports there
set -euo pipefail
cd "$(dirname "$0")/../.."

case "${1:-}" in
suite)
	echo "== python: unittest tests/python (poold: ${POOLD_BIN:-build/poold/poold})"
	python3 -m unittest discover -s tests/python
	;;
pg)
	echo "== python: unittest tests/python/test_follow.py on PostgreSQL (scripts/pg-test.sh)"
	scripts/pg-test.sh python3 -m unittest discover -s tests/python -p test_follow.py
	;;
venv)
	echo "== python: pip install --no-build-isolation --no-index libpool/python in a fresh venv"
	venv=$(mktemp -d)
	trap 'rm -rf "$venv"' EXIT
	python3 -m venv "$venv"
	PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install -q \
		--no-build-isolation --no-index libpool/python
	(cd "$venv" && bin/python -c 'import poolclient; print("python: poolclient", poolclient.__version__, "installed from", poolclient.__file__)')
	;;
*)
	echo "usage: tests/python/run.sh suite|pg|venv" >&2
	exit 2
	;;
esac
