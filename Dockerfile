# syntax=docker/dockerfile:1.7
#
# Samvad in a container: a release build, then a slim Debian runtime that
# runs `samvad serve` as an unprivileged user.
#
# Untested: this machine has no container engine (see docs/SCALING.md,
# "What could not be run here").
#
# The binary needs nothing else from the source tree at run time: the
# askama templates, static/ (include_bytes! in src/console/admin/mod.rs),
# migrations/ (sqlx::migrate! in src/db.rs), the casbin model and the
# default policy are all compiled in. What it writes at run time goes to
# SAMVAD_DATA_DIR: upload spools (data_dir/spool), files when no S3 bucket
# is set (data_dir/files), and mail, SMS and push outboxes when no real
# transport is set.
#
#   docker build -t samvad .
#   docker run -p 8080:8080 --env-file samvad.env samvad      # serves
#   docker run --rm --env-file samvad.env --entrypoint samvad samvad migrate
# (the entrypoint is `samvad serve`; other subcommands need --entrypoint).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# The registry, git checkouts and target/ live in BuildKit cache mounts, so
# a rebuild after a source change compiles only what changed. target/ is a
# cache mount, so the binary is copied out of it within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin samvad \
 && install -D -m 0755 target/release/samvad /out/samvad

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: TLS to S3, SMTP, FCM, APNs and webhooks; curl: the
# HEALTHCHECK below.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid so volumes can be prepared for it outside the image.
RUN groupadd --system --gid 10001 samvad \
 && useradd --system --uid 10001 --gid samvad --home-dir /var/lib/samvad \
      --no-create-home --shell /usr/sbin/nologin samvad \
 && install -d -o samvad -g samvad -m 0750 /var/lib/samvad
COPY --from=build /out/samvad /usr/local/bin/samvad

USER samvad:samvad
WORKDIR /var/lib/samvad
ENV SAMVAD_BIND=0.0.0.0:8080 \
    SAMVAD_DATA_DIR=/var/lib/samvad \
    SAMVAD_LOG_FORMAT=json
EXPOSE 8080

# GET /health answers 200 while the database answers, 503 otherwise
# (src/api/health.rs); GET /ping is the process alone. The port is taken
# from SAMVAD_BIND, so overriding it does not break the check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${SAMVAD_BIND##*:}/health" || exit 1

# SIGTERM starts the graceful shutdown (sockets closed first, in-flight
# requests and workers given SAMVAD_SHUTDOWN_TIMEOUT, default 20 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["samvad", "serve"]
