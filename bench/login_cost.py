#!/usr/bin/env python3
"""What one login costs the server: starts a taskmaster-local binary on a fresh embedded store,
registers one user, logs in N times in a row (one keep-alive client), and prints the latency p50,
the server's CPU time and minor page faults per login (/proc/PID/stat) and its peak RSS (VmHWM).

    python3 bench/login_cost.py target/release/taskmaster-local [N, default 40]

Loopback only; stops by itself. Run it against two binaries, alternating, to compare commits.
"""
import argparse
import glob
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def cpu_ms_and_faults(pid):
    # CPU: the nanoseconds each thread ran (field 1 of its schedstat), as the cold-start bench counts
    # it; utime and stime tick in 10 ms steps. Blocking threads idle 10 s before exiting, so none
    # leaves during a run. Faults: minflt, the 10th field of /proc/PID/stat (the 8th after comm).
    tasks = glob.glob(f"/proc/{pid}/task/*/schedstat")
    cpu_ns = sum(int(open(path).read().split()[0]) for path in tasks)
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return cpu_ns / 1e6, int(fields[7])


def peak_rss_mib(pid):
    status = open(f"/proc/{pid}/status").read()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", metavar="BINARY",
                        help="a taskmaster-local binary, e.g. target/release/taskmaster-local")
    parser.add_argument("n", metavar="N", type=int, nargs="?", default=40, help="logins, default 40")
    args = parser.parse_args()
    binary, n = args.binary, args.n
    if n < 1:
        parser.error("N must be at least 1")
    # The caller's TASKMASTER_* settings (a DynamoDB endpoint, say) must not leak into the server:
    # it runs on a fresh embedded store.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKMASTER_")}
    with tempfile.TemporaryDirectory() as work:
        server = subprocess.Popen(
            [binary, "--addr", "127.0.0.1:0", "--data-dir", f"{work}/data"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**env, "RUST_LOG": "warn"},
        )
        try:
            line = server.stdout.readline()
            match = re.search(r"listening on http://([\d.]+):(\d+)", line)
            if not match:
                sys.exit(f"login_cost: the server did not start: {line!r}")
            conn = http.client.HTTPConnection(match.group(1), int(match.group(2)), timeout=30)

            def post(path, body):
                conn.request("POST", "/api/v1" + path, json.dumps(body), {"content-type": "application/json"})
                response = conn.getresponse()
                response.read()
                return response.status

            name, password = "cost" + os.urandom(4).hex(), "correct-horse-battery"
            status = post("/auth/register/", {"username": name, "email": f"{name}@example.com", "password": password})
            if status != 201:
                sys.exit(f"login_cost: register answered {status}")
            cpu_before, faults_before = cpu_ms_and_faults(server.pid)
            latencies = []
            for _ in range(n):
                start = time.perf_counter()
                status = post("/auth/login/", {"username": name, "password": password})
                latencies.append((time.perf_counter() - start) * 1000)
                if status != 200:
                    sys.exit(f"login_cost: login answered {status}")
            cpu_after, faults_after = cpu_ms_and_faults(server.pid)
            print(
                f"{binary}: {n} logins, p50 {statistics.median(latencies):.1f} ms, "
                f"server CPU {(cpu_after - cpu_before) / n:.1f} ms/login, "
                f"{(faults_after - faults_before) / n:.0f} minor faults/login, "
                f"peak RSS {peak_rss_mib(server.pid):.1f} MiB"
            )
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
