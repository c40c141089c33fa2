#!/usr/bin/env bash
# Builds the release binary, runs the REST send benchmark (bench/rest_send.mjs)
# against a server on a fresh database, prints the JSON summary, and cleans up.
#
#   bench/run.sh                              # defaults: 2000 into one, 100 x 20
#   bench/run.sh --one 5000 --per-conv 50     # extra arguments go to rest_send.mjs
#   bench/run.sh --concurrency 64 --duration 30          # 64 clients, closed loop
#   bench/run.sh --concurrency 64 --duration 30 --rate 3000   # open loop
#
# --concurrency N runs N clients at once instead of the sequential cases:
# N users, each with their own keep-alive connection, each sending into their
# own direct conversation with one of --astrologers A (default ceil(N/8))
# astrologers, back to back (closed loop) or, with --rate R, at R sends a
# second in total (open loop), for --duration S (default 30) seconds after
# --warmup-seconds S (default 5). It reports accepted sends/s, p50/p90/p99/max
# latency, `overloaded` refusals and other errors by code, and checks every
# acknowledged send is stored, gap-free. See bench/rest_send.mjs --help.
#
# Needs: cargo, node >= 20, curl, the mysql client, and MariaDB/MySQL on
# 127.0.0.1:3306 as root without a password (like `cargo test`).
# Environment (all optional):
#   CARGO_TARGET_DIR   build directory (default /tmp/bench-target, so the
#                      benchmark does not contend for the main target dir)
#   BENCH_DB_NAME      database to drop, create and drop again (default samvad_bench)
#   BENCH_MYSQL        mysql client command (default "mysql -h127.0.0.1 -P3306 -uroot")
#   BENCH_PORT         port to serve on (default: a free one)
#   BENCH_OUT          also write the JSON summary to this file
#   BENCH_KEEP_DB=1    keep the database afterwards (to look at it)
#   BENCH_WAIT_QUIET=S before measuring, wait up to S seconds for the machine
#                      to be quiet (>= 85% idle over 2 s); the summary's
#                      otherCoresBusy says how busy everything else was
#   BENCH_NO_BUILD=1   use the binary already in $CARGO_TARGET_DIR (repeat runs
#                      of one build while the sources change)
#   BENCH_SAMVAD_BIN   run this samvad binary instead, without building (to
#                      compare two builds, or to smoke-test with a debug build:
#                      its numbers are not the benchmark's)
#   RUST_LOG           server log filter (default: the server's own default);
#                      the server log goes to $TMPDIR/samvad-bench.*/server.log
#
# The database named by BENCH_DB_NAME is dropped at the start and at the end:
# never point it at one you care about.
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/bench-target}"
DB_NAME="${BENCH_DB_NAME:-samvad_bench}"
MYSQL="${BENCH_MYSQL:-mysql -h127.0.0.1 -P3306 -uroot}"
export DATABASE_URL="mysql://root@127.0.0.1:3306/${DB_NAME}"
TENANT=bench
ADMIN_EMAIL=admin@bench.test
ADMIN_PASSWORD=bench-admin-password

check_db_name

release_binary

WORK="$(mktemp -d "${TMPDIR:-/tmp}/samvad-bench.XXXXXX")"
trap cleanup EXIT
trap 'exit 130' INT TERM

fresh_tenant

start_server
DB_PID="$(pgrep -x mariadbd || pgrep -x mysqld || true)"
BENCH_FSYNC_DIR="$WORK" BENCH_SERVER_PID="$SERVER_PID" BENCH_DB_PID="${DB_PID%%$'\n'*}" BENCH_MYSQL="$MYSQL" \
BENCH_TENANT="$TENANT" BENCH_ADMIN_EMAIL="$ADMIN_EMAIL" BENCH_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  node bench/rest_send.mjs "$BASE" "$@" | tee "$WORK/summary.json"
if [[ -n "${BENCH_OUT:-}" ]]; then cp "$WORK/summary.json" "$BENCH_OUT"; fi
