//! Ending sessions when DynamoDB refuses a single write because a transaction holds the user's
//! item (`TransactionConflictException`): every task write and every refresh holds it, so a
//! replayed refresh token racing them is common. The revocation is sent again; if it still
//! cannot be made, the replay answers 503 to be retried, never a 409 that leaves the thief's
//! sessions alive.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::dynamo_harness::{Fault, Harness, unique};

mod support;

fn conflict() -> Value {
    json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
        "message": "Transaction is ongoing for the item",
    })
}

/// A user registered through `clean`, whose first refresh token has been rotated once: the
/// consumed one and the live one.
async fn rotated_once(clean: &Harness) -> (String, String) {
    let name = unique("replayed_");
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
    let (status, json, _) = clean
        .send("POST", "/api/v1/auth/register/", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let consumed = json["tokens"]["refresh"].as_str().unwrap().to_owned();
    let (status, json) = refresh(clean, &consumed).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    (consumed, json["refresh"].as_str().unwrap().to_owned())
}

async fn refresh(app: &Harness, token: &str) -> (StatusCode, Value) {
    let body = json!({ "refresh": token });
    let (status, json, _) = app
        .send("POST", "/api/v1/auth/token/refresh/", None, Some(body))
        .await;
    (status, json)
}

#[tokio::test]
async fn a_replay_whose_revocation_conflicts_once_still_ends_every_session() {
    let clean = Harness::new(None).await;
    let faulty = Harness::new(Some(Fault::times("UpdateItem", conflict(), 1))).await;
    let (consumed, live) = rotated_once(&clean).await;

    faulty.calls.take();
    let (status, json) = refresh(&faulty, &consumed).await;

    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    assert_eq!(
        faulty.calls.take(),
        ["GetItem", "UpdateItem", "UpdateItem"],
        "the revocation is sent again after the conflict"
    );
    let (status, json) = refresh(&clean, &live).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the thief's token: {json}"
    );
}

#[tokio::test]
async fn a_replay_whose_revocation_keeps_conflicting_is_a_503_and_its_retry_ends_every_session() {
    let clean = Harness::new(None).await;
    let faulty = Harness::new(Some(Fault::always("UpdateItem", conflict()))).await;
    let (consumed, live) = rotated_once(&clean).await;

    let (status, json, headers) = faulty
        .send(
            "POST",
            "/api/v1/auth/token/refresh/",
            None,
            Some(json!({ "refresh": consumed })),
        )
        .await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let (status, json) = refresh(&clean, &consumed).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the retry: {json}");
    let (status, json) = refresh(&clean, &live).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the thief's token: {json}"
    );
}
