#!/usr/bin/env bash
# Builds the release binary, runs the REST send benchmark against a server on
# a fresh database, prints the JSON summary, and cleans up.
#
#   bench/run.sh                              # defaults: 2000 into one, 100 x 20
#   bench/run.sh --one 5000 --per-conv 50     # extra arguments go to rest_send.mjs
#   bench/run.sh --concurrency 64 --duration 30          # 64 clients, closed loop
#   bench/run.sh --concurrency 64 --duration 30 --rate 3000   # open loop
#   bench/run.sh --concurrency 64 --duration 30 --client node # the Node client
#
# Without --concurrency it runs the sequential cases of bench/rest_send.mjs
# (Node's fetch; see bench/rest_send.mjs --help).
#
# --concurrency N runs N clients at once instead of the sequential cases:
# N users, each with their own keep-alive connection, each sending into their
# own direct conversation, back to back (closed loop) or, with --rate R, at R
# sends a second in total on a fixed timetable (open loop: latency counts
# from when a send was due), for --duration S (default 30) seconds after
# --warmup-seconds S (default 5). It reports accepted sends/s, p50/p90/p99/max
# latency, `overloaded` refusals and other errors by code, the CPU of the
# client, the server and MariaDB, and checks every acknowledged send is
# stored and every conversation's seqs are gap-free.
#
# --client rust|node  which client drives --concurrency N:
#   rust (default)  `samvad-loadgen rest` (bench/loadgen, built like
#                   bench/socket_load.sh builds it): N users and their
#                   conversations from `samvad bench seed --pairs N` (one
#                   astrologer per user), one hyper HTTP/1.1 connection per
#                   client, a single-threaded runtime (--threads T for more);
#                   it took 0.07 cores at 2,300 sends/s (0.03 ms a send),
#                   where the Node client took 0.49 at 2,084. Options:
#                   --concurrency, --duration, --warmup-seconds, --rate,
#                   --threads (`samvad-loadgen rest --help`); --astrologers
#                   is the Node client's.
#   node            bench/rest_send.mjs --concurrency N (node:http): users,
#                   consultations and conversations made through the API, with
#                   --astrologers A (default ceil(N/8)) astrologers; it takes
#                   about half a core of the machine's two itself.
# The sequential cases always run on Node (there, rest_send.mjs's own
# --client fetch|http chooses Node's HTTP client).
#
# Needs: cargo, node >= 20, curl, the mysql client, and MariaDB/MySQL on
# 127.0.0.1:3306 as root without a password (like `cargo test`).
# The Rust client writes the same JSON summary as rest_send.mjs's
# concurrent mode (per message: CPU ms of client, server and MariaDB, and
# MariaDB's statements from SHOW GLOBAL STATUS); it has no fsync probe.
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
#   BENCH_NO_BUILD=1   use the binaries already in $CARGO_TARGET_DIR (samvad,
#                      and samvad-loadgen for the Rust client; repeat runs of
#                      one build while the sources change)
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

# --client rust|node is this script's; everything else goes to the client.
CLIENT=""
CONCURRENCY=0
ASTROLOGERS=0
ARGS=()
while (($#)); do
  case "$1" in
    --client | --client=*)
      value="${1#--client}"; value="${value#=}"
      [[ -z "$value" && "$1" == --client ]] && value="${2:-}"
      if [[ "$value" == rust || "$value" == node ]]; then
        CLIENT="$value"
        [[ "$1" == --client ]] && shift
        shift
        continue
      fi ;;
    --astrologers | --astrologers=*) ASTROLOGERS=1 ;;
    --concurrency) CONCURRENCY="${2:-}" ;;
    --concurrency=*) CONCURRENCY="${1#--concurrency=}" ;;
  esac
  ARGS+=("$1")
  shift
done
[[ "$CONCURRENCY" =~ ^[0-9]+$ ]] || { echo "--concurrency must be a whole number" >&2; exit 2; }
if ((CONCURRENCY == 0)); then
  [[ "$CLIENT" == rust ]] && { echo "--client rust needs --concurrency N (the sequential cases run on Node)" >&2; exit 2; }
  CLIENT=node
fi
CLIENT="${CLIENT:-rust}"
if [[ "$CLIENT" == rust ]] && ((ASTROLOGERS)); then
  echo "--astrologers is the Node client's (add --client node): the Rust client's seed gives each user their own astrologer" >&2
  exit 2
fi

check_db_name

release_binary
LOADGEN="$CARGO_TARGET_DIR/release/samvad-loadgen"
if [[ "$CLIENT" == rust ]]; then
  if [[ "${BENCH_NO_BUILD:-}" == 1 && -x "$LOADGEN" ]]; then
    echo "== using the existing $LOADGEN (built $(date -r "$LOADGEN" '+%F %T'))" >&2
  else
    echo "== building the load generator (release, $CARGO_TARGET_DIR)" >&2
    cargo build --release --quiet --manifest-path bench/loadgen/Cargo.toml
  fi
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/samvad-bench.XXXXXX")"
trap cleanup EXIT
trap 'exit 130' INT TERM

fresh_tenant
if [[ "$CLIENT" == rust ]]; then
  # Users, astrologers, consultations, conversations and access tokens in
  # seconds (signed with the data directory's development key, which the
  # server started below reads too; valid a day).
  echo "== seeding $CONCURRENCY user-astrologer pairs" >&2
  SAMVAD_DATA_DIR="$WORK/data" SAMVAD_ACCESS_TOKEN_TTL=86400 \
    "$BIN" bench seed --tenant "$TENANT" --pairs "$CONCURRENCY" --json >"$WORK/seed.json"
fi

start_server
DB_PID="$(pgrep -x mariadbd || pgrep -x mysqld || true)"
DB_PID="${DB_PID%%$'\n'*}"
if [[ "$CLIENT" == rust ]]; then
  "$LOADGEN" rest --url "$BASE" --seed "$WORK/seed.json" --server-pid "$SERVER_PID" \
    ${DB_PID:+--db-pid "$DB_PID"} --database-url "$DATABASE_URL" "${ARGS[@]}" | tee "$WORK/summary.json"
else
  BENCH_FSYNC_DIR="$WORK" BENCH_SERVER_PID="$SERVER_PID" BENCH_DB_PID="$DB_PID" BENCH_MYSQL="$MYSQL" \
  BENCH_TENANT="$TENANT" BENCH_ADMIN_EMAIL="$ADMIN_EMAIL" BENCH_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    node bench/rest_send.mjs "$BASE" "${ARGS[@]}" | tee "$WORK/summary.json"
fi
if [[ -n "${BENCH_OUT:-}" ]]; then cp "$WORK/summary.json" "$BENCH_OUT"; fi
