# Build stage: compile the release binary.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
# jemalloc (the allocator) builds with make.
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY src src
COPY migrations migrations
RUN cargo build --release --locked --bin lobbylog

# Runtime stage: the binary and curl for the health check.
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
