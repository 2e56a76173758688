//! The 64 KiB body limit: a body past it is a 413 on every route that takes a body or a caller,
//! after the caller's token is checked; one just under it is read.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use super::helpers::{LOGOUT_ALL, PROFILE, REGISTER, TASKS, TestApp, assert_json_error};

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let bearer = format!("Bearer {access}");
    let big = json!({ "title": "x", "description": "d".repeat(64 * 1024) }).to_string();

    let create = app
        .raw(
            Method::POST,
            TASKS,
            Some("application/json"),
            big.clone(),
            &[("authorization", &bearer)],
        )
        .await;
    let register = app
        .raw(Method::POST, REGISTER, Some("application/json"), big, &[])
        .await;

    for response in [create, register] {
        assert_json_error(&response, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            response.json,
            json!({ "detail": "Request body is too large (limit 64 KiB)." })
        );
    }
}

/// The limit holds on routes that read no body too: one announced past it is refused unread, the
/// same 413 as anywhere, and the request does nothing (the logout ends no session).
#[tokio::test]
async fn a_body_announced_past_64_kib_is_413_on_routes_that_read_none() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let bearer = format!("Bearer {access}");
    let big = "x".repeat(64 * 1024 + 1);
    let length = big.len().to_string();
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-length", length.as_str()),
    ];

    for (method, path) in [
        (Method::POST, LOGOUT_ALL),
        (Method::GET, TASKS),
        (Method::GET, PROFILE),
    ] {
        let response = app
            .raw(
                method.clone(),
                path,
                Some("application/json"),
                big.clone(),
                &headers,
            )
            .await;
        assert_json_error(&response, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            response.json,
            json!({ "detail": "Request body is too large (limit 64 KiB)." }),
            "{method} {path}"
        );
    }
    let after = app.get(PROFILE, Some(&access)).await;
    assert_eq!(
        after.status,
        StatusCode::OK,
        "the refused logout ended nothing"
    );

    // The caller is checked first: a bad token, or an ended session's, is the 401 it always is.
    let send = |bearer: String| {
        let (app, big, length) = (app.clone(), big.clone(), length.clone());
        async move {
            let headers = [
                ("authorization", bearer.as_str()),
                ("content-length", &length),
            ];
            app.raw(Method::GET, TASKS, Some("application/json"), big, &headers)
                .await
        }
    };
    assert_json_error(&send("Bearer nope".into()).await, StatusCode::UNAUTHORIZED);
    let logout = app
        .raw(
            Method::POST,
            LOGOUT_ALL,
            None,
            Body::empty(),
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_json_error(&send(bearer.clone()).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_body_just_under_64_kib_is_read() {
    let app = TestApp::new().await;
    let padding = "p".repeat(60 * 1024);
    let body = json!({ "username": "ab", "padding": padding }).to_string();
    assert!(body.len() < 64 * 1024);

    let response = app
        .raw(Method::POST, REGISTER, Some("application/json"), body, &[])
        .await;

    response.assert_field_errors(&["username", "email", "password"]);
}
