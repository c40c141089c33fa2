#!/usr/bin/env bash
# The contract check: schemathesis (pinned, from PyPI) fuzzes every operation
# of the served spec (/api/openapi.json) as a logged-in tenant admin and fails
# on any 5xx, any response that does not match its schema, any undocumented
# status and any undocumented content type.
#
# Runs the debug server that `cargo test` built (target/debug/samvad) on a
# free port with a fresh database and data directory; dev mode seeds the demo
# tenant, whose admin it logs in as. Only the operations that end the
# caller's own session are left out (logout, logout-all, ending a session by
# id: the fuzzer would log itself out).
#
# One worker: hypothesis describes strategies with `ast` in every thread, and
# CPython 3.11's parser then fails at random ("AST constructor recursion
# depth mismatch") when two threads parse at once.
#
#   bash .ci/schemathesis.sh                  # as CI runs it
#   ST_EXAMPLES=200 ST_SEED=7 bash .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${ST_EXAMPLES:-30}"
SEED="${ST_SEED:-1}"
BIN="${SAMVAD_BIN:-target/debug/samvad}"
VENV=target/schemathesis-venv

MYSQL="${MYSQL:-mysql --protocol=tcp -h127.0.0.1 -uroot}"
DB_NAME="samvad_schemathesis_$$"
# The last run's server log and data stay here (ignored by git) to read.
WORK=target/schemathesis-run
rm -rf "$WORK" && mkdir -p "$WORK"
# shellcheck source=../bench/lib.sh
source bench/lib.sh
trap cleanup EXIT

[[ -x "$BIN" ]] || { echo "$BIN is missing: run cargo test (or cargo build) first" >&2; exit 1; }

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  # A python3 without venv (a pyenv build without it): Debian's has it.
  PYTHON=python3
  python3 -c 'import venv, ensurepip' 2>/dev/null || PYTHON=/usr/bin/python3
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
DATABASE_URL="mysql://root@127.0.0.1:3306/$DB_NAME" SAMVAD_DATA_DIR="$WORK/data" \
  SAMVAD_BIND="127.0.0.1:$PORT" SAMVAD_PUBLIC_URL="$BASE" \
  "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
wait_ready "$BASE"

TOKEN="$(curl -fsS "$BASE/api/auth/login" -H 'content-type: application/json' \
  -d '{"tenant":"demo","email":"admin@demo.test","password":"samvad-demo"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["accessToken"])')"

"$VENV/bin/schemathesis" run "$BASE/api/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --exclude-path-regex '/logout|/auth/sessions/' \
  --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 --no-color
