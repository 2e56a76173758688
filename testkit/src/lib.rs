//! Development tooling that no Lambda ships, shared by `taskmaster-local` and the tests:
//! [`DynamoDbLocal`] (starts the jar `scripts/install-tools` installed), [`schema`] (the tables as
//! `template.yaml` declares them, created in DynamoDB Local from that same file), [`http`] (a
//! router driven in-process), a Secrets Manager stand-in ([`secrets_manager`]), [`original`] (what
//! the original Django app stored and issued), [`throttle`] (the HTTP API's routes and their
//! throttling), and where things are in the repository.

pub mod cors;
mod dynamodb_local;
pub mod events;
pub mod http;
pub mod original;
pub mod schema;
pub mod secrets_manager;
pub mod throttle;

use std::path::{Path, PathBuf};

pub use dynamodb_local::DynamoDbLocal;

/// The repository root (the workspace holding this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The Lambda binaries, `functions/src/bin/<name>.rs`, sorted by name.
pub fn function_binaries() -> Vec<String> {
    let dir = repo_root().join("functions/src/bin");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| {
            path.file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The test process's DynamoDB Local (in memory, fresh each run; [`DynamoDbLocal::per_process`]).
/// A test that needs it fails loudly when it cannot start: it never skips.
pub async fn dynamodb_local() -> &'static DynamoDbLocal {
    DynamoDbLocal::per_process(&repo_root())
        .await
        .unwrap_or_else(|e| panic!("DynamoDB Local is required for this test: {e:#}"))
}

/// The whole-second claim `name` (`exp`, `iat`, `auth_time`) of a JWT, read without checking
/// its signature: what a test times itself by, as the server counts.
pub fn token_claim(token: &str, name: &str) -> u64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: serde_json::Value = serde_json::from_slice(&payload).expect("JSON claims");
    claims[name]
        .as_u64()
        .unwrap_or_else(|| panic!("a {name} claim"))
}

/// Sleeps until `after` past the Unix second `unix_seconds`, on the wall clock.
pub async fn sleep_until_unix(unix_seconds: u64, after: std::time::Duration) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    let until = std::time::Duration::from_secs(unix_seconds) + after;
    tokio::time::sleep(until.saturating_sub(now)).await;
}

/// Waits, when the next quarter hour is less than a minute away, until just past it.
///
/// The login and registration limits count in windows aligned to the clock (15 minutes and an
/// hour, `shared::service::limits`): a test that counts attempts up to a limit and crosses a
/// window's end on the way sees the count start again, and its 429 does not come. Called once the
/// test's server is up, just before it counts, it leaves the counting a minute at least (two dozen
/// password checks on a loaded machine take well under that).
pub async fn clear_of_limit_window_ends() {
    const QUARTER_HOUR: u64 = 15 * 60;
    const MARGIN: u64 = 60;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    let into_window = now.as_secs() % QUARTER_HOUR;
    if QUARTER_HOUR - into_window <= MARGIN {
        let next = std::time::Duration::from_secs(now.as_secs() - into_window + QUARTER_HOUR);
        tokio::time::sleep(next - now + std::time::Duration::from_millis(100)).await;
    }
}

/// What the code under test writes to a sink it is handed (a log subscriber's writer, the metrics'
/// output), kept for the test to read back as JSON lines.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("the capture").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The lines written since the last call, each parsed as JSON.
    pub fn take_lines(&self) -> Vec<serde_json::Value> {
        let bytes = std::mem::take(&mut *self.0.lock().expect("the capture"));
        String::from_utf8(bytes)
            .expect("UTF-8 lines")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }
}
