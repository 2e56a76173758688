#!/usr/bin/env python3
"""What one login costs the server: starts a taskmaster-local binary on a fresh embedded store,
registers one user, logs in N times in a row (one keep-alive client), and prints the latency p50,
the server's CPU time and minor page faults per login (/proc/PID/stat) and its peak RSS (VmHWM).

    python3 bench/login_cost.py target/release/taskmaster-local [N, default 40]

Loopback only; stops by itself. Run it against two binaries, alternating, to compare commits.
"""
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def cpu_ms_and_faults(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks * 1000 / os.sysconf("SC_CLK_TCK"), int(fields[7])  # minflt


def peak_rss_mib(pid):
    status = open(f"/proc/{pid}/status").read()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def main():
    binary, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40
    with tempfile.TemporaryDirectory() as work:
        server = subprocess.Popen(
            [binary, "--addr", "127.0.0.1:0", "--data-dir", f"{work}/data"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "RUST_LOG": "warn"},
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
            latencies.sort()
            print(
                f"{binary}: {n} logins, p50 {latencies[n // 2]:.1f} ms, "
                f"server CPU {(cpu_after - cpu_before) / n:.1f} ms/login, "
                f"{(faults_after - faults_before) / n:.0f} minor faults/login, "
                f"peak RSS {peak_rss_mib(server.pid):.1f} MiB"
            )
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
