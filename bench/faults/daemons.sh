# The processes of bench/faults.sh (sourced by it, not run): a private
# MariaDB and Redis, three Samvad nodes, the load generator as a coprocess
# whose requests to inject faults are served here, and the cleanup.
# The caller sets WORK, BIN, CLIENT, DB_PORT, REDIS_PORT and, per run,
# NODE_ENV_COMMON (the nodes' environment).

DB_PID="" REDIS_PID="" LOADGEN_PID=""
NODE_PIDS=("" "" "" "")

now_ms() { date +%s%3N; }

# Polls `$3...` every 0.1 s for up to $1 seconds; fails saying it waited for
# $2. Gives up early when the process FOR_PID (if set) has exited.
poll() {
  local seconds="$1" what="$2" _
  shift 2
  for _ in $(seq 1 $((seconds * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [[ -n "${FOR_PID:-}" ]] && ! kill -0 "$FOR_PID" 2>/dev/null; then
      echo "gave up waiting for $what: the process exited" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "timed out after $seconds s waiting for $what" >&2
  return 1
}

# Waits up to $2 seconds for process $1 (a child of this shell) to exit.
wait_exit() {
  local pid="$1" seconds="$2" _
  for _ in $(seq 1 $((seconds * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && return 1
  wait "$pid" 2>/dev/null || true
}

# kill -9 of process $1, a child of this shell, and its reaping (the
# `wait` also keeps bash from reporting "Killed").
kill9() {
  kill -KILL "$1" 2>/dev/null || return 1
  wait "$1" 2>/dev/null || true
}

# Stops process $1: SIGTERM, and SIGKILL after $2 seconds.
stop_pid() {
  local pid="$1" seconds="${2:-10}"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait_exit "$pid" "$seconds" || kill9 "$pid" || true
}

install_mariadb() {
  local user=()
  ((EUID == 0)) && user=(--user=root)
  echo "== mariadb-install-db into $WORK/db" >&2
  if ! mariadb-install-db --no-defaults --datadir="$WORK/db" --auth-root-authentication-method=normal \
    --skip-test-db "${user[@]}" >"$WORK/mariadb-install.log" 2>&1; then
    tail -n 20 "$WORK/mariadb-install.log" >&2
    return 1
  fi
}

mysql_up() { "$CLIENT" -h127.0.0.1 -P"$DB_PORT" -uroot -e 'SELECT 1'; }

# Starts mariadbd on DB_PORT and waits until it answers (durability left on).
start_mariadb() {
  local user=()
  ((EUID == 0)) && user=(--user=root)
  mariadbd --no-defaults "${user[@]}" --datadir="$WORK/db" --port="$DB_PORT" --bind-address=127.0.0.1 \
    --socket="$WORK/mariadb.sock" --pid-file="$WORK/mariadb.pid" --log-error="$WORK/mariadb.log" \
    --skip-name-resolve --max-connections=500 --innodb-buffer-pool-size=256M >/dev/null 2>&1 &
  DB_PID=$!
  FOR_PID=$DB_PID poll 60 "MariaDB on port $DB_PORT" mysql_up || { tail -n 20 "$WORK/mariadb.log" >&2; return 1; }
}

redis_up() { [[ "$(redis-cli -p "$REDIS_PORT" ping)" == PONG ]]; }

# Starts redis-server on REDIS_PORT (no persistence) and waits for PONG.
start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --client-output-buffer-limit pubsub 256mb 64mb 60 >>"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  FOR_PID=$REDIS_PID poll 20 "Redis on port $REDIS_PORT" redis_up || { tail -n 20 "$WORK/redis.log" >&2; return 1; }
}

# Starts node $1 on port $2, logging to $3/node$1.log.
start_node() {
  local k="$1" port="$2" dir="$3"
  env "${NODE_ENV_COMMON[@]}" SAMVAD_BIND="127.0.0.1:$port" SAMVAD_DATA_DIR="$dir/node$k" \
    "$BIN" serve >"$dir/node$k.log" 2>&1 &
  NODE_PIDS[k]=$!
}

wait_node() {
  local k="$1" base="$2" dir="$3"
  FOR_PID=${NODE_PIDS[k]} poll 90 "node $k's /health" curl -fsS "$base/health" && return 0
  echo "node $k did not become ready; its log:" >&2
  tail -n 30 "$dir/node$k.log" >&2
  return 1
}

stop_nodes() {
  local k
  for k in 1 2 3; do stop_pid "${NODE_PIDS[k]}" 10; NODE_PIDS[k]=""; done
}

# Does what the load generator asks ($@: kill-node K, redis-stop,
# redis-start, mysql-stop, mysql-start) and sets ANSWER: `ok <when applied>
# <when done>` (epoch ms) or `error <why>`.
do_fault() {
  local t
  t="$(now_ms)"
  case "$*" in
    "kill-node "[123])
      local pid="${NODE_PIDS[$2]}"
      kill9 "$pid" || { ANSWER="error node $2 (pid $pid) was not running"; return; }
      NODE_PIDS[$2]="" ;;
    redis-stop)
      kill9 "$REDIS_PID" || { ANSWER="error redis-server was not running"; return; }
      REDIS_PID="" ;;
    redis-start) start_redis || { ANSWER="error redis-server did not start"; return; } ;;
    mysql-stop)
      kill -TERM "$DB_PID" && wait_exit "$DB_PID" 60 || { ANSWER="error mariadbd did not stop within 60 s"; return; }
      DB_PID="" ;;
    mysql-start) start_mariadb || { ANSWER="error mariadbd did not start again"; return; } ;;
    *) ANSWER="error unknown request: $*"; return ;;
  esac
  ANSWER="ok $t $(now_ms)"
}

# Runs bench/faults.mjs (arguments $2...) as a coprocess, serving its
# requests until it ends; returns its exit status. $1: the run's directory.
serve_load() {
  local dir="$1" line from to status=0
  shift
  coproc LOAD { exec node bench/faults.mjs "$@"; }
  LOADGEN_PID=$LOAD_PID
  exec {from}<&"${LOAD[0]}" {to}>&"${LOAD[1]}"
  while IFS= read -r line <&"$from"; do
    echo "   $(date +%T.%3N) faults.sh: $line" >>"$dir/faults.log"
    do_fault $line 2>>"$dir/faults.log"
    echo "   $(date +%T.%3N) faults.sh: $ANSWER" >>"$dir/faults.log"
    echo "$ANSWER" >&"$to"
  done
  wait "$LOADGEN_PID" || status=$?
  exec {from}<&- {to}>&-
  LOADGEN_PID=""
  return "$status"
}

# The tails of the logs of run directory $1, without the warnings a node
# repeats for every send while Redis or MariaDB is away (counted instead).
print_logs() {
  local dir="$1" f n noisy='slow statement|rate limits in Redis did not answer|presence in Redis did not answer'
  for f in "$dir"/node*.log "$dir/faults.log" "$WORK/redis.log" "$WORK/mariadb.log"; do
    [[ -s "$f" ]] || continue
    echo "---- tail of $f" >&2
    grep -vE -e "$noisy" -e '^ *$' "$f" | tail -n 20 >&2
    n="$(grep -cE "$noisy" "$f" || true)"
    ((n == 0)) || echo "     ($n lines left out: $noisy)" >&2
  done
}

# On exit: everything this script started is stopped; the temporary
# directory is removed when the run passed (unless FAULTS_KEEP=1).
faults_cleanup() {
  local status=$? k
  set +e
  [[ -n "$LOADGEN_PID" ]] && kill9 "$LOADGEN_PID"
  for k in 1 2 3; do [[ -n "${NODE_PIDS[k]}" ]] && kill9 "${NODE_PIDS[k]}"; done
  [[ -n "$REDIS_PID" ]] && kill9 "$REDIS_PID"
  [[ -n "$DB_PID" ]] && stop_pid "$DB_PID" 30
  wait 2>/dev/null
  if ((status == 0)) && [[ "${FAULTS_KEEP:-}" != 1 ]]; then
    rm -rf "$WORK"
  else
    echo "== logs and data: $WORK" >&2
  fi
  exit "$status"
}
