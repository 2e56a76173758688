//! The Lambda path through the real binaries: each function's **arm64 bootstrap**, the file a deploy
//! uploads (built beforehand by `scripts/lambdas`; `scripts/test` does it), runs as a child process the
//! way Lambda runs a `provided.al2023` bootstrap: Lambda's environment variables, and the Runtime API
//! served by a stand-in (`lambda_runtime/api.rs`). The stand-in hands the binary its event from
//! `events/` (API Gateway HTTP API, API Gateway WebSocket, or DynamoDB stream) and records what the
//! binary posts back, which must be the right answer. The store is DynamoDB Local (started here;
//! the test fails, never skips, without it), each function on its own tables made from
//! template.yaml, seeded with the user, task and connection the events expect.
//!
//! On an x86_64 host the bootstraps run under qemu user-mode emulation (`.tools/arm64/`, from
//! `scripts/install-tools`), so what is tested is exactly what `sam build` packages.

mod lambda_runtime {
    pub mod api;
    pub mod fixtures;
    pub mod process;

    mod cold_start;
    mod http_functions;
    mod realtime_functions;
}
