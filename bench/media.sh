#!/usr/bin/env bash
# Builds the release binary, starts it on a fresh database, and runs the
# media benchmark (bench/media.mjs): upload throughput side by side with a
# bare Node server that streams the same bodies to a file, and the upload
# and thumbnail latency of a 4,000 x 3,000 JPEG. Prints a JSON summary.
#
#   bench/media.sh                                   # 40 files of 20 MiB, 4 at a time; 10 photos
#   bench/media.sh --file-mib 5 --count 100 --concurrency 8 --photos 20
#
# Needs: cargo, node >= 20, curl, the mysql client, ImageMagick's `convert`
# (Debian: imagemagick) for the photo, and MariaDB/MySQL on 127.0.0.1:3306
# as root without a password. Environment: as bench/run.sh
# (CARGO_TARGET_DIR, BENCH_DB_NAME, BENCH_MYSQL, BENCH_PORT, BENCH_OUT,
# BENCH_KEEP_DB, BENCH_WAIT_QUIET, BENCH_NO_BUILD, BENCH_SAMVAD_BIN).
set -euo pipefail

cd "$(dirname "$0")/.."
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/bench-target}"
DB_NAME="${BENCH_DB_NAME:-samvad_bench_media}"
MYSQL="${BENCH_MYSQL:-mysql -h127.0.0.1 -P3306 -uroot}"
export DATABASE_URL="mysql://root@127.0.0.1:3306/${DB_NAME}"
TENANT=bench
ADMIN_EMAIL=admin@bench.test
ADMIN_PASSWORD=bench-admin-password

check_db_name

release_binary

WORK="$(mktemp -d "${TMPDIR:-/tmp}/samvad-bench.XXXXXX")"
# The uploaded files (about a gigabyte) go with the database; the log stays.
trap 'status=$?; rm -rf "$WORK/data/files" "$WORK/data/spool"; (exit $status); cleanup' EXIT
trap 'exit 130' INT TERM

echo "== a 4000x3000 JPEG with EXIF (what a phone sends)" >&2
convert -size 4000x3000 plasma:fractal -seed 7 -quality 90 "$WORK/photo.jpg"
convert "$WORK/photo.jpg" -set exif:Orientation 6 "$WORK/photo.jpg" 2>/dev/null || true

fresh_tenant

start_server
BENCH_TENANT="$TENANT" BENCH_ADMIN_EMAIL="$ADMIN_EMAIL" BENCH_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  node bench/media.mjs "$BASE" --photo "$WORK/photo.jpg" "$@" | tee "$WORK/summary.json"
if [[ -n "${BENCH_OUT:-}" ]]; then cp "$WORK/summary.json" "$BENCH_OUT"; fi
