#!/usr/bin/env python3
"""Runs test binaries side by side, as `cargo test` would run them one after the other.

    cargo test --no-run --message-format=json ... | scripts/lib/run-tests.py --jobs 3 -- <test args>

Reads cargo's JSON messages on stdin, takes every test executable it built, and runs each the way
`cargo test` does (working directory and CARGO_MANIFEST_DIR: its package's), at most --jobs at a
time. Most of the suites spend their time waiting (DynamoDB Local, sockets, short sleeps, argon2 on
another thread), so running them side by side shortens the step without changing what runs. Each
binary's output is printed whole when it ends; the exit status is 1 if any binary failed, and the
failed ones are named last.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def executables(messages):
    found = []
    for line in messages:
        line = line.strip()
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        # Test harnesses only: a benchmark built by `--all-targets` (to be compiled and linted)
        # is not run here; `cargo bench` runs it.
        if message.get("reason") == "compiler-artifact" and message.get("executable") \
                and message.get("profile", {}).get("test") \
                and "bench" not in message.get("target", {}).get("kind", []):
            found.append((message["executable"], os.path.dirname(message["manifest_path"])))
    return found


def run(binary, package_dir, args):
    started = time.monotonic()
    env = dict(os.environ, CARGO_MANIFEST_DIR=package_dir)
    done = subprocess.run([binary, *args], cwd=package_dir, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return done.returncode, done.stdout.decode(errors="replace"), time.monotonic() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("args", nargs="*", help="passed to every test binary")
    options = parser.parse_args()
    tests = executables(sys.stdin)
    if not tests:
        print("run-tests: cargo built no test executable", file=sys.stderr)
        return 1
    failed = []
    with ThreadPoolExecutor(max_workers=options.jobs) as pool:
        runs = {pool.submit(run, binary, package_dir, options.args): binary
                for binary, package_dir in tests}
        for future in runs:
            binary = runs[future]
            status, output, seconds = future.result()
            name = os.path.relpath(binary)
            print(f"     Running {name} ({seconds:.1f} s, exit {status})")
            print(output, end="", flush=True)
            if status != 0:
                failed.append(name)
    print(f"run-tests: {len(tests)} test binaries, {len(failed)} failed")
    for name in failed:
        print(f"run-tests: FAILED {name}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
