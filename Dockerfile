# syntax=docker/dockerfile:1
# smartro-gateway and smartro-sandbox in one image.
#   docker build -t smartro-gateway .
#   docker run -p 8080:8080 -e GATEWAY__DATABASE__URL=postgres://... smartro-gateway
#   docker run -p 9090:9090 smartro-gateway smartro-sandbox --bind 0.0.0.0:9090
# The runtime image has no PostgreSQL server: set database.url (the embedded database and `demo` are for a
# developer's machine, see README). The gateway is built without its default `demo` feature, so it has no `demo`
# subcommand and no in-process sandbox; the sandbox is its own binary.

# The toolchain the lockfile is built and tested with; the workspace's rust-version is the floor.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /build
# Queries are checked against the committed .sqlx/ metadata: no database at build time.
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never
COPY . .
# Cache mounts keep the registry and the target directory between builds; the binaries are copied out of the
# cached target directory because it is not part of the image. --no-default-features leaves out the gateway's
# `demo` (the sandbox has no features to lose).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked --no-default-features -p smartro-gateway -p smartro-sandbox --bins \
    && mkdir -p /out \
    && cp target/release/smartro-gateway target/release/smartro-sandbox /out/

FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to Smartro and to webhook receivers; nothing else (healthchecks are the binaries' own
# `healthcheck` subcommands, so no curl).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# DL3008 (pin apt versions) is ignored above on purpose: the base image's tag pins the Debian release, and an
# exact package version would break the build at Debian's next security update of ca-certificates.
# A plain user (not --system: uid 10001 is above SYS_UID_MAX); --no-log-init keeps lastlog/faillog from growing
# sparse files for a large uid.
RUN groupadd --gid 10001 smartro \
    && useradd --no-log-init --uid 10001 --gid smartro --home-dir /app --shell /usr/sbin/nologin smartro \
    && mkdir -p /app/data \
    && chown -R smartro:smartro /app
WORKDIR /app
COPY --from=builder /out/smartro-gateway /out/smartro-sandbox /usr/local/bin/
# The defaults are compiled in; the file is here to read and to copy as a starting point.
COPY config/ /app/config/
ENV GATEWAY__SERVER__BIND=0.0.0.0:8080 \
    GATEWAY_LOG_FORMAT=json
USER 10001:10001
EXPOSE 8080 9090
# No HEALTHCHECK here: the image runs either binary, and each has its own check, given per service in
# docker-compose.yml or on `docker run`:
#   --health-cmd "smartro-gateway healthcheck"                          (GET /readyz on server.bind)
#   --health-cmd "smartro-sandbox --bind 0.0.0.0:9090 healthcheck"      (GET / on its --bind)
CMD ["smartro-gateway", "serve"]
