#!/usr/bin/env bash
# Benchmark: boots the release binary on a fresh SQLite database with 1,000
# notes of ~200 bytes, drives GET and POST /api/notes with oha at 32
# keep-alive connections for 10 s each, and prints requests/s, p50/p99
# latency, the server's memory idle and under load, boot-to-ready time on a
# fresh database, and whether every 201 left a row.
#
# Usage: scripts/bench.sh            (DURATION=10s CONNECTIONS=32 by default)
#
# The load generator, oha, is installed from crates.io into
# target/bench-tools on first use (a few minutes, once).
set -euo pipefail
cd "$(dirname "$0")/.."

OHA_VERSION=1.16.0
oha=target/bench-tools/bin/oha
if [ ! -x "$oha" ] || ! "$oha" --version | grep -q "$OHA_VERSION"; then
    echo "installing oha $OHA_VERSION (the load generator) into target/bench-tools ..." >&2
    cargo install --quiet --locked --root target/bench-tools oha --version "$OHA_VERSION"
fi
cargo build --release --locked --quiet
exec python3 scripts/bench.py target/release/notes-appliance "$oha"
