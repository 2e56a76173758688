//! Ending sessions when DynamoDB refuses a write because a transaction holds the user's item:
//! every task write and every refresh holds it, so a replayed refresh token racing them is common.
//! A replay ends the token's login session (one `TransactWriteItems`, whose conflict the SDK sends
//! again); a token from before sessions had ids raises the user's epoch instead (one `UpdateItem`,
//! `TransactionConflictException`, sent again too). If the end still cannot be made, the replay
//! answers 503 to be retried, never a 409 that leaves the thief's session alive. A logout is one
//! such transaction too: one that keeps losing revokes its refresh token alone and answers 503.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::{Value, json};
use shared::domain::{Timestamp, UserId};
use shared::store::RefreshToken;
use support::dynamo_harness::{Fault, Harness, SECRET, unique};

mod support;

fn conflict() -> Value {
    json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
        "message": "Transaction is ongoing for the item",
    })
}

/// A one-item transaction cancelled because another transaction held its item.
fn cancelled() -> Value {
    json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
        "CancellationReasons": [{ "Code": "TransactionConflict" }],
    })
}

/// Registers a user through `clean`; answers the registration's body.
async fn register(clean: &Harness) -> Value {
    let name = unique("replayed_");
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
    let (status, json, _) = clean
        .send("POST", "/api/v1/auth/register/", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json
}

/// Registers a user through `clean`; answers its id and its first refresh token.
async fn registered(clean: &Harness) -> (String, String) {
    let json = register(clean).await;
    let id = json["id"].as_str().unwrap().to_owned();
    (id, json["tokens"]["refresh"].as_str().unwrap().to_owned())
}

/// A user registered through `clean`, whose first refresh token has been rotated once: the
/// consumed one and the live one.
async fn rotated_once(clean: &Harness) -> (String, String) {
    let (_, first) = registered(clean).await;
    rotate(clean, first).await
}

/// The same with a first refresh token from before tokens carried a login session (no `sid`),
/// stored as such: its replay raises the user's epoch.
async fn rotated_once_without_a_session(clean: &Harness) -> (String, String) {
    let (id, _) = registered(clean).await;
    let now = Timestamp::now().unix();
    let jti = unique("legacy").replace('_', "");
    let claims = json!({
        "token_type": "refresh", "user_id": id, "jti": jti,
        "iat": now, "exp": now + 3600, "session_epoch": 0,
    });
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap();
    let record = RefreshToken {
        jti,
        user_id: UserId::parse(&id).unwrap(),
        expires_at: Timestamp::from_unix(now + 3600).unwrap(),
        sid: None,
    };
    clean.stores.tokens.add_refresh(&record, 0).await.unwrap();
    rotate(clean, token).await
}

async fn rotate(clean: &Harness, consumed: String) -> (String, String) {
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

/// A replay through `faulty` conflicts as its fault says, but ends the consumed token's session
/// in the end; answers the calls it made.
async fn replay_that_conflicts_once(
    faulty: &Harness,
    consumed: &str,
    live: &str,
    clean: &Harness,
) -> Vec<String> {
    faulty.calls.take();
    let (status, json) = refresh(faulty, consumed).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    let calls = faulty.calls.take();
    let (status, json) = refresh(clean, live).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the thief's token: {json}"
    );
    calls
}

/// A replay through `faulty` whose end always conflicts: a 503 with `Retry-After`, and the retry
/// through `clean` ends the session.
async fn replay_that_keeps_conflicting(
    faulty: &Harness,
    consumed: &str,
    live: &str,
    clean: &Harness,
) {
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
    let (status, json) = refresh(clean, consumed).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the retry: {json}");
    let (status, json) = refresh(clean, live).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the thief's token: {json}"
    );
}

#[tokio::test]
async fn a_replay_whose_session_end_conflicts_once_still_ends_the_session() {
    let clean = Harness::new(None).await;
    let faulty = Harness::new(Some(Fault::times("TransactWriteItems", cancelled(), 1))).await;
    let (consumed, live) = rotated_once(&clean).await;

    let calls = replay_that_conflicts_once(&faulty, &consumed, &live, &clean).await;

    assert_eq!(
        calls,
        [
            "GetItem",
            "BatchGetItem",
            "TransactWriteItems",
            "TransactWriteItems"
        ],
        "the session's end is sent again after the conflict"
    );
}

#[tokio::test]
async fn a_replay_whose_session_end_keeps_conflicting_is_a_503_and_its_retry_ends_it() {
    let clean = Harness::new(None).await;
    let faulty = Harness::new(Some(Fault::always("TransactWriteItems", cancelled()))).await;
    let (consumed, live) = rotated_once(&clean).await;

    replay_that_keeps_conflicting(&faulty, &consumed, &live, &clean).await;
}

#[tokio::test]
async fn a_sessionless_replay_whose_revocation_conflicts_once_still_ends_every_session() {
    let clean = Harness::new(None).await;
    let faulty = Harness::new(Some(Fault::times("UpdateItem", conflict(), 1))).await;
    let (consumed, live) = rotated_once_without_a_session(&clean).await;

    let calls = replay_that_conflicts_once(&faulty, &consumed, &live, &clean).await;

    assert_eq!(
        calls,
        ["GetItem", "UpdateItem", "UpdateItem"],
        "the revocation is sent again after the conflict"
    );
}

#[tokio::test]
async fn a_sessionless_replay_whose_revocation_keeps_conflicting_is_a_503_and_its_retry_ends_every_session()
 {
    let clean = Harness::new(None).await;
    let faulty = Harness::new(Some(Fault::always("UpdateItem", conflict()))).await;
    let (consumed, live) = rotated_once_without_a_session(&clean).await;

    replay_that_keeps_conflicting(&faulty, &consumed, &live, &clean).await;
}

/// A logout whose every try loses its race: the refresh token stops working at once, the answer is
/// a 503 to be retried (never a 409 the client would take for done), and the retry ends the
/// session, its access token included.
#[tokio::test]
async fn a_logout_whose_session_end_keeps_conflicting_revokes_its_token_is_a_503_and_its_retry_ends_it()
 {
    let clean = Harness::new(None).await;
    let faulty = Harness::new(Some(Fault::always("TransactWriteItems", cancelled()))).await;
    let json = register(&clean).await;
    let access = json["tokens"]["access"].as_str().unwrap().to_owned();
    let refresh_token = json["tokens"]["refresh"].as_str().unwrap().to_owned();
    let logout = || json!({ "refresh": refresh_token });

    let (status, json, headers) = faulty
        .send("POST", "/api/v1/auth/logout/", None, Some(logout()))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let (status, json) = refresh(&clean, &refresh_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked at once: {json}");
    assert_eq!(
        profile(&clean, &access).await,
        StatusCode::OK,
        "the session is not ended yet"
    );

    let (status, json, _) = clean
        .send("POST", "/api/v1/auth/logout/", None, Some(logout()))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the retry: {json}");
    assert_eq!(
        profile(&clean, &access).await,
        StatusCode::UNAUTHORIZED,
        "the retry ends the session"
    );
}

/// The status of a profile read with `access`.
async fn profile(app: &Harness, access: &str) -> StatusCode {
    app.send("GET", "/api/v1/auth/profile/", Some(access), None)
        .await
        .0
}
