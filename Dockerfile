# syntax=docker/dockerfile:1
# oauthq: a Swift builder stage, then a slim Debian 12 (bookworm) runtime holding the binary and the C
# libraries it links (hiredis 0.14, libpq 15, OpenSSL 3 for rediss://). The build steps are the scripts' (see the comments):
# scripts/apt-install.sh + scripts/quickstart.sh (and scripts/bench-worker.sh) run the same commands.
#   docker build -t oauthq:local .        docker run --rm oauthq:local help
#   docker compose up -d --build          (docker-compose.yml: Redis, PostgreSQL, migrate, worker, beat)

ARG SWIFT_VERSION=6.3.1

# ---- builder
FROM swift:${SWIFT_VERSION}-bookworm AS builder
# = scripts/apt-install.sh libhiredis-dev libpq-dev libssl-dev pkg-config (scripts/test.sh, scripts/quickstart.sh)
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libhiredis-dev libpq-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# SwiftPM checks every target's folder when it loads the manifest, so Tests/ comes along (it is not built).
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
# = scripts/quickstart.sh and scripts/bench-worker.sh: release, the Swift runtime linked statically
RUN swift build -c release --product oauthq --static-swift-stdlib \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/oauthq" /out/oauthq

# ---- runtime
FROM debian:bookworm-slim
# The C libraries the binary links dynamically (libstdc++6 and libgcc-s1 are already in the base image);
# tzdata for `oauthq beat --timezone` (IANA zone names).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libhiredis0.14 libpq5 libssl3 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin oauthq
COPY --from=builder /out/oauthq /usr/local/bin/oauthq
USER 10001:10001
# Prometheus metrics (OAUTHQ_METRICS_PORT, worker only).
EXPOSE 9464
# SIGTERM: warm shutdown (the worker finishes running tasks for --shutdown-timeout, returns the rest).
STOPSIGNAL SIGTERM
ENTRYPOINT ["oauthq"]
CMD ["--help"]
