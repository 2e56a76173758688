#!/usr/bin/env python3
"""A right login through a DynamoDB stall, then how many attempts its name's counter still holds
in progress: each stall's login should hold none once it has ended (docs/SECURITY.md).

Starts DynamoDB Local (in memory) and a taskmaster-local binary against it; for each stall,
registers a user, sends its login, stops DynamoDB Local (SIGSTOP) 5 ms later for the stall's
seconds, lets it go on (SIGCONT), and reads the counter item of the login's name in this window.
A stall past the SDK's 3 s attempt timeout makes the SDK send the count again, and the sends
queued behind the stall all land once it ends; one past its 10 s call timeout fails the login (a
503) on our side, whose count is then taken back.

    python3 bench/login_stall.py target/release/taskmaster-local [STALL_SECONDS ...]  (default 4 12)

Needs Java and DynamoDB Local (scripts/install-tools, or TASKMASTER_DYNAMODB_LOCAL_DIR).
Loopback only; stops what it started.
"""
import hashlib
import http.client
import json
import os
import signal
import sys
import threading
import time

from list_units import dynamodb, post, start_stack

LOGIN_WINDOW = 900  # seconds: the server's default


def login_through_a_stall(api, java, name, stall):
    """The login's status: sent at once, DynamoDB stopped for `stall` seconds 5 ms after."""
    answer = {}
    body = {"username": name, "password": "correct-horse-7"}
    login = threading.Thread(target=lambda: answer.update(status=post_long(api, body)))
    login.start()
    time.sleep(0.005)
    java.send_signal(signal.SIGSTOP)
    time.sleep(stall)
    java.send_signal(signal.SIGCONT)
    login.join()
    return answer["status"]


def post_long(port, body):
    """POST a login, waiting as long as the stall may take (list_units' `post` waits 10 s)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/api/v1/auth/login/", body=json.dumps(body), headers={"content-type": "application/json"})
    return conn.getresponse().status


def held(ddb, users, name):
    """Attempts the name's counter holds and has not settled: in progress."""
    end = int(time.time()) // LOGIN_WINDOW * LOGIN_WINDOW + LOGIN_WINDOW
    pk = f"LIMIT#login-name#{hashlib.sha256(name.encode()).hexdigest()[:32]}#{end}"
    item = dynamodb(ddb, "GetItem", {"TableName": users, "Key": {"pk": {"S": pk}}, "ConsistentRead": True}).get("Item", {})
    def size(attribute):
        value = item.get(attribute, {})
        return int(value["N"]) if "N" in value else len(value.get("SS", []))
    # Builds before 2026-12-07 kept numbers (`hits`, `settled`): the same run compares them.
    return size("hit_ids") + size("hits") - size("settled_ids") - size("settled")


def main():
    stalls = [float(a) for a in sys.argv[2:]] or [4.0, 12.0]
    started = []
    try:
        ddb, api = start_stack(started, "login_stall")
        java = started[0]
        users = None
        for _ in range(100):
            users = next((t for t in dynamodb(ddb, "ListTables", {})["TableNames"] if t.endswith("-users")), None)
            if users:
                break
            time.sleep(0.1)
        for i, stall in enumerate(stalls):
            name = f"stall_{i}_{os.getpid()}"
            status, _ = post(api, "/api/v1/auth/register/",
                             {"username": name, "email": f"{name}@example.com", "password": "correct-horse-7"},
                             {"content-type": "application/json"})
            assert status == 201, status
            status = login_through_a_stall(api, java, name, stall)
            time.sleep(2)  # what the stall queued has landed
            print(f"stall {stall:4.1f} s: login {status}; attempts of the name held in progress after it: {held(ddb, users, name)}")
    finally:
        for proc in reversed(started):
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
