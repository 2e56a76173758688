//! A server on either store, for suites that run on both.

use std::path::Path;

use testkit::DynamoDbLocal;

use super::{Server, unique_name};

/// A server with `extra` flags on the embedded store, or on DynamoDB Local (one per test process,
/// fresh tables per server). DynamoDB Local must start: the test fails, never skips, without it.
pub async fn server_on(dynamodb: bool, dir: &Path, extra: &[&str]) -> Server {
    server_with_env(dynamodb, dir, extra, &[]).await
}

/// Like [`server_on`], with these environment variables set for the server.
pub async fn server_with_env(
    dynamodb: bool,
    dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let mut flags = store_flags(dynamodb).await;
    flags.extend(extra.iter().map(|flag| (*flag).to_owned()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Server::start_with_env(dir, &flags, env)
}

/// The flags that put a server (or another command) on the embedded store (none), or on fresh
/// tables of DynamoDB Local (one per test process). DynamoDB Local must start: the test fails,
/// never skips, without it.
pub async fn store_flags(dynamodb: bool) -> Vec<String> {
    if !dynamodb {
        return Vec::new();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let local = DynamoDbLocal::per_process(&root)
        .await
        .unwrap_or_else(|e| panic!("DynamoDB Local is required for this test: {e:#}"));
    let suffix = unique_name("t").replace('_', "-");
    [
        "--dynamodb-endpoint",
        local.endpoint(),
        "--users-table",
        &format!("users-{suffix}"),
        "--tasks-table",
        &format!("tasks-{suffix}"),
        "--connections-table",
        &format!("conns-{suffix}"),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Expands each `case(dynamodb: bool)` into a test on the embedded store and one on DynamoDB Local.
#[macro_export]
macro_rules! on_both_stores {
    ($($case:ident),+ $(,)?) => {
        mod embedded {
            $(#[tokio::test] async fn $case() { super::$case(false).await })+
        }
        mod dynamodb {
            $(#[tokio::test] async fn $case() { super::$case(true).await })+
        }
    };
}
