//! The fault paths DynamoDB Local cannot produce, injected into real requests through an SDK
//! interceptor: throttling after the SDK's retries is a 503 with `Retry-After`, a transaction
//! conflict is retried and then a 409, and nothing is half-written.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::json;
use support::dynamo_harness::{Fault, Harness, unique};

mod support;

#[tokio::test]
async fn throttling_after_the_sdk_retries_is_a_503_with_retry_after() {
    let fault = Fault::always(
        "GetItem",
        json!({ "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded" }),
    );
    let h = Harness::new(Some(fault)).await;
    let name = unique("throttled_");
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
    let (status, json, _) = h
        .send("POST", "/api/v1/auth/register/", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let access = json["tokens"]["access"].as_str().unwrap().to_owned();

    h.calls.take();
    let (status, json, headers) = h
        .send("GET", "/api/v1/auth/profile/", Some(&access), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(json["detail"].is_string());
    assert!(
        h.calls.take().len() == 1,
        "one operation, retried inside the SDK"
    );
}

/// A cancelled transaction whose reasons name `code` on its first item.
fn cancelled(code: &str) -> serde_json::Value {
    json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{code}, None]"),
        "CancellationReasons": [{ "Code": code }, { "Code": "None" }],
    })
}

/// A user made through a fault-free app (register writes a transaction too); its access token.
async fn user_of_a_clean_app(prefix: &str) -> (Harness, String) {
    let clean = Harness::new(None).await;
    let name = unique(prefix);
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
    let (status, json, _) = clean
        .send("POST", "/api/v1/auth/register/", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let access = json["tokens"]["access"].as_str().unwrap().to_owned();
    (clean, access)
}

#[tokio::test]
async fn a_transaction_that_conflicts_once_is_retried_and_succeeds() {
    let h = Harness::new(Some(Fault::times(
        "TransactWriteItems",
        cancelled("TransactionConflict"),
        1,
    )))
    .await;
    let (clean, access) = user_of_a_clean_app("conflict_once_").await;

    h.calls.take();
    let (status, json, _) = h
        .send(
            "POST",
            "/api/v1/tasks/",
            Some(&access),
            Some(json!({ "title": "racing" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(
        h.calls.take(),
        ["TransactWriteItems", "TransactWriteItems"],
        "the cancelled transaction is sent once more"
    );
    let (_, list, _) = clean
        .send("GET", "/api/v1/tasks/", Some(&access), None)
        .await;
    assert_eq!(list["count"], 1, "written once, counted once");
    assert_eq!(list["results"][0]["title"], "racing");
}

#[tokio::test]
async fn a_transaction_that_keeps_conflicting_is_a_409_and_writes_nothing() {
    let h = Harness::new(Some(Fault::always(
        "TransactWriteItems",
        cancelled("TransactionConflict"),
    )))
    .await;
    let (clean, access) = user_of_a_clean_app("conflict_").await;

    h.calls.take();
    let (status, json, _) = h
        .send(
            "POST",
            "/api/v1/tasks/",
            Some(&access),
            Some(json!({ "title": "racing" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert!(json["detail"].is_string(), "{json}");
    assert_eq!(h.calls.take().len(), 4, "four attempts in all");
    let (_, list, _) = clean
        .send("GET", "/api/v1/tasks/", Some(&access), None)
        .await;
    assert_eq!(list["count"], 0, "nothing half-written");
}

#[tokio::test]
async fn a_transaction_throttled_on_an_item_is_a_503_with_retry_after() {
    let h = Harness::new(Some(Fault::always(
        "TransactWriteItems",
        cancelled("ProvisionedThroughputExceeded"),
    )))
    .await;
    let (clean, access) = user_of_a_clean_app("throttled_tx_").await;

    let (status, json, headers) = h
        .send(
            "POST",
            "/api/v1/tasks/",
            Some(&access),
            Some(json!({ "title": "throttled" })),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let (_, list, _) = clean
        .send("GET", "/api/v1/tasks/", Some(&access), None)
        .await;
    assert_eq!(list["count"], 0, "nothing written");
}
