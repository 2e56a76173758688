//! The errors every route shares (404, 405, 401 headers, odd URLs): always JSON.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use super::helpers::{
    LOGIN, PROFILE, REGISTER, TASKS, TOKEN_VERIFY, TestApp, assert_json_error, task_path,
};

#[tokio::test]
async fn an_unknown_route_is_404_json() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    for path in [
        "/",
        "/api/v1/",
        "/api/v1/nothing-here",
        "/api/v2/tasks/",
        "/api/v1/tasks/a/b/",
    ] {
        let response = app.get(path, Some(&access)).await;

        assert_json_error(&response, StatusCode::NOT_FOUND);
        assert_eq!(response.json, json!({ "detail": "Not found." }), "{path}");
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_json_naming_it() {
    let app = TestApp::new().await;
    let cases = [
        (Method::PUT, REGISTER),
        (Method::GET, LOGIN),
        (Method::DELETE, TASKS),
        (Method::POST, PROFILE),
        (Method::GET, "/api/v1/auth/token/refresh"),
        (
            Method::POST,
            "/api/v1/tasks/00000000-0000-7000-8000-000000000000/",
        ),
    ];
    for (method, path) in cases {
        let response = app
            .raw(method.clone(), path, None, Body::empty(), &[])
            .await;

        assert_json_error(&response, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            response.json,
            json!({ "detail": format!("Method \"{method}\" not allowed.") }),
            "{method} {path}"
        );
        // What the path does take, OPTIONS (answered on every path) included, and not this.
        let allow: Vec<&str> = response
            .header("allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow"))
            .split(',')
            .map(str::trim)
            .collect();
        assert!(allow.contains(&"OPTIONS"), "{method} {path}: {allow:?}");
        assert!(allow.len() >= 2, "{method} {path}: {allow:?}");
        assert!(
            !allow.contains(&method.as_str()),
            "{method} {path}: {allow:?}"
        );
    }
}

#[tokio::test]
async fn every_error_response_is_json() {
    // Arrange
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let token = Some(access.as_str());
    let json_type = Some("application/json");
    let missing_task = task_path(&uuid::Uuid::now_v7().to_string());

    // Act: one request for each kind of error.
    let responses = [
        (
            StatusCode::BAD_REQUEST,
            app.post_json(REGISTER, &json!({}), None).await,
        ),
        (
            StatusCode::BAD_REQUEST,
            app.raw(Method::POST, REGISTER, json_type, "{", &[]).await,
        ),
        (
            StatusCode::BAD_REQUEST,
            app.get("/api/v1/tasks/?page_size=0", token).await,
        ),
        (
            StatusCode::UNAUTHORIZED,
            app.login("nobody_here", "wrong-password").await,
        ),
        (StatusCode::UNAUTHORIZED, app.get(PROFILE, None).await),
        (
            StatusCode::UNAUTHORIZED,
            app.get(PROFILE, Some("nope")).await,
        ),
        (
            StatusCode::UNAUTHORIZED,
            app.post_json(TOKEN_VERIFY, &json!({ "token": "x" }), None)
                .await,
        ),
        (
            StatusCode::NOT_FOUND,
            app.delete(&missing_task, token).await,
        ),
        (StatusCode::NOT_FOUND, app.get("/nope", None).await),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            app.raw(Method::PATCH, TASKS, None, Body::empty(), &[])
                .await,
        ),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            app.raw(
                Method::POST,
                REGISTER,
                json_type,
                "x".repeat(65 * 1024),
                &[],
            )
            .await,
        ),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            app.raw(Method::POST, REGISTER, Some("text/plain"), "{}", &[])
                .await,
        ),
    ];

    // Assert
    for (status, response) in responses {
        assert_json_error(&response, status);
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::new().await;

    let ok = app
        .post_json(REGISTER, &TestApp::registration("ada_lovelace"), None)
        .await;
    let error = app.get("/nope", None).await;

    for response in [ok, error] {
        let id = response
            .header("x-request-id")
            .expect("an x-request-id header");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
}

#[tokio::test]
async fn a_bearer_header_with_extra_words_is_401() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let cases = [format!("Bearer {access} extra"), "Bearer".to_owned()];
    for value in cases {
        let response = app
            .raw(
                Method::GET,
                PROFILE,
                None,
                Body::empty(),
                &[("authorization", &value)],
            )
            .await;

        assert_json_error(&response, StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"api\"")
        );
    }
    let lowercase = app
        .raw(
            Method::GET,
            PROFILE,
            None,
            Body::empty(),
            &[("authorization", &format!("bearer {access}"))],
        )
        .await;
    lowercase.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn odd_query_strings_are_400_json() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    // (A name given twice is no error: its last value counts, `api/list.rs`.)
    for query in ["?status_task=%FF", "?cursor=%E2%82"] {
        let response = app.get(&format!("{TASKS}{query}"), Some(&access)).await;

        assert_json_error(&response, StatusCode::BAD_REQUEST);
    }
}

/// A malformed id is a 404 like any other, and every error is JSON: bytes that are not UTF-8, and
/// the spellings of a task's own UUID other than the hyphenated one the API writes (in either
/// case; the original app took lowercase only).
#[tokio::test]
async fn a_task_id_that_is_not_utf8_or_not_hyphenated_is_404_json() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let task = app.create_task(&access, &json!({ "title": "mine" })).await;
    let id = task["id"].as_str().expect("an id").to_owned();
    let upper = format!("/api/v1/tasks/{}/", id.to_uppercase());
    assert_eq!(app.get(&upper, Some(&access)).await.status, StatusCode::OK);
    let edit = json!({ "title": "x" });
    let others = [
        format!("/api/v1/tasks/%7B{id}%7D/"),
        format!("/api/v1/tasks/urn:uuid:{id}/"),
        format!("/api/v1/tasks/{}/", id.replace('-', "")),
    ];
    let malformed = ["/api/v1/tasks/%FF/", "/api/v1/tasks/%C3%28"];
    for path in malformed
        .iter()
        .copied()
        .chain(others.iter().map(String::as_str))
    {
        let responses = [
            app.get(path, Some(&access)).await,
            app.put_json(path, &edit, Some(&access)).await,
            app.patch_json(path, &edit, Some(&access)).await,
            app.delete(path, Some(&access)).await,
        ];

        for response in responses {
            assert_json_error(&response, StatusCode::NOT_FOUND);
            assert_eq!(
                response.json,
                json!({ "detail": "Task not found" }),
                "{path}"
            );
        }
    }
}
