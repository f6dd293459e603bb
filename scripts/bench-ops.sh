#!/usr/bin/env bash
# Benchmark of the operations commands: how long `backup`, `export`,
# `restore` and `import` take, and how large their files are, for an
# installation of NOTES notes (default 20,000 of ~200 bytes, one user), on
# SQLite and, when PostgreSQL's server binaries are installed, on a private
# PostgreSQL started for the run (on 127.0.0.1, a free port, a temporary data
# directory; stopped by its PID at the end).
#
# Usage: scripts/bench-ops.sh [BINARY]     (NOTES=20000)
#
# Without BINARY it builds and uses target/release/notes-appliance.
set -euo pipefail
cd "$(dirname "$0")/.."

notes=${NOTES:-20000}
binary=${1:-}
if [ -z "$binary" ]; then
    cargo build --release --quiet
    binary=target/release/notes-appliance
fi
binary=$(realpath "$binary")

work=$(mktemp -d)
# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
cleanup() {
    pg_stop
    rm -rf "$work"
}
trap cleanup EXIT

# Runs the binary on installation $1 (a directory under $work) with database URL $2.
na() {
    local dir=$1 url=$2
    shift 2
    NOTES_DATA_DIR="$work/$dir" NOTES_DATABASE_URL="$url" NOTES_LOG_LEVEL=warn "$binary" "$@"
}
now_ms() { date +%s%3N; }
row() { printf '%-10s %-34s %8s ms  %s\n' "$@"; }
timed() {
    local t0 t1
    t0=$(now_ms)
    "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; return 1; }
    t1=$(now_ms)
    echo $((t1 - t0))
}
size() { du -h --apparent-size "$1" | cut -f1; }

mkdir -p "$work/sqlite" "$work/empty"
sqlite_url="sqlite://$work/sqlite/notes.db"
printf 'correct horse battery\n' >"$work/pw"
na sqlite "$sqlite_url" user add bench --password-file "$work/pw" >/dev/null
echo "seeding $notes notes into SQLite ..." >&2
na sqlite "$sqlite_url" seed --count "$notes" --user bench >/dev/null
db_size=$(size "$work/sqlite/notes.db")

echo "notes-appliance $("$binary" --version | awk '{print $2}'), $notes notes, $(nproc) cores"
ms=$(timed na sqlite "$sqlite_url" backup --out "$work/backup.db")
row sqlite "backup (VACUUM INTO + checks)" "$ms" "$(size "$work/backup.db") (database $db_size)"
ms=$(timed na sqlite "$sqlite_url" export --out "$work/export.jsonl")
row sqlite "export" "$ms" "$(size "$work/export.jsonl")"
ms=$(timed na sqlite "$sqlite_url" restore "$work/backup.db")
row sqlite "restore from the backup" "$ms" "(includes the pre-restore backup)"
ms=$(timed na sqlite "$sqlite_url" restore "$work/export.jsonl")
row sqlite "restore from the export" "$ms" ""
ms=$(timed na empty "sqlite://$work/empty/notes.db" import "$work/export.jsonl")
row sqlite "import into a new installation" "$ms" ""

# Durability as configured by default: the figures are a real server's.
if ! pg_start; then
    echo "PostgreSQL rows skipped" >&2
    exit 0
fi
for db in one two; do
    as_postgres "$pg_bin/psql" -q -h 127.0.0.1 -p "$pg_port" -U postgres -c "CREATE DATABASE $db" >/dev/null
done
pg_one="postgres://postgres@127.0.0.1:$pg_port/one"
pg_two="postgres://postgres@127.0.0.1:$pg_port/two"
mkdir -p "$work/pg-one" "$work/pg-two"
ms=$(timed na pg-one "$pg_one" import "$work/export.jsonl")
row postgres "import (the SQLite export)" "$ms" ""
ms=$(timed na pg-one "$pg_one" backup --out "$work/pg-backup.jsonl")
row postgres "backup (export + read back)" "$ms" "$(size "$work/pg-backup.jsonl")"
ms=$(timed na pg-one "$pg_one" restore "$work/pg-backup.jsonl")
row postgres "restore from the backup" "$ms" "(includes the pre-restore backup)"
ms=$(timed na pg-two "$pg_two" import "$work/backup.db")
row postgres "import the SQLite backup file" "$ms" ""
