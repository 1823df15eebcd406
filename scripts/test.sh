#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, starts the local Kubernetes control plane
# (or reuses one that answers), runs every test of the workspace with cargo-nextest, and stops what it started.
# Extra arguments go to `cargo nextest run` (for example a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "[test] installing cargo-nextest" >&2
  cargo install cargo-nextest --locked
fi

scripts/control-plane.sh install
scripts/helm-tools.sh >/dev/null
scripts/test-packages.sh
IO_GITHUB_OPENAPI=$(scripts/github-openapi.sh)
export IO_GITHUB_OPENAPI
IO_GITHUB_OPENAPI_WEBHOOKS=$(scripts/github-openapi-webhooks.sh)
export IO_GITHUB_OPENAPI_WEBHOOKS
IO_GITHUB_GRAPHQL_SCHEMA=$(scripts/github-graphql-schema.sh)
export IO_GITHUB_GRAPHQL_SCHEMA
started=false
if ! scripts/control-plane.sh status; then
  scripts/control-plane.sh up
  started=true
fi
stop_control_plane() { if [ "$started" = true ]; then scripts/control-plane.sh down; fi; }
trap stop_control_plane EXIT

# Style gates first: they are quick and say exactly what to fix. The components come with the toolchain; rustup's
# servers are out of reach here, so a toolchain without them is reported, not repaired.
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --all --check
else
  echo "[test] rustfmt is not installed with this toolchain: formatting not checked" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets --quiet -- -D warnings
else
  echo "[test] clippy is not installed with this toolchain: lints not checked" >&2
fi

scripts/check-alerts.sh
cargo nextest run --workspace --no-fail-fast "$@"

# Fuzzing, on request: each cargo-fuzz target of fuzz/ for IO_FUZZ_SECONDS (for example 30) when a nightly
# toolchain is installed. Off by default: the first build of the instrumented targets takes 20 to 40 minutes on two
# cores. New inputs go to a scratch directory: the committed corpus is only read. The committed corpus is replayed
# on every run anyway, on stable, by tests/bad_input.rs above.
fuzz_seconds=${IO_FUZZ_SECONDS:-0}
if [ "$fuzz_seconds" -gt 0 ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "[test] installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
  fi
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/io-fuzz.XXXXXX")
  mkdir -p fuzz/artifacts
  for target in $(cargo +nightly fuzz list); do
    mkdir -p "$scratch/$target"
    echo "[test] fuzzing $target for ${fuzz_seconds}s" >&2
    cargo +nightly fuzz run "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
      -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=4096 -artifact_prefix="fuzz/artifacts/$target-"
  done
  rm -rf "$scratch"
else
  echo "[test] fuzz targets not run (IO_FUZZ_SECONDS=$fuzz_seconds, or no nightly toolchain); their corpus was replayed" >&2
fi
