#!/usr/bin/env python3
"""What loading the system's root certificates adds to a function's init.

    bench/init_roots.py BINARY... [--runs 15]

Starts each release binary (build them with bench/cold-start first: target/release/<function>,
target/release/examples/bare-runtime) with Lambda's environment pointing at a socket that only
accepts, and times process start to its first connection to the Runtime API (its first `next`
call, what Lambda reports as Init Duration), in three trust settings:
- as deployed: rustls-native-certs reads the system bundle and every file of the certificate
  directory (openssl-probe's locations);
- SSL_CERT_FILE set to the bundle alone (no directory scan);
- SSL_CERT_FILE=/dev/null: no roots at all, so nothing to load (no TLS would work; for the
  comparison only).
Prints the median of --runs fresh processes per binary and setting. Loopback only, standard
library only; needs no store, since a function opens no connection before its first event. The
signing key is given in the environment, so Secrets Manager's reads (bench/cold-start counts them)
are not in these figures.
"""
import argparse, os, socket, statistics, subprocess, time

SETTINGS = [
    ("as deployed", {}),
    ("bundle file only", {"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"}),
    ("no roots", {"SSL_CERT_FILE": "/dev/null"}),
]


def init_ms(binary, extra):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        env = {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{listener.getsockname()[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(binary),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_LOG_STREAM_NAME": "stream", "AWS_LAMBDA_LOG_GROUP_NAME": "group",
            "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "ASIALOCAL", "AWS_SECRET_ACCESS_KEY": "local",
            "TASKMASTER_USERS_TABLE": "users", "TASKMASTER_TASKS_TABLE": "tasks",
            "TASKMASTER_CONNECTIONS_TABLE": "connections", "TASKMASTER_WS_ENDPOINT": "http://127.0.0.1:9",
            "TASKMASTER_JWT_SECRET": "init-roots-bench-key-of-at-least-32-bytes", **extra,
        }
        started = time.perf_counter()
        process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        listener.settimeout(10)
        connection, _ = listener.accept()
        elapsed = (time.perf_counter() - started) * 1000
        process.kill()
        process.wait()
        connection.close()
        return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    print(f"{time.strftime('%FT%TZ', time.gmtime())}, load {open('/proc/loadavg').read().split()[0]}, "
          f"{args.runs} runs, medians")
    for binary in args.binaries:
        cells = [f"{statistics.median(init_ms(binary, extra) for _ in range(args.runs)):.1f} ms ({name})"
                 for name, extra in SETTINGS]
        print(f"{os.path.basename(binary):16} " + ", ".join(cells))


if __name__ == "__main__":
    main()
