//! Idempotent creates: an `Idempotency-Key` makes a retried create return the first answer and
//! create nothing, per user, even when the repeats race each other.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{Response, TASKS, TestApp, id_of};

async fn create(app: &TestApp, token: &str, path: &str, key: &str, body: &Value) -> Response {
    let bearer = format!("Bearer {token}");
    app.raw(
        Method::POST,
        path,
        Some("application/json"),
        body.to_string(),
        &[("authorization", bearer.as_str()), ("idempotency-key", key)],
    )
    .await
}

async fn count(app: &TestApp, token: &str) -> u64 {
    app.get(TASKS, Some(token)).await.json["count"]
        .as_u64()
        .expect("a count")
}

#[tokio::test]
async fn a_repeated_create_answers_the_first_task_and_creates_nothing() {
    let app = TestApp::new().await;
    let ada = app.register_user("idem_ada").await;
    let body = json!({ "title": "once", "status_task": "IN PROGRESS" });

    let first = create(&app, &ada.access, TASKS, "key-1", &body).await;
    let again = create(&app, &ada.access, TASKS, "key-1", &body).await;
    let legacy = create(&app, &ada.access, "/api/v1/tasks/create/", "key-1", &body).await;

    first.assert_status(StatusCode::CREATED);
    assert_eq!(first.header("idempotent-replayed"), None);
    let id = first.json["id"].as_str().expect("an id");
    let location = format!("/api/v1/tasks/{id}/");
    assert_eq!(first.header("location"), Some(location.as_str()));
    for repeat in [&again, &legacy] {
        repeat.assert_status(StatusCode::CREATED);
        assert_eq!(repeat.json, first.json, "the first answer again");
        assert_eq!(repeat.header("idempotent-replayed"), Some("true"));
        assert_eq!(repeat.header("etag"), first.header("etag"));
        assert_eq!(repeat.header("location"), first.header("location"));
    }
    assert_eq!(count(&app, &ada.access).await, 1);
}

#[tokio::test]
async fn the_same_key_with_other_fields_is_a_422_and_creates_nothing() {
    let app = TestApp::new().await;
    let ada = app.register_user("idem_other").await;
    create(
        &app,
        &ada.access,
        TASKS,
        "key-2",
        &json!({ "title": "first" }),
    )
    .await
    .assert_status(StatusCode::CREATED);

    let other = create(
        &app,
        &ada.access,
        TASKS,
        "key-2",
        &json!({ "title": "second" }),
    )
    .await;

    other.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(other.json["detail"].is_string(), "{}", other.json);
    assert_eq!(count(&app, &ada.access).await, 1);
}

#[tokio::test]
async fn keys_belong_to_their_user_and_different_keys_make_different_tasks() {
    let app = TestApp::new().await;
    let ada = app.register_user("idem_owner_a").await;
    let bob = app.register_user("idem_owner_b").await;
    let body = json!({ "title": "shared key" });

    let ada_task = create(&app, &ada.access, TASKS, "same", &body).await;
    let bob_task = create(&app, &bob.access, TASKS, "same", &body).await;
    let ada_other = create(&app, &ada.access, TASKS, "another", &body).await;

    for response in [&ada_task, &bob_task, &ada_other] {
        response.assert_status(StatusCode::CREATED);
        assert_eq!(response.header("idempotent-replayed"), None);
    }
    assert_ne!(id_of(&ada_task.json), id_of(&bob_task.json));
    assert_ne!(id_of(&ada_task.json), id_of(&ada_other.json));
    assert_eq!(count(&app, &ada.access).await, 2);
    assert_eq!(count(&app, &bob.access).await, 1);
}

#[tokio::test]
async fn concurrent_repeats_of_one_key_make_exactly_one_task() {
    let app = TestApp::new().await;
    let ada = app.register_user("idem_race").await;
    let body = json!({ "title": "raced" });

    let repeats: Vec<_> = (0..8)
        .map(|_| {
            let (app, token, body) = (app.clone(), ada.access.clone(), body.clone());
            tokio::spawn(async move { create(&app, &token, TASKS, "racing-key", &body).await })
        })
        .collect();
    let mut ids = Vec::new();
    for repeat in repeats {
        let response = repeat.await.expect("a request");
        response.assert_status(StatusCode::CREATED);
        ids.push(id_of(&response.json).to_owned());
    }

    ids.dedup();
    assert_eq!(ids.len(), 1, "one task for every repeat: {ids:?}");
    assert_eq!(count(&app, &ada.access).await, 1);
}

#[tokio::test]
async fn a_malformed_key_is_a_400() {
    let app = TestApp::new().await;
    let ada = app.register_user("idem_bad").await;
    let long = "k".repeat(256);
    for key in ["", long.as_str(), "has space"] {
        let response = create(&app, &ada.access, TASKS, key, &json!({ "title": "x" })).await;
        response.assert_status(StatusCode::BAD_REQUEST);
        assert!(
            response.json["detail"].is_string(),
            "{key:?}: {}",
            response.json
        );
    }
    assert_eq!(count(&app, &ada.access).await, 0);
}
