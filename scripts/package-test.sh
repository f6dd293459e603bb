#!/usr/bin/env bash
# The packaging test: builds both .debs (scripts/package.sh), checks them with
# lintian and the unit with `systemd-analyze security`, then boots a Debian
# bookworm root file system under real systemd (systemd-nspawn -b) and takes
# the amd64 package through what an administrator does with it:
#
#   install -> start, ready -> the setup link claimed over HTTPS -> a user
#   and a token from the CLI -> a note stored on port 443 -> reload (SIGHUP),
#   restart, a crash, a hang (the watchdog), a configuration error (exit 78),
#   the database URL as a credential -> upgrade to a higher revision with an
#   edited conffile -> stop with a request in flight -> remove (data kept)
#   -> purge (data gone)
#
# Each step prints a PASS or FAIL line; the first failure prints the service's
# journal, stops the container and exits non-zero. The figures (exposure, .deb
# sizes, time to ready, time to stop) are printed on the way.
#
# The root file system is made once with debootstrap and cached as a tarball
# in $PACKAGE_TEST_CACHE (default /var/cache/notes-appliance-tests); every run
# boots a fresh copy of it, which it deletes afterwards. The container has a
# private network (loopback only): the service binds 0.0.0.0:443 and :80
# inside it, not on this machine, and every request goes from inside it.
#
# Needs root, and installs what is missing (debootstrap, systemd-container,
# lintian, zstd) with apt-get.
#
# Usage: scripts/package-test.sh [--no-build | --debs DIR]
#   --no-build   test the .debs already in target/debian instead of building
#   --debs DIR   test the .debs in DIR (implies --no-build)
#
# shellcheck disable=SC2015,SC2016
# (`check && check || fail`: fail exits; '${Version}' is dpkg-query's own.)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

build=1
deb_dir="$repo/target/debian"
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0 ;;
        --debs) [ $# -ge 2 ] || { echo "--debs needs a directory" >&2; exit 2; }
            build=0; deb_dir=$(realpath "$2"); shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$(id -u)" != 0 ]; then
    echo "scripts/package-test.sh must run as root (debootstrap, systemd-nspawn)." >&2
    exit 1
fi

cache_dir="${PACKAGE_TEST_CACHE:-/var/cache/notes-appliance-tests}"
suite=bookworm
unit=notes-appliance.service
conffile=/etc/notes-appliance/Rocket.toml
state_dir=/var/lib/notes-appliance
max_exposure=2.0
grace_s=10   # shutdown_grace in the packaged Rocket.toml (the built-in default)

# ---------------------------------------------------------------- reporting

passed=0
failed=0
work=""
nspawn_pid=""
leader=""
cgroup_dirs=()
started_at=$(date +%s)

pass() {
    passed=$((passed + 1))
    echo "PASS: $*"
}

# Prints the reason, the service's journal when the container runs, and
# exits; the EXIT trap stops the container and deletes its copy.
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*"
    if [ -n "$leader" ] && kill -0 "$leader" 2>/dev/null; then
        echo "---- journalctl -u notes-appliance (in the container) ----"
        in_ct journalctl -u notes-appliance --no-pager -n 300 -o short-precise 2>&1 || true
        echo "---- systemctl status notes-appliance ----"
        in_ct systemctl status --no-pager -n 0 notes-appliance 2>&1 || true
        echo "----"
    fi
    exit 1
}

# Milliseconds since some fixed point, for durations measured here.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

cleanup() {
    local rc=$? i
    trap - EXIT
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        # nspawn turns SIGTERM into an orderly shutdown of the container.
        kill -TERM "$nspawn_pid" 2>/dev/null || true
        for ((i = 0; i < 300; i++)); do
            kill -0 "$nspawn_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$nspawn_pid" 2>/dev/null; then
            echo "the container did not power off within 30 s: killing it" >&2
            if [ -n "$leader" ]; then kill -KILL "$leader" 2>/dev/null || true; fi
            kill -KILL "$nspawn_pid" 2>/dev/null || true
        fi
        wait "$nspawn_pid" 2>/dev/null || true
    fi
    for dir in "${cgroup_dirs[@]}"; do
        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || echo "cannot remove the cgroup $dir" >&2
    done
    if [ -n "$work" ] && [ -d "$work" ]; then
        rm -rf --one-file-system "$work"
    fi
    echo "packaging: $passed passed, $failed failed ($(($(date +%s) - started_at)) s)"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- host tools

missing=()
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v systemd-nspawn >/dev/null 2>&1 || missing+=(systemd-container)
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]} with apt-get"
    # scripts/package.sh may be installing its tools at the same time.
    apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
    "${apt[@]}" update -qq
    "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- build

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
[ -n "$version" ] || fail "cannot read the version from Cargo.toml"
deb1="$deb_dir/notes-appliance_${version}-1_amd64.deb"
deb2="$deb_dir/notes-appliance_${version}-2_amd64.deb"
deb_arm="$deb_dir/notes-appliance_${version}-1_arm64.deb"
deb_arm2="$deb_dir/notes-appliance_${version}-2_arm64.deb"

if [ "$build" = 1 ]; then
    t0=$(now_ms)
    # lintian runs below, on every package.
    scripts/package.sh all --also-revision 2 --no-lintian || fail "scripts/package.sh all --also-revision 2"
    pass "scripts/package.sh built the packages in $((($(now_ms) - t0) / 1000)) s"
fi
debs=("$deb1" "$deb_arm" "$deb2")
# The arm64 upgrade package, when there is one (package.sh makes it).
[ -f "$deb_arm2" ] && debs+=("$deb_arm2")
for deb in "${debs[@]}"; do
    [ -f "$deb" ] || fail "missing ${deb#"$repo/"}"
done

# ---------------------------------------------------------------- static checks

for deb in "$deb1" "$deb_arm"; do
    size=$(stat -c %s "$deb")
    echo "size: ${deb##*/}: $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }') MiB; target at most 8 MiB)"
done

for deb in "${debs[@]}"; do
    # Overrides must say why; --fail-on makes a warning as fatal as an error.
    # As nobody: lintian does not want root.
    if out=$(runuser -u nobody -- lintian --fail-on error,warning --tag-display-limit 0 "$deb" 2>&1); then
        [ -z "$out" ] || echo "$out"
        pass "lintian ${deb##*/}: no error, no warning"
    else
        echo "$out"
        fail "lintian ${deb##*/}"
    fi
done

# Each package holds a binary of its own architecture.
for deb in "${debs[@]}"; do
    arch=$(dpkg-deb -f "$deb" Architecture)
    [[ "$deb" == *"_$arch.deb" ]] || fail "${deb##*/} says Architecture: $arch"
    tmp_bin=$(mktemp)
    dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/bin/notes-appliance >"$tmp_bin"
    # The ELF header's e_machine: 0x3e x86-64, 0xb7 AArch64.
    elf_machine=$(od -An -tx1 -j18 -N2 "$tmp_bin" | tr -d ' \n')
    rm -f "$tmp_bin"
    case "$arch:$elf_machine" in
        amd64:3e00 | arm64:b700) ;;
        *) fail "${deb##*/}: /usr/bin/notes-appliance is not an $arch binary (ELF machine $elf_machine)" ;;
    esac
done
pass "each package holds a binary of its architecture"

# The unit as shipped (the one in the amd64 package), rated offline.
unit_path=$(dpkg-deb -c "$deb1" | awk -v u="/systemd/system/$unit" '!found && substr($NF, length($NF) - length(u) + 1) == u { print $NF; found = 1 }')
[ -n "$unit_path" ] || fail "${deb1##*/} ships no $unit"
shipped_unit="$(mktemp -d)/$unit"
dpkg-deb --fsys-tarfile "$deb1" | tar -xO "$unit_path" >"$shipped_unit"
cmp -s "$shipped_unit" systemd/$unit || fail "${unit_path#.} in ${deb1##*/} differs from systemd/$unit"
security=$(systemd-analyze security --offline=true --no-pager "$shipped_unit" 2>&1) \
    || { echo "$security"; fail "systemd-analyze security --offline=true $unit"; }
rm -r "$(dirname "$shipped_unit")"
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$security")
[ -n "$exposure" ] || { echo "$security"; fail "no exposure level in the output of systemd-analyze security"; }
echo "$security" | grep -E '^✗|Overall' || true
if awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
    pass "systemd-analyze security --offline=true: exposure $exposure (at most $max_exposure)"
else
    fail "systemd-analyze security --offline=true: exposure $exposure, above $max_exposure"
fi

# ---------------------------------------------------------------- root file system

# What the package depends on goes into the image too: the container has no
# network to fetch it from.
deb_depends=$(dpkg-deb -f "$deb1" Pre-Depends Depends \
    | sed 's/^[A-Za-z-]*: //' | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' \
    | grep -v '^$' | sort -u | paste -sd, -)
# systemd-sysv makes systemd the init; curl and ca-certificates for the
# requests; adduser and passwd for the maintainer scripts.
includes="systemd,systemd-sysv,dbus,curl,ca-certificates,adduser,passwd${deb_depends:+,$deb_depends}"
# Bump the recipe number whenever prepare_rootfs changes what it makes.
recipe=1
key=$(printf '%s\n' "$suite" minbase "$includes" "$recipe" | sha256sum | cut -c1-12)
image="$cache_dir/$suite-$key.tar.zst"

prepare_rootfs() {
    local dir="$1"
    # shellcheck disable=SC2086 # DEBOOTSTRAP_MIRROR is optional
    debootstrap --variant=minbase --include="$includes" "$suite" "$dir" ${DEBOOTSTRAP_MIRROR:-} >"$dir.log" 2>&1 \
        || { tail -n 30 "$dir.log"; return 1; }
    rm -f "$dir.log"
    # Nothing may start apt or other housekeeping in the middle of a test.
    systemctl --root="$dir" mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
        systemd-tmpfiles-clean.timer >/dev/null 2>&1
    # mktemp made it 0700: the container's / would be closed to its
    # unprivileged users (dbus, the service).
    chmod 0755 "$dir"
    # The machine ID comes from nspawn on every boot.
    : >"$dir/etc/machine-id"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*_Packages
}

mkdir -p "$cache_dir"
(
    # One run builds the image; a concurrent one waits for it.
    flock 9
    if [ ! -f "$image" ]; then
        echo "making the $suite root file system with debootstrap (cached in $image; a few minutes, once)"
        t0=$(now_ms)
        tmp_root=$(mktemp -d "$cache_dir/.rootfs.XXXXXX")
        trap 'rm -rf --one-file-system "$tmp_root" "$tmp_root.log" "$image.tmp"' EXIT
        prepare_rootfs "$tmp_root"
        tar --numeric-owner --xattrs --acls -C "$tmp_root" -cf - . | zstd -q -T0 -o "$image.tmp"
        mv "$image.tmp" "$image"
        echo "made $image in $((($(now_ms) - t0) / 1000)) s"
    fi
) 9>"$cache_dir/.lock" || fail "debootstrap $suite (see above)"
pass "$suite root file system: $image ($(du -h "$image" | cut -f1))"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/notes-appliance-package-test.XXXXXX")
root="$work/root"
mkdir "$root"
zstd -q -dc "$image" | tar --numeric-owner --xattrs --acls -C "$root" -xpf - \
    || fail "unpacking $image"
chmod 0755 "$root"
# Outside /tmp, which the container's systemd mounts over.
mkdir -p "$root/opt/package-test"
cp "$deb1" "$deb2" "$root/opt/package-test/"
pass "fresh copy of the root file system in $root"

# ---------------------------------------------------------------- boot

machine="na-test-$$"
echo "$machine" >"$root/etc/hostname"

# nspawn puts itself and the container into sub-cgroups ("supervisor",
# "payload") of the cgroup it starts in; without a systemd to ask for a scope
# (--keep-unit), that is this script's. It starts in a cgroup of this run's
# own instead, in each hierarchy that systemd uses (the unified one and, on a
# hybrid host, name=systemd), so that no two runs meet and cleanup removes
# what the container leaves behind.
cgroup_dirs=()
while read -r mnt ctl; do
    path=$(awk -F: -v c="$ctl" '$2 == c { print $3 }' /proc/self/cgroup)
    [ -n "$path" ] || continue
    dir="$mnt${path%/}/notes-appliance-package-test-$$"
    if mkdir "$dir" 2>/dev/null; then cgroup_dirs+=("$dir"); fi
done < <(awk '{
        for (i = 7; $i != "-"; i++) {}
        if ($4 != "/") next                       # a cgroup namespace or a bind mount: leave it
        if ($(i + 1) == "cgroup2") print $5, ""
        else if ($(i + 1) == "cgroup" && $(i + 3) ~ /(^|,)name=systemd(,|$)/) print $5, "name=systemd"
    }' /proc/self/mountinfo)

# --register=no --keep-unit: this machine's PID 1 need not be systemd (no
# machined, no scopes). --private-network: a loopback of its own, so that 443
# and 80 are bound in the container only. --link-journal=no: its journal
# stays inside. The console (boot messages) goes to a file, shown when the
# boot fails.
(
    for dir in "${cgroup_dirs[@]}"; do echo 0 >"$dir/cgroup.procs" 2>/dev/null || true; done
    exec systemd-nspawn -q -b -D "$root" -M "$machine" --register=no --keep-unit \
        --private-network --resolv-conf=off --timezone=off --link-journal=no \
        --console=read-only
) >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!

# The container's PID 1 (its systemd) is a child of nspawn; commands run in
# its namespaces and root with nsenter.
in_ct() {
    nsenter --target "$leader" --mount --uts --ipc --net --pid --root --wd \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
        SYSTEMD_PAGER= SYSTEMD_COLORS=0 DEBIAN_FRONTEND=noninteractive "$@"
}

t0=$(now_ms)
for ((i = 0; i < 300; i++)); do
    kill -0 "$nspawn_pid" 2>/dev/null || { cat "$work/console.log"; fail "systemd-nspawn exited"; }
    for pid in $(pgrep -P "$nspawn_pid" 2>/dev/null); do
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ]; then leader=$pid; fi
    done
    [ -n "$leader" ] && break
    sleep 0.1
done
[ -n "$leader" ] || { cat "$work/console.log"; fail "no systemd in the container after 30 s"; }

state=""
for ((i = 0; i < 600; i++)); do
    state=$(in_ct systemctl is-system-running 2>/dev/null) || true
    case "$state" in running | degraded) break ;; esac
    sleep 0.1
done
case "$state" in
    running) ;;
    degraded) in_ct systemctl --failed --no-legend --no-pager || true ;;
    *) tail -n 50 "$work/console.log"; fail "the container's systemd did not finish booting in 60 s (state: ${state:-none})" ;;
esac
pass "container booted under systemd $(in_ct systemctl --version | awk 'NR == 1 { print $2 }') in $(($(now_ms) - t0)) ms ($state; leader PID $leader)"

# ---------------------------------------------------------------- helpers in the container

cacert="$state_dir/tls/self-signed.crt"
# HTTPS to the container's own port 443, trusting exactly the generated
# certificate (which names localhost).
https() {
    in_ct curl -sS --fail-with-body --max-time 10 --cacert "$cacert" \
        --resolve localhost:443:127.0.0.1 "$@"
}
as_service() {
    in_ct runuser -u notes-appliance -- notes-appliance --config "$conffile" "$@"
}
prop() { in_ct systemctl show -P "$1" "$unit"; }
mono_ms() { echo $(($(prop "$1") / 1000)); }
# Time from leaving "inactive" to READY=1, as systemd recorded it.
startup_ms() { echo $(($(mono_ms ActiveEnterTimestampMonotonic) - $(mono_ms InactiveExitTimestampMonotonic))); }
main_pid() { prop MainPID; }

wait_active() {
    local i s
    for ((i = 0; i < ${1:-100}; i++)); do
        s=$(in_ct systemctl is-active "$unit" 2>/dev/null) || true
        [ "$s" = active ] && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- install and start

out=$(in_ct apt-get install -y -q "/opt/package-test/${deb1##*/}" 2>&1) \
    || { echo "$out"; fail "apt-get install ${deb1##*/}"; }
pass "apt-get install ${deb1##*/} ($(in_ct dpkg-query -W -f '${Version}' notes-appliance))"

in_ct getent passwd notes-appliance >/dev/null || fail "no system user notes-appliance after install"
in_ct test -f "$conffile" || fail "no $conffile after install"
pass "system user: $(in_ct getent passwd notes-appliance); $conffile installed; unit $(in_ct systemctl is-enabled "$unit" || true)"

# Debian starts a service on install unless its package says otherwise:
# either way the time systemd measured from start to READY=1 is the figure.
if in_ct systemctl is-active -q "$unit"; then
    how="started by the package's postinst"
else
    t0=$(now_ms)
    in_ct systemctl start "$unit" || fail "systemctl start $unit"
    how="systemctl start returned after $(($(now_ms) - t0)) ms"
fi
wait_active 10 || fail "$unit not active after start"
ready_ms=$(startup_ms)
echo "figure: ready $ready_ms ms after start on a fresh install ($how; target at most 1000 ms)"
pass "$unit active (Type=notify: READY=1 received)"

pid=$(main_pid)
user=$(in_ct stat -c %U "/proc/$pid")
caps=$(in_ct awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
# CAP_NET_BIND_SERVICE is bit 10: 0x400.
[ "$user" = notes-appliance ] && [ "$caps" = 0000000000000400 ] \
    || fail "main process runs as ${user:-?} with CapEff=${caps:-?} (want notes-appliance, 0000000000000400)"
pass "main process $pid runs as notes-appliance with CAP_NET_BIND_SERVICE only"

verify=$(in_ct systemd-analyze verify --man=no "$unit" 2>&1) || { echo "$verify"; fail "systemd-analyze verify $unit"; }
[ -z "$verify" ] || { echo "$verify"; fail "systemd-analyze verify $unit has warnings"; }
pass "systemd-analyze verify $unit: no warning"
online=$(in_ct systemd-analyze security --no-pager "$unit" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "figure: exposure of the installed unit, as the container's systemd sees it: ${online:-?}"

# Listening sockets (state 0A) on ports 443 (01BB) and 80 (0050).
listening=$(in_ct cat /proc/net/tcp /proc/net/tcp6 | awk '$4 == "0A" { print $2 }')
grep -q ':01BB$' <<<"$listening" && grep -q ':0050$' <<<"$listening" || fail "not listening on both 443 and 80"
pass "listening on 443 and 80; status: $(prop StatusText)"

# ---------------------------------------------------------------- first account, token, note

link=$(in_ct journalctl -u "$unit" -o cat --no-pager | grep -o 'https://[^ ]*/setup#[A-Za-z0-9_-]*' | tail -n 1)
[ -n "$link" ] || fail "no setup link in the journal"
pass "setup link in the journal: ${link%%#*}#…"
# Without public_url the link should name this machine.
link_host=${link#https://}
link_host=${link_host%%[:/]*}
ct_host=$(in_ct cat /proc/sys/kernel/hostname)
if [ "$link_host" != "$ct_host" ]; then
    echo "WARN: the setup link names '$link_host', not the machine's host name '$ct_host'"
fi

setup_token=${link##*#}
admin_password="package-test-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
body=$(printf '{"token":"%s","username":"admin","password":"%s"}' "$setup_token" "$admin_password")
out=$(https -H 'Content-Type: application/json' -H 'Sec-Fetch-Site: same-origin' \
    -c /opt/package-test/cookies -d "$body" https://localhost/api/setup 2>&1) \
    || { echo "$out"; fail "POST /api/setup with the link's token"; }
in_ct grep -q __Host-notes_session /opt/package-test/cookies || fail "POST /api/setup set no session cookie"
pass "setup link claimed over HTTPS: admin created and logged in"

# Admin commands as root refuse to write into the service user's directory.
if out=$(in_ct notes-appliance --config "$conffile" user list 2>&1); then
    echo "$out"
    fail "notes-appliance user list as root succeeded (it should refuse)"
fi
grep -q 'sudo -u notes-appliance' <<<"$out" || { echo "$out"; fail "running as root: no hint to use sudo -u notes-appliance"; }
pass "CLI as root refuses and says: $(grep -m1 -o 'sudo -u notes-appliance[^"]*' <<<"$out" | head -c 80)"

in_ct sh -c 'umask 077; head -c 18 /dev/urandom | base64 > /opt/package-test/alice.pw' \
    && in_ct chown notes-appliance: /opt/package-test/alice.pw || fail "writing a password file"
out=$(as_service user add alice --password-file /opt/package-test/alice.pw 2>&1) \
    || { echo "$out"; fail "notes-appliance user add alice (as the service user)"; }
token=$(as_service token create --user alice 2>/dev/null | tail -n 1) || fail "notes-appliance token create --user alice"
[[ "$token" == na_* ]] || fail "token create printed '$token', not a token"
pass "CLI as the service user: user alice and an API token"

others=$(in_ct find "$state_dir" ! -user notes-appliance)
[ -z "$others" ] || fail "files in $state_dir not owned by notes-appliance: $others"
modes=$(in_ct stat -c '%a %U %n' "$state_dir" "$state_dir/tls/self-signed.key")
pass "state directory owned by notes-appliance only: $(tr '\n' ';' <<<"$modes")"

note_title="package test $(date +%s)"
out=$(https -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"title\":\"$note_title\",\"body\":\"stored before restart and upgrade\"}" \
    -w '\n%{http_code}' https://localhost/api/notes 2>&1) || { echo "$out"; fail "POST /api/notes"; }
[ "$(tail -n 1 <<<"$out")" = 201 ] || { echo "$out"; fail "POST /api/notes did not answer 201"; }
pass "note stored over HTTPS on port 443 (201)"

has_note() {
    local list
    list=$(https -H "Authorization: Bearer $token" https://localhost/api/notes) || return 1
    grep -qF "\"$note_title\"" <<<"$list"
}

code=$(in_ct curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 5 http://127.0.0.1/api/notes) \
    || fail "plain HTTP on port 80"
[[ "$code" == "301 https://"* ]] || fail "port 80 answered '$code', not a 301 to HTTPS"
pass "port 80 redirects: $code"

as_service healthcheck >/dev/null 2>&1 || fail "notes-appliance healthcheck"
pass "notes-appliance healthcheck exits 0"

# A backup while the service serves, and a restore of it while it still does.
backup_file=$(as_service backup 2>/dev/null | tail -n 1) || fail "notes-appliance backup (as the service user)"
[[ "$backup_file" == "$state_dir/backups/backup-"*.db ]] || fail "backup printed '$backup_file'"
owner=$(in_ct stat -c '%U %a' "$backup_file") || fail "no backup file at $backup_file"
[[ "$owner" == "notes-appliance "* ]] || fail "the backup belongs to '$owner'"
out=$(as_service restore "$backup_file" 2>&1) || { echo "$out"; fail "notes-appliance restore while the service runs"; }
in_ct systemctl is-active -q "$unit" && has_note || fail "after restore: the service or the note is gone"
pass "backup and restore as the service user while it serves: $(basename "$backup_file") ($owner); the note reads back"

# ---------------------------------------------------------------- reload, restart, crash, bad config

pid=$(main_pid)
reloads() { in_ct journalctl -u "$unit" -o cat --no-pager | grep -c 'TLS certificate reloaded' || true; }
before=$(reloads)
in_ct systemctl reload "$unit" || fail "systemctl reload"
for ((i = 0; i < 50; i++)); do
    [ "$(reloads)" -gt "$before" ] && break
    sleep 0.1
done
[ "$(reloads)" -gt "$before" ] || fail "systemctl reload: no 'TLS certificate reloaded' in the journal"
[ "$(main_pid)" = "$pid" ] && in_ct systemctl is-active -q "$unit" && has_note \
    || fail "after reload (SIGHUP): not the same process answering"
pass "systemctl reload: SIGHUP reloaded the certificate; same process $pid still serving"

t0=$(now_ms)
in_ct systemctl restart "$unit" || fail "systemctl restart"
restart_ms=$(($(now_ms) - t0))
has_note || fail "the note is gone after systemctl restart"
pass "systemctl restart in $restart_ms ms (ready $(startup_ms) ms after start); the note reads back"

pid=$(main_pid)
restarts=$(prop NRestarts)
in_ct systemctl kill -s KILL --kill-who=main "$unit"
for ((i = 0; i < 100; i++)); do
    [ "$(prop NRestarts)" -gt "$restarts" ] && wait_active 1 && break
    sleep 0.1
done
[ "$(prop NRestarts)" -gt "$restarts" ] && in_ct systemctl is-active -q "$unit" && [ "$(main_pid)" != "$pid" ] \
    || fail "not restarted after SIGKILL (Restart=on-failure)"
has_note || fail "the note is gone after the crash"
pass "killed with SIGKILL: restarted (Restart=on-failure), note still there"

# The watchdog: a server that stops answering (SIGSTOP here) is restarted.
# A drop-in shortens WatchdogSec= from 30 s to 2 s for the test.
dropin=/run/systemd/system/$unit.d
in_ct mkdir -p "$dropin"
in_ct sh -c "printf '[Service]\nWatchdogSec=2s\n' > $dropin/package-test.conf"
in_ct systemctl daemon-reload
in_ct systemctl restart "$unit" || fail "systemctl restart with WatchdogSec=2s"
pid=$(main_pid)
restarts=$(prop NRestarts)
in_ct systemctl kill -s STOP --kill-who=main "$unit"
for ((i = 0; i < 100; i++)); do
    [ "$(prop NRestarts)" -gt "$restarts" ] && wait_active 1 && break
    sleep 0.1
done
journal=$(in_ct journalctl -u "$unit" -o cat --no-pager)
in_ct rm -r "$dropin"
in_ct systemctl daemon-reload
[ "$(prop NRestarts)" -gt "$restarts" ] && [ "$(main_pid)" != "$pid" ] && grep -q 'Watchdog timeout' <<<"$journal" \
    || fail "a stopped (SIGSTOP) server was not restarted by the watchdog"
in_ct systemctl restart "$unit" || fail "systemctl restart with WatchdogSec=30s"
has_note || fail "the note is gone after the watchdog restart"
pass "watchdog: a server that stopped answering was restarted (WatchdogSec=, Restart=on-failure)"

# An unknown NOTES_* variable is a configuration error: exit 78, no restart.
in_ct mkdir -p "$dropin"
in_ct sh -c "printf '[Service]\nEnvironment=NOTES_NO_SUCH_KEY=1\n' > $dropin/package-test.conf"
in_ct systemctl daemon-reload
if in_ct systemctl restart "$unit" 2>/dev/null; then fail "started with an unknown NOTES_ variable"; fi
sleep 3 # RestartSec=2s: a restart would have happened by now
status=$(prop ExecMainStatus)
restarts_after=$(prop NRestarts)
in_ct rm -r "$dropin"
in_ct systemctl daemon-reload
[ "$status" = 78 ] || fail "configuration error: exit status $status, not 78"
[ "$(in_ct systemctl is-active "$unit")" != active ] && [ "$restarts_after" = 0 ] \
    || fail "configuration error (78) restarted the service (NRestarts=$restarts_after)"
pass "configuration error: exit 78, not restarted (RestartPreventExitStatus=78)"
in_ct systemctl reset-failed "$unit" 2>/dev/null || true

# The unit's LoadCredential= example: a database URL in a root-only file.
in_ct sh -c "umask 077; echo 'sqlite://$state_dir/credential.db' > /etc/notes-appliance/database_url"
in_ct mkdir -p "$dropin"
in_ct sh -c "printf '[Service]\nLoadCredential=database_url:/etc/notes-appliance/database_url\nEnvironment=NOTES_DATABASE_URL_FILE=%%d/database_url\n' > $dropin/package-test.conf"
in_ct systemctl daemon-reload
in_ct systemctl start "$unit" || fail "systemctl start with the database URL from LoadCredential="
in_ct test -f "$state_dir/credential.db" || fail "LoadCredential=: the service did not use the credential's database URL"
in_ct rm -r "$dropin" /etc/notes-appliance/database_url
in_ct systemctl daemon-reload
pass "database URL from a root-only file through LoadCredential= (%d/database_url)"

in_ct systemctl restart "$unit" || fail "systemctl restart on the default database"
has_note || fail "the note is gone after the configuration error"

# ---------------------------------------------------------------- upgrade

marker="# edited by scripts/package-test.sh $$"
in_ct sh -c "printf '%s\n' '$marker' >> $conffile"
pid=$(main_pid)
out=$(in_ct apt-get install -y -q -o Dpkg::Options::=--force-confold "/opt/package-test/${deb2##*/}" 2>&1) \
    || { echo "$out"; fail "apt-get install ${deb2##*/} (upgrade)"; }
new_version=$(in_ct dpkg-query -W -f '${Version}' notes-appliance)
[ "$new_version" = "${version}-2" ] || fail "after the upgrade the installed version is $new_version, not ${version}-2"
in_ct grep -qxF "$marker" "$conffile" || fail "the edited $conffile was replaced by the upgrade"
pass "upgraded to $new_version; the edited $conffile kept"
if ! in_ct systemctl is-active -q "$unit"; then
    in_ct systemctl start "$unit" || fail "systemctl start after the upgrade"
    echo "note: the upgrade left the service stopped; started it"
elif [ "$(main_pid)" != "$pid" ]; then
    echo "note: the upgrade restarted the service (main PID $pid -> $(main_pid))"
else
    echo "note: the upgrade did not restart the service: the old binary still runs"
fi
has_note || fail "the note is gone after the upgrade"
pass "after the upgrade the service answers and the note is there"

# ---------------------------------------------------------------- stop

# A request in flight when the stop comes: its body arrives 3 s later, and
# draining must let it finish (201) before the process exits.
in_ct sh -c "(printf '{\"title\": \"in flight\", \"body\": \"sent '; sleep 3; printf 'slowly\"}') \
    | curl -sS --max-time 20 --cacert $cacert --resolve localhost:443:127.0.0.1 -X POST -T - \
        -H 'Authorization: Bearer $token' -H 'Content-Type: application/json' \
        -o /dev/null -w '%{http_code}' https://localhost/api/notes >/opt/package-test/in-flight 2>&1" &
in_flight_pid=$!
sleep 1
t0=$(now_ms)
in_ct systemctl stop "$unit" || fail "systemctl stop"
stop_ms=$(($(now_ms) - t0))
wait "$in_flight_pid" || true
in_flight=$(in_ct cat /opt/package-test/in-flight)
[ "$in_flight" = 201 ] || fail "a request in flight during the stop got '$in_flight', not 201"
result=$(prop Result)
code=$(prop ExecMainCode)   # 1: exited (2 would be killed by a signal)
status=$(prop ExecMainStatus)
echo "figure: systemctl stop took $stop_ms ms (grace ${grace_s} s)"
[ "$result" = success ] && [ "$code" = 1 ] && [ "$status" = 0 ] \
    || fail "stop: Result=$result ExecMainCode=$code ExecMainStatus=$status (want success, 1, 0)"
[ "$stop_ms" -lt $((grace_s * 1000)) ] || fail "stop took $stop_ms ms, beyond the ${grace_s} s grace"
journal=$(in_ct journalctl -u "$unit" -o cat --no-pager)
grep -q 'INFO stopped$' <<<"$journal" || fail "no 'stopped' line from the server in the journal"
pass "stopped cleanly: the request in flight answered 201, exit 0 after SIGTERM in $stop_ms ms"

# ---------------------------------------------------------------- remove, purge

out=$(in_ct apt-get remove -y -q notes-appliance 2>&1) || { echo "$out"; fail "apt-get remove"; }
in_ct test -f "$state_dir/notes.db" || fail "apt-get remove deleted $state_dir/notes.db"
in_ct test -f "$conffile" || fail "apt-get remove deleted $conffile"
pass "apt-get remove: $state_dir and $conffile kept"

out=$(in_ct apt-get purge -y -q notes-appliance 2>&1) || { echo "$out"; fail "apt-get purge"; }
in_ct test ! -e "$state_dir" || fail "$state_dir still there after purge: $(in_ct ls -la "$state_dir")"
in_ct test ! -e /etc/notes-appliance || fail "/etc/notes-appliance still there after purge: $(in_ct ls -la /etc/notes-appliance)"
if in_ct getent passwd notes-appliance >/dev/null; then
    user_after="the system user notes-appliance is kept"
else
    user_after="the system user notes-appliance is removed"
fi
pass "apt-get purge: $state_dir and /etc/notes-appliance gone; $user_after"

echo "figures: exposure $exposure (online ${online:-?}), ready ${ready_ms} ms, stop ${stop_ms} ms"
