# A private PostgreSQL cluster for scripts/test.sh and scripts/bench-ops.sh
# (sourced, not run): on 127.0.0.1 and a free port, in a directory of its
# own, as the `postgres` user when run as root (PostgreSQL refuses root).

pg_dir=""
pg_ctl=""
pg_bin=""
pg_port=""

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start [SERVER OPTION ...]: creates a cluster in a new temporary
# directory and starts it; sets pg_dir, pg_ctl, pg_bin and pg_port. Says
# why and returns 1 when it cannot.
pg_start() {
    pg_bin="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
    if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
        echo "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin; set PG_BIN)." >&2
        return 1
    fi
    pg_ctl="$pg_bin/pg_ctl"
    pg_dir="$(mktemp -d /tmp/notes-appliance-pg.XXXXXX)"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$pg_dir"; fi
    pg_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
        >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; return 1; }
    local options="-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir $*"
    as_postgres "$pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 30 -o "$options" start >/dev/null \
        || { cat "$pg_dir/server.log" >&2; return 1; }
}

# pg_stop: stops the cluster pg_start started, if any, and removes it.
pg_stop() {
    if [ -n "$pg_dir" ]; then
        as_postgres "$pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$pg_dir"
        pg_dir=""
    fi
}
