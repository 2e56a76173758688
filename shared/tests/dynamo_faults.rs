//! The fault paths DynamoDB Local cannot produce, injected into real requests through an SDK
//! interceptor: throttling after the SDK's retries is a 503 with `Retry-After`, a transaction
//! conflict a 409, and nothing is half-written.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::json;
use support::dynamo_harness::{Fault, Harness, unique};

mod support;

#[tokio::test]
async fn throttling_after_the_sdk_retries_is_a_503_with_retry_after() {
    let fault = Fault {
        operation: "GetItem",
        error_body: json!({ "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded" }),
    };
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

#[tokio::test]
async fn a_transaction_conflict_on_task_create_is_a_409() {
    let fault = Fault {
        operation: "TransactWriteItems",
        error_body: json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
            "CancellationReasons": [{ "Code": "TransactionConflict" }, { "Code": "None" }],
        }),
    };
    let h = Harness::new(Some(fault)).await;
    // Register needs a transaction too, so make the user through a second, fault-free app.
    let clean = Harness::new(None).await;
    let name = unique("conflict_");
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
    let (_, json, _) = clean
        .send("POST", "/api/v1/auth/register/", None, Some(body))
        .await;
    let access = json["tokens"]["access"].as_str().unwrap().to_owned();

    let (status, json, _) = h
        .send(
            "POST",
            "/api/v1/tasks/",
            Some(&access),
            Some(json!({ "title": "racing" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    let (_, list, _) = clean
        .send("GET", "/api/v1/tasks/", Some(&access), None)
        .await;
    assert_eq!(list["count"], 0, "nothing half-written");
}
