#!/bin/sh
# crashloop.sh [KILLS] - the long form of tests/func/test_crashloop.c: build
# (Debug) into build-crashloop and run the crash loop with KILLS kill -9s of
# the daemon (default 1000; the test suite runs 50). Set
# POOL_CRASHLOOP_SEED to replay a run's random choices (each run prints its
# seed), POOL_CRASHLOOP_SYNC=full to run poold with --sync full.
# Exit status 0 only if every check passed.
set -eu
kills=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${POOL_CRASHLOOP_BUILD:-$root/build-crashloop}
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" --target poold test_crashloop -j "$jobs"
echo "crashloop.sh: $kills kills"
POOL_CRASHLOOP_KILLS=$kills "$build/tests/test_crashloop"
