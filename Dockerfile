# mockgate: build in the Rust image, run on slim Debian as a non-root user.
#   docker build -t mockgate .
#   docker run -p 8000:8000 mockgate          # the persistence profile, embedded store
#   docker compose up                         # the same, with Redis
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Dependencies first, in a layer of their own: it is rebuilt only when Cargo.toml or
# Cargo.lock change, not on every edit under src/. Empty stand-ins for the crate's
# targets let cargo build every dependency; their fingerprints are then removed so the
# real sources below are always compiled (COPY keeps the files' old mtimes).
RUN mkdir -p src/bin \
 && echo 'fn main() {}' > src/bin/mockctl.rs \
 && touch src/lib.rs \
 && cargo build --release --locked --bin mockctl \
 && rm -rf src target/release/.fingerprint/mockgate-* target/release/deps/mockctl-* \
      target/release/deps/libmockgate-* target/release/mockctl
COPY src ./src
COPY examples ./examples
# The shipped profiles are compiled into the binary too.
COPY configs ./configs
RUN cargo build --release --locked --bin mockctl

FROM debian:bookworm-slim
RUN useradd --system --create-home --home-dir /app --shell /usr/sbin/nologin mockgate
WORKDIR /app
COPY --from=build /src/target/release/mockctl /usr/local/bin/mockctl
COPY configs ./configs
RUN mkdir -p data && chown -R mockgate:mockgate /app
USER mockgate
# The embedded store's data: keep it in a volume (`-v mockgate-data:/app/data`).
VOLUME /app/data
EXPOSE 8000
# `mockctl status` succeeds when every server recorded in the user's state folder
# (/app/.local/state/mockgate) is ready: it answers and its backend does.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["mockctl", "status", "--quiet"]
CMD ["mockctl", "start", "persistence", "--foreground", "--host", "0.0.0.0"]
