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
#   bench/socket_load.sh --compare --rates 500,1000,1500  # Node, then Samvad; a table
#   bench/socket_load.sh --cluster --rates 500,1000,1500  # one node, then two sharing Redis
#   bench/socket_load.sh --scenario group --connections 256 --rates 100,200,400
#   bench/socket_load.sh --scenario connections --connections 50000 --hold 300
#
# Scenarios (--scenario):
#   pairs        (default) N/2 one-to-one conversations, 2 connections each;
#                sends round robin over every connection; each message is
#                delivered to the peer.
#   group        one group conversation with every seeded participant as a
#                member (`samvad bench seed --group`); each message comes
#                from a random member and is delivered to every other
#                connected member: "delivered/s" counts deliveries, latency
#                is over all deliveries, and every member must receive every
#                message (a missing delivery counts as lost). The core's
#                group size limit applies to N.
#   connections  no sends: opens N connections at --open-rate a second from
#                loopback source addresses 127.0.0.2, 127.0.0.3, ...
#                (ceil(N/10000) of them, round robin), holds them --hold
#                seconds answering Engine.IO pings, and reports the achieved
#                open rate, handshake times, connections dropped, and the
#                server's RSS per connection (RSS after the connections
#                settle minus RSS before, over the connections held). Fails
#                if any connection failed to open or dropped.
#
# Each step of a sweep reports the sends accepted and refused (`overloaded`
# acks, past the server's send bound) per second, deliveries per second,
# latency, loss. A step passes with p99 <= --pass-p99-ms, nothing lost,
# every send answered and >= 95% of the offered deliveries delivered; the
# results hold the highest passing rate.
#
# Options (all optional):
#   --scenario S          pairs, group or connections (default pairs)
#   --ref samvad|node     which server (default samvad)
#   --cluster             run Samvad on one node (results samvad-1node-...),
#                         then on two nodes sharing a Redis (samvad-2nodes-...;
#                         BENCH_REDIS_URL, default redis://127.0.0.1:6379/;
#                         connection i to node i mod 2, so every pair's two
#                         ends are on different nodes and every message
#                         crosses), on the same cores; write both result
#                         files and print the table (the cross-node cost;
#                         CPU and RSS are the first node's)
#   --pairs-together      with --cluster, put both ends of each pair on one
#                         node (pair k on node k mod 2), so no message
#                         crosses: what a second node costs without the
#                         crossing
#   --compare             run the Node reference, then Samvad, with the same
#                         options (each on a fresh database), write both
#                         result files and print a table per rate and the
#                         ratio of their highest passing rates
#   --connections N       websocket connections, one per seeded participant
#                         (default 1000)
#   --rates R1,R2,...     total send rates to sweep, msgs/s (default
#                         250,500,1000,2000,3000,4000,5000)
#   --duration S          measured seconds per rate (default 20)
#   --warmup S            unmeasured seconds per rate before that (default 5)
#   --stop-above-p99 MS   end the sweep after a step with p99 over MS (default 500)
#   --pass-p99-ms MS      a step passes with p99 <= MS (default 50)
#   --open-rate R         connections opened per second (default 500; 2000
#                         for the connections scenario)
#   --settle S            seconds after the connections are up before
#                         measuring memory and sending (default 10)
#   --hold S              seconds to hold the connections (connections
#                         scenario; default 300)
#   --repeat N            with --compare or --cluster, run the pair of servers
#                         N times, taking turns (results ...-runK.json), and
#                         print the medians per rate (bench/compare.mjs): one
#                         run of a loaded 2-core machine is noisy
#   --tag NAME            results file name suffix (default: none)
# Results: bench/results/<server>-<N>[-tag].json for pairs,
# <server>-group-<N>[-tag].json and <server>-connections-<N>[-tag].json.
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
#   BENCH_NODE_ENV        "VAR=value ..." for each node of --cluster's two-node
#                         run only (e.g. SAMVAD_WRITERS=1: two writers in all,
#                         as one node has)
#   SAMVAD_DB_MAX_CONNECTIONS, RUST_LOG, ...  passed to the server as usual
#
# Needs: cargo, node >= 20 and npm (for --ref node), curl, the mysql client,
# and MariaDB/MySQL on 127.0.0.1:3306 as root without a password. The
# database named by BENCH_DB_NAME is dropped at the start and at the end.
# Each connection is a file descriptor in the server and one in the load
# generator: the script raises the open-file limit (both inherit it) to the
# hard limit, and refuses to start when that is under N + 1000 (50,000
# connections need a hard limit of at least 51,000: `ulimit -Hn`, or
# LimitNOFILE / `docker run --ulimit nofile=...`).
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/bench-target}"
DB_NAME="${BENCH_DB_NAME:-samvad_load}"
MYSQL="${BENCH_MYSQL:-mysql -h127.0.0.1 -P3306 -uroot}"
export DATABASE_URL="mysql://root@127.0.0.1:3306/${DB_NAME}"

SCENARIO=pairs
REF=samvad
COMPARE=0
CLUSTER=0
TOGETHER=0
SECOND_PID=""
CONNECTIONS=1000
RATES=250,500,1000,2000,3000,4000,5000
DURATION=20
WARMUP=5
STOP_ABOVE=500
PASS_P99=50
OPEN_RATE=""
SETTLE=""
HOLD=300
TAG=""
REPEAT=1
while (($#)); do
  case "$1" in
    --scenario) SCENARIO="$2"; shift 2 ;;
    --ref) REF="$2"; shift 2 ;;
    --compare) COMPARE=1; shift ;;
    --cluster) CLUSTER=1; shift ;;
    --pairs-together) TOGETHER=1; shift ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --rates) RATES="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --stop-above-p99) STOP_ABOVE="$2"; shift 2 ;;
    --pass-p99-ms) PASS_P99="$2"; shift 2 ;;
    --open-rate) OPEN_RATE="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --hold) HOLD="$2"; shift 2 ;;
    --tag) TAG="-$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$REF" in samvad | node) ;; *) echo "--ref is samvad or node" >&2; exit 2 ;; esac
case "$SCENARIO" in pairs | group | connections) ;; *) echo "--scenario is pairs, group or connections" >&2; exit 2 ;; esac
check_db_name
PAIRS=$(((CONNECTIONS + 1) / 2))
REFS=("$REF")
((COMPARE)) && REFS=(node samvad)
((CLUSTER)) && REFS=(samvad-1node samvad-2nodes)
if ! [[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || { ((REPEAT > 1)) && ! ((COMPARE || CLUSTER)); }; then
  echo "--repeat is a positive number, with --compare or --cluster" >&2
  exit 2
fi
[[ "$SCENARIO" == connections ]] && OPEN_RATE="${OPEN_RATE:-2000}"

# Each connection is a file descriptor here and one in the server (both
# inherit this limit): the soft limit up to the hard one, and the hard one
# up too where that is allowed.
NEED_FDS=$((CONNECTIONS + 1000))
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ "$(ulimit -n)" != unlimited ]] && (($(ulimit -n) < NEED_FDS)); then
  ulimit -HSn "$NEED_FDS" 2>/dev/null || true
fi
if [[ "$(ulimit -n)" != unlimited ]] && (($(ulimit -n) < NEED_FDS)); then
  echo "ulimit -n is $(ulimit -n) (hard limit $(ulimit -Hn)): too few file descriptors for $CONNECTIONS connections (need $NEED_FDS); raise the hard limit" >&2
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
if [[ " ${REFS[*]} " == *" node "* && ! -d bench/node-ref/node_modules ]]; then
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

COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src migrations Cargo.toml 2>/dev/null || echo '+uncommitted')"
case "$SCENARIO" in
  pairs) KIND="" ;;
  *) KIND="$SCENARIO-" ;;
esac
mkdir -p bench/results

# Runs the scenario against server $1 on a fresh database; writes
# bench/results/$1-...json (its path in WROTE) and returns the load
# generator's status.
run_one() {
  local ref="$1" status=0 seed_args=()
  [[ "$SCENARIO" == group ]] && seed_args=(--group)
  echo "== $ref: fresh database $DB_NAME, seeding $PAIRS pairs${seed_args:+ and a group of them all}" >&2
  $MYSQL -e "DROP DATABASE IF EXISTS \`$DB_NAME\`"
  SAMVAD_DATA_DIR="$WORK/data" "$BIN" migrate >"$WORK/migrate.log" 2>&1
  SAMVAD_DATA_DIR="$WORK/data" "$BIN" bench seed --tenant bench --pairs "$PAIRS" "${seed_args[@]}" --json >"$WORK/seed.json"
  echo "== seeded in $(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).data.seconds)' "$WORK/seed.json") s" >&2

  PORT="$(free_port)"
  local base="http://127.0.0.1:$PORT"
  echo "== starting $ref on $base" >&2
  if [[ "$ref" == samvad-2nodes ]]; then
    local prefix="bench-$$-$RANDOM" port2
    port2="$(free_port)"
    # shellcheck disable=SC2086 # BENCH_NODE_ENV is a list of VAR=value
    env ${BENCH_NODE_ENV:-} REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/}" SAMVAD_REDIS_PREFIX="$prefix" \
      SAMVAD_BIND="127.0.0.1:$port2" SAMVAD_DATA_DIR="$WORK/data" "$BIN" serve >"$WORK/server-$ref-b.log" 2>&1 &
    SECOND_PID=$!
    wait_ready "http://127.0.0.1:$port2" "$SECOND_PID"
    # shellcheck disable=SC2086
    env ${BENCH_NODE_ENV:-} REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/}" SAMVAD_REDIS_PREFIX="$prefix" \
      SAMVAD_BIND="127.0.0.1:$PORT" SAMVAD_DATA_DIR="$WORK/data" "$BIN" serve >"$WORK/server-$ref.log" 2>&1 &
  elif [[ "$ref" == samvad || "$ref" == samvad-1node ]]; then
    SAMVAD_BIND="127.0.0.1:$PORT" SAMVAD_DATA_DIR="$WORK/data" "$BIN" serve >"$WORK/server-$ref.log" 2>&1 &
  else
    PORT="$PORT" DB_POOL="${SAMVAD_DB_MAX_CONNECTIONS:-20}" node bench/node-ref/server.mjs >"$WORK/server-$ref.log" 2>&1 &
  fi
  SERVER_PID=$!
  ln -sf "server-$ref.log" "$WORK/server.log"
  wait_ready "$base"
  wait_quiet

  local db_pid args=() out="bench/results/${ref}-${KIND}${CONNECTIONS}${TAG}${RUN}.json"
  db_pid="$(pgrep -x mariadbd || pgrep -x mysqld || true)"
  [[ -n "${SECOND_PID:-}" ]] && base="$base,http://127.0.0.1:$port2"
  args=(--url "$base" --seed "$WORK/seed.json" --scenario "$SCENARIO" --connections "$CONNECTIONS"
    --label "$ref" --server-pid "$SERVER_PID" --out "$WORK/result-$ref.json")
  [[ -n "$db_pid" ]] && args+=(--db-pid "${db_pid%%$'\n'*}")
  [[ -n "$OPEN_RATE" ]] && args+=(--ramp "$OPEN_RATE")
  [[ -n "$SETTLE" ]] && args+=(--settle "$SETTLE")
  ((TOGETHER)) && args+=(--pairs-together)
  if [[ "$SCENARIO" == connections ]]; then
    echo "== $ref, commit $COMMIT: $CONNECTIONS connections at $OPEN_RATE/s, held $HOLD s; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    args+=(--hold "$HOLD" --connect-concurrency 256)
  else
    echo "== $ref, commit $COMMIT: $SCENARIO, $CONNECTIONS connections, rates $RATES msgs/s, ${WARMUP}+${DURATION} s each; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    args+=(--rates "$RATES" --duration "$DURATION" --warmup "$WARMUP"
      --stop-above-p99-ms "$STOP_ABOVE" --pass-p99-ms "$PASS_P99"
      --wait-quiet "${BENCH_WAIT_QUIET:-0}" --database-url "$DATABASE_URL")
  fi
  "$LOADGEN" "${args[@]}" >/dev/null || status=$?
  stop_server
  stop_second
  [[ -f "$WORK/result-$ref.json" ]] || return "${status/#0/1}"
  # The result, with where it came from.
  node -e '
    const fs = require("fs");
    const r = JSON.parse(fs.readFileSync(process.argv[1]));
    r.commit = process.argv[2];
    r.date = new Date().toISOString();
    r.machine = { cpus: require("os").cpus().length, model: require("os").cpus()[0].model };
    delete r.url;
    fs.writeFileSync(process.argv[3], JSON.stringify(r, null, 2) + "\n");
  ' "$WORK/result-$ref.json" "$COMMIT" "$out"
  WROTE="$out"
  echo "== results: $out" >&2
  return "$status"
}

# Each server's result files, comma-separated (compare.mjs takes medians).
status=0
declare -A OUTS=()
RUN=""
for ((round = 1; round <= REPEAT; round++)); do
  ((REPEAT > 1)) && RUN="-run$round"
  for ref in "${REFS[@]}"; do
    WROTE=""
    run_one "$ref" || status=$?
    [[ -n "$WROTE" ]] && OUTS[$ref]="${OUTS[$ref]:+${OUTS[$ref]},}$WROTE"
  done
done

if ((COMPARE || CLUSTER)) && [[ -n "${OUTS[${REFS[0]}]:-}" && -n "${OUTS[${REFS[1]}]:-}" ]]; then
  node bench/compare.mjs "${OUTS[${REFS[0]}]}" "${OUTS[${REFS[1]}]}"
fi
exit "$status"
