#!/usr/bin/env python3
"""Fault run: the API Gateway management API answers 410 for stale connections and fails during a
burst of task changes; no live connection may miss a notification, and stale ones must be removed.

    bench/fault_management.py --binary target/release/taskmaster-local [--flags ...]
                              [--users 4] [--live 2] [--seconds 12]

Starts taskmaster-local itself (embedded store, or what --flags say) with the stream function
posting through a proxy (`--management-url`) in front of the built-in management API. Per user it
opens one socket the proxy will call stale (API Gateway answers 410 for it, as for a client that
vanished without a close) and --live sockets it forwards as they are. Once every socket is older
than the notifier's 10 s handshake grace, each user's client creates --rate tasks a second for
--seconds (a pace the proxy, one Python process, keeps up with); meanwhile the proxy fails every
post for --fault-seconds (2) twice: first with 500s, then by cutting the connection unanswered.

Then, checked:
- every live socket heard `task_create` for every task its user was told was created (repeats
  are allowed: delivery is at least once, and messages name their task);
- every stale connection was forgotten: one more task per user is posted to live sockets only.
Prints posts, failures, retries and delivery latency; exits non-zero on any miss. Needs the
websocket-client package (in scripts/install-tools' venv, with selenium). Loopback only.
"""
import argparse, asyncio, json, os, re, socket, sys, tempfile, threading, time, urllib.parse
from collections import defaultdict

import websocket  # websocket-client

from wrk import call, start  # the same request helper and server start as the wrk table

GRACE = 10.5  # the notifier keeps a connection that answers 410 while younger than 10 s
PASSWORD = "correct-horse-battery"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy:
    """HTTP/1.1 proxy for the management API: forwards, or answers 410 for stale ids, or fails."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.stale = set()
        self.failing = None  # None, "500" or "cut"
        self.posts = defaultdict(list)  # id -> [(time, outcome)]

    def record(self, id, outcome):
        self.posts[id].append((time.monotonic(), outcome))

    async def serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = next((int(l.split(":", 1)[1]) for l in lines[1:]
                               if l.lower().startswith("content-length:")), 0)
                body = await reader.readexactly(length)
                id = urllib.parse.unquote(path.rsplit("/", 1)[-1])
                if method != "POST":
                    answer = await self.forward(head + body)
                elif self.failing == "cut":
                    self.record(id, "cut")
                    writer.transport.abort()
                    return
                elif self.failing == "500":
                    self.record(id, "500")
                    answer = reply(500, "InternalServerErrorException", "Internal server error")
                elif id in self.stale:
                    self.record(id, "410")
                    answer = reply(410, "GoneException", f"Connection {id} is gone")
                else:
                    answer = await self.forward(head + body)
                    self.record(id, answer.split(b" ", 2)[1].decode())
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    async def forward(self, request):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(l.split(b":", 1)[1]) for l in head.split(b"\r\n")[1:]
                       if l.lower().startswith(b"content-length:")), 0)
        body = await reader.readexactly(length)
        writer.close()
        return head + body


def reply(status, kind, message):
    body = json.dumps({"message": message}).encode()
    reason = {410: "Gone", 500: "Internal Server Error"}[status]
    return (f"HTTP/1.1 {status} {reason}\r\nx-amzn-errortype: {kind}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


class Socket:
    """One WebSocket client, on a thread: every message it hears, with when."""

    def __init__(self, url, token):
        self.ws = websocket.create_connection(f"{url}?token={token}", timeout=30)
        self.ws.settimeout(None)
        self.heard = defaultdict(list)  # task id -> [(action, time)]
        self.thread = threading.Thread(target=self.listen, daemon=True)
        self.thread.start()

    def listen(self):
        try:
            while True:
                message = json.loads(self.ws.recv())
                if "id" in message:
                    self.heard[message["id"]].append((message["action"], time.monotonic()))
        except (websocket.WebSocketException, OSError, ValueError):
            pass

    def close(self):
        self.ws.close()


async def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="target/release/taskmaster-local")
    parser.add_argument("--flags", default="", help="more taskmaster-local flags, space separated")
    parser.add_argument("--label", default="embedded")
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--live", type=int, default=2, help="live sockets per user")
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--fault-seconds", type=float, default=2, help="length of each failing spell")
    parser.add_argument("--rate", type=float, default=50, help="creates per second per user")
    args = parser.parse_args()

    management_port, proxy_port = free_port(), free_port()
    proxy = Proxy(management_port)
    listener = await asyncio.start_server(proxy.serve, "127.0.0.1", proxy_port)
    data_dir = tempfile.mkdtemp(prefix="fault-management-")
    server, base = start(args.binary, data_dir, [
        "--management-addr", f"127.0.0.1:{management_port}",
        "--management-url", f"http://127.0.0.1:{proxy_port}", *args.flags.split()])
    host = urllib.parse.urlparse(base).netloc
    ws_url = f"ws://{host}/ws/tasks/"
    loop = asyncio.get_running_loop()
    try:
        print(f"{time.strftime('%FT%TZ', time.gmtime())}, {args.label}, {args.binary}, "
              f"load {open('/proc/loadavg').read().split()[0]}")
        users = []
        for u in range(args.users):
            name = f"fault{u}{os.getpid()}"
            body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD,
                    "first_name": "Fault", "last_name": "Run"}
            token = (await loop.run_in_executor(None, call, base, "POST", "/auth/register/", body))["tokens"]["access"]
            sockets = []
            # One socket at a time, each followed by a task: the new id the proxy sees is its own.
            for _ in range(1 + args.live):
                before = set(proxy.posts)
                sockets.append(await loop.run_in_executor(None, Socket, ws_url, token))
                await loop.run_in_executor(None, call, base, "POST", "/tasks/", {"title": "probe"}, token)
                if not await wait_for(lambda: len(set(proxy.posts) - before) == 1, 10):
                    sys.exit(f"could not tell a socket's connection id: {set(proxy.posts) - before}")
                sockets[-1].id = (set(proxy.posts) - before).pop()
            users.append({"token": token, "stale": sockets[0], "live": sockets[1:], "created": {}})
        for user in users:
            proxy.stale.add(user["stale"].id)
        await asyncio.sleep(GRACE)  # every socket is now past the handshake grace

        stop = time.monotonic() + args.seconds
        errors = []

        async def client(user):
            reader, writer = await asyncio.open_connection(*host.split(":"))
            n, began = 0, time.monotonic()
            while time.monotonic() < stop:
                n += 1
                await asyncio.sleep(max(0.0, began + n / args.rate - time.monotonic()))
                body = json.dumps({"title": f"burst {n}"}).encode()
                writer.write((f"POST /api/v1/tasks/ HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {user['token']}\r\n"
                              f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                answer = await reader.readexactly(length)
                if head.split(b" ", 2)[1] == b"201":
                    user["created"][json.loads(answer)["id"]] = time.monotonic()
                else:
                    errors.append(head.split(b"\r\n", 1)[0].decode())
            writer.close()

        async def faults():
            await asyncio.sleep(args.seconds / 3)
            for kind in ("500", "cut"):
                proxy.failing = kind
                print(f"-- management API failing ({kind}) for {args.fault_seconds} s")
                await asyncio.sleep(args.fault_seconds)
                proxy.failing = None
                await asyncio.sleep(max(0.0, args.seconds / 3 - args.fault_seconds))

        started = time.monotonic()
        await asyncio.gather(faults(), *(client(user) for user in users))
        burst = time.monotonic() - started
        created = sum(len(user["created"]) for user in users)

        def all_heard():
            return all(task in socket.heard for user in users for socket in user["live"] for task in user["created"])
        settled = await wait_for(all_heard, 30)
        # Stale connections were forgotten: one more task each, posted to live sockets only.
        marks = {id: len(posts) for id, posts in proxy.posts.items()}
        for user in users:
            task = await loop.run_in_executor(None, call, base, "POST", "/tasks/", {"title": "after"}, user["token"])
            user["after"] = task["id"]
        await wait_for(lambda: all(user["after"] in s.heard for user in users for s in user["live"]), 10)
        await asyncio.sleep(0.5)
        after_posts = {id: posts[marks.get(id, 0):] for id, posts in proxy.posts.items()}

        missed, repeats, latencies = 0, 0, []
        for user in users:
            for socket in user["live"]:
                for task, acknowledged in user["created"].items():
                    heard = [t for action, t in socket.heard.get(task, []) if action == "task_create"]
                    missed += not heard
                    repeats += max(0, len(heard) - 1)
                    if heard:
                        latencies.append((heard[0] - acknowledged) * 1000)
        stale_posted = sum(len(after_posts.get(user["stale"].id, [])) for user in users)
        stale_kept = sum(1 for user in users if not any(o == "410" for _, o in proxy.posts[user["stale"].id]))
        live_missed_after = sum(1 for user in users for s in user["live"] if user["after"] not in s.heard)
        outcomes = defaultdict(int)
        for posts in proxy.posts.values():
            for _, outcome in posts:
                outcomes[outcome] += 1
        latencies.sort()
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
        print(f"burst {burst:.1f} s: {created} tasks created by {len(users)} clients ({created / burst:.0f}/s), "
              f"{len(errors)} answered otherwise {sorted(set(errors))[:3]}")
        print(f"posts seen by the proxy: {dict(sorted(outcomes.items()))}")
        print(f"live sockets: {len(users) * args.live}, notifications expected {created * args.live}, "
              f"missed {missed}, repeats {repeats}; delivery after the 201: p50 {pick(0.5):.1f} ms, "
              f"p99 {pick(0.99):.1f} ms, max {pick(1.0):.1f} ms")
        print(f"stale connections: {len(users)}; never answered 410 {stale_kept}; posted to after the "
              f"burst {stale_posted}; live sockets that missed the last task {live_missed_after}")
        ok = settled and not errors and missed == 0 and stale_posted == 0 and stale_kept == 0 and live_missed_after == 0
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        server.terminate()
        server.wait(10)
        listener.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
