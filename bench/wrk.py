#!/usr/bin/env python3
"""The issue-14 table with wrk, measured the way ../shared/notes/original-app-facts.md measured the
original app: `wrk -t2 -d10s --latency` over loopback, driven by a Lua script that adds the
`Authorization: Bearer <access>` header (plus, on creates, a JSON body with its `Content-Type`).
Creates run as a user of their own; list pages (10 of 100) and gets read a second user who holds
exactly 100 tasks. Every run starts on a fresh data directory.

    bench/wrk.py [--binary target/release/taskmaster-local] [--seconds 10] [--runs 2]
                 [--points create:8,create:64,list:8,list:64,get:8,get:64] [--flags ...]

Starts the binary itself on 127.0.0.1 (embedded store unless --flags say otherwise), stops it at
the end. Prints each run's req/s, p50 and p99 with the machine's load average and the disk's
fdatasync latency just before it (a create waits for at least one), then one markdown row per
point. Fails if any response is not 2xx. Needs wrk (Debian: apt-get install wrk) and Python 3
(standard library).
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request

LUA = """
wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {token}"
{body}
"""
BODY = """wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "A task from wrk", "description": "load", "status_task": "TO DO"}'
"""


def call(base, method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def register(base, name):
    body = {"username": name, "email": f"{name}@example.com", "password": "correct-horse-battery",
            "first_name": "W", "last_name": "Rk"}
    return call(base, "POST", "/auth/register/", body)["tokens"]["access"]


def start(binary, data_dir, flags):
    log = open(os.path.join(data_dir, "server.log"), "w")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKMASTER_")}
    env.update(RUST_LOG="warn", TASKMASTER_ACCESS_TOKEN_TTL="3600")
    server = subprocess.Popen([binary, "--addr", "127.0.0.1:0", "--data-dir", data_dir, *flags],
                              stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    line = server.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        server.kill()
        sys.exit(f"the server did not start: {line!r}; see {log.name}")
    return server, match.group(1) + "/api/v1"


def conditions(directory, n=100):
    """The 1-minute load average, and fdatasync p50/p99 in ms of 4 KiB writes in `directory`."""
    samples = []
    with open(os.path.join(directory, "fsync-probe"), "wb") as f:
        for _ in range(n):
            f.write(os.urandom(4096))
            started = time.perf_counter()
            os.fdatasync(f.fileno())
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    load = open("/proc/loadavg").read().split()[0]
    return f"load {load}, fdatasync p50 {samples[n // 2]:.2f} p99 {samples[n * 99 // 100]:.2f} ms"


def unit_ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, script, connections, seconds):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        sys.exit(f"wrk saw failures:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = unit_ms(*re.search(r"50%\s+([\d.]+)(us|ms|s)", out).groups())
    p99 = unit_ms(*re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups())
    return rate, p50, p99


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/taskmaster-local")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--points", default="create:8,create:64,list:8,list:64,get:8,get:64")
    parser.add_argument("--flags", nargs=argparse.REMAINDER, default=[])
    args = parser.parse_args()
    points = [(op, int(c)) for op, c in (p.split(":") for p in args.points.split(","))]
    if shutil.which("wrk") is None:
        sys.exit("bench/wrk.py: wrk is not installed (Debian: apt-get install wrk)")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"bench/wrk.py: no executable {args.binary} (cargo build --release -p taskmaster-local)")
    print(f"{args.binary}, {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, "
          f"{os.cpu_count()} cores, wrk -t2 -d{args.seconds}s --latency", flush=True)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as work:
        server, base = start(args.binary, work, args.flags)
        try:
            writer = register(base, f"wrkwriter{os.getpid()}")
            reader = register(base, f"wrkreader{os.getpid()}")
            ids = [call(base, "POST", "/tasks/", {"title": f"task {n}"}, reader)["id"] for n in range(100)]
            page = call(base, "GET", "/tasks/", token=reader)
            assert page["count"] == 100 and len(page["results"]) == 10, page
            targets = {
                "create": ("POST", writer, BODY, "/tasks/create/"),
                "list": ("GET", reader, "", "/tasks/"),
                "get": ("GET", reader, "", f"/tasks/{ids[50]}/"),
            }
            rows = {}
            for run in range(args.runs):
                for op, connections in points:
                    method, token, body, path = targets[op]
                    script = os.path.join(work, f"{op}.lua")
                    with open(script, "w") as f:
                        f.write(LUA.format(method=method, token=token, body=body))
                    before = conditions(work)
                    rate, p50, p99 = wrk(base + path, script, connections, args.seconds)
                    rows.setdefault((op, connections), []).append((rate, p50, p99))
                    print(f"run {run + 1}  {op:<6} c={connections:<3} {rate:9.0f} req/s  "
                          f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms   ({before})", flush=True)
                    time.sleep(1)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("\n| request | c | req/s (each run) | p50 ms | p99 ms |\n|---|---|---|---|---|")
    for (op, connections), runs in rows.items():
        rates = ", ".join(f"{r:,.0f}" for r, _, _ in runs)
        p50s = ", ".join(f"{p:.2f}" for _, p, _ in runs)
        p99s = ", ".join(f"{p:.2f}" for _, _, p in runs)
        print(f"| {op} | {connections} | {rates} | {p50s} | {p99s} |")


if __name__ == "__main__":
    main()
