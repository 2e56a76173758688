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
    if !dynamodb {
        return Server::start_with_env(dir, extra, env);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let local = DynamoDbLocal::per_process(&root)
        .await
        .unwrap_or_else(|e| panic!("DynamoDB Local is required for this test: {e:#}"));
    let suffix = unique_name("t").replace('_', "-");
    let (users, tasks, connections) = (
        format!("users-{suffix}"),
        format!("tasks-{suffix}"),
        format!("conns-{suffix}"),
    );
    let mut flags = vec![
        "--dynamodb-endpoint",
        local.endpoint(),
        "--users-table",
        &users,
        "--tasks-table",
        &tasks,
        "--connections-table",
        &connections,
    ];
    flags.extend(extra);
    Server::start_with_env(dir, &flags, env)
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
