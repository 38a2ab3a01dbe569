# Build stage: compile the release binary.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# jemalloc (the allocator) builds with make.
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*

# Dependencies first, against stand-in sources, so this layer is rebuilt only when the manifest,
# the lock file or .cargo/config.toml (jemalloc's compiled-in options) change, not on every edit.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin lobbylog \
    && rm -rf src
# COPY keeps the files' times, which may be older than the stand-in's build: without this, cargo
# could take the stand-in lobbylog for up to date.
RUN rm -rf target/release/.fingerprint/lobbylog-*

COPY build.rs ./
COPY src src
COPY migrations migrations
RUN cargo build --release --locked --bin lobbylog

# Runtime stage: the binary and curl for the health check, run as nobody.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/lobbylog /usr/local/bin/lobbylog
RUN mkdir -p /var/lib/lobbylog/spool && chown -R nobody:nogroup /var/lib/lobbylog
USER nobody
WORKDIR /var/lib/lobbylog
ENV LOBBYLOG_LISTEN=0.0.0.0:8080 LOBBYLOG_ADMIN_LISTEN=0.0.0.0:9090 LOBBYLOG_LOG_FORMAT=json LOBBYLOG_SPOOL_DIR=/var/lib/lobbylog/spool
EXPOSE 8080 9090
ENTRYPOINT ["lobbylog"]
CMD ["serve"]
