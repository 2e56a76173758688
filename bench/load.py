#!/usr/bin/env python3
"""A realistic mix against a running taskmaster-local, then the books checked: nothing lost,
nothing duplicated.

    bench/load.py BASE_URL --label embedded [--concurrency 1,8,64] [--seconds 5] [--json OUT]

For each concurrency c: one user per 8 clients (registered and logged in: the few), c clients on
one keep-alive connection each, for --seconds: create 30 %, list 25 %, get 25 %, update 12 %,
delete 8 % (the many); a client gets, updates and deletes only tasks it created itself. Every
client keeps what the server told it: the tasks it created, their titles and statuses, what it
deleted. Afterwards every user's tasks are listed page by page and compared with what that
user's clients were told: lost (acknowledged, or acknowledged in a state, and not so stored),
extra (never acknowledged), duplicated (listed twice), and `count` against the listing.

A 503 must carry Retry-After (the client waits that long, at most 1 s, and goes on); a write
answered 503, or not at all, is uncertain and may have happened either way. A 500, another
unexpected status, or no answer within --deadline seconds is a failure (with --outage, no answer
is uncertain instead: the server may have been killed). Exits non-zero on any
failure or inconsistency. Prints req/s and p50/p99 per operation. Standard library only; the
clients share the machine's cores with the server, so their req/s are a floor.
"""
import argparse, asyncio, json, random, sys, time, urllib.parse
from collections import Counter

MIX = [("create", 30), ("list", 25), ("get", 25), ("update", 12), ("delete", 8)]
STATUSES = ["TO DO", "IN PROGRESS", "DONE"]
PASSWORD = "correct-horse-battery"


class Connection:
    """One keep-alive HTTP/1.1 connection: just enough client for JSON requests."""

    def __init__(self, base, deadline):
        url = urllib.parse.urlparse(base)
        self.host, self.port, self.prefix, self.deadline = url.hostname, url.port, url.path, deadline
        self.streams = None

    async def call(self, method, path, body=None, token=None):
        try:
            return await asyncio.wait_for(self._call(method, path, body, token), self.deadline)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as error:
            self.close()
            return None, {}, repr(error)

    async def _call(self, method, path, body, token):
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        data = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(data)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        writer.write(head.encode() + b"\r\n" + data)
        status = int((await reader.readuntil(b"\r\n")).split()[1])
        headers = {}
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
            name, value = line.decode().split(":", 1)
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            payload = b""
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                payload += (await reader.readexactly(size + 2))[:-2]
            await reader.readuntil(b"\r\n")
        else:
            payload = await reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection") == "close":
            self.close()
        return status, headers, json.loads(payload) if payload else None

    def close(self):
        if self.streams:
            self.streams[1].close()
            self.streams = None


class Stats:
    def __init__(self):
        self.latencies = {}  # op -> [ms]
        self.failures = []  # (op, what)
        self.retried = 0  # 503s with Retry-After
        self.unanswered = 0  # no connection or no answer while the server may be away (--outage)

    def ok(self, op, started):
        self.latencies.setdefault(op, []).append((time.perf_counter() - started) * 1000)


CLIENTS_PER_USER = 8


class Client:
    """One client of a user, and what the server told it."""

    def __init__(self, base, args, stats, name, tag):
        self.api, self.stats, self.name, self.tag = Connection(base, args.deadline), stats, name, tag
        self.outage = args.outage
        self.rng = random.Random(f"{name}/{tag}")
        self.token = None
        self.tasks = {}  # id -> (title, status): acknowledged and not deleted
        self.uncertain_titles = set()  # creates with no clear answer
        self.uncertain_ids = set()  # updates or deletes with no clear answer
        self.created = 0

    async def request(self, op, method, path, body=None, expect=200):
        """The body when the answer is `expect`; None (and the reason recorded) otherwise."""
        started = time.perf_counter()
        status, headers, answer = await self.api.call(method, path, body, self.token)
        if status == expect:
            self.stats.ok(op, started)
            return answer if answer is not None else {}
        if status == 503 and "retry-after" in headers:
            self.stats.retried += 1
            await asyncio.sleep(min(1.0, float(headers["retry-after"])))
        elif status is None and self.outage:
            self.stats.unanswered += 1
            await asyncio.sleep(0.2)
        else:
            self.stats.failures.append((op, f"{status}: {str(answer)[:200]}"))
        return None

    async def start(self):
        """Registers and logs in this client's user: the few argon2 requests."""
        body = {"username": self.name, "email": f"{self.name}@example.com", "password": PASSWORD,
                "first_name": "Load", "last_name": "Bench"}
        while await self.request("register", "POST", "/auth/register/", body, 201) is None:
            if self.stats.failures:
                return None
        while (answer := await self.request("login", "POST", "/auth/login/",
                                             {"username": self.name, "password": PASSWORD})) is None:
            if self.stats.failures:
                return None
        return answer["tokens"]["access"]

    async def step(self):
        op = self.rng.choices([m for m, _ in MIX], [w for _, w in MIX])[0]
        if op != "create" and op != "list" and not self.tasks:
            op = "create"
        if op == "create":
            self.created += 1
            title = f"{self.name}/{self.tag} #{self.created}"
            body = {"title": title, "status_task": self.rng.choice(STATUSES)}
            answer = await self.request(op, "POST", "/tasks/", body, 201)
            if answer is None:
                self.uncertain_titles.add(title)
            else:
                self.tasks[answer["id"]] = (answer["title"], answer["status_task"])
        elif op == "list":
            status = self.rng.choice([None, *STATUSES])
            query = "" if status is None else "?status_task=" + urllib.parse.quote(status)
            await self.request(op, "GET", "/tasks/" + query)
        else:
            task = self.rng.choice(list(self.tasks))
            if op == "get":
                await self.request(op, "GET", f"/tasks/{task}/")
            elif op == "update":
                title, status = f"{self.tasks[task][0].split(' ~')[0]} ~{self.rng.random():.6f}", self.rng.choice(STATUSES)
                answer = await self.request(op, "PATCH", f"/tasks/{task}/", {"title": title, "status_task": status})
                if answer is None:
                    self.uncertain_ids.add(task)
                else:
                    self.tasks[task] = (title, status)
            else:
                if await self.request(op, "DELETE", f"/tasks/{task}/") is None:
                    self.uncertain_ids.add(task)
                del self.tasks[task]

    async def check(self, clients):
        """Compares the user's stored tasks with what its `clients` were told; the findings."""
        told, uncertain_ids, uncertain_titles = {}, set(), set()
        for client in clients:
            told.update(client.tasks)
            uncertain_ids |= client.uncertain_ids
            uncertain_titles |= client.uncertain_titles
        listed, count, path = {}, None, "/tasks/?page_size=100"
        duplicated = 0
        while path:
            status, _, page = await self.api.call("GET", path, token=self.token)
            if status != 200:
                return {"unreadable": 1}
            count = page["count"] if count is None else count
            for task in page["results"]:
                duplicated += task["id"] in listed
                listed[task["id"]] = (task["title"], task["status_task"])
            path = page["next"] and page["next"][page["next"].index(self.api.prefix) + len(self.api.prefix):]
        lost = sum(1 for id, state in told.items() if id not in uncertain_ids and listed.get(id) != state)
        extra = sum(1 for id, (title, _) in listed.items()
                    if id not in told and id not in uncertain_ids and title.split(" ~")[0] not in uncertain_titles)
        titles = [title.split(" ~")[0] for title, _ in listed.values()]
        duplicated += len(titles) - len(set(titles))
        return {"tasks": len(listed), "lost": lost, "extra": extra, "duplicated": duplicated,
                "count_wrong": int(count != len(listed))}


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def level(base, args, concurrency, run_id):
    stats = Stats()
    users = [[Client(base, args, stats, f"l{run_id}c{concurrency}u{u}", k)
              for k in range(min(CLIENTS_PER_USER, concurrency - u * CLIENTS_PER_USER))]
             for u in range(-(-concurrency // CLIENTS_PER_USER))]
    tokens = await asyncio.gather(*(clients[0].start() for clients in users))
    if not all(tokens):
        sys.exit(f"c={concurrency}: setup failed: {stats.failures[:3]}")
    for clients, token in zip(users, tokens):
        for client in clients:
            client.token = token
    setup = {op: stats.latencies.pop(op) for op in ("register", "login")}
    started = time.perf_counter()
    deadline = started + args.seconds

    async def drive(client):
        while time.perf_counter() < deadline:
            await client.step()

    await asyncio.gather(*(drive(c) for clients in users for c in clients))
    elapsed = time.perf_counter() - started
    books = {}
    for clients in users:
        for key, value in (await clients[0].check(clients)).items():
            books[key] = books.get(key, 0) + value
    for clients in users:
        for client in clients:
            client.api.close()
    ops = {op: {"n": len(ms), "rps": len(ms) / elapsed, "p50": percentile(ms, 0.5), "p99": percentile(ms, 0.99)}
           for op, ms in stats.latencies.items()}
    ops.update({op: {"n": len(ms), "p50": percentile(ms, 0.5), "p99": percentile(ms, 0.99)}
                for op, ms in setup.items()})
    total = sum(o["n"] for op, o in ops.items() if op not in setup)
    return {"concurrency": concurrency, "seconds": elapsed, "rps": total / elapsed, "ops": ops,
            "books": books, "retried_503": stats.retried, "unanswered": stats.unanswered, "failures": stats.failures[:20],
            "failure_count": len(stats.failures),
            "failure_kinds": dict(Counter(f"{op} {what.split(':')[0]}" for op, what in stats.failures))}


def report(label, result):
    c = result["concurrency"]
    print(f"== {label}, c={c}: {result['rps']:,.0f} req/s over {result['seconds']:.1f} s; "
          f"503 with Retry-After: {result['retried_503']}; failures: {result['failure_count']}"
          + (f"; unanswered while the server was away: {result['unanswered']}" if result["unanswered"] else ""))
    for op, o in result["ops"].items():
        rate = f"{o['rps']:8,.0f} req/s" if "rps" in o else " " * 14
        print(f"   {op:<9} n={o['n']:<7} {rate}  p50 {o['p50']:7.2f} ms  p99 {o['p99']:7.2f} ms")
    b = result["books"]
    print(f"   books: {b.get('tasks', 0)} tasks checked; lost {b.get('lost', 0)}, duplicated "
          f"{b.get('duplicated', 0)}, never acknowledged {b.get('extra', 0)}, wrong counts "
          f"{b.get('count_wrong', 0)}, unreadable users {b.get('unreadable', 0)}")
    if result["failure_kinds"]:
        print(f"   failures by operation and status: {result['failure_kinds']}")
    for op, what in result["failures"][:5]:
        print(f"   failure: {op}: {what}")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base", help="e.g. http://127.0.0.1:3000/api/v1")
    parser.add_argument("--label", default="server")
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--deadline", type=float, default=10, help="seconds a request may take")
    parser.add_argument("--json", help="append the results here")
    parser.add_argument("--outage", action="store_true",
                        help="the server may be away for a while (a fault run kills it): a request with "
                             "no connection or no answer is uncertain, not a failure; its client pauses 0.2 s")
    args = parser.parse_args()
    run_id = random.randrange(16**6)
    results = []
    for concurrency in map(int, args.concurrency.split(",")):
        result = await level(args.base, args, concurrency, f"{run_id:06x}")
        report(args.label, result)
        results.append(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"label": args.label, "results": results}, f, indent=1)
    bad = [r for r in results if r["failure_count"] or any(
        r["books"].get(k) for k in ("lost", "extra", "duplicated", "count_wrong", "unreadable"))]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    asyncio.run(main())
