#!/usr/bin/env bash
# Where the commit path's limits lie, in one command: `samvad bench core`
# (the core's send_message driven in-process, no HTTP, no sockets, no load
# generator) over 500 direct conversations, each run on a fresh database:
#
#   1. closed loop, 256 senders, SAMVAD_WRITERS 2, 4 and 8 (how many writers);
#   2. closed loop, 1,024 senders, 2 writers (the largest batches: MariaDB's
#      lowest cost per message);
#   3. open loop at 8,000 and 10,000 sends/s, 1,024 senders, 2 and 4 writers
#      (the latency the batch pipeline gives at the target rates);
#   4. open loop at 10,000 sends/s, 2 writers, with the messages' FULLTEXT
#      index and then without it (dropped between two runs on one database);
#   5. open loop at 10,000 sends/s, 2 writers, the 500 pairs spread over 20
#      and then 100 tenants (`--tenants`): batches that mix tenants.
#
# Each run also records MariaDB's prepared-statement counters over the
# whole process (seeding included): statements prepared, executed, closed.
#
#   bench/core_limits.sh                 # all of it, about 8 minutes
#   bench/core_limits.sh --tag today     # results file suffix
#
# Results: bench/results/core-limits[-tag].json (every run's report, with
# its settings) and a table on stdout. Environment: as bench/run.sh
# (CARGO_TARGET_DIR, BENCH_DB_NAME, BENCH_MYSQL, BENCH_NO_BUILD,
# BENCH_SAMVAD_BIN, BENCH_WAIT_QUIET).
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/bench-target}"
DB_NAME="${BENCH_DB_NAME:-samvad_bench_core}"
MYSQL="${BENCH_MYSQL:-mysql -h127.0.0.1 -P3306 -uroot}"
export DATABASE_URL="mysql://root@127.0.0.1:3306/${DB_NAME}"
TAG=""
while (($#)); do
  case "$1" in
    --tag) TAG="-$2"; shift 2 ;;
    *) echo "unknown option $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done

check_db_name
release_binary
WORK="$(mktemp -d "${TMPDIR:-/tmp}/samvad-core-limits.XXXXXX")"
trap cleanup EXIT
trap 'exit 130' INT TERM
SAMVAD_JWT_SECRET="bench-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export SAMVAD_JWT_SECRET SAMVAD_DATA_DIR="$WORK/data"
# Room for 1,024 senders: the bound on sends in progress is not measured here.
export SAMVAD_SEND_QUEUE=4096
OUT="bench/results/core-limits$TAG.json"
mkdir -p bench/results
: > "$WORK/runs.jsonl"

# MariaDB's prepared-statement counters, as JSON.
statements() {
  $MYSQL -N -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_stmt_prepare', 'Com_stmt_execute', 'Com_stmt_close')" |
    python3 -c 'import json,sys; print(json.dumps({k.split("_")[-1]: int(v) for k, v in (l.split() for l in sys.stdin)}))'
}

# run LABEL WRITERS FRESH(1|0) ARGS...: one `samvad bench core` run.
run() {
  local label="$1" writers="$2" fresh="$3" before
  shift 3
  [[ "$fresh" == 1 ]] && $MYSQL -e "DROP DATABASE IF EXISTS \`$DB_NAME\`; CREATE DATABASE \`$DB_NAME\`"
  wait_quiet
  echo "== $label: SAMVAD_WRITERS=$writers samvad bench core $*" >&2
  before="$(statements)"
  SAMVAD_WRITERS="$writers" "$BIN" bench core --pairs 500 "$@" --json 2>>"$WORK/server.log" >"$WORK/run.json"
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); d = d.get("data", d)
d["label"], d["writers"] = sys.argv[2], int(sys.argv[3])
before, after = json.loads(sys.argv[4]), json.loads(sys.argv[5])
d["statements"] = {k: after[k] - before[k] for k in after}
print(json.dumps(d))' "$WORK/run.json" "$label" "$writers" "$before" "$(statements)" >>"$WORK/runs.jsonl"
}

for w in 2 4 8; do
  run "closed, 256 senders, $w writers" "$w" 1 --concurrency 256 --seconds 15
done
run "closed, 1024 senders, 2 writers" 2 1 --concurrency 1024 --seconds 15
for w in 2 4; do
  for rate in 8000 10000; do
    run "open $rate/s, $w writers" "$w" 1 --concurrency 1024 --seconds 10 --rate "$rate"
  done
done
run "open 10000/s, 2 writers, FULLTEXT kept" 2 1 --concurrency 1024 --seconds 10 --rate 10000
$MYSQL -e "ALTER TABLE \`$DB_NAME\`.messages DROP INDEX ft_messages_content"
run "open 10000/s, 2 writers, FULLTEXT dropped" 2 0 --concurrency 1024 --seconds 10 --rate 10000
for tenants in 20 100; do
  run "open 10000/s, 2 writers, $tenants tenants" 2 1 --concurrency 1024 --seconds 10 --rate 10000 --tenants "$tenants"
done

COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src migrations Cargo.toml 2>/dev/null || echo '+uncommitted')"
python3 - "$WORK/runs.jsonl" "$OUT" "$COMMIT" <<'EOF'
import datetime, json, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
json.dump({"commit": sys.argv[3], "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "runs": runs}, open(sys.argv[2], "w"), indent=1)
print("| Run | Sends/s | p50 ms | p99 ms | Machine cores | MariaDB cores (ms/send) | Samvad cores (ms/send) | Statements prepared / executed | Stored = acked, gap-free |")
print("|---|---:|---:|---:|---:|---:|---:|---:|:-:|")
for r in runs:
    cpu, lat = r["cpu"], r["latencyMs"]
    print(f'| {r["label"]} | {r["messagesPerSecond"]:,} | {lat["p50"]} | {lat["p99"]} | {cpu["machine"]["busyCores"]} '
          f'| {cpu["mysql"]["cores"]} ({cpu["mysql"]["msPerMessage"]:.3f}) | {cpu["samvad"]["cores"]} ({cpu["samvad"]["msPerMessage"]:.3f}) '
          f'| {r["statements"]["prepare"]:,} / {r["statements"]["execute"]:,} | {"yes" if r["verification"]["ok"] else "NO"} |')
EOF
echo "== results: $OUT" >&2
