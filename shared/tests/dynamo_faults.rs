//! The fault paths DynamoDB Local cannot produce, injected into real requests through an SDK
//! interceptor: throttling after the SDK's retries is a 503 with `Retry-After`, a transaction
//! conflict is retried by the SDK and then a 409, an optimistic write sends at most
//! `retry::MAX_SENDS_PER_WRITE` transactions, nothing is half-written (a password change
//! included), a store that stops answering is a 503 in bounded time, and a login's counts
//! (`dynamo_faults/logins.rs`) neither lock out nor hold places for failures of ours.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::json;
use shared::retry::{MAX_SENDS_PER_WRITE, SDK_ATTEMPTS, SDK_CALL_TIMEOUT, WRITE_ATTEMPTS};
use support::dynamo_harness::{Fault, Faulty, Harness, cancelled, silent_app, unreachable_app};

mod support;

/// The login counters' faults.
mod dynamo_faults {
    mod logins;
}

#[tokio::test]
async fn throttling_after_the_sdk_retries_is_a_503_with_retry_after() {
    let fault = Fault::always(
        "GetItem",
        json!({ "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded" }),
    );
    let h = Harness::new(Some(fault)).await;
    let access = h.register("throttled_").await;

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
    assert_eq!(
        h.calls.take(),
        vec!["GetItem"; SDK_ATTEMPTS as usize],
        "one call, sent as many times as the SDK's retry policy allows"
    );
}

#[tokio::test]
async fn a_transaction_that_conflicts_once_is_retried_and_succeeds() {
    let app = Faulty::new(Fault::times(
        "TransactWriteItems",
        cancelled("TransactionConflict"),
        1,
    ))
    .await;

    let (status, json, _) = app.create_task("racing").await;

    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(
        app.faulty.calls.take(),
        ["TransactWriteItems", "TransactWriteItems"],
        "the SDK sends the cancelled transaction once more"
    );
    let stored = app.stored().await;
    assert_eq!(stored["count"], 1, "written once, counted once");
    assert_eq!(stored["results"][0]["title"], "racing");
}

#[tokio::test]
async fn a_transaction_that_keeps_conflicting_is_a_409_and_writes_nothing() {
    let app = Faulty::transactions_cancelled("TransactionConflict").await;

    let (status, json, _) = app.create_task("racing").await;

    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert!(json["detail"].is_string(), "{json}");
    assert_eq!(
        app.faulty.calls.take(),
        vec!["TransactWriteItems"; SDK_ATTEMPTS as usize],
        "a create is not an optimistic write: only the SDK retries it"
    );
    assert_eq!(app.stored().await["count"], 0, "nothing half-written");
}

#[tokio::test]
async fn an_update_that_keeps_conflicting_sends_at_most_the_bound_then_409() {
    let app = Faulty::transactions_cancelled("TransactionConflict").await;
    let path = app.clean_task("before").await;

    let (status, json, _) = app
        .faulty
        .send(
            "PATCH",
            &path,
            Some(&app.access),
            Some(json!({ "status_task": "DONE" })),
        )
        .await;

    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    let calls = app.faulty.calls.take();
    let sends = calls.iter().filter(|c| *c == "TransactWriteItems").count();
    let reads = calls.iter().filter(|c| *c == "GetItem").count();
    assert_eq!(sends as u32, MAX_SENDS_PER_WRITE, "{calls:?}");
    assert_eq!(
        reads as u32,
        2 * WRITE_ATTEMPTS,
        "per try, one read of the task and one of its owner's session: {calls:?}"
    );
    let (_, stored, _) = app.clean.send("GET", &path, Some(&app.access), None).await;
    assert_eq!(stored["title"], "before");
    assert_eq!(stored["status_task"], "TO DO", "nothing half-written");
}

/// A user's tasks at DynamoDB's 10 GB for one partition key (the tasks table has local secondary
/// indexes): a create, or an update that would grow a task, is a 403 that says what to do, not a
/// 500, and nothing is written. Every write to the tasks table is a transaction, which DynamoDB
/// cancels with this reason.
#[tokio::test]
async fn a_write_past_the_users_storage_limit_is_a_403_and_writes_nothing() {
    let app = Faulty::transactions_cancelled("ItemCollectionSizeLimitExceeded").await;
    let path = app.clean_task("before").await;

    let (status, json, _) = app.create_task("one too many").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    assert_eq!(json, json!({ "detail": shared::error::STORAGE_FULL }));
    assert_eq!(
        app.faulty.calls.take(),
        ["TransactWriteItems"],
        "not retried: only deleting tasks makes room"
    );
    let body = json!({ "description": "longer ".repeat(100) });
    let (status, json, _) = app
        .faulty
        .send("PATCH", &path, Some(&app.access), Some(body))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    let stored = app.stored().await;
    assert_eq!(stored["count"], 1, "{stored}");
    assert_eq!(stored["results"][0]["description"], "", "nothing written");
}

#[tokio::test]
async fn a_transaction_throttled_on_an_item_is_a_503_with_retry_after() {
    let app = Faulty::transactions_cancelled("ProvisionedThroughputExceeded").await;

    let (status, json, headers) = app.create_task("throttled").await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(
        app.faulty.calls.take(),
        vec!["TransactWriteItems"; SDK_ATTEMPTS as usize],
        "retried by the SDK like any throttling, then given up"
    );
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_eq!(app.stored().await["count"], 0, "nothing written");
}

/// A password change whose write DynamoDB applied but whose answer was lost (a send that timed
/// out): the SDK sends it again, and whether DynamoDB takes that for the same transaction (its
/// client request token) or fails its condition (then the read after it finds this request's own
/// hash), the change answers working tokens instead of a 401 for the session it just ended.
#[tokio::test]
async fn a_password_change_applied_but_its_answer_lost_still_answers_its_tokens() {
    // The user's write (conditional on its version), not the login counters' updates.
    let app = Faulty::new(Fault::answer_lost(
        "TransactWriteItems",
        "#version = :before",
    ))
    .await;
    let body = json!({ "old_password": "correct-horse-battery", "new_password_1": "a-new-horse-battery", "new_password_2": "a-new-horse-battery" });

    let (status, json, _) = app
        .faulty
        .send(
            "POST",
            "/api/v1/auth/profile/password/",
            Some(&app.access),
            Some(body),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{json}");
    let access = json["access"].as_str().expect("a new access token");
    let (status, profile, _) = app
        .clean
        .send("GET", "/api/v1/auth/profile/", Some(access), None)
        .await;
    assert_eq!(status, StatusCode::OK, "the new tokens work: {profile}");
}

/// A password change is one write: whichever of its calls fails, either the change is made and answers
/// working tokens, or it is a 503 and nothing changed (the caller's session still works). It was
/// two writes, and a failed second one (the new refresh token) left a changed password, every
/// session ended, and the caller with none.
#[tokio::test]
async fn a_password_change_is_whole_or_not_at_all_whichever_write_fails() {
    let internal = json!({ "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "down" });
    // The calls a password change makes (each is checked to have been made, and so to have failed).
    for operation in ["GetItem", "UpdateItem", "TransactWriteItems"] {
        let app = Faulty::new(Fault::always(operation, internal.clone())).await;
        let body = json!({ "old_password": "correct-horse-battery", "new_password_1": "a-new-horse-battery", "new_password_2": "a-new-horse-battery" });

        let (status, json, _) = app
            .faulty
            .send(
                "POST",
                "/api/v1/auth/profile/password/",
                Some(&app.access),
                Some(body),
            )
            .await;
        let calls = app.faulty.calls.take();
        assert!(
            calls.iter().any(|call| call == operation),
            "{operation} was never called, so never failed: {calls:?}"
        );

        let (still, _, _) = app
            .clean
            .send("GET", "/api/v1/auth/profile/", Some(&app.access), None)
            .await;
        match status {
            StatusCode::OK => {
                let access = json["access"].as_str().expect("a new access token");
                let (works, _, _) = app
                    .clean
                    .send("GET", "/api/v1/auth/profile/", Some(access), None)
                    .await;
                assert_eq!(
                    works,
                    StatusCode::OK,
                    "{operation} failing: the new tokens work"
                );
                assert_eq!(
                    still,
                    StatusCode::UNAUTHORIZED,
                    "{operation} failing: the old session ended"
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(
                    still,
                    StatusCode::OK,
                    "{operation} failing: a 503, so nothing changed"
                )
            }
            other => panic!("{operation} failing: {other} {json}"),
        }
    }
}

/// A transaction whose earlier send (same client request token) is still being applied, as after
/// a send that timed out on our side: sent again by the SDK, then a 503, never a 500.
#[tokio::test]
async fn a_transaction_still_in_progress_is_sent_again_then_a_503() {
    let app = Faulty::new(Fault::always(
        "TransactWriteItems",
        json!({ "__type": "com.amazonaws.dynamodb.v20120810#TransactionInProgressException", "message": "in progress" }),
    ))
    .await;

    let (status, json, headers) = app.create_task("in progress").await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(
        app.faulty.calls.take(),
        vec!["TransactWriteItems"; SDK_ATTEMPTS as usize]
    );
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
}

#[tokio::test]
async fn dynamodb_unreachable_is_a_503_with_retry_after_not_a_500() {
    let access = Harness::new(None).await.register("down_").await;
    let down = unreachable_app().await;

    for (method, path, body) in [
        ("GET", "/api/v1/auth/profile/", None),
        ("GET", "/api/v1/tasks/", None),
        (
            "POST",
            "/api/v1/tasks/",
            Some(json!({ "title": "while down" })),
        ),
    ] {
        let method = method.parse().unwrap();
        let request = testkit::http::request(method, path, body.as_ref(), Some(&access));
        let response = testkit::http::send(&down, request).await;
        assert_eq!(
            response.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            response.json
        );
        assert_eq!(response.header("retry-after"), Some("1"), "{path}");
        assert!(response.json["detail"].is_string());
    }
}

/// A store that takes the connection and then never answers (a stalled process or network) is a
/// 503 once the SDK's call timeout passes, well before a Lambda's own timeout would make it a 500.
#[tokio::test]
async fn dynamodb_that_stops_answering_is_a_503_within_the_call_timeout() {
    let access = Harness::new(None).await.register("stalled_").await;
    let (stalled, _held) = silent_app().await;
    let started = std::time::Instant::now();

    let request = testkit::http::request(
        "GET".parse().unwrap(),
        "/api/v1/auth/profile/",
        None,
        Some(&access),
    );
    let response =
        tokio::time::timeout(SDK_CALL_TIMEOUT * 2, testkit::http::send(&stalled, request))
            .await
            .expect("an answer, not a hang");

    response.assert_unavailable();
    let waited = started.elapsed();
    assert!(
        waited <= SDK_CALL_TIMEOUT + std::time::Duration::from_secs(2),
        "{waited:?}"
    );
}
