#!/bin/sh
# fuzz.sh [SECONDS] - build the libFuzzer target with clang (ASan+UBSan) into
# build-fuzz and run it for SECONDS (default 60) on tests/fuzz/corpus with
# tests/fuzz/requests.dict. New interesting inputs go to build-fuzz/corpus
# (kept between runs). Debug with -O1: the daemon's assert()s stay on.
# A crash leaves crash-* in build-fuzz/artifacts and
# makes this script exit non-zero. Replay one with:
#   POOL_FUZZ_RESET=1 build-fuzz/tests/fuzz/fuzz_requests build-fuzz/artifacts/crash-...
set -eu
seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
jobs=$(nproc 2>/dev/null || echo 2)

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (scripts/deps.sh test installs it)" >&2; exit 2; }
CC=clang cmake -S "$root" -B "$build" -DPOOL_FUZZ=ON -DPOOL_WERROR=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" >/dev/null
cmake --build "$build" --target fuzz_requests -j "$jobs"
bin=$build/tests/fuzz/fuzz_requests
[ -x "$bin" ] || { echo "fuzz.sh: $bin was not built (is POOL_FUZZ wired into CMakeLists.txt?)" >&2; exit 2; }

mkdir -p "$build/corpus" "$build/artifacts"
echo "fuzz.sh: running $bin for ${seconds}s"
status=0
# -detect_leaks=0: no leak check after each input (the daemon's state
# carries over, so most inputs would trigger one); LeakSanitizer still checks
# at exit, after the target closed the daemon.
"$bin" -max_total_time="$seconds" -max_len=4096 -timeout=20 -rss_limit_mb=4096 \
	-detect_leaks=0 \
	-print_final_stats=1 -artifact_prefix="$build/artifacts/" \
	-dict="$root/tests/fuzz/requests.dict" \
	"$build/corpus" "$root/tests/fuzz/corpus" || status=$?
if [ "$status" -ne 0 ]; then
	echo "fuzz.sh: the fuzzer failed (exit $status); see $build/artifacts/" >&2
	exit 1
fi
echo "fuzz.sh: no crash in ${seconds}s"
