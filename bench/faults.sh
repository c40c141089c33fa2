#!/usr/bin/env bash
# Fault injection under load: three Samvad nodes sharing a private MariaDB
# and a private Redis, user-astrologer pairs sending through them with
# bench/faults.mjs (the official socket.io-client; a pair's two ends on
# different nodes, but for half the pairs of the redis run, which stay on
# one node), and one fault in the middle of each run:
#
#   node    a node killed with kill -9: its devices reconnect to another node
#           and resync by seq. A call placed from a device there and
#           answered on node 1 must end with network_error once the dead
#           node's presence heartbeat lapses; that device does not fail
#           over (one that reconnects elsewhere is still online, and its
#           call rightly goes on).
#   redis   the private redis-server killed and started again 3 s later on
#           the same port: delivery within each node never stops (every
#           same-node message acknowledged meanwhile arrives live within
#           1 s), delivery across nodes is back within 15 s, no node restart.
#   mysql   the private mariadbd stopped (SIGTERM) and started again 3 s
#           after it exited: sends made meanwhile are answered fast (p99
#           1 s) with a 503, never acknowledged, and retried with the same
#           clientMsgId; the nodes recover without a restart.
#
# For each: acknowledged, stored, delivered (live / by resync), refused then
# retried, duplicated and lost, checked against the database, and the
# fault's own numbers (reconnect time, call end time, cross-node resume
# gap, refusal latency), with a per-second table. Exits 1 if a check fails
# (anything acknowledged lost, stored and not delivered, duplicated, a call
# that did not end with network_error, and the fault's own checks:
# bench/faults/verify.mjs and scenarios.mjs), 2 if a run could not be made.
#
#   bench/faults.sh                   # all three, 30 pairs, 150 msgs/s, 20 s each
#   bench/faults.sh --quick           # all three, 12 pairs, 60 msgs/s, 10 s each; no results file
#   bench/faults.sh --fault redis     # one of node, redis, mysql, all (default)
#
# Options: --quick; --fault F; --pairs N, --rate R (msgs/s in total),
# --duration S (overriding the defaults); --down S (how long Redis or
# MariaDB stays down, default 3); -h.
# Results: bench/results/faults-<fault>.json (not with --quick).
# Environment:
#   SAMVAD_BIN     the samvad binary (default target/debug/samvad; copied
#                  first, so a rebuild during the run does not matter)
#   FAULTS_KEEP=1  keep the temporary directory (logs, database files) even
#                  when everything passed
#   RUST_LOG       the nodes' log filter (default info)
#
# Touches neither the machine's MariaDB nor its Redis: everything runs from
# one temporary directory (a MariaDB made with mariadb-install-db, a
# redis-server without persistence, three nodes with their own data
# directories and logs) on free ports, and is stopped on exit or Ctrl-C.
# Needs: node >= 20 and npm (bench/faults/node_modules is installed with
# `npm ci` when missing), mariadb-install-db, mariadbd and the mariadb (or
# mysql) client, redis-server and redis-cli, curl.
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh # free_port

FAULTS=(node redis mysql)
QUICK=0
PAIRS="" RATE="" DURATION="" DOWN=3
while (($#)); do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --fault)
      case "${2:-}" in
        all) FAULTS=(node redis mysql) ;;
        node | redis | mysql) FAULTS=("$2") ;;
        *) echo "--fault is node, redis, mysql or all" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --pairs) PAIRS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --down) DOWN="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
if ((QUICK)); then
  PAIRS="${PAIRS:-12}" RATE="${RATE:-60}" DURATION="${DURATION:-10}"
else
  PAIRS="${PAIRS:-30}" RATE="${RATE:-150}" DURATION="${DURATION:-20}"
fi

for tool in node npm curl mariadb-install-db mariadbd redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "faults.sh needs $tool" >&2; exit 2; }
done
CLIENT="$(command -v mariadb || command -v mysql)" || { echo "faults.sh needs the mariadb or mysql client" >&2; exit 2; }
SRC_BIN="${SAMVAD_BIN:-target/debug/samvad}"
[[ -x "$SRC_BIN" ]] || { echo "no samvad binary at $SRC_BIN (build it, or set SAMVAD_BIN)" >&2; exit 2; }
if [[ ! -d bench/faults/node_modules/socket.io-client ]]; then
  echo "== npm ci (bench/faults)" >&2
  (cd bench/faults && npm ci --no-audit --no-fund --silent)
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/samvad-faults.XXXXXX")"
source bench/faults/daemons.sh
trap faults_cleanup EXIT
trap 'exit 130' INT TERM

cp "$SRC_BIN" "$WORK/samvad"
BIN="$WORK/samvad"
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src migrations Cargo.toml 2>/dev/null || echo '+uncommitted')"
echo "== $WORK: samvad from $SRC_BIN (built $(date -r "$SRC_BIN" '+%F %T')), commit $COMMIT" >&2
DB_PORT="$(free_port)"
REDIS_PORT="$(free_port)"
echo "== private MariaDB on 127.0.0.1:$DB_PORT, Redis on 127.0.0.1:$REDIS_PORT" >&2
install_mariadb
start_mariadb
start_redis

# The same secrets for the seed (which signs the tokens) and every node.
SAMVAD_JWT_SECRET="faults-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SAMVAD_DATA_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# Runs fault $1 on a fresh database and three fresh nodes; returns 0, 1 (a
# check failed) or 2. (Called with `||`, so `set -e` does not apply: every
# step checks its own status.)
run_fault() {
  local fault="$1" dir="$WORK/$1" k port args status=0
  mkdir -p "$dir"
  local db="faults_$fault"
  NODE_ENV_COMMON=(
    "DATABASE_URL=mysql://root@127.0.0.1:$DB_PORT/$db"
    "REDIS_URL=redis://127.0.0.1:$REDIS_PORT/"
    "SAMVAD_REDIS_PREFIX=faults-$fault-$$"
    "SAMVAD_JWT_SECRET=$SAMVAD_JWT_SECRET"
    "SAMVAD_DATA_KEY=$SAMVAD_DATA_KEY"
    "SAMVAD_ENV=dev"
    "SAMVAD_ACCESS_TOKEN_TTL=86400"
    "SAMVAD_PRESENCE_GRACE=1"
    "RUST_LOG=${RUST_LOG:-info}"
    "NO_COLOR=1"
  )
  local seeded="$PAIRS"
  [[ "$fault" == node ]] && seeded=$((PAIRS + 1)) # the call's pair
  echo "== $fault: fresh database $db, seeding $seeded pairs" >&2
  "$CLIENT" -h127.0.0.1 -P"$DB_PORT" -uroot -e "DROP DATABASE IF EXISTS \`$db\`" || return 2
  if ! env "${NODE_ENV_COMMON[@]}" SAMVAD_DATA_DIR="$dir/seed" "$BIN" bench seed --tenant faults --pairs "$seeded" --json \
    >"$dir/seed.json" 2>"$dir/seed.log"; then
    echo "seeding failed:" >&2
    tail -n 20 "$dir/seed.log" "$dir/seed.json" >&2
    return 2
  fi
  URLS=()
  for k in 1 2 3; do
    port="$(free_port)"
    start_node "$k" "$port" "$dir"
    URLS+=("http://127.0.0.1:$port")
  done
  for k in 1 2 3; do
    wait_node "$k" "${URLS[k - 1]}" "$dir" || { stop_nodes; return 2; }
  done
  echo "== $fault: nodes ${URLS[*]}" >&2

  args=(--fault "$fault" --seed "$dir/seed.json" --urls "$(IFS=,; echo "${URLS[*]}")"
    --rate "$RATE" --duration "$DURATION" --down "$DOWN" --commit "$COMMIT"
    --mysql "$CLIENT -h127.0.0.1 -P$DB_PORT -uroot $db")
  ((QUICK)) || args+=(--out "bench/results/faults-$fault.json")
  serve_load "$dir" "${args[@]}" || status=$?
  stop_nodes
  if ((status != 0)); then
    print_logs "$dir"
  fi
  return "$status"
}

status=0
declare -A VERDICT
for fault in "${FAULTS[@]}"; do
  code=0
  run_fault "$fault" || code=$?
  case "$code" in
    0) VERDICT[$fault]=passed ;;
    1) VERDICT[$fault]="FAILED (a check)"; status=1 ;;
    *) VERDICT[$fault]="could not run (status $code)"; ((status == 1)) || status=2 ;;
  esac
done
echo "== summary" >&2
for fault in "${FAULTS[@]}"; do echo "  $fault: ${VERDICT[$fault]}" >&2; done
exit "$status"
