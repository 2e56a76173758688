//! Test support shared by the test crates: the function → router table, and DynamoDB Local.
#![allow(dead_code)]

pub mod backends;
pub mod dynamo_fault;
pub mod dynamo_harness;
pub mod iam;

use axum::Router;
use shared::AppState;
use shared::http::ENDPOINTS;
use std::sync::Arc;

use shared::store::{DynamoConfig, DynamoStore, ImportStore, Stores};
use testkit::schema::create_tables;

/// Every HTTP function with the router its main mounts: the endpoint table, and `fallback`.
pub fn function_routers() -> Vec<(&'static str, Router<AppState>)> {
    ENDPOINTS
        .iter()
        .map(|endpoint| (endpoint.function, (endpoint.router)()))
        .chain([("fallback", shared::http::openapi::get())])
        .collect()
}

pub use testkit::dynamodb_local;

/// Stores on DynamoDB Local, over tables made from template.yaml for this test process, and the
/// importer over them. The client is built in the calling test's runtime.
pub async fn dynamo_stores_with_import() -> (Stores, Arc<dyn ImportStore>) {
    let config = dynamo_config().await;
    Stores::with_import(DynamoStore::new(iam::checked(&config.client()), &config))
}

pub async fn dynamo_config() -> DynamoConfig {
    tables_named(&std::process::id().to_string()).await
}

/// Stores on their own, empty tables, and the importer over them: for tests that need a store
/// no other test touches.
pub async fn fresh_dynamo_stores_with_import() -> (Stores, Arc<dyn ImportStore>) {
    let config = tables_named(&uuid::Uuid::new_v4().simple().to_string()).await;
    Stores::with_import(DynamoStore::new(iam::checked(&config.client()), &config))
}

async fn tables_named(suffix: &str) -> DynamoConfig {
    let local = dynamodb_local().await;
    let config = DynamoConfig {
        users_table: format!("users-{suffix}"),
        tasks_table: format!("tasks-{suffix}"),
        connections_table: format!("connections-{suffix}"),
        endpoint: Some(local.endpoint().to_owned()),
        emulator_key: None,
    };
    // Setting up is not a request: a busy DynamoDB Local gets a batch job's patience.
    create_tables(&config.patient_client(), &config)
        .await
        .expect("creating tables in DynamoDB Local");
    config
}
