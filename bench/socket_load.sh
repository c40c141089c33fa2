#!/usr/bin/env bash
# The Socket.IO load benchmark in one command: builds the release binary and
# the load generator (bench/loadgen), makes a fresh database, seeds
# user-astrologer pairs with `samvad bench seed`, starts the server (Samvad,
# or with --ref node the Node socket.io reference in bench/node-ref), and
# runs the load generator: N websocket connections, a sweep of send rates,
# latency, loss, CPU and RSS. Results go to bench/results/ as JSON;
# bench/plot.py draws docs/bench-latency-vs-rate.png from them.
#
#   bench/socket_load.sh                                  # 1,000 connections, default sweep
#   bench/socket_load.sh --connections 10000 --rates 1000,2000,4000
#   bench/socket_load.sh --ref node --connections 1000    # the Node reference
#
# Options (all optional):
#   --ref samvad|node     which server (default samvad)
#   --connections N       websocket connections, 2 per conversation (default 1000)
#   --rates R1,R2,...     total send rates to sweep, msgs/s (default
#                         250,500,1000,2000,3000,4000,5000)
#   --duration S          measured seconds per rate (default 20)
#   --warmup S            unmeasured seconds per rate before that (default 5)
#   --stop-above-p99 MS   end the sweep after a step with p99 over MS (default 500)
#   --tag NAME            results file name suffix (default: none)
# Environment:
#   CARGO_TARGET_DIR      build directory (default /tmp/bench-target)
#   BENCH_DB_NAME         database to drop, create and drop again (default samvad_load)
#   BENCH_MYSQL           mysql client command (default "mysql -h127.0.0.1 -P3306 -uroot")
#   BENCH_NO_BUILD=1      use the binaries already built
#   BENCH_SAMVAD_BIN      run this samvad binary instead (implies no build of
#                         samvad: to compare two builds)
#   BENCH_KEEP_DB=1       keep the database afterwards
#   BENCH_WAIT_QUIET=S    before measuring, and again before each rate, wait up
#                         to S seconds for the rest of the machine to be quiet;
#                         each step's cpuCores.other shows how busy it was
#   SAMVAD_DB_MAX_CONNECTIONS, RUST_LOG, ...  passed to the server as usual
#
# Needs: cargo, node >= 20 and npm (for --ref node), curl, the mysql client,
# and MariaDB/MySQL on 127.0.0.1:3306 as root without a password. The
# database named by BENCH_DB_NAME is dropped at the start and at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/bench-target}"
DB_NAME="${BENCH_DB_NAME:-samvad_load}"
MYSQL="${BENCH_MYSQL:-mysql -h127.0.0.1 -P3306 -uroot}"
export DATABASE_URL="mysql://root@127.0.0.1:3306/${DB_NAME}"

REF=samvad
CONNECTIONS=1000
RATES=250,500,1000,2000,3000,4000,5000
DURATION=20
WARMUP=5
STOP_ABOVE=500
TAG=""
while (($#)); do
  case "$1" in
    --ref) REF="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --rates) RATES="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --stop-above-p99) STOP_ABOVE="$2"; shift 2 ;;
    --tag) TAG="-$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$REF" in samvad | node) ;; *) echo "--ref is samvad or node" >&2; exit 2 ;; esac
check_db_name
PAIRS=$(((CONNECTIONS + 1) / 2))

# Each connection is a file descriptor here and one in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < CONNECTIONS + 1000)); then
  echo "ulimit -n is $(ulimit -n): too few file descriptors for $CONNECTIONS connections" >&2
  exit 2
fi

BIN="${BENCH_SAMVAD_BIN:-$CARGO_TARGET_DIR/release/samvad}"
LOADGEN="$CARGO_TARGET_DIR/release/samvad-loadgen"
if [[ "${BENCH_NO_BUILD:-}" == 1 && -x "$BIN" && -x "$LOADGEN" ]]; then
  echo "== using the existing binaries ($BIN)" >&2
else
  echo "== building samvad and the load generator (release, $CARGO_TARGET_DIR)" >&2
  [[ -n "${BENCH_SAMVAD_BIN:-}" ]] || cargo build --release --quiet
  cargo build --release --quiet --manifest-path bench/loadgen/Cargo.toml
fi
if [[ "$REF" == node && ! -d bench/node-ref/node_modules ]]; then
  echo "== npm ci (bench/node-ref)" >&2
  (cd bench/node-ref && npm ci --no-audit --no-fund --silent)
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/samvad-load.XXXXXX")"
trap cleanup EXIT
trap 'exit 130' INT TERM

# One secret for the seed (which signs the tokens) and the server (which
# checks them); tokens that outlive the run.
SAMVAD_JWT_SECRET="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SAMVAD_JWT_SECRET
export SAMVAD_ACCESS_TOKEN_TTL=86400

echo "== fresh database $DB_NAME, seeding $PAIRS pairs" >&2
$MYSQL -e "DROP DATABASE IF EXISTS \`$DB_NAME\`"
"$BIN" migrate >"$WORK/migrate.log" 2>&1
"$BIN" bench seed --tenant bench --pairs "$PAIRS" --json >"$WORK/seed.json"
echo "== seeded in $(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).data.seconds)' "$WORK/seed.json") s" >&2

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
echo "== starting $REF on $BASE" >&2
if [[ "$REF" == samvad ]]; then
  SAMVAD_BIND="127.0.0.1:$PORT" SAMVAD_DATA_DIR="$WORK/data" "$BIN" serve >"$WORK/server.log" 2>&1 &
else
  PORT="$PORT" DB_POOL="${SAMVAD_DB_MAX_CONNECTIONS:-20}" node bench/node-ref/server.mjs >"$WORK/server.log" 2>&1 &
fi
SERVER_PID=$!
wait_ready "$BASE"
wait_quiet

DB_PID="$(pgrep -x mariadbd || pgrep -x mysqld || true)"
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src migrations Cargo.toml 2>/dev/null || echo '+uncommitted')"
mkdir -p bench/results
OUT="bench/results/${REF}-${CONNECTIONS}${TAG}.json"
echo "== commit $COMMIT; $CONNECTIONS connections, rates $RATES msgs/s, ${WARMUP}+${DURATION} s each; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
status=0
"$LOADGEN" --url "$BASE" --seed "$WORK/seed.json" --connections "$CONNECTIONS" \
  --rates "$RATES" --duration "$DURATION" --warmup "$WARMUP" \
  --stop-above-p99-ms "$STOP_ABOVE" --label "$REF" --wait-quiet "${BENCH_WAIT_QUIET:-0}" \
  --server-pid "$SERVER_PID" ${DB_PID:+--db-pid "${DB_PID%%$'\n'*}"} \
  --database-url "$DATABASE_URL" --out "$WORK/result.json" >/dev/null || status=$?
[[ -f "$WORK/result.json" ]] || exit "${status/#0/1}"
# The result, with where it came from.
node -e '
  const fs = require("fs");
  const r = JSON.parse(fs.readFileSync(process.argv[1]));
  r.commit = process.argv[2];
  r.date = new Date().toISOString();
  r.machine = { cpus: require("os").cpus().length, model: require("os").cpus()[0].model };
  delete r.url;
  fs.writeFileSync(process.argv[3], JSON.stringify(r, null, 2) + "\n");
' "$WORK/result.json" "$COMMIT" "$OUT"
echo "== results: $OUT" >&2
exit "$status"
