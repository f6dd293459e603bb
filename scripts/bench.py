"""The benchmark behind scripts/bench.sh (run that, not this).

Usage: bench.py BINARY OHA NGINX
Environment: DURATION (default 10s), CONNECTIONS (default 32),
HANDSHAKE_CLIENTS (default 8).
"""

import glob
import gzip
import hashlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

BINARY, OHA, NGINX = sys.argv[1], sys.argv[2], sys.argv[3]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DURATION = os.environ.get("DURATION", "10s")
CONNECTIONS = os.environ.get("CONNECTIONS", "32")
HANDSHAKE_CLIENTS = int(os.environ.get("HANDSHAKE_CLIENTS", "8"))
ACCEPT = "br, gzip"
NOTE = json.dumps({
    "title": "Benchmark note",
    "body": "A note of about two hundred bytes, written by the benchmark to measure durable "
            "inserts with group commit. It has a title and a body like the notes people keep.",
})
BROTLI_MODULE = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"

# Every process the benchmark starts, stopped in main's `finally` if still running.
STARTED = []


class Broken(Exception):
    """Something that makes the figures meaningless."""


def seconds(duration):
    """oha's DURATION ("10s", "1m", "500ms", "10") in seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", duration)
    if not match:
        raise Broken(f"DURATION={duration!r} is not like 10s")
    return float(match[1]) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[match[2]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(command, **kwargs):
    process = subprocess.Popen(command, **kwargs)
    STARTED.append(process)
    return process


def stop(process, sig=signal.SIGTERM):
    """Stops one started process by its PID; its exit code."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise Broken(f"{process.args[0]} (pid {process.pid}) did not stop within 30 s of {sig.name}")


def environment(data_dir, port, http_port):
    # Only what the benchmark sets: no Rocket.toml, no NOTES_* of the caller.
    return {"PATH": os.environ.get("PATH", ""), "NOTES_DATA_DIR": data_dir, "ROCKET_PORT": str(port),
            "NOTES_HTTP_PORT": str(http_port)}


def run(args, env, stdin=None):
    result = subprocess.run([BINARY, *args], env=env, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise Broken(f"{' '.join(args)} failed: {result.stderr}")
    return result.stdout


def unverified():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


UNVERIFIED = unverified()


def https_status(port, path, request=None):
    """The status of one HTTPS request on a new connection, or None when nothing answers."""
    request = request or f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            with UNVERIFIED.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(request)
                response = b""
                while chunk := s.recv(65536):
                    response += chunk
                return int(response.split()[1])
    except (OSError, IndexError, ValueError):
        return None


def fetch(port, path, context, headers=None):
    """(status, headers with lower-case names, body) of one HTTPS GET."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def start(env, port, log):
    server = spawn([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log)
    started = time.perf_counter()
    while https_status(port, "/readyz") != 200:
        if server.poll() is not None:
            raise Broken(f"the server exited during boot; see its log {log.name}")
        if time.perf_counter() - started > 30:
            raise Broken("the server did not become ready within 30 s")
        time.sleep(0.001)
    return server, (time.perf_counter() - started) * 1000


def memory_kib(pid):
    """(RSS, peak RSS, PSS) in KiB."""
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    rollup = dict(line.split(":", 1) for line in open(f"/proc/{pid}/smaps_rollup") if ":" in line and not line.startswith("5"))
    kib = lambda value: int(value.split()[0])
    return kib(status["VmRSS"]), kib(status["VmHWM"]), kib(rollup["Pss"])


def children(pid):
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = open(stat).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return found


def cpu_seconds(pids):
    """(CPU seconds all CPUs were busy, CPU seconds elapsed, CPU seconds of
    this process, its children and `pids`) so far."""
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, open("/proc/stat").readline().split()[1:9])
    elapsed = user + nice + system + idle + iowait + irq + softirq + steal
    ours = sum(r.ru_utime + r.ru_stime for r in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
    # Kernel threads (children of kthreadd, pid 2) count as ours: they carry
    # the benchmark's loopback traffic too.
    for pid in [*pids, 2, *children(2)]:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ours += (int(fields[11]) + int(fields[12])) / tick
    # Interrupt time is left out: loopback traffic is handled there, for
    # the benchmark's processes too.
    return (user + nice + system + steal) / tick, elapsed / tick, ours


def load(url, cacert, extra, accept=ACCEPT):
    """One oha run sending `Accept-Encoding: accept` (oha would send its own
    list of codings without one)."""
    command = [OHA, "--no-tui", "--output-format", "json", "-z", DURATION, "-c", CONNECTIONS,
               "--wait-ongoing-requests-after-deadline", "--cacert", cacert,
               "-H", f"Accept-Encoding: {accept}", *extra, url]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise Broken(f"oha failed: {result.stderr}")
    return json.loads(result.stdout)


def handshakes(port):
    """Full TLS handshakes per second: HANDSHAKE_CLIENTS `openssl s_time -new`
    processes, each a new connection, handshake, GET /healthz and close per
    round, without sessions kept."""
    duration = max(1, round(seconds(DURATION)))
    with tempfile.TemporaryDirectory() as work:
        clients = []
        for i in range(HANDSHAKE_CLIENTS):
            out = open(os.path.join(work, f"{i}.out"), "w+")
            command = ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", str(duration),
                       "-www", "/healthz"]
            clients.append([spawn(command, stdout=out, stderr=subprocess.STDOUT), out, time.perf_counter(), None])
        while any(c[3] is None for c in clients):
            for c in clients:
                if c[3] is None and c[0].poll() is not None:
                    c[3] = time.perf_counter()
            time.sleep(0.002)
        rate, connections, resumed, per_connection = 0.0, 0, 0, []
        for process, out, begun, ended in clients:
            out.seek(0)
            text = out.read()
            out.close()
            done = re.search(r"^(\d+) connections in \d+ real seconds, (\d+) bytes read per connection", text, re.M)
            if process.returncode != 0 or not done:
                raise Broken(f"openssl s_time failed: {text[-2000:]}")
            count = int(done[1])
            # After a header line, one character per connection: "*" a new
            # TLS 1.2+ session, "r" a resumed one (anything else counts as
            # resumed here, to be safe); then the summary.
            progress = text[text.index("\n") + 1:re.search(r"^\d+ connections in", text, re.M).start()]
            resumed += len(progress) - progress.count("*") - progress.count("\n")
            rate += count / (ended - begun)
            connections += count
            per_connection.append(int(done[2]))
    return {"rate": rate, "connections": connections, "resumed": resumed, "bytes": min(per_connection)}


def negotiated(port, cafile):
    """What the OpenSSL client of s_time gets with its defaults: protocol,
    suite, key exchange, signature, verification against `cafile`."""
    result = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief", "-CAfile", cafile,
                             "-verify_return_error"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=10)
    fields = dict(line.split(": ", 1) for line in result.stderr.splitlines() if ": " in line)
    if result.returncode != 0 or fields.get("Verification") != "OK":
        raise Broken(f"openssl s_client to port {port} failed: {result.stderr}")
    with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
        with UNVERIFIED.wrap_socket(raw, server_hostname="localhost") as s:
            certificate = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()[:16]
    # s_time asks "GET /healthz HTTP/1.0" and reads to the close.
    status = https_status(port, "/healthz", b"GET /healthz HTTP/1.0\r\n\r\n")
    return (f"{fields.get('Protocol version')} {fields.get('Ciphersuite')} {fields.get('Server Temp Key', '?').split(',')[0]} "
            f"{fields.get('Signature type')}, certificate sha256 {certificate}...", f"/healthz HTTP/1.0 -> {status}")


def key_type(certificate):
    text = subprocess.run(["openssl", "x509", "-in", certificate, "-noout", "-text"], capture_output=True,
                          text=True).stdout
    curve = re.search(r"NIST CURVE: (\S+)", text)
    return curve[1] if curve else "not an ECDSA P-256 key"


def largest_js():
    """The largest JavaScript file under static/, as a path below static/."""
    static = os.path.join(ROOT, "static")
    files = [p for p in glob.glob(os.path.join(static, "**", "*"), recursive=True)
             if os.path.isfile(p) and p.endswith((".js", ".mjs"))]
    if not files:
        raise Broken("no JavaScript file under static/")
    return os.path.relpath(max(files, key=os.path.getsize), static)


def asset_url(port, context, path):
    """The asset's hashed URL if the page `/` or a file it links refers to
    it, else its logical URL; and where it was found."""
    stem, ext = path.rsplit(".", 1)
    hashed = re.compile(r"/static/" + re.escape(stem) + r"\.[0-9a-f]{16}\." + re.escape(ext) + r"\b")
    status, _, page = fetch(port, "/", context)
    if status != 200:
        raise Broken(f"GET / answered {status}")
    documents = [("/", page.decode("utf-8", "replace"))]
    for link in sorted(set(re.findall(r"/static/[\w./-]+\.(?:js|mjs|css)\b", documents[0][1]))):
        status, _, body = fetch(port, link, context, {"Accept-Encoding": "identity"})
        if status == 200:
            documents.append((link, body.decode("utf-8", "replace")))
    for where, text in documents:
        if match := hashed.search(text):
            return match[0], f"hashed name, linked from {where}"
    return f"/static/{path}", "logical name: the page / does not link it"


def encoding_of(port, context, url):
    status, headers, body = fetch(port, url, context, {"Accept-Encoding": ACCEPT})
    if status != 200:
        raise Broken(f"GET {url} answered {status}")
    return f"{headers.get('content-encoding', 'identity')} {len(body):,} bytes"


def make_br(path):
    """path.br at brotli quality 11 with the brotli tool or module; how, or None."""
    if shutil.which("brotli"):
        subprocess.run(["brotli", "-q", "11", "-f", "-k", "-o", path + ".br", path], check=True)
        return "brotli -q 11"
    try:
        import brotli
    except ImportError:
        return None
    with open(path, "rb") as source, open(path + ".br", "wb") as out:
        out.write(brotli.compress(source.read(), quality=11))
    return "python brotli quality 11"


def nginx_prepare(prefix, port, tls_dir, url, identity):
    """A private nginx under `prefix` serving `identity` at `url` with
    precompressed variants; (config path, description)."""
    os.chmod(prefix, 0o755)  # the workers run as nobody when we are root
    for name in ("html", "temp", "tls"):
        os.makedirs(os.path.join(prefix, name))
    os.chmod(os.path.join(prefix, "tls"), 0o700)
    for name in ("self-signed.crt", "self-signed.key"):
        shutil.copy(os.path.join(tls_dir, name), os.path.join(prefix, "tls", name))
    file = os.path.join(prefix, "html", url.lstrip("/"))
    os.makedirs(os.path.dirname(file), mode=0o755)
    with open(file, "wb") as out:
        out.write(identity)
    with open(file + ".gz", "wb") as out:
        out.write(gzip.compress(identity, compresslevel=9, mtime=0))
    variants = [f".gz (gzip -9) {os.path.getsize(file + '.gz'):,} bytes"]
    module = os.path.exists(BROTLI_MODULE)
    brotli = make_br(file) if module else None
    if brotli:
        variants.insert(0, f".br ({brotli}) {os.path.getsize(file + '.br'):,} bytes")
        how = "brotli_static + gzip_static"
    elif module:
        how = "gzip_static only (no brotli compressor for the .br file: apt-get install brotli)"
    else:
        how = "gzip_static only (libnginx-mod-http-brotli-static is not installed)"
    for directory, _, names in os.walk(os.path.join(prefix, "html")):
        os.chmod(directory, 0o755)
        for name in names:
            os.chmod(os.path.join(directory, name), 0o644)
    template = open(os.path.join(ROOT, "scripts", "bench", "nginx.conf.template")).read()
    config = (template.replace("@PREFIX@", prefix).replace("@PORT@", str(port))
              .replace("@LOAD_MODULE@", f"load_module {BROTLI_MODULE};" if brotli else "")
              .replace("@BROTLI_STATIC@", "brotli_static on;" if brotli else ""))
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as out:
        out.write(config)
    return path, f"{how}; {', '.join(variants)}, gzip_comp_level 6 on the fly for the rest"


def nginx_start(prefix, config, port):
    command = [NGINX, "-e", os.path.join(prefix, "error.log"), "-p", prefix + "/", "-c", config]
    check = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True)
    if check.returncode != 0:
        raise Broken(f"nginx -t: {check.stderr}")
    nginx = spawn(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    while https_status(port, "/healthz") != 200:
        if nginx.poll() is not None:
            raise Broken(f"nginx exited: {open(os.path.join(prefix, 'error.log')).read()}")
        if time.perf_counter() - started > 10:
            raise Broken("nginx did not answer within 10 s")
        time.sleep(0.01)
    if int(open(os.path.join(prefix, "nginx.pid")).read()) != nginx.pid:
        raise Broken("nginx's pid file does not name the master we started")
    return nginx


def nginx_version():
    result = subprocess.run([NGINX, "-v"], capture_output=True, text=True)
    return result.stderr.strip().split("/", 1)[-1]


def main():
    seconds(DURATION)  # a bad DURATION fails before anything starts
    print(f"notes-appliance benchmark: {BINARY}, {CONNECTIONS} connections, {DURATION} per run, "
          f"HTTPS (HTTP/1.1 keep-alive; Accept-Encoding: {ACCEPT}, identity for the first GET) with oha, "
          f"{os.cpu_count()} CPUs shared by the server, nginx and the load generators (all on this machine)", flush=True)

    boots = []
    for _ in range(5):
        with tempfile.TemporaryDirectory() as work:
            port = free_port()
            with open(os.path.join(work, "server.log"), "w") as log:
                server, ms = start(environment(os.path.join(work, "data"), port, free_port()), port, log)
            stop(server)
            boots.append(ms)

    with tempfile.TemporaryDirectory() as work, tempfile.TemporaryDirectory(prefix="bench-nginx-") as prefix:
        data = os.path.join(work, "data")
        port, nginx_port = free_port(), free_port()
        env = environment(data, port, free_port())
        run(["user", "add", "bench", "--password-file", "-"], env, stdin="benchmark password\n")
        token = run(["token", "create", "--user", "bench"], env).strip()
        run(["seed", "--count", "1000", "--user", "bench"], env)

        with open(os.path.join(work, "server.log"), "w") as log:
            server, _ = start(env, port, log)
        tls_dir = os.path.join(data, "tls")
        cacert = os.path.join(tls_dir, "self-signed.crt")
        trusted = ssl.create_default_context(cafile=cacert)

        path = largest_js()
        url, found = asset_url(port, trusted, path)
        status, _, identity = fetch(port, url, trusted, {"Accept-Encoding": "identity"})
        if status != 200:
            raise Broken(f"GET {url} answered {status}: are the /static routes in this build?")

        config, nginx_how = nginx_prepare(prefix, nginx_port, tls_dir, url, identity)
        nginx = nginx_start(prefix, config, nginx_port)
        workers = children(nginx.pid)
        print(f"reference: nginx {nginx_version()} (Debian), {len(workers)} workers, {nginx_how}; "
              "both servers log every request, buffered")
        print(f"asset: {url} ({found}; static/{path}, {len(identity):,} bytes); "
              f"Accept-Encoding: {ACCEPT} -> ours {encoding_of(port, trusted, url)}, "
              f"nginx {encoding_of(nginx_port, trusted, url)}")
        (ours_tls, ours_health), (nginx_tls, nginx_health) = negotiated(port, cacert), negotiated(nginx_port, cacert)
        print(f"TLS with openssl's client: {ours_tls} {key_type(cacert)}, "
              + ("the same for both" if ours_tls == nginx_tls else f"BUT nginx: {nginx_tls}")
              + f"; ours {ours_health}, nginx {nginx_health}", flush=True)

        time.sleep(1)
        idle_rss, _, idle_pss = memory_kib(server.pid)
        api = f"https://127.0.0.1:{port}/api/notes"
        auth = ["-H", f"Authorization: Bearer {token}"]
        peaks, others = {}, {}

        def measured(name, work):
            """work(), noting the share of the CPUs that processes other than
            the benchmark's used meanwhile."""
            pids = [server.pid, nginx.pid, *workers]
            busy, elapsed, ours = cpu_seconds(pids)
            result = work()
            busy_after, elapsed_after, ours_after = cpu_seconds(pids)
            others[name] = max(0.0, (busy_after - busy) - (ours_after - ours)) / (elapsed_after - elapsed)
            return result

        get = measured("GET", lambda: load(api, cacert, auth, accept="identity"))
        peaks["GET"] = memory_kib(server.pid)[1]
        get_compressed = measured("GET compressed", lambda: load(api, cacert, auth))
        peaks["GET compressed"] = memory_kib(server.pid)[1]
        post = measured("POST", lambda: load(
            api, cacert, [*auth, "-m", "POST", "-H", "Content-Type: application/json", "-d", NOTE]))
        peaks["POST"] = memory_kib(server.pid)[1]
        # Ours and nginx's runs alternate, so that drift on the machine hits both.
        asset = measured("asset", lambda: load(f"https://127.0.0.1:{port}{url}", cacert, []))
        peaks["asset"] = memory_kib(server.pid)[1]
        nginx_asset = measured("asset nginx", lambda: load(f"https://127.0.0.1:{nginx_port}{url}", cacert, []))
        shakes = measured("handshakes", lambda: handshakes(port))
        peaks["handshakes"] = memory_kib(server.pid)[1]
        nginx_shakes = measured("handshakes nginx", lambda: handshakes(nginx_port))
        nginx_rss = sum(memory_kib(pid)[1] for pid in [nginx.pid, *workers])
        exit_code = stop(server)
        stop(nginx, signal.SIGQUIT)

        rows = sqlite3.connect(os.path.join(data, "notes.db")).execute("SELECT COUNT(*) FROM notes").fetchone()[0]

    created = post["statusCodeDistribution"].get("201", 0)
    peak = max(peaks.values())

    def rps(result):
        return result["summary"]["requestsPerSec"]

    def line(name, result, good):
        codes = result["statusCodeDistribution"]
        others = {k: v for k, v in codes.items() if k != good}
        errors = result.get("errorDistribution") or {}
        p = result["latencyPercentiles"]
        return (f"{name:<31}{rps(result):>10,.0f} req/s   p50 {p['p50'] * 1000:6.2f} ms   "
                f"p99 {p['p99'] * 1000:6.2f} ms   {result['summary']['sizePerRequest']:>6,} B each   "
                f"{codes.get(good, 0)} x {good}"
                + (f", other statuses {others}" if others else "") + (f", errors {errors}" if errors else ""))

    def shake_line(name, result):
        return (f"{name:<31}{result['rate']:>10,.0f} /s      {result['connections']} connections, "
                f"{result['resumed']} resumed, {result['bytes']} bytes read each")

    print()
    print(line("HTTPS GET /api/notes (50)", get, "200"))
    print(line(f"  same, Accept-Encoding {ACCEPT}", get_compressed, "200"))
    print(line("HTTPS POST /api/notes", post, "201"))
    print(line("asset, ours", asset, "200"))
    print(line("asset, nginx", nginx_asset, "200"))
    asset_ratio = rps(asset) / rps(nginx_asset)
    print(f"{'asset, ours / nginx':<31}{asset_ratio:>10.2f} x")
    print(shake_line("full TLS handshakes, ours", shakes))
    print(shake_line("full TLS handshakes, nginx", nginx_shakes))
    shake_ratio = shakes["rate"] / nginx_shakes["rate"]
    print(f"{'full TLS handshakes, ours/nginx':<31}{shake_ratio:>10.2f} x   "
          f"({HANDSHAKE_CLIENTS} openssl s_time -new clients for both: connect, full handshake, GET /healthz, close)")
    print(f"{'memory idle':<31}RSS {idle_rss / 1024:6.1f} MiB   PSS {idle_pss / 1024:6.1f} MiB")
    print(f"{'memory under load':<31}peak RSS {peak / 1024:6.1f} MiB over all our runs (after "
          + ", ".join(f"{name} {kib / 1024:.1f}" for name, kib in peaks.items())
          + f"); nginx master + workers {nginx_rss / 1024:.1f} MiB")
    print(f"{'boot to ready':<31}median {statistics.median(boots):6.1f} ms   max {max(boots):6.1f} ms   "
          f"({len(boots)} boots on a fresh database: migrations, certificate generation, HTTPS probe)")
    durable = rows == 1000 + created
    print(f"{'every 201 left a row':<31}{'yes' if durable else 'NO'}: {rows} rows = 1000 seeded + {created} created"
          f" (SQLite synchronous=full: each 201 was fsynced)")
    print(f"{'shutdown on SIGTERM':<31}exit code {exit_code}")
    print(f"{'other load on the machine':<31}"
          + ", ".join(f"{name} {share:.0%}" for name, share in others.items())
          + " of the CPUs used by other processes during the runs"
          + (": the figures are skewed, run again on a quiet machine" if max(others.values()) > 0.1 else ""))

    p99 = get["latencyPercentiles"]["p99"] * 1000
    targets = [
        ("HTTPS GET >= 8,000 req/s, p99 < 20 ms", f"{rps(get):,.0f} req/s, p99 {p99:.1f} ms",
         rps(get) >= 8000 and p99 < 20),
        ("POST >= 2,500 req/s", f"{rps(post):,.0f} req/s", rps(post) >= 2500),
        ("asset >= 1.0x nginx", f"{asset_ratio:.2f}x", asset_ratio >= 1.0),
        ("full handshakes >= 0.8x nginx", f"{shake_ratio:.2f}x", shake_ratio >= 0.8),
        ("RSS under load <= 40 MiB", f"{peak / 1024:.1f} MiB", peak <= 40 * 1024),
        ("idle RSS <= 20 MiB", f"{idle_rss / 1024:.1f} MiB", idle_rss <= 20 * 1024),
        ("boot to ready <= 150 ms", f"{statistics.median(boots):.1f} ms median", statistics.median(boots) <= 150),
    ]
    print()
    print("targets (this machine):")
    for name, figure, met in targets:
        print(f"  {name:<40}{figure:<26}{'met' if met else 'NOT MET'}")

    served = [get["statusCodeDistribution"].get("200", 0), get_compressed["statusCodeDistribution"].get("200", 0),
              created, asset["statusCodeDistribution"].get("200", 0),
              nginx_asset["statusCodeDistribution"].get("200", 0), shakes["connections"], nginx_shakes["connections"]]
    if not (durable and exit_code == 0 and all(served)):
        sys.exit(1)


try:
    main()
except Broken as error:
    sys.exit(f"benchmark broken: {error}")
finally:
    # Whatever is still running after a failure: SIGTERM first (nginx's master
    # then stops its workers), SIGKILL after 10 s.
    for process in STARTED:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
