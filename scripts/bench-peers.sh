#!/usr/bin/env bash
# bench-peers.sh - the lease+return cycle against poold and its peers, in one
# run, on this machine: a private Redis (Lua lease/return on a free list + a
# hash; no persistence, and appendfsync always), a private PostgreSQL 15
# (UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1), driven by
# pgbench, synchronous_commit on), poold's ping-pong ceiling, and poold with
# --sync normal and full on 1,000 and 1,000,000 resources. Prints one table
# with ratios and the targets of issue 7 (see docs/performance.md).
# With "pg-poold": poold on that PostgreSQL (--store postgresql://) at the
# same client counts; with "failover": two poold front ends on it, the
# leader killed with SIGKILL 10 times, the time until the other answers a
# lease (issue 16).
#
# Everything runs on Unix sockets in a temporary directory that a trap removes,
# with every server it started. Each measurement lasts BENCH_SECONDS (at most
# 10); the whole run takes about 8 minutes.
#
# usage: scripts/bench-peers.sh [BUILD_DIR]      (default /tmp/build-bench)
# environment:
#   BENCH_SECONDS=10        measured seconds per point (plus 1 s of warm-up)
#   BENCH_CLIENTS="1 8 64"  client counts
#   BENCH_BIG=1             also the 1,000,000-resource poold runs (0: skip)
#   BENCH_CROWD=1           also 10,000 idle connections + 10,000 waiters (0: skip)
#   BENCH_ONLY="..."        only these systems: ping redis redis-aof pg poold big crowd
#                           pg-poold failover
#   BENCH_KEEP=DIR          copy every JSON line and log to DIR
set -euo pipefail

# scripts/bench-peers.sh --table RESULTS.jsonl: only print the table again.
if [ "${1:-}" = --table ]; then
	TABLE_ONLY=$2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-/tmp/build-bench}
T=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-1 8 64}
BIG=${BENCH_BIG:-1}
CROWD=${BENCH_CROWD:-1}
ONLY=${BENCH_ONLY:-ping redis redis-aof pg poold big crowd pg-poold failover}
NRES=1000
NBIG=1000000

if awk -v t="$T" 'BEGIN { exit !(t > 10 || t <= 0) }'; then
	echo "bench-peers: BENCH_SECONDS must be in (0, 10]" >&2
	exit 2
fi
want() { [[ " $ONLY " == *" $1 "* ]]; }
say() { printf '%s\n' "$*" >&2; }

# The table and the targets of issue 7, from the JSON lines of a run.
print_table() {
	python3 - "$1" <<'PY'
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = [r for r in rows if r["tool"] in ("poolbench", "pgbench")]
imports = [r for r in rows if r["tool"] == "import"]
failovers = [r for r in rows if r["tool"] == "failover"]

def get(label, clients):
    for r in runs:
        if r["label"] == label and r["clients"] == clients:
            return r
    return None

def rate(label, clients):
    r = get(label, clients)
    return r["cycles_per_s"] if r else None

def op(r, name, field):
    o = r["ops"].get(name) if r else None
    return o.get(field) if o else None

def fmt(v, f="%.0f"):
    return "-" if v is None else f % v

print()
print("| system | clients | cycles/s | lease p50 µs | lease p99 µs | cycle p99 µs | server CPU | CPU µs/cycle | peak RSS MB | × Redis | × Redis AOF | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
seen = []
for r in runs:
    if r["label"] not in seen:
        seen.append(r["label"])
for label in seen:
    for r in runs:
        if r["label"] != label:
            continue
        c = r["clients"]
        first = "ping" if r.get("mode") == "ping" else ("checkout" if r.get("mode") == "checkout" else "lease")
        red, aof = rate("redis", c), rate("redis-aof", c)
        cpu = r.get("server_cpu_pct")
        rss = r.get("server_vmhwm_kb")
        name = label
        if r.get("mode") == "pipelined":
            name += " (×%d in flight)" % r["pipeline"]
        cpu = cpu if cpu is not None and cpu >= 0 else None
        per = cpu * 1e4 / r["cycles_per_s"] if cpu is not None and r["cycles_per_s"] else None
        print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
            name, c, fmt(r["cycles_per_s"]), fmt(op(r, first, "p50_us"), "%.1f"),
            fmt(op(r, first, "p99_us"), "%.1f"), fmt(op(r, "cycle", "p99_us"), "%.1f"),
            fmt(cpu, "%.0f%%"), fmt(per, "%.1f"),
            fmt(rss / 1024 if rss else None, "%.1f"),
            fmt(r["cycles_per_s"] / red if red else None, "%.2f"),
            fmt(r["cycles_per_s"] / aof if aof else None, "%.2f"), r.get("errors", 0)))
for i in imports:
    print("\nimport of %d resources (%s): %.2f s" % (i["resources"], i["how"], i["seconds"]))
for f in failovers:
    s = sorted(f["seconds"])
    print("\nfailover, SIGKILL of the leader to the first lease answered by the other front end "
          "(--failover-timeout %g, %d runs): median %.2f s, min %.2f s, max %.2f s" % (
          f["timeout"], len(s), s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2,
          s[0], s[-1]))

# The targets of issue 7.
modes = [l[len("poold-"):] for l in seen if l in ("poold-normal", "poold-full", "poold-default")]
normal = "poold-normal" if "poold-normal" in seen else ("poold-default" if "poold-default" in seen else None)
full = "poold-full" if "poold-full" in seen else None
checks = []
def check(what, value, goal, ok):
    checks.append((what, value, goal, ok))
if normal:
    n64, r64, ping64 = rate(normal, 64), rate("redis", 64), rate("ping", 64)
    if n64 and r64:
        check("64 clients, sync normal: ≥ 1.2× Redis", "%.2f×" % (n64 / r64), "1.2×", n64 >= 1.2 * r64)
        p, q = op(get(normal, 64), "lease", "p99_us"), op(get("redis", 64), "lease", "p99_us")
        if p and q:
            check("64 clients: lease p99 ≤ Redis's", "%.0f µs vs %.0f µs" % (p, q), "≤ 1.0×", p <= q)
    if n64 and ping64:
        check("64 clients, sync normal: ≥ 60% of ping-pong", "%.0f%%" % (100 * n64 / ping64), "60%", n64 >= 0.6 * ping64)
    p50 = op(get(normal, 1), "lease", "p50_us")
    if p50:
        check("1 client: lease p50 < 60 µs", "%.1f µs" % p50, "60 µs", p50 < 60)
    big = normal + "-1M"
    for c in (1, 8, 64):
        a, b = rate(normal, c), rate(big, c)
        if a and b:
            check("1M resources, %d clients: within 20%% of 1,000" % c, "%.0f%%" % (100 * b / a), "≥ 80%", b >= 0.8 * a)
    rss = max([r.get("server_vmhwm_kb", 0) for r in runs if r["label"].endswith("-1M")] or [0])
    if rss:
        check("1M resources: poold peak RSS < 300 MB", "%.0f MB" % (rss / 1024), "300 MB", rss < 300 * 1024)
    for i in imports:
        check("import of 1M resources < 20 s (%s)" % i["how"], "%.1f s" % i["seconds"], "20 s", i["seconds"] < 20)
    alone, crowd = get(normal + "-alone", 1), get(normal + "-crowd", 1)
    if alone and crowd:
        rss = crowd.get("server_vmhwm_kb", 0)
        k = "%d idle + %d waiters" % (crowd["idle"], crowd["waiters"])
        check(k + ": poold peak RSS < 200 MB", "%.0f MB" % (rss / 1024), "200 MB", rss < 200 * 1024)
        a, b = op(alone, "lease", "p99_us"), op(crowd, "lease", "p99_us")
        if a and b:
            check(k + ": lease p99 within 2×", "%.0f → %.0f µs (%.2f×)" % (a, b, b / a), "≤ 2×", b <= 2 * a)
if full:
    f64, n64 = rate(full, 64), rate(normal, 64) if normal else None
    if f64 and n64:
        check("64 clients, sync full: ≥ 50% of sync normal", "%.0f%%" % (100 * f64 / n64), "50%", f64 >= 0.5 * n64)
    a64 = rate("redis-aof", 64)
    if f64 and a64:
        check("64 clients, sync full: ≥ Redis appendfsync always", "%.2f×" % (f64 / a64), "1.0×", f64 >= a64)
    pg64 = rate("pg", 64)
    if f64 and pg64:
        check("64 clients, sync full: ≥ 5× PostgreSQL", "%.2f×" % (f64 / pg64), "5×", f64 >= 5 * pg64)
elif normal == "poold-default":
    check("sync full targets", "poold has no --sync", "-", False)
pgp64, pg64 = rate("poold-pg", 64), rate("pg", 64)
if pgp64 and pg64:
    check("poold on PostgreSQL, 64 clients: ≥ 5× bare PostgreSQL (issue 16)", "%.2f×" % (pgp64 / pg64), "5×", pgp64 >= 5 * pg64)
for f in failovers:
    s = sorted(f["seconds"])
    med = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    check("failover: median SIGKILL → first lease < 5 s (issue 16)", "%.2f s" % med, "5 s", med < 5)
if checks:
    print("\n| target (issues 7, 16) | measured | goal | |")
    print("|---|---:|---:|---|")
    for what, value, goal, ok in checks:
        print("| %s | %s | %s | %s |" % (what, value, goal, "met" if ok else "**missed**"))

# The targets of issue 15. Each ratio of throughput also as a ratio of CPU
# per cycle (the server's CPU time / cycles): on a loaded machine the
# throughput follows the share of a core a server got, the CPU per cycle
# much less.
def cpu(label, clients):
    r = get(label, clients)
    if not r or r.get("server_cpu_pct", -1) <= 0 or not r["cycles_per_s"]:
        return None
    return r["server_cpu_pct"] * 1e4 / r["cycles_per_s"]
checks = []
def ratio(what, a_label, b_label, clients, goal, b_clients=None):
    b_clients = b_clients or clients
    a, b = rate(a_label, clients), rate(b_label, b_clients)
    if not (a and b):
        return
    ca, cb = cpu(a_label, clients), cpu(b_label, b_clients)
    by_cpu = cb / ca if ca and cb else None
    check(what, "%.2f× (by CPU/cycle %s)" % (a / b, fmt(by_cpu, "%.2f×")),
          "%g×" % goal, a >= goal * b)
pipe = next((l for l in seen if normal and l.startswith(normal + "-pipelined")), None)
if normal:
    ratio("64 clients, sync normal: ≥ 1.0× Redis Lua", normal, "redis", 64, 1.0)
    ratio("64 clients, sync normal: ≥ 80% of ping", normal, "ping", 64, 0.8)
    p, q = op(get(normal, 64), "lease", "p99_us"), op(get("redis", 64), "lease", "p99_us")
    if p and q:
        check("64 clients: lease p99 ≤ 1.2× Redis's", "%.0f µs vs %.0f µs (%.2f×)" % (p, q, p / q), "≤ 1.2×", p <= 1.2 * q)
    p, q = op(get(normal, 1), "lease", "p50_us"), op(get("ping", 1), "ping", "p50_us")
    if p and q:
        check("1 client: lease p50 ≤ 1.2× ping p50", "%.1f µs vs %.1f µs (%.2f×)" % (p, q, p / q), "≤ 1.2×", p <= 1.2 * q)
    if pipe:
        ratio("pipelined ×16 on 8 connections: ≥ 1.5× Redis unpipelined", pipe, "redis", 8, 1.5)
    ratio("1M resources, 64 clients: within 10% of 1,000", normal + "-1M", normal, 64, 0.9)
    for c in (1, 64):
        m = (get(normal, c) or {}).get("server_mallocs_per_cycle")
        if m is not None:
            check("%d client%s: server allocations per lease+return cycle" % (c, "" if c == 1 else "s"),
                  "%.2f" % m, "< 0.5 (none per request)", m < 0.5)
if full:
    ratio("64 clients, sync full: ≥ 1.3× Redis appendfsync always", full, "redis-aof", 64, 1.3)
if checks:
    print("\n| target (issue 15) | measured | goal | |")
    print("|---|---:|---:|---|")
    for what, value, goal, ok in checks:
        print("| %s | %s | %s | %s |" % (what, value, goal, "met" if ok else "**missed**"))
PY
}

if [ -n "${TABLE_ONLY:-}" ]; then
	print_table "$TABLE_ONLY"
	exit 0
fi

# ---- what it needs ----------------------------------------------------------
need_pkgs=()
want redis || want redis-aof && ! command -v redis-server >/dev/null && need_pkgs+=(redis-server)
PGBIN=/usr/lib/postgresql/15/bin
{ want pg || want pg-poold || want failover; } && [ ! -x "$PGBIN/initdb" ] && need_pkgs+=(postgresql-15)
want pg && ! command -v pgbench >/dev/null && need_pkgs+=(postgresql-contrib)
command -v python3 >/dev/null || need_pkgs+=(python3)
if [ ${#need_pkgs[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		say "bench-peers: missing ${need_pkgs[*]}; run as root or: apt-get install ${need_pkgs[*]}"
		exit 1
	fi
	say "installing ${need_pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_pkgs[@]}" >/dev/null
fi
if [ ! -x "$BUILD/poold/poold" ]; then
	say "building poold in $BUILD"
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOOL_TESTS=OFF >/dev/null
	cmake --build "$BUILD" -j2 >/dev/null
fi
POOLD=$BUILD/poold/poold
POOLCTL=$BUILD/libpool/poolctl/poolctl

WORK=$(mktemp -d /tmp/bench-peers.XXXXXX)
chmod 755 "$WORK"
PIDS=()
PGDATA_DIR=
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ -n "$PGDATA_DIR" ]; then
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1
	fi
	if [ -n "${BENCH_KEEP:-}" ]; then
		mkdir -p "$BENCH_KEEP" && cp "$WORK"/results.jsonl "$WORK"/*.log "$BENCH_KEEP"/ 2>/dev/null
		[ -f "$WORK/pg/pg.log" ] && cp "$WORK/pg/pg.log" "$BENCH_KEEP"/
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# poolbench: from the build dir if tests/bench is built there, else compiled here.
PB=$BUILD/tests/bench/poolbench
if [ ! -x "$PB" ]; then
	PB=$WORK/poolbench
	cc -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$PB" \
		"$ROOT/tests/bench/poolbench.c" -pthread
fi

RESULTS=$WORK/results.jsonl
: >"$RESULTS"

# Runs poolbench with a label; keeps its JSON line, shows its summary line.
bench() {
	local label=$1
	shift
	local out
	out=$("$PB" --label "$label" --seconds "$T" "$@" 2>&1) || true
	printf '%s\n' "$out" >>"$WORK/poolbench.log"
	local json
	json=$(printf '%s\n' "$out" | grep '^{"tool":"poolbench"' || true)
	if [ -z "$json" ]; then
		say "  $label: no result; output:"
		printf '%s\n' "$out" | sed 's/^/    /' >&2
		return 0
	fi
	printf '%s\n' "$json" >>"$RESULTS"
	printf '%s\n' "$json" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
ops = r["ops"]
first = ops.get("lease") or ops.get("checkout") or ops.get("ping") or {}
print("  %-22s %3d clients %9.0f cycles/s  p50 %7.1f us  p99 %8.1f us  errors %d  server CPU %.0f%%" % (
    r["label"], r["clients"], r["cycles_per_s"], first.get("p50_us", 0), first.get("p99_us", 0),
    r["errors"], r["server_cpu_pct"]))' >&2
}

wait_for_socket() { # path: up to 60 s (a daemon loading 1,000,000 resources)
	local i
	for i in $(seq 1 1200); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	say "bench-peers: $1 did not appear"
	return 1
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
	PIDS=("${keep[@]}")
}

say "bench-peers: $(nproc) cores, $T s per point, clients: $CLIENTS; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
say "results in $WORK (removed at exit; set BENCH_KEEP=DIR to keep them)"

# ---- poold ------------------------------------------------------------------
SYNC_MODES="default"
# (grep reads all of the help: with -q it would quit early, poold would get
# SIGPIPE and pipefail would call the option missing.)
if "$POOLD" --help 2>&1 | grep -- '--sync' >/dev/null; then
	SYNC_MODES="normal full"
else
	say "note: this poold has no --sync option; its one mode is measured as 'default'"
fi
# 10,000 idle connections + 10,000 waiters need file descriptors on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

POOLD_PID=
POOLD_ENV=() # the environment of the next start_poold (VAR=value ...)
start_poold() { # dir [extra options]
	local dir=$1
	shift
	mkdir -p "$dir"
	env "${POOLD_ENV[@]}" "$POOLD" --socket "$dir/poold.sock" --db "$dir/poold.db" \
		--log-level warn "$@" 2>>"$WORK/poold.log" &
	POOLD_PID=$!
	PIDS+=("$POOLD_PID")
	wait_for_socket "$dir/poold.sock"
}

# The ceiling: two pings per cycle, nothing stored.
if want ping; then
	say "== ping-pong ceiling (poold ping)"
	start_poold "$WORK/ping"
	for c in $CLIENTS; do
		bench "ping" --socket "$WORK/ping/poold.sock" --mode ping --clients "$c" --poold-pid "$POOLD_PID"
	done
	stop_pid "$POOLD_PID"
fi

# poold's allocations per cycle (issue 15: none per request), counted by
# tests/bench's shim in the poold runs below when the build has it.
SHIM=$BUILD/tests/bench/libmalloc_count.so
if want poold; then
	for s in $SYNC_MODES; do
		say "== poold, sync $s, $NRES resources"
		opts=()
		count=()
		[ "$s" != default ] && opts=(--sync "$s")
		if [ -f "$SHIM" ]; then
			POOLD_ENV=(LD_PRELOAD="$SHIM" POOLBENCH_MALLOC_COUNT="$WORK/mallocs-$s")
			count=(--malloc-count "$WORK/mallocs-$s")
		fi
		start_poold "$WORK/poold-$s" "${opts[@]}"
		POOLD_ENV=()
		for c in $CLIENTS; do
			bench "poold-$s" --socket "$WORK/poold-$s/poold.sock" --resources "$NRES" \
				--clients "$c" --poold-pid "$POOLD_PID" "${count[@]}"
		done
		bench "poold-$s-checkout" --socket "$WORK/poold-$s/poold.sock" --mode checkout \
			--clients 8 --poold-pid "$POOLD_PID"
		bench "poold-$s-pipelined" --socket "$WORK/poold-$s/poold.sock" --mode pipelined \
			--clients 8 --pipeline 16 --poold-pid "$POOLD_PID"
		stop_pid "$POOLD_PID"
	done
fi

if want big && [ "$BIG" = 1 ]; then
	s=${SYNC_MODES%% *}
	say "== poold, sync $s, $NBIG resources"
	opts=()
	[ "$s" != default ] && opts=(--sync "$s")
	start_poold "$WORK/big" "${opts[@]}"
	sock=$WORK/big/poold.sock
	if [ -x "$POOLCTL" ]; then
		awk -v n="$NBIG" 'BEGIN { for (i = 0; i < n; i++) printf "{\"name\":\"r%d\",\"descriptor\":{\"i\":%d}}\n", i, i }' \
			>"$WORK/big.jsonl"
		"$POOLCTL" --socket "$sock" -q pool create bench --create none >/dev/null
		t0=$(date +%s.%N)
		"$POOLCTL" --socket "$sock" -q resource add bench --file "$WORK/big.jsonl" >/dev/null 2>>"$WORK/poolctl.log"
		t1=$(date +%s.%N)
		rm -f "$WORK/big.jsonl"
		import=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
		say "  import of $NBIG resources with poolctl resource add --file: $import s"
		printf '{"tool":"import","how":"poolctl","resources":%d,"seconds":%s}\n' "$NBIG" "$import" >>"$RESULTS"
	else
		say "  (no $POOLCTL: poolbench imports, resource.add in batches of 5000)"
		out=$("$PB" --socket "$sock" --resources "$NBIG" --seconds 0.1 --warmup 0)
		import=$(printf '%s\n' "$out" | sed -n 's/^imported [0-9]* resources in \([0-9.]*\) s$/\1/p')
		say "  import of $NBIG resources with poolbench: $import s"
		printf '{"tool":"import","how":"poolbench","resources":%d,"seconds":%s}\n' "$NBIG" "$import" >>"$RESULTS"
	fi
	for c in $CLIENTS; do
		bench "poold-$s-1M" --socket "$sock" --clients "$c" --poold-pid "$POOLD_PID"
	done
	stop_pid "$POOLD_PID"
	if [ "$SYNC_MODES" != default ]; then
		t0=$(date +%s.%N)
		start_poold "$WORK/big" --sync full
		t1=$(date +%s.%N)
		say "  restart with $NBIG resources (load until the socket is up): $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
		bench "poold-full-1M" --socket "$sock" --clients 64 --poold-pid "$POOLD_PID"
		stop_pid "$POOLD_PID"
	fi
fi

if want crowd && [ "$CROWD" = 1 ]; then
	s=${SYNC_MODES%% *}
	# 10,000 of each need 20,000+ descriptors in poold and in poolbench; where
	# the hard limit is lower (and cannot be raised), as many as fit.
	lim=$(ulimit -n)
	crowd=$(((lim - 200) / 2))
	[ "$crowd" -gt 10000 ] && crowd=10000
	say "== poold, sync $s, 1 client next to $crowd idle connections and $crowd waiters (open files limit $lim)"
	opts=(--max-conns 30000)
	[ "$s" != default ] && opts+=(--sync "$s")
	start_poold "$WORK/crowd" "${opts[@]}"
	bench "poold-$s-alone" --socket "$WORK/crowd/poold.sock" --resources "$NRES" --clients 1 --poold-pid "$POOLD_PID"
	bench "poold-$s-crowd" --socket "$WORK/crowd/poold.sock" --clients 1 --idle "$crowd" --waiters "$crowd" \
		--poold-pid "$POOLD_PID"
	stop_pid "$POOLD_PID"
fi

# ---- Redis --------------------------------------------------------------------
run_redis() { # label, redis-server persistence options...
	local label=$1
	shift
	local dir=$WORK/$label
	mkdir -p "$dir"
	redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --dir "$dir" \
		--save '' --daemonize no --logfile "$WORK/$label.log" "$@" &
	local pid=$!
	PIDS+=("$pid")
	wait_for_socket "$dir/redis.sock"
	for c in $CLIENTS; do
		bench "$label" --redis --socket "$dir/redis.sock" --resources "$NRES" --clients "$c" --server-pid "$pid"
	done
	stop_pid "$pid"
}
if want redis; then
	say "== Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), Lua, no persistence"
	run_redis redis --appendonly no
fi
if want redis-aof; then
	say "== Redis, Lua, appendonly yes, appendfsync always"
	run_redis redis-aof --appendonly yes --appendfsync always
fi

# ---- PostgreSQL ------------------------------------------------------------------
PGDIR=$WORK/pg
# A private server in $PGDIR (Unix socket only), started once for the
# systems that need it; the trap stops it.
start_pg() {
	[ -n "$PGDATA_DIR" ] && return 0
	id postgres >/dev/null 2>&1 || { say "bench-peers: no user postgres"; exit 1; }
	mkdir -p "$PGDIR"
	chown postgres "$PGDIR"
	runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres --no-sync >"$WORK/pg-initdb.log" 2>&1
	PGDATA_DIR=$PGDIR/data
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/pg.log" -w \
		-o "-c listen_addresses='' -c unix_socket_directories=$PGDIR -c synchronous_commit=on -c fsync=on -c max_connections=200 -c shared_buffers=128MB" \
		start >/dev/null
}
PGURL="postgresql:///postgres?host=$PGDIR&user=postgres"
pg_schema() { # name: a fresh schema; prints poold's --store URL for it
	psql -q -h "$PGDIR" -U postgres -d postgres -c "DROP SCHEMA IF EXISTS $1 CASCADE; CREATE SCHEMA $1" >/dev/null
	printf '%s&options=-csearch_path%%3D%s' "$PGURL" "$1"
}
if want pg; then
	say "== PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), FOR UPDATE SKIP LOCKED, synchronous_commit on"
	start_pg
	psql -q -h "$PGDIR" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<-SQL
		CREATE TABLE res (id int PRIMARY KEY, name text NOT NULL,
		                  state text NOT NULL DEFAULT 'free', lease_id bigint,
		                  leased_at timestamptz);
		INSERT INTO res (id, name) SELECT i, 'r' || i FROM generate_series(0, $NRES - 1) i;
		CREATE INDEX res_free ON res (id) WHERE state = 'free';
		CREATE SEQUENCE lease_seq;
		VACUUM ANALYZE res;
	SQL
	# One cycle = two transactions (autocommit), as in poold and Redis: the
	# lease returns the row and its lease id, the return checks the lease id.
	cat >"$PGDIR/cycle.sql" <<-'SQL'
		UPDATE res SET state = 'leased', lease_id = nextval('lease_seq'), leased_at = now() WHERE id = (SELECT id FROM res WHERE state = 'free' LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id AS rid, lease_id AS lid \gset
		UPDATE res SET state = 'free', lease_id = NULL WHERE id = :rid AND lease_id = :lid;
	SQL
	for c in $CLIENTS; do
		j=$((c < 2 ? c : 2))
		pgbench -n -h "$PGDIR" -U postgres -c "$c" -j "$j" -T 1 -f "$PGDIR/cycle.sql" postgres >/dev/null 2>&1 || true
		rm -f "$PGDIR"/pgb*
		out=$(pgbench -n -h "$PGDIR" -U postgres -c "$c" -j "$j" -T "${T%.*}" -f "$PGDIR/cycle.sql" \
			-l --log-prefix="$PGDIR/pgb" postgres 2>&1) || true
		printf '%s\n' "$out" >>"$WORK/pgbench.log"
		tps=$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1)
		failed=$(printf '%s\n' "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
		# per-transaction log: client_id tx_no latency_us script_no epoch epoch_us
		cat "$PGDIR"/pgb* 2>/dev/null | awk '{print $3}' | sort -n >"$PGDIR/lat"
		n=$(wc -l <"$PGDIR/lat")
		pct() { [ "$n" -gt 0 ] && sed -n "$(awk -v n="$n" -v p="$1" 'BEGIN { k = int(n * p + 0.999999); if (k < 1) k = 1; print k }')p" "$PGDIR/lat" || echo 0; }
		p50=$(pct 0.50)
		p99=$(pct 0.99)
		mx=$(tail -1 "$PGDIR/lat" 2>/dev/null || echo 0)
		printf '{"tool":"pgbench","label":"pg","clients":%d,"cycles_per_s":%s,"errors":%s,"ops":{"cycle":{"count":%d,"p50_us":%s,"p99_us":%s,"max_us":%s}}}\n' \
			"$c" "${tps:-0}" "${failed:-0}" "$n" "${p50:-0}" "${p99:-0}" "${mx:-0}" >>"$RESULTS"
		say "$(printf '  %-22s %3d clients %9.0f cycles/s  cycle p50 %7s us  p99 %8s us' pg "$c" "${tps:-0}" "$p50" "$p99")"
		rm -f "$PGDIR"/pgb*
	done
fi


# poold with --store postgresql:// on the same server (one transaction per
# batch: group commit, pipelined writes).
if want pg-poold; then
	start_pg
	say "== poold on PostgreSQL (--store postgresql://, synchronous_commit on), $NRES resources"
	url=$(pg_schema poold_bench)
	mkdir -p "$WORK/pg-poold"
	"$POOLD" --socket "$WORK/pg-poold/poold.sock" --store "$url" --log-level warn \
		2>>"$WORK/poold.log" &
	POOLD_PID=$!
	PIDS+=("$POOLD_PID")
	wait_for_socket "$WORK/pg-poold/poold.sock"
	for c in $CLIENTS; do
		bench "poold-pg" --socket "$WORK/pg-poold/poold.sock" --resources "$NRES" \
			--clients "$c" --poold-pid "$POOLD_PID"
	done
	stop_pid "$POOLD_PID"
fi

# Failover: two front ends on one schema, --failover-timeout 5 (the
# default). Each run kills the leader with SIGKILL and times how long until
# the other front end answers a lease (polled every 10 ms), then brings the
# killed one back as a standby.
if want failover; then
	start_pg
	say "== failover: 2 front ends on PostgreSQL, SIGKILL of the leader, 10 runs"
	url=$(pg_schema poold_failover)
	declare -A FO_PID
	fo_start() { # name
		mkdir -p "$WORK/fo-$1"
		"$POOLD" --socket "$WORK/fo-$1/poold.sock" --store "$url" --log-level warn \
			2>>"$WORK/failover.log" &
		FO_PID[$1]=$!
		PIDS+=("${FO_PID[$1]}")
		wait_for_socket "$WORK/fo-$1/poold.sock"
	}
	fo_start a
	sleep 0.5
	fo_start b
	"$POOLCTL" --socket "$WORK/fo-a/poold.sock" -q pool create fo --create builtin --max-size 1000000 >/dev/null
	lead=a other=b secs=()
	for i in $(seq 1 10); do
		sleep 1
		t=$(python3 - "$WORK/fo-$other/poold.sock" "${FO_PID[$lead]}" <<'PY'
import os, signal, socket, sys, time
sock, pid = sys.argv[1], int(sys.argv[2])
def lease():
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(sock)
        s.sendall(b'{"op":"lease","pool":"fo","ttl":60}\n')
        line = s.makefile().readline()
        s.close()
        return '"ok":true' in line
    except OSError:
        return False
t0 = time.monotonic()
os.kill(pid, signal.SIGKILL)
while not lease():
    if time.monotonic() - t0 > 60:
        print("timeout"); sys.exit(1)
    time.sleep(0.01)
print("%.3f" % (time.monotonic() - t0))
PY
)
		secs+=("$t")
		say "  run $i: $lead killed, $other answered a lease after $t s"
		wait "${FO_PID[$lead]}" 2>/dev/null || true
		fo_start "$lead"
		tmp=$lead lead=$other other=$tmp
	done
	printf '{"tool":"failover","timeout":5,"seconds":[%s]}\n' "$(IFS=,; echo "${secs[*]}")" >>"$RESULTS"
	stop_pid "${FO_PID[a]}"
	stop_pid "${FO_PID[b]}"
fi

if [ -n "$PGDATA_DIR" ]; then
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null
	PGDATA_DIR=
fi

print_table "$RESULTS"
