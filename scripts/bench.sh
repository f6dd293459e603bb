#!/usr/bin/env bash
# Benchmark: boots the release binary on a fresh SQLite database with 1,000
# notes of ~200 bytes and, in one run, over HTTPS (TLS 1.3, its self-signed
# ECDSA P-256 certificate):
#
# - GET /api/notes (uncompressed, then with `Accept-Encoding: br, gzip`) and POST
#   /api/notes with oha at 32 keep-alive connections for 10 s each:
#   requests/s, p50/p99 latency;
# - the largest embedded JavaScript file under static/ (~100 KiB; its hashed
#   URL when the page / links it) with `Accept-Encoding: br, gzip`, against
#   ours and against Debian's nginx serving the same bytes from disk with
#   gzip_static (and brotli_static when libnginx-mod-http-brotli-static is
#   there) as a tuned static site would: requests/s and ours / nginx;
# - full TLS handshakes per second (`openssl s_time -new`: a new connection,
#   a full handshake without resumption, GET /healthz and close, from 8
#   clients) against ours and nginx, with the same certificate: ours / nginx;
#
# and the server's memory idle and its peak RSS over all those runs,
# boot-to-ready time on a fresh database, and whether every 201 left a row.
# Each target is printed as met or not; the script fails only when something
# is broken. The 2 cores of a small machine are shared by the load generators,
# ours and nginx, which a run alternates to share the machine's drift.
#
# Usage: scripts/bench.sh     (DURATION=10s CONNECTIONS=32 HANDSHAKE_CLIENTS=8)
#
# The load generator, oha, is installed from crates.io into
# target/bench-tools on first use (a few minutes, once); nginx, its brotli
# module and the brotli tool from Debian with apt-get (as root) when missing.
# The benchmark runs its own nginx instance under a temporary directory, on
# 127.0.0.1 only, and stops it by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

OHA_VERSION=1.16.0
oha=target/bench-tools/bin/oha
if [ ! -x "$oha" ] || ! "$oha" --version | grep -q "$OHA_VERSION"; then
    echo "installing oha $OHA_VERSION (the load generator) into target/bench-tools ..." >&2
    cargo install --quiet --locked --root target/bench-tools oha --version "$OHA_VERSION"
fi

nginx=$(PATH="$PATH:/usr/sbin:/sbin" command -v nginx || true)
packages=()
[ -n "$nginx" ] || packages+=(nginx)
[ -e /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ] || packages+=(libnginx-mod-http-brotli-static)
command -v brotli >/dev/null || packages+=(brotli)
if [ ${#packages[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    if ! apt-cache show nginx >/dev/null 2>&1; then
        "${sudo[@]}" apt-get update -qq >&2
    fi
    available=()
    for package in "${packages[@]}"; do
        if apt-cache show "$package" >/dev/null 2>&1; then
            available+=("$package")
        elif [ "$package" = nginx ]; then
            echo "nginx, the reference server, is not in this system's apt sources" >&2
            exit 1
        else
            echo "note: $package is not in this system's apt sources; nginx will serve gzip_static only" >&2
        fi
    done
    if [ ${#available[@]} -gt 0 ]; then
        echo "installing ${available[*]} from Debian with apt-get (the reference server) ..." >&2
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${available[@]}" >&2
    fi
    nginx=$(PATH="$PATH:/usr/sbin:/sbin" command -v nginx)
fi

cargo build --release --locked --quiet
exec python3 scripts/bench.py target/release/notes-appliance "$oha" "$nginx"
