"""The benchmark behind scripts/bench.sh (run that, not this).

Usage: bench.py BINARY OHA
Environment: DURATION (default 10s), CONNECTIONS (default 32).
"""

import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

BINARY, OHA = sys.argv[1], sys.argv[2]
DURATION = os.environ.get("DURATION", "10s")
CONNECTIONS = os.environ.get("CONNECTIONS", "32")
NOTE = json.dumps({
    "title": "Benchmark note",
    "body": "A note of about two hundred bytes, written by the benchmark to measure durable "
            "inserts with group commit. It has a title and a body like the notes people keep.",
})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(data_dir, port):
    # Only what the benchmark sets: no Rocket.toml, no NOTES_* of the caller.
    return {"PATH": os.environ.get("PATH", ""), "NOTES_DATA_DIR": data_dir, "ROCKET_PORT": str(port)}


def run(args, env, stdin=None):
    result = subprocess.run([BINARY, *args], env=env, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {result.stderr}")
    return result.stdout


def ready_status(port):
    """The status of GET /readyz, or None when nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            head = s.recv(64)
            return int(head.split()[1])
    except (OSError, IndexError, ValueError):
        return None


def start(env, port, log):
    server = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log)
    started = time.perf_counter()
    while ready_status(port) != 200:
        if server.poll() is not None:
            sys.exit("the server exited during boot; see its log")
        if time.perf_counter() - started > 30:
            sys.exit("the server did not become ready within 30 s")
        time.sleep(0.001)
    return server, (time.perf_counter() - started) * 1000


def stop(server):
    server.send_signal(signal.SIGTERM)
    return server.wait(timeout=30)


def memory_kib(pid):
    """(RSS, peak RSS, PSS) in KiB."""
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    rollup = dict(line.split(":", 1) for line in open(f"/proc/{pid}/smaps_rollup") if ":" in line and not line.startswith("5"))
    kib = lambda value: int(value.split()[0])
    return kib(status["VmRSS"]), kib(status["VmHWM"]), kib(rollup["Pss"])


def load(url, token, extra):
    command = [OHA, "--no-tui", "--output-format", "json", "-z", DURATION, "-c", CONNECTIONS,
               "--wait-ongoing-requests-after-deadline", "-H", f"Authorization: Bearer {token}", *extra, url]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def boot_times(runs=5):
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as work:
            port = free_port()
            with open(os.path.join(work, "server.log"), "w") as log:
                server, ms = start(environment(os.path.join(work, "data"), port), port, log)
            stop(server)
            times.append(ms)
    return times


def main():
    print(f"notes-appliance benchmark: {BINARY}, {CONNECTIONS} connections, {DURATION} per run, "
          f"{os.cpu_count()} CPUs, load generator on the same machine", flush=True)
    boots = boot_times()

    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data")
        port = free_port()
        env = environment(data, port)
        run(["user", "add", "bench", "--password-file", "-"], env, stdin="benchmark password\n")
        token = run(["token", "create", "--user", "bench"], env).strip()
        run(["seed", "--count", "1000", "--user", "bench"], env)

        with open(os.path.join(work, "server.log"), "w") as log:
            server, _ = start(env, port, log)
        time.sleep(1)
        idle_rss, _, idle_pss = memory_kib(server.pid)
        url = f"http://127.0.0.1:{port}/api/notes"
        get = load(url, token, [])
        _, get_peak, _ = memory_kib(server.pid)
        post = load(url, token, ["-m", "POST", "-H", "Content-Type: application/json", "-d", NOTE])
        _, peak, _ = memory_kib(server.pid)
        exit_code = stop(server)

        rows = sqlite3.connect(os.path.join(data, "notes.db")).execute("SELECT COUNT(*) FROM notes").fetchone()[0]

    created = post["statusCodeDistribution"].get("201", 0)
    ok = get["statusCodeDistribution"].get("200", 0)

    def line(name, result, good):
        codes = result["statusCodeDistribution"]
        others = {k: v for k, v in codes.items() if k != good}
        errors = result.get("errorDistribution") or {}
        p = result["latencyPercentiles"]
        return (f"{name:<22}{result['summary']['requestsPerSec']:>10,.0f} req/s   p50 {p['p50'] * 1000:6.2f} ms   "
                f"p99 {p['p99'] * 1000:6.2f} ms   {codes.get(good, 0)} x {good}"
                + (f", other statuses {others}" if others else "") + (f", errors {errors}" if errors else ""))

    print()
    print(line("GET /api/notes (50)", get, "200"))
    print(line("POST /api/notes", post, "201"))
    print(f"{'memory idle':<22}RSS {idle_rss / 1024:6.1f} MiB   PSS {idle_pss / 1024:6.1f} MiB")
    print(f"{'memory under load':<22}peak RSS {get_peak / 1024:6.1f} MiB (GET)   {peak / 1024:6.1f} MiB (GET and POST)")
    print(f"{'boot to ready':<22}median {statistics.median(boots):6.1f} ms   max {max(boots):6.1f} ms   "
          f"({len(boots)} boots on a fresh database, migrations included)")
    durable = rows == 1000 + created
    print(f"{'every 201 left a row':<22}{'yes' if durable else 'NO'}: {rows} rows = 1000 seeded + {created} created"
          f" (SQLite synchronous=full: each 201 was fsynced)")
    print(f"{'shutdown on SIGTERM':<22}exit code {exit_code}")
    print()
    print("targets: GET >= 10,000 req/s with p99 < 20 ms; POST >= 2,500 req/s; idle RSS <= 20 MiB; "
          "boot to ready <= 150 ms")
    if not (durable and exit_code == 0 and ok > 0 and created > 0):
        sys.exit(1)


main()
