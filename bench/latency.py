#!/usr/bin/env python3
"""Measures a running taskmaster-local: request latency per endpoint, and how long a new task takes
to reach its owner's WebSocket (from the start of the POST to the message's arrival).

    bench/latency.py http://127.0.0.1:3000 [--requests 200]

Prints one line per measurement: p50 / p90 / p99 / max in milliseconds. Keep-alive HTTP over
loopback, one client, sequential requests: the numbers are per-request latency. Then throughput:
8 clients on keep-alive connections for --seconds each (task create; list pages of a user with
over 100 tasks), the load the original app was measured under (its notes: wrk, c=8). The clients
run on the same two cores as the server, so the req/s are a floor. Standard library only.
"""
import argparse, base64, http.client, json, os, socket, struct, sys, threading, time, urllib.parse


def percentiles(samples):
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return pick(0.50), pick(0.90), pick(0.99), ordered[-1]


def report(name, samples):
    p50, p90, p99, top = percentiles(samples)
    print(f"{name:<34} n={len(samples):<4} p50={p50:7.2f}  p90={p90:7.2f}  p99={p99:7.2f}  max={top:7.2f} ms")


class Api:
    def __init__(self, base):
        url = urllib.parse.urlparse(base)
        self.host, self.port = url.hostname, url.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, method, path, body=None, token=None, extra=None):
        headers = {"content-type": "application/json"} if body is not None else {}
        headers.update(extra or {})
        if token:
            headers["authorization"] = f"Bearer {token}"
        start = time.perf_counter()
        self.conn.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status >= 400:
            sys.exit(f"{method} {path}: {response.status} {data[:200]!r}")
        return (json.loads(data) if data else None), elapsed


class WebSocket:
    """The smallest client that can read server text frames (enough for a benchmark)."""

    def __init__(self, host, port, token):
        self.sock = socket.create_connection((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws/tasks/?token={token} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            sys.exit(f"websocket refused: {head!r}")

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                sys.exit("websocket closed")
            data += chunk
        return data

    def receive(self, timeout=10):
        self.sock.settimeout(timeout)
        first, second = self._exact(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack(">H", self._exact(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self._exact(8))[0]
        payload = self._exact(length)
        return json.loads(payload) if first & 0x0F == 1 else None


def throughput(name, base, request, seconds, concurrency=8):
    """`request(api, i)` from `concurrency` threads, each on its own connection, for `seconds`."""
    counts = [0] * concurrency
    errors = []
    barrier = threading.Barrier(concurrency + 1)

    def client(k):
        api = Api(base)
        barrier.wait()
        try:
            while time.perf_counter() < deadline:
                request(api, counts[k])
                counts[k] += 1
        except BaseException as error:  # Api.call exits on an error status; a thread must report it
            errors.append(repr(error))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    deadline = time.perf_counter() + 3600
    barrier.wait()
    start = time.perf_counter()
    deadline = start + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        sys.exit(f"{name}: {len(errors)} of {concurrency} clients failed: {errors[0]}")
    print(f"{name:<34} c={concurrency}  {sum(counts) / elapsed:8.1f} req/s  ({sum(counts)} in {elapsed:.1f} s)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    n = args.requests
    api = Api(args.base)
    name = "bench" + os.urandom(5).hex()
    password = "correct-horse-battery"

    registered, t = api.call("POST", "/auth/register/", {"username": name, "email": f"{name}@example.com", "password": password})
    access = registered["tokens"]["access"]
    logins = [api.call("POST", "/auth/login/", {"username": name, "password": password})[1] for _ in range(max(5, n // 20))]
    report("login (argon2id verify)", logins)

    ids, creates = [], []
    for i in range(n):
        task, t = api.call("POST", "/tasks/", {"title": f"task {i}", "description": "benchmark"}, access)
        ids.append(task["id"]); creates.append(t)
    report("task create", creates)
    keyed = [api.call("POST", "/tasks/", {"title": f"keyed {i}", "description": "benchmark"}, access,
                      {"idempotency-key": f"bench-{i}"})[1] for i in range(n)]
    report("task create (Idempotency-Key)", keyed)
    report("task get", [api.call("GET", f"/tasks/{ids[i % len(ids)]}/", token=access)[1] for i in range(n)])
    report("task list (page of 10)", [api.call("GET", "/tasks/?page_size=10", token=access)[1] for _ in range(n)])
    report("task list (status filter)", [api.call("GET", "/tasks/?status_task=TO%20DO", token=access)[1] for _ in range(n)])
    report("task update (PATCH title)", [api.call("PATCH", f"/tasks/{ids[i]}/", {"title": f"renamed {i}"}, access)[1] for i in range(n)])
    report("profile get", [api.call("GET", "/auth/profile/", token=access)[1] for _ in range(n)])

    ws = WebSocket(api.host, api.port, access)
    notify = []
    for i in range(n):
        start = time.perf_counter()
        task, _ = api.call("POST", "/tasks/", {"title": f"live {i}"}, access)
        while True:
            message = ws.receive()
            if message and message.get("id") == task["id"] and message.get("action") == "task_create":
                break
        notify.append((time.perf_counter() - start) * 1000)
    report("notify: POST start -> ws message", notify)
    ws.sock.close()
    report("task delete", [api.call("DELETE", f"/tasks/{i}/", token=access)[1] for i in ids])

    throughput("throughput: task create", args.base,
               lambda a, i: a.call("POST", "/tasks/", {"title": f"load {i}"}, access), args.seconds)
    throughput("throughput: task list (page of 10)", args.base,
               lambda a, i: a.call("GET", "/tasks/", token=access), args.seconds)


if __name__ == "__main__":
    main()
