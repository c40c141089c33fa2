# Shared by bench/run.sh and bench/socket_load.sh (sourced, not run). The
# caller sets MYSQL, DB_NAME and WORK, and SERVER_PID once its server runs.

# Refuses a BENCH_DB_NAME that is not a plain identifier (it is dropped).
check_db_name() {
  case "$DB_NAME" in
    *[!A-Za-z0-9_]* | "") echo "BENCH_DB_NAME must be letters, digits and _" >&2; exit 2 ;;
  esac
}

# On exit (`trap cleanup EXIT` once WORK exists): stop the server, drop the
# database (unless BENCH_KEEP_DB=1), and say where the server log is.
SERVER_PID=""
cleanup() {
  local status=$?
  stop_server
  stop_second
  if [[ "${BENCH_KEEP_DB:-}" != 1 ]]; then
    $MYSQL -e "DROP DATABASE IF EXISTS \`$DB_NAME\`" || true
  fi
  echo "== server log: $WORK/server.log" >&2
  exit "$status"
}
# Stops the server started as SERVER_PID (if it still runs) and waits for it.
stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

# Stops the second node (socket_load.sh --cluster), if one runs.
stop_second() {
  if [[ -n "${SECOND_PID:-}" ]] && kill -0 "$SECOND_PID" 2>/dev/null; then
    kill -TERM "$SECOND_PID" 2>/dev/null || true
    wait "$SECOND_PID" 2>/dev/null || true
  fi
  SECOND_PID=""
}

# A free TCP port on 127.0.0.1.
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits up to 60 s for $1/health to answer (the database is reachable);
# prints the server log and fails if it does not, or if the server (the
# process $2, default SERVER_PID) exits.
wait_ready() {
  local base="$1" pid="${2:-$SERVER_PID}" _
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "$base/health" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not become ready; its log:" >&2
  cat "$WORK/server.log" >&2
  exit 1
}

# Percent idle of all cores over 2 s.
idle_percent() {
  local a b total=0 i
  read -r -a a < <(head -1 /proc/stat)
  sleep 2
  read -r -a b < <(head -1 /proc/stat)
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  echo $((total > 0 ? 100 * ((b[4] - a[4]) + (b[5] - a[5])) / total : 100))
}

# With BENCH_WAIT_QUIET=S, waits up to S seconds for the machine to be
# >= 85% idle, then measures anyway.
wait_quiet() {
  [[ -n "${BENCH_WAIT_QUIET:-}" ]] || return 0
  local deadline=$((SECONDS + BENCH_WAIT_QUIET))
  until (($(idle_percent) >= 85)); do
    if ((SECONDS >= deadline)); then echo "== the machine is still busy; measuring anyway" >&2; break; fi
  done
}

# Sets BIN to the samvad binary to measure: BENCH_SAMVAD_BIN as given, or
# the release build in CARGO_TARGET_DIR, built first unless BENCH_NO_BUILD=1
# and it exists.
release_binary() {
  BIN="${BENCH_SAMVAD_BIN:-$CARGO_TARGET_DIR/release/samvad}"
  if [[ -n "${BENCH_SAMVAD_BIN:-}" ]]; then
    [[ -x "$BIN" ]] || { echo "BENCH_SAMVAD_BIN=$BIN is not an executable" >&2; exit 2; }
    echo "== using $BIN (BENCH_SAMVAD_BIN, built $(date -r "$BIN" '+%F %T'))" >&2
  elif [[ "${BENCH_NO_BUILD:-}" == 1 && -x "$BIN" ]]; then
    echo "== using the existing $BIN (built $(date -r "$BIN" '+%F %T'))" >&2
  else
    echo "== building (release, $CARGO_TARGET_DIR)" >&2
    cargo build --release --quiet
  fi
}

# Drops and recreates DB_NAME, migrates it, and creates the tenant TENANT
# with the admin ADMIN_EMAIL / ADMIN_PASSWORD (data under $WORK/data).
fresh_tenant() {
  echo "== fresh database $DB_NAME" >&2
  $MYSQL -e "DROP DATABASE IF EXISTS \`$DB_NAME\`"
  SAMVAD_DATA_DIR="$WORK/data" "$BIN" migrate >"$WORK/migrate.log" 2>&1
  SAMVAD_DATA_DIR="$WORK/data" "$BIN" tenant create --slug "$TENANT" --name "Bench" \
    --admin-email "$ADMIN_EMAIL" --admin-password "$ADMIN_PASSWORD" --json >"$WORK/tenant.json"
}

# Starts the server on BENCH_PORT (or a free port), sets BASE and
# SERVER_PID, waits until it is ready and (BENCH_WAIT_QUIET) the machine
# quiet, and prints what is measured.
start_server() {
  local port="${BENCH_PORT:-$(free_port)}"
  BASE="http://127.0.0.1:$port"
  echo "== starting the server on $BASE" >&2
  SAMVAD_BIND="127.0.0.1:$port" SAMVAD_DATA_DIR="$WORK/data" \
    "$BIN" serve >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "$BASE"
  wait_quiet
  echo "== commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src migrations 2>/dev/null || echo ' + uncommitted changes in src/'), load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}
