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
IO_GITHUB_OPENAPI=$(scripts/github-openapi.sh)
export IO_GITHUB_OPENAPI
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

cargo nextest run --workspace --no-fail-fast "$@"
