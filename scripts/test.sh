#!/usr/bin/env bash
# Runs every test: unit and golden tests of each crate, property tests, and the
# end-to-end tests that start real kvsql-server processes and drive the kvsql shell.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh -p kvsql-engine).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The end-to-end tests run the server and shell binaries, so build those first. Build
# every target, not just --bins: without the dev-dependencies cargo resolves other
# features for shared crates and would compile RocksDB a second time.
cargo build --workspace --all-targets
cargo test --workspace "$@"
