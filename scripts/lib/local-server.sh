# Sourced by the scripts that drive a running taskmaster-local (postman-local, schemathesis).
#
#   start_local_server NAME [flags...]
#
# Builds the server as the tests do (debug, --locked, the same command as scripts/test's tests
# step, so nothing is rebuilt after the tests), starts it on a free port over a throwaway data
# dir under target/, and sets BASE_URL (http://127.0.0.1:PORT), WORK (removed on exit, the server
# log is $WORK/server.log) and SERVER_PID. The server is stopped whatever happens.

start_local_server() {
    local name=$1
    shift
    local repo server start_timeout=30
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    server="$repo/target/debug/taskmaster-local"
    cargo test --workspace --exclude functions --locked --no-run
    mkdir -p "$repo/target"
    WORK="$(mktemp -d "$repo/target/$name.XXXXXX")"
    SERVER_PID=""
    trap _stop_local_server EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mkdir "$WORK/data"
    # Made here, not by the server's redirection: that runs in the child, which the polling below
    # can outrun (sed on a missing file fails, and set -e ends the script).
    : >"$WORK/stdout"
    "$server" --addr 127.0.0.1:0 --data-dir "$WORK/data" "$@" >"$WORK/stdout" 2>"$WORK/server.log" &
    SERVER_PID=$!
    # The server prints exactly one stdout line: "taskmaster-local listening on http://127.0.0.1:PORT".
    BASE_URL=""
    for ((i = 0; i < start_timeout * 10; i++)); do
        BASE_URL="$(sed -n 's|^taskmaster-local listening on \(http://[^[:space:]]*\)$|\1|p' "$WORK/stdout")"
        [[ -n "$BASE_URL" ]] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$WORK/server.log" >&2
            echo "$name: taskmaster-local exited before listening" >&2
            exit 1
        fi
        sleep 0.1
    done
    if [[ -z "$BASE_URL" ]]; then
        cat "$WORK/server.log" >&2
        echo "$name: taskmaster-local did not report its port within ${start_timeout}s" >&2
        exit 1
    fi
    echo "$name: taskmaster-local is up at $BASE_URL (log: server.log in $WORK, removed on exit)"
}

_stop_local_server() {
    if [[ -n "${SERVER_PID:-}" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    [[ -n "${WORK:-}" ]] && rm -rf "$WORK"
}
