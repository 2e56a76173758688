//! Test support shared by the test crates: the function → router table, and DynamoDB Local.
#![allow(dead_code)]

pub mod dynamo_harness;

use std::path::{Path, PathBuf};

use axum::Router;
use shared::AppState;
use shared::http::{auth, profile, tasks};
use shared::store::dynamo::local::DynamoDbLocal;
use shared::store::dynamo::schema::create_tables;
use shared::store::{DynamoConfig, DynamoStore, Stores};

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

/// Every function binary with the router its `main.rs` mounts.
pub fn function_routers() -> Vec<(&'static str, Router<AppState>)> {
    vec![
        ("register", auth::register()),
        ("login", auth::login()),
        ("token-verify", auth::token_verify()),
        ("token-refresh", auth::token_refresh()),
        ("logout", auth::logout()),
        ("profile-get", profile::get()),
        ("profile-update", profile::update()),
        ("password-update", profile::password()),
        ("task-create", tasks::create()),
        ("task-get", tasks::get()),
        ("task-update", tasks::update()),
        ("task-delete", tasks::delete()),
        ("task-list", tasks::list()),
        ("fallback", shared::http::unmatched()),
    ]
}

/// The test process's DynamoDB Local (in memory, fresh each run). A test that needs it fails
/// loudly when it cannot start: it never skips.
pub async fn dynamodb_local() -> &'static DynamoDbLocal {
    DynamoDbLocal::per_process(&repo_root())
        .await
        .unwrap_or_else(|e| panic!("DynamoDB Local is required for this test: {e:#}"))
}

/// Stores on DynamoDB Local, over tables made from template.yaml for this test process. The
/// client is built in the calling test's runtime.
pub async fn dynamo_stores() -> Stores {
    let config = dynamo_config().await;
    Stores::new(DynamoStore::new(config.client().await, &config))
}

pub async fn dynamo_config() -> DynamoConfig {
    tables_named(&std::process::id().to_string()).await
}

/// Stores on their own, empty tables: for tests that need a store no other test touches.
pub async fn fresh_dynamo_stores() -> Stores {
    let config = tables_named(&uuid::Uuid::new_v4().simple().to_string()).await;
    Stores::new(DynamoStore::new(config.client().await, &config))
}

async fn tables_named(suffix: &str) -> DynamoConfig {
    let local = dynamodb_local().await;
    let config = DynamoConfig {
        users_table: format!("users-{suffix}"),
        tasks_table: format!("tasks-{suffix}"),
        connections_table: format!("connections-{suffix}"),
        endpoint: Some(local.endpoint().to_owned()),
    };
    create_tables(&config.client().await, &config)
        .await
        .expect("creating tables in DynamoDB Local");
    config
}
