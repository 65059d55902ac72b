# syntax=docker/dockerfile:1
# smartro-gateway and smartro-sandbox in one image.
#   docker build -t smartro-gateway .
#   docker run -p 8080:8080 -e GATEWAY__DATABASE__URL=postgres://... smartro-gateway
#   docker run -p 9090:9090 smartro-gateway smartro-sandbox --bind 0.0.0.0:9090
# The runtime image has no PostgreSQL server: set database.url (the embedded database and `demo` are for a
# developer's machine, see README).

# The toolchain the lockfile is built and tested with; the workspace's rust-version is the floor.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS builder
WORKDIR /build
# Queries are checked against the committed .sqlx/ metadata: no database at build time.
ENV SQLX_OFFLINE=true \
    CARGO_TERM_COLOR=never
COPY . .
# Cache mounts keep the registry and the target directory between builds; the binaries are copied out of the
# cached target directory because it is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked -p smartro-gateway -p smartro-sandbox --bins \
    && mkdir -p /out \
    && cp target/release/smartro-gateway target/release/smartro-sandbox /out/

FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to Smartro and to webhook receivers. curl: the HEALTHCHECK below (and compose's), a
# well-known tool with a clear exit status on HTTP errors (-f), for about 1 MB more than wget and far less
# guesswork than a hand-written /dev/tcp probe.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 smartro \
    && useradd --system --uid 10001 --gid smartro --home-dir /app --shell /usr/sbin/nologin smartro \
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
# /readyz: the database answers and the migrations are applied. The sandbox service overrides this check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz || exit 1
CMD ["smartro-gateway", "serve"]
