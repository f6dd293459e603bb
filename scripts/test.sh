#!/usr/bin/env bash
# Runs the whole test suite: unit tests, the API and CLI tests against
# SQLite and against a real PostgreSQL server, and the browser tests.
#
# Unless TEST_DATABASE_URL already names a PostgreSQL server to create test
# databases on, this starts a private, throw-away PostgreSQL from the
# installed server binaries (on loopback, in a temporary directory, as the
# `postgres` user when run as root) and stops it on exit.
#
# The browser tests drive a headless Chromium through chromedriver and need
# a font with Hangul, and the API tests parse /metrics with the Prometheus
# client library for Python; when run as root on Debian, this installs what
# is missing (chromium, chromium-driver, fonts-noto-cjk,
# python3-prometheus-client) with apt-get.
#
# Usage: scripts/test.sh [arguments for cargo test]
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
trap pg_stop EXIT

start_postgres() {
    # A throw-away cluster: durability settings off for speed.
    pg_start -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off || return 1
    export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
    echo "private PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port ($pg_dir)" >&2
}

if [ -z "${TEST_DATABASE_URL:-}" ]; then
    if ! start_postgres; then
        if [ -n "${CI:-}" ]; then
            echo "CI is set: the PostgreSQL tests must run, and PostgreSQL could not be started." >&2
            exit 1
        fi
        echo "WARNING: running without PostgreSQL; the PostgreSQL variants of the tests will be skipped." >&2
    fi
fi

# The browser tests need Chromium, chromedriver and a font with Hangul (the
# Korean notes and translation must render as text, not boxes). The Debian
# packages for what is missing:
browser_missing=()
command -v chromium >/dev/null 2>&1 || browser_missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || browser_missing+=(chromium-driver)
[ -n "$(fc-list :lang=ko 2>/dev/null)" ] || browser_missing+=(fonts-noto-cjk)
# The API tests read /metrics with the Prometheus client library's parser.
# The Debian package installs it for /usr/bin/python3, which the tests also
# try (a pyenv or virtualenv python3 first on PATH does not see it).
metrics_missing=()
python3 -c 'import prometheus_client' >/dev/null 2>&1 \
    || /usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 \
    || metrics_missing+=(python3-prometheus-client)

# Installs the packages named after the purpose, with apt-get as root.
install_packages() {
    local purpose="$1"
    shift
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "The $purpose need these packages: $*." >&2
        echo "On Debian: sudo apt-get install $* (or run scripts/test.sh as root)." >&2
        return 1
    fi
    echo "installing $* for the $purpose" >&2
    apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
        || { echo "apt-get could not install $*." >&2; return 1; }
}

if [ "${#browser_missing[@]}" -gt 0 ] && ! install_packages "browser tests" "${browser_missing[@]}"; then
    if [ -n "${CI:-}" ]; then
        echo "CI is set: the browser tests must run, and ${browser_missing[*]} could not be installed." >&2
        exit 1
    fi
    echo "WARNING: without ${browser_missing[*]}, the browser tests are skipped or render Korean as boxes." >&2
fi

if [ "${#metrics_missing[@]}" -gt 0 ] && ! install_packages "metrics tests" "${metrics_missing[@]}"; then
    if [ -n "${CI:-}" ]; then
        echo "CI is set: the metrics tests must run, and ${metrics_missing[*]} could not be installed." >&2
        exit 1
    fi
    echo "WARNING: without ${metrics_missing[*]}, the metrics tests fail." >&2
fi

cargo test --workspace --locked "$@"
