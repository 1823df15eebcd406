# The operator's image: built with the Rust toolchain, run from a distroless base as a non-root user with nothing
# but the binary (the chart mounts no writable paths; the root filesystem can stay read-only).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin infinity-orchestrator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/infinity-orchestrator /usr/local/bin/infinity-orchestrator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/infinity-orchestrator"]
CMD ["run"]
