//! Ending sessions: a password change or logout-all refuses every token issued before it, on
//! every authenticated route; the password change answers a working pair; a replayed refresh
//! token ends its login session.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{
    LOGOUT_ALL, PASSWORD, PASSWORD_CHANGE, PROFILE, TASKS, TOKEN_VERIFY, TestApp,
    assert_unauthorized, id_of, invalid_token_body, rejected_token_body, task_path,
};

const NEW_PASSWORD: &str = "a-brand-new-passphrase";

fn change_body() -> Value {
    json!({ "old_password": PASSWORD, "new_password_1": NEW_PASSWORD, "new_password_2": NEW_PASSWORD })
}

/// Every authenticated request a user can make, with a body where it needs one.
fn authenticated_requests(task: &str) -> Vec<(Method, String, Value)> {
    let edit = json!({ "title": "Edited" });
    vec![
        (Method::GET, PROFILE.to_owned(), Value::Null),
        (
            Method::PUT,
            PROFILE.to_owned(),
            json!({ "first_name": "Eve" }),
        ),
        (
            Method::PATCH,
            PROFILE.to_owned(),
            json!({ "first_name": "Eve" }),
        ),
        (Method::POST, PASSWORD_CHANGE.to_owned(), change_body()),
        (
            Method::POST,
            TASKS.to_owned(),
            json!({ "title": "Planted" }),
        ),
        (
            Method::POST,
            "/api/v1/tasks/create/".to_owned(),
            json!({ "title": "Planted" }),
        ),
        (Method::GET, TASKS.to_owned(), Value::Null),
        (Method::GET, task_path(task), Value::Null),
        (Method::PUT, task_path(task), edit.clone()),
        (Method::PATCH, task_path(task), edit),
        (Method::DELETE, task_path(task), Value::Null),
        (Method::GET, task_path("not-a-task-id"), Value::Null),
        (Method::POST, LOGOUT_ALL.to_owned(), Value::Null),
    ]
}

/// Asserts `access` is refused everywhere (and by `token/verify`), and that nothing it tried
/// was written: the task is unchanged and the user has one task.
pub(super) async fn assert_refused_everywhere(
    app: &TestApp,
    access: &str,
    task: &Value,
    current: &str,
) {
    for (method, path, body) in authenticated_requests(id_of(task)) {
        let body = (!body.is_null()).then_some(&body);
        let response = app.request(method.clone(), &path, body, Some(access)).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_unauthorized(&response, invalid_token_body());
    }
    app.post_json(TOKEN_VERIFY, &json!({ "token": access }), None)
        .await
        .assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
    let list = app.get(TASKS, Some(current)).await;
    list.assert_status(StatusCode::OK);
    assert_eq!(list.json["count"], 1, "nothing was created: {}", list.json);
    let unchanged = app.get(&task_path(id_of(task)), Some(current)).await;
    assert_eq!(unchanged.json, *task, "nothing was changed");
}

/// Changes the password with `access`, asserting the answer: its message and a fresh pair.
async fn changed_password(app: &TestApp, access: &str) -> (String, String) {
    let response = app
        .post_json(PASSWORD_CHANGE, &change_body(), Some(access))
        .await;
    response.assert_status(StatusCode::OK);
    assert_eq!(response.json["detail"], "password updated successfully");
    assert_eq!(response.header("cache-control"), Some("no-store"));
    (
        response.str("access").to_owned(),
        response.str("refresh").to_owned(),
    )
}

async fn logout_all(app: &TestApp, token: Option<&str>) -> super::helpers::Response {
    app.request(Method::POST, LOGOUT_ALL, None, token).await
}

#[tokio::test]
async fn after_a_password_change_older_access_tokens_are_refused_on_every_route() {
    let app = TestApp::new().await;
    let registered = app.register_user("ada_lovelace").await;
    let other_device = app.login_ok("ada_lovelace", PASSWORD).await;
    let task = app
        .create_task(&registered.access, &json!({ "title": "Mine" }))
        .await;

    let (fresh, _) = changed_password(&app, &registered.access).await;

    for old in [&registered.access, &other_device.access] {
        assert_refused_everywhere(&app, old, &task, &fresh).await;
    }
}

#[tokio::test]
async fn a_password_change_answers_a_pair_that_works() {
    let app = TestApp::new().await;
    let registered = app.register_user("ada_lovelace").await;

    let (access, refresh) = changed_password(&app, &registered.access).await;

    app.get(PROFILE, Some(&access))
        .await
        .assert_status(StatusCode::OK);
    app.post_json(TOKEN_VERIFY, &json!({ "token": refresh }), None)
        .await
        .assert_status(StatusCode::OK);
    let rotated = app.refresh(&refresh).await;
    rotated.assert_status(StatusCode::OK);
    app.get(TASKS, Some(rotated.str("access")))
        .await
        .assert_status(StatusCode::OK);
    app.refresh(&registered.refresh)
        .await
        .assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
}

#[tokio::test]
async fn logout_all_answers_204_and_ends_every_session() {
    let app = TestApp::new().await;
    let registered = app.register_user("ada_lovelace").await;
    let other_device = app.login_ok("ada_lovelace", PASSWORD).await;
    let task = app
        .create_task(&registered.access, &json!({ "title": "Mine" }))
        .await;

    let response = logout_all(&app, Some(&other_device.access)).await;

    response.assert_status(StatusCode::NO_CONTENT);
    let again = app.login_ok("ada_lovelace", PASSWORD).await;
    for old in [&registered, &other_device] {
        assert_refused_everywhere(&app, &old.access, &task, &again.access).await;
        app.refresh(&old.refresh)
            .await
            .assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
    }
}

#[tokio::test]
async fn logout_all_needs_an_access_token() {
    let app = TestApp::new().await;
    let registered = app.register_user("ada_lovelace").await;

    let missing = logout_all(&app, None).await;
    let refresh = logout_all(&app, Some(&registered.refresh)).await;

    assert_unauthorized(
        &missing,
        json!({ "detail": "Authentication credentials were not provided." }),
    );
    assert_unauthorized(&refresh, invalid_token_body());
    app.get(PROFILE, Some(&registered.access))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn replaying_a_rotated_refresh_token_ends_the_whole_family() {
    let app = TestApp::new().await;
    let first = app.register_user("ada_lovelace").await;
    let elsewhere = app.login_ok("ada_lovelace", PASSWORD).await;
    let rotated = app.refresh(&first.refresh).await;
    rotated.assert_status(StatusCode::OK);
    let (second_access, second_refresh) = (rotated.str("access"), rotated.str("refresh"));

    let replay = app.refresh(&first.refresh).await;

    replay.assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
    app.refresh(second_refresh)
        .await
        .assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
    assert_unauthorized(
        &app.get(PROFILE, Some(second_access)).await,
        invalid_token_body(),
    );
    // The family is the login session: the user's other session goes on.
    app.get(PROFILE, Some(&elsewhere.access))
        .await
        .assert_status(StatusCode::OK);
    app.refresh(&elsewhere.refresh)
        .await
        .assert_status(StatusCode::OK);
    app.login_ok("ada_lovelace", PASSWORD).await;
}

/// Requests refused for what they send, some before any store call has checked their session.
fn malformed_requests(task: &str) -> Vec<(Method, String, Value)> {
    vec![
        (Method::GET, format!("{TASKS}?page_size=1000"), Value::Null),
        (
            Method::GET,
            format!("{TASKS}?status_task=nope"),
            Value::Null,
        ),
        (Method::GET, format!("{TASKS}?cursor=zzz"), Value::Null),
        (Method::POST, TASKS.to_owned(), json!({ "title": "" })),
        (
            Method::PATCH,
            task_path(task),
            json!({ "status_task": "nope" }),
        ),
        (Method::PUT, task_path(task), json!({ "title": true })),
        (Method::POST, PASSWORD_CHANGE.to_owned(), json!({})),
        (
            Method::PATCH,
            PROFILE.to_owned(),
            json!({ "email": "nope" }),
        ),
    ]
}

/// A live session's malformed request is a 400 naming its fault; once the session has ended, the
/// same request gets the 401 of any ended session, so the client signs in again.
#[tokio::test]
async fn malformed_requests_of_an_ended_session_answer_401() {
    let app = TestApp::new().await;
    let registered = app.register_user("ada_lovelace").await;
    let task = app
        .create_task(&registered.access, &json!({ "title": "Mine" }))
        .await;
    let send = |access: String, (method, path, body): (Method, String, Value)| {
        let app = app.clone();
        async move {
            let body = (!body.is_null()).then_some(&body);
            let response = app
                .request(method.clone(), &path, body, Some(&access))
                .await;
            (format!("{method} {path}"), response)
        }
    };
    for request in malformed_requests(id_of(&task)) {
        let (what, live) = send(registered.access.clone(), request).await;
        assert_eq!(
            live.status,
            StatusCode::BAD_REQUEST,
            "{what}: {}",
            live.json
        );
    }

    logout_all(&app, Some(&registered.access))
        .await
        .assert_status(StatusCode::NO_CONTENT);

    for request in malformed_requests(id_of(&task)) {
        let (what, ended) = send(registered.access.clone(), request).await;
        assert_eq!(
            ended.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {}",
            ended.json
        );
        assert_unauthorized(&ended, invalid_token_body());
    }
    let fresh = app.login_ok("ada_lovelace", PASSWORD).await;
    for request in malformed_requests(id_of(&task)) {
        let (what, live) = send(fresh.access.clone(), request).await;
        assert_eq!(
            live.status,
            StatusCode::BAD_REQUEST,
            "{what}: {}",
            live.json
        );
    }
}
