//! Conditional requests: the version of a task is its `ETag`; `If-Match` and `If-None-Match` guard PUT,
//! PATCH and DELETE (412 when they refuse the current version, as one conditional write); on a
//! GET, `If-Match` refuses other versions (412) and `If-None-Match` makes an unchanged task a 304.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{Response, TASKS, TestApp, id_of, task_path};

async fn with(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
    header: (&str, &str),
) -> Response {
    with_all(app, method, path, token, body, &[header]).await
}

/// [`with`] for any number of headers beside the token.
async fn with_all(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
    more: &[(&str, &str)],
) -> Response {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("authorization", bearer.as_str())];
    headers.extend_from_slice(more);
    match body {
        Some(body) => {
            app.raw(
                method,
                path,
                Some("application/json"),
                body.to_string(),
                &headers,
            )
            .await
        }
        None => app.raw(method, path, None, "", &headers).await,
    }
}

/// A user with one fresh task: (app, access token, task path).
async fn one_task(name: &str) -> (TestApp, String, String) {
    let app = TestApp::new().await;
    let user = app.register_user(name).await;
    let created = app
        .post_json(TASKS, &json!({ "title": "v0" }), Some(&user.access))
        .await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.header("etag"), Some("\"0\""), "a new task's tag");
    let path = task_path(id_of(&created.json));
    (app, user.access, path)
}

#[tokio::test]
async fn every_task_answer_carries_its_version_as_etag() {
    let (app, access, path) = one_task("etag_read").await;
    let read = app.get(&path, Some(&access)).await;
    assert_eq!(read.header("etag"), Some("\"0\""));

    let updated = app
        .patch_json(&path, &json!({ "title": "v1" }), Some(&access))
        .await;
    updated.assert_status(StatusCode::OK);
    assert_eq!(updated.header("etag"), Some("\"1\""));
    assert_eq!(
        app.get(&path, Some(&access)).await.header("etag"),
        Some("\"1\"")
    );
}

#[tokio::test]
async fn an_unchanged_task_is_a_304_with_no_body_and_a_changed_one_is_sent() {
    let (app, access, path) = one_task("etag_304").await;

    let same = with(
        &app,
        Method::GET,
        &path,
        &access,
        None,
        ("if-none-match", "\"0\""),
    )
    .await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert_eq!(same.json, Value::Null, "no body");
    assert_eq!(same.header("etag"), Some("\"0\""));
    let weak = with(
        &app,
        Method::GET,
        &path,
        &access,
        None,
        ("if-none-match", "W/\"7\", W/\"0\""),
    )
    .await;
    assert_eq!(weak.status, StatusCode::NOT_MODIFIED, "weak comparison");

    app.patch_json(&path, &json!({ "title": "v1" }), Some(&access))
        .await
        .assert_status(StatusCode::OK);
    let changed = with(
        &app,
        Method::GET,
        &path,
        &access,
        None,
        ("if-none-match", "\"0\""),
    )
    .await;
    changed.assert_status(StatusCode::OK);
    assert_eq!(changed.json["title"], "v1");
}

/// A GET's `If-Match` answers only for the versions it names, compared strongly, and is weighed
/// before `If-None-Match` (RFC 9110 §13.2.2).
#[tokio::test]
async fn a_read_with_a_stale_if_match_is_a_412() {
    let (app, access, path) = one_task("etag_read_412").await;
    app.patch_json(&path, &json!({ "title": "v1" }), Some(&access))
        .await
        .assert_status(StatusCode::OK);
    let get = async |headers: &[(&str, &str)]| {
        with_all(&app, Method::GET, &path, &access, None, headers).await
    };

    for stale in ["\"0\"", "W/\"1\"", "1"] {
        let refused = get(&[("if-match", stale)]).await;
        refused.assert_status(StatusCode::PRECONDITION_FAILED);
        assert!(
            refused.json["detail"].is_string(),
            "{stale}: {}",
            refused.json
        );
    }
    let refused = get(&[("if-match", "\"0\""), ("if-none-match", "\"1\"")]).await;
    refused.assert_status(StatusCode::PRECONDITION_FAILED);

    for current in ["\"1\"", "\"0\", \"1\"", "*"] {
        let read = get(&[("if-match", current)]).await;
        read.assert_status(StatusCode::OK);
        assert_eq!(read.json["title"], "v1", "{current}");
    }
    let unchanged = get(&[("if-match", "\"1\""), ("if-none-match", "\"1\"")]).await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn a_write_with_a_stale_if_match_is_a_412_and_changes_nothing() {
    let (app, access, path) = one_task("etag_412").await;
    let change = json!({ "title": "v1" });
    for method in [Method::PUT, Method::PATCH] {
        let stale = with(
            &app,
            method,
            &path,
            &access,
            Some(&change),
            ("if-match", "\"5\""),
        )
        .await;
        stale.assert_status(StatusCode::PRECONDITION_FAILED);
        assert!(stale.json["detail"].is_string(), "{}", stale.json);
    }
    let weak = with(
        &app,
        Method::PATCH,
        &path,
        &access,
        Some(&change),
        ("if-match", "W/\"0\""),
    )
    .await;
    weak.assert_status(StatusCode::PRECONDITION_FAILED);
    let deleted = with(
        &app,
        Method::DELETE,
        &path,
        &access,
        None,
        ("if-match", "\"5\""),
    )
    .await;
    deleted.assert_status(StatusCode::PRECONDITION_FAILED);

    let stored = app.get(&path, Some(&access)).await;
    stored.assert_status(StatusCode::OK);
    assert_eq!(
        (stored.json["title"].as_str(), stored.header("etag")),
        (Some("v0"), Some("\"0\""))
    );
}

/// On a write, `If-None-Match` refuses the versions it names (weakly compared; `*` names any):
/// a 412 that changes nothing; a write naming only other versions applies, and beside `If-Match`
/// both must allow the current version (RFC 9110 §13.1.2, §13.2.2).
#[tokio::test]
async fn a_write_whose_if_none_match_names_the_current_version_is_a_412() {
    let (app, access, path) = one_task("etag_none").await;
    let change = json!({ "title": "v1" });
    let refused = [
        (Method::PATCH, Some(&change), "\"0\""),
        (Method::PUT, Some(&change), "\"7\", W/\"0\""),
        (Method::PATCH, Some(&change), "*"),
        (Method::DELETE, None, "\"0\""),
    ];
    for (method, body, tags) in refused {
        let answer = with(
            &app,
            method.clone(),
            &path,
            &access,
            body,
            ("if-none-match", tags),
        )
        .await;
        answer.assert_status(StatusCode::PRECONDITION_FAILED);
        assert!(answer.json["detail"].is_string(), "{method} {tags}");
    }
    let stored = app.get(&path, Some(&access)).await;
    assert_eq!(
        (stored.json["title"].as_str(), stored.header("etag")),
        (Some("v0"), Some("\"0\""))
    );

    // With both headers a write needs both to allow the current version.
    for (none_match, status) in [
        ("\"0\"", StatusCode::PRECONDITION_FAILED),
        ("\"5\"", StatusCode::OK),
    ] {
        let both = [("if-match", "\"0\""), ("if-none-match", none_match)];
        with_all(&app, Method::PATCH, &path, &access, Some(&change), &both)
            .await
            .assert_status(status);
    }
    let stored = app.get(&path, Some(&access)).await;
    assert_eq!(
        (stored.json["title"].as_str(), stored.header("etag")),
        (Some("v1"), Some("\"1\""))
    );
}

#[tokio::test]
async fn a_write_with_the_current_if_match_applies() {
    let (app, access, path) = one_task("etag_apply").await;
    let change = json!({ "title": "v1" });

    let applied = with(
        &app,
        Method::PATCH,
        &path,
        &access,
        Some(&change),
        ("if-match", "\"9\", \"0\""),
    )
    .await;
    applied.assert_status(StatusCode::OK);
    assert_eq!(applied.header("etag"), Some("\"1\""));
    let any = with(
        &app,
        Method::PUT,
        &path,
        &access,
        Some(&json!({ "title": "v2" })),
        ("if-match", "*"),
    )
    .await;
    any.assert_status(StatusCode::OK);
    let deleted = with(
        &app,
        Method::DELETE,
        &path,
        &access,
        None,
        ("if-match", "\"2\""),
    )
    .await;
    deleted.assert_status(StatusCode::OK);
    app.get(&path, Some(&access))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn of_two_writers_holding_the_same_version_exactly_one_wins() {
    let (app, access, path) = one_task("etag_race").await;

    for round in 0..5 {
        let version = format!("\"{round}\"");
        let writes = (0..4).map(|writer| {
            let (app, access, path, version) =
                (app.clone(), access.clone(), path.clone(), version.clone());
            tokio::spawn(async move {
                let body = json!({ "title": format!("round {round} writer {writer}") });
                with(
                    &app,
                    Method::PATCH,
                    &path,
                    &access,
                    Some(&body),
                    ("if-match", &version),
                )
                .await
                .status
            })
        });
        let mut statuses = Vec::new();
        for write in writes.collect::<Vec<_>>() {
            statuses.push(write.await.expect("a writer"));
        }
        let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
            .count();
        assert_eq!((won, refused), (1, 3), "round {round}: {statuses:?}");
    }
    let stored = app.get(&path, Some(&access)).await;
    assert_eq!(
        stored.header("etag"),
        Some("\"5\""),
        "five writes applied, one per round"
    );
}
