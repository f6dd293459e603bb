#!/usr/bin/env bash
# Builds the Debian packages: statically linked (static-pie, glibc) release
# binaries for x86_64 and aarch64, then, with cargo-deb,
# target/debian/notes-appliance_<version>-<revision>_<arch>.deb.
#
# Usage: scripts/package.sh [amd64|arm64|all] [--also-revision N] [--no-lintian]
#
#   amd64|arm64|all     which packages (default: all)
#   --also-revision N   also package the same binaries as revision N (no
#                       rebuild), e.g. an upgrade for the packaging test;
#                       or ALSO_REVISION=N
#   --no-lintian        skip the lintian run on the packages
#
# Each binary is checked to be static-pie and smoke-run: `serve` on a fresh
# data directory on loopback, then the same binary's `healthcheck` over TLS,
# by address and by the name localhost (a static glibc resolves names itself);
# the aarch64 one under qemu-aarch64-static. The man pages and shell
# completions are made by the binary itself. Every package must pass lintian
# without errors or warnings (packaging/lintian-overrides gives the reason
# for each override). packaging/README.md explains the choices.
#
# What is missing is installed, and said so: Debian packages with apt-get (as
# root, or with sudo; otherwise the script says what to install), Rust
# targets with rustup, cargo-deb with cargo install.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
REVISION=1

usage() {
    sed -n '6,13s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

selection=all
also_revision=${ALSO_REVISION:-}
lint=1
while [ $# -gt 0 ]; do
    case $1 in
        amd64 | arm64 | all) selection=$1 ;;
        --also-revision) [ $# -ge 2 ] || usage; also_revision=$2; shift ;;
        --also-revision=*) also_revision=${1#*=} ;;
        --no-lintian) lint=0 ;;
        -h | --help) usage ;;
        *) echo "package.sh: unknown argument: $1" >&2; usage ;;
    esac
    shift
done
if [ -n "$also_revision" ] && { ! [[ $also_revision =~ ^[0-9]+$ ]] || [ "$also_revision" -le "$REVISION" ]; }; then
    echo "package.sh: --also-revision must be a number above $REVISION, not '$also_revision'" >&2
    exit 2
fi
case $selection in
    all) arches=(amd64 arm64) ;;
    *) arches=("$selection") ;;
esac

say() { printf '\n== %s\n' "$*" >&2; }
fail() { printf '\npackage.sh: FAILED: %s\n' "$*" >&2; exit 1; }

triple() {
    case $1 in
        amd64) echo x86_64-unknown-linux-gnu ;;
        arm64) echo aarch64-unknown-linux-gnu ;;
    esac
}
host_arch=$(dpkg --print-architecture)

# --- tools --------------------------------------------------------------------

qemu=
find_qemu() { qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true); }

apt_install() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then
            sudo=(sudo)
        else
            fail "missing Debian packages: $*; install them as root (apt-get install $*)"
        fi
    fi
    echo "installing $* with apt-get (needed to build the packages) ..." >&2
    # Another apt-get (the test scripts install theirs too) may hold the lock.
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
    "${apt[@]}" update -qq >&2
    "${apt[@]}" install -y -qq --no-install-recommends "$@" >&2
}

ensure_tools() {
    local packages=() arch
    command -v cc >/dev/null || packages+=(gcc libc6-dev)
    command -v file >/dev/null || packages+=(file)
    [ "$lint" = 0 ] || command -v lintian >/dev/null || packages+=(lintian)
    for arch in "${arches[@]}"; do
        [ "$arch" != "$host_arch" ] || continue
        case $arch in
            arm64)
                command -v aarch64-linux-gnu-gcc >/dev/null || packages+=(gcc-aarch64-linux-gnu)
                [ -e /usr/aarch64-linux-gnu/lib/libc.a ] || packages+=(libc6-dev-arm64-cross)
                find_qemu
                if [ -z "$qemu" ]; then
                    # Bookworm has qemu-user-static; later releases may split it.
                    if apt-cache show qemu-user-static >/dev/null 2>&1 || ! apt-cache show qemu-user >/dev/null 2>&1; then
                        packages+=(qemu-user-static)
                    else
                        packages+=(qemu-user)
                    fi
                fi
                ;;
            amd64)
                command -v x86_64-linux-gnu-gcc >/dev/null || packages+=(gcc-x86-64-linux-gnu)
                [ -e /usr/x86_64-linux-gnu/lib/libc.a ] || packages+=(libc6-dev-amd64-cross)
                command -v qemu-x86_64-static >/dev/null || command -v qemu-x86_64 >/dev/null || packages+=(qemu-user-static)
                ;;
        esac
    done
    if [ ${#packages[@]} -gt 0 ]; then
        apt_install "${packages[@]}"
    fi
    find_qemu

    local installed targets=()
    installed=$(rustup target list --installed)
    for arch in "${arches[@]}"; do
        grep -qx "$(triple "$arch")" <<<"$installed" || targets+=("$(triple "$arch")")
    done
    if [ ${#targets[@]} -gt 0 ]; then
        echo "adding the Rust targets ${targets[*]} with rustup ..." >&2
        rustup target add "${targets[@]}" >&2
    fi

    if ! cargo deb --version 2>/dev/null | grep -qw "$CARGO_DEB_VERSION"; then
        echo "installing cargo-deb $CARGO_DEB_VERSION with cargo install (a few minutes, once) ..." >&2
        cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION" >&2
    fi
}

# --- build ----------------------------------------------------------------------

# The command prefix that runs a binary of the given arch here: nothing, or
# qemu.
runner=()
runner_for() {
    runner=()
    if [ "$1" != "$host_arch" ]; then
        case $1 in
            arm64) runner=("$qemu") ;;
            amd64) runner=("$(command -v qemu-x86_64-static || command -v qemu-x86_64)") ;;
        esac
    fi
}

declare -A build_seconds
build() {
    local arch=$1 t env_triple
    t=$(triple "$arch")
    env_triple=$(tr 'a-z-' 'A-Z_' <<<"$t")
    local env=(
        # Only for the target's artifacts: with --target, build scripts and
        # proc macros (which cannot be static) are built without these flags.
        "CARGO_TARGET_${env_triple}_RUSTFLAGS=-C target-feature=+crt-static"
    )
    local gcc=cc
    if [ "$arch" != "$host_arch" ]; then
        case $arch in
            arm64) gcc=aarch64-linux-gnu-gcc ;;
            amd64) gcc=x86_64-linux-gnu-gcc ;;
        esac
        env+=("CARGO_TARGET_${env_triple}_LINKER=$gcc" "CC_${t//-/_}=$gcc" "AR_${t//-/_}=${gcc%gcc}ar")
    fi
    if [ "$arch" = arm64 ]; then
        # rustc would link a static executable at a fixed address there: see
        # packaging/static-pie-cc.
        env+=("CARGO_TARGET_${env_triple}_LINKER=$PWD/packaging/static-pie-cc" "STATIC_PIE_CC=$gcc")
    fi
    say "building $t (release, static-pie)"
    local started=$SECONDS
    # RUSTFLAGS would replace the per-target flags, and with them crt-static.
    env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS "${env[@]}" \
        cargo build --release --locked --target "$t" --bin notes-appliance
    build_seconds[$arch]=$((SECONDS - started))
}

binary() { echo "target/$(triple "$1")/release/notes-appliance"; }

check_static() {
    local arch=$1 bin description linkage
    bin=$(binary "$arch")
    description=$(file -b "$bin")
    linkage=$(ldd "$bin" 2>&1 || true)
    echo "$bin: $description" >&2
    echo "ldd: $linkage" >&2
    [[ $description == *"static-pie linked"* ]] || fail "$bin is not static-pie: $description"
    [[ $linkage == *"statically linked"* || $linkage == *"not a dynamic executable"* ]] ||
        fail "$bin is not statically linked according to ldd: $linkage"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

server_pid=
work=
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$work" ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# serve on loopback with a fresh data directory, then healthcheck over TLS.
smoke() {
    local arch=$1 bin port deadline status
    bin=$(realpath "$(binary "$arch")")
    runner_for "$arch"
    work=$(mktemp -d)
    port=$(free_port)
    say "smoke test of the $arch binary${runner:+ under $(basename "${runner[0]}")}: serve on 127.0.0.1:$port, then healthcheck"
    # Only these settings: no Rocket.toml (the working directory is empty),
    # no NOTES_* or ROCKET_* of the caller.
    local run=(env -i "PATH=$PATH" "NOTES_DATA_DIR=$work/data" ROCKET_ADDRESS=127.0.0.1
        "ROCKET_PORT=$port" NOTES_HTTP_PORT=0 "${runner[@]}" "$bin")
    (cd "$work" && exec "${run[@]}" serve) >"$work/serve.log" 2>&1 &
    server_pid=$!
    # Under qemu a first boot (a new certificate, the migrations) takes a few
    # seconds; natively well under one.
    deadline=$((SECONDS + 120))
    until (cd "$work" && "${run[@]}" healthcheck "https://127.0.0.1:$port/readyz") >"$work/health.log" 2>&1; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            cat "$work/serve.log" >&2
            fail "the $arch binary's server exited during boot (log above)"
        fi
        if [ $SECONDS -ge $deadline ]; then
            cat "$work/serve.log" "$work/health.log" >&2
            fail "the $arch binary's server did not become ready within 120 s (log above)"
        fi
        sleep 0.5
    done
    cat "$work/health.log" >&2
    # The same through name resolution: a static glibc must still find
    # `localhost` (in /etc/hosts) without the system's NSS modules.
    if ! (cd "$work" && "${run[@]}" healthcheck "https://localhost:$port/readyz") >"$work/health.log" 2>&1; then
        cat "$work/health.log" "$work/serve.log" >&2
        fail "the $arch binary's healthcheck by the name localhost failed (log above)"
    fi
    cat "$work/health.log" >&2
    kill -TERM "$server_pid"
    status=0
    wait "$server_pid" || status=$?
    server_pid=
    if [ "$status" -ne 0 ]; then
        cat "$work/serve.log" >&2
        fail "the $arch binary's server exited with status $status on SIGTERM (log above)"
    fi
    echo "stopped on SIGTERM with status 0" >&2
    rm -rf "$work"
    work=
}

# Man pages and completions, from the binary itself (any arch: they do not
# depend on it; a native one is quicker).
generated() {
    local arch=$1 bin out=target/packaging
    bin=$(binary "$arch")
    say "man pages and shell completions from $bin"
    rm -rf "$out/man" "$out/completions"
    mkdir -p "$out/man" "$out/completions"
    runner_for "$arch"
    "${runner[@]}" "$bin" manpages "$out/man"
    # -n: no name or time stamp in the .gz, so that the package is reproducible.
    gzip -9nf "$out"/man/*.1
    "${runner[@]}" "$bin" completions bash >"$out/completions/notes-appliance.bash"
    "${runner[@]}" "$bin" completions zsh >"$out/completions/_notes-appliance"
    "${runner[@]}" "$bin" completions fish >"$out/completions/notes-appliance.fish"
    ls "$out/man" "$out/completions" >&2
}

debs=()
stash=target/packaging/debs
package() {
    local arch=$1 revision=$2 t deb
    # cargo-deb would quietly make a package without a service.
    [ -f systemd/notes-appliance.service ] || fail "systemd/notes-appliance.service is missing"
    t=$(triple "$arch")
    say "packaging $arch, revision $revision"
    cargo deb --no-build --locked --target "$t" --deb-revision "$revision" --output target/debian/
    deb=notes-appliance_$(cargo_version)-${revision}_$arch.deb
    [ -f "target/debian/$deb" ] || fail "cargo-deb did not make target/debian/$deb"
    # cargo-deb deletes every other version of the package for the same arch
    # from target/debian: keep each aside until all are made.
    mv "target/debian/$deb" "$stash/"
    debs+=("target/debian/$deb")
}

cargo_version() {
    cargo metadata --format-version 1 --no-deps --locked |
        python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "notes-appliance"))'
}

lintian_check() {
    local deb
    for deb in "${debs[@]}"; do
        say "lintian $deb"
        # --fail-on: an error or a warning (not overridden) fails the script.
        lintian --info --display-info --fail-on error,warning "$deb" ||
            fail "lintian reports errors or warnings for $deb (above)"
        echo "lintian: clean" >&2
    done
}

mib() { python3 -c "import sys; print(f'{int(sys.argv[1]) / 1048576:.2f} MiB')" "$1"; }

report() {
    local arch deb
    say "sizes"
    for arch in "${arches[@]}"; do
        printf '%-48s %10d bytes  %s  (built in %d s)\n' "$(binary "$arch")" "$(stat -c %s "$(binary "$arch")")" \
            "$(mib "$(stat -c %s "$(binary "$arch")")")" "${build_seconds[$arch]}"
    done
    for deb in "${debs[@]}"; do
        printf '%-48s %10d bytes  %s\n' "$deb" "$(stat -c %s "$deb")" "$(mib "$(stat -c %s "$deb")")"
    done
}

ensure_tools
for arch in "${arches[@]}"; do
    build "$arch"
    check_static "$arch"
done
for arch in "${arches[@]}"; do
    smoke "$arch"
done
if [[ " ${arches[*]} " == *" $host_arch "* ]]; then
    generated "$host_arch"
else
    generated "${arches[0]}"
fi
rm -rf "$stash"
mkdir -p target/debian "$stash"
for arch in "${arches[@]}"; do
    package "$arch" "$REVISION"
    if [ -n "$also_revision" ]; then
        package "$arch" "$also_revision"
    fi
done
mv "$stash"/*.deb target/debian/
if [ "$lint" = 1 ]; then
    lintian_check
fi
report
