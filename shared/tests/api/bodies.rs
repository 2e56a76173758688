//! Request bodies: malformed JSON, wrong shapes and types and content types (the size limit:
//! `body_limit.rs`).

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{
    LOGIN, LOGOUT, PASSWORD_CHANGE, PROFILE, REGISTER, TASKS, TOKEN_REFRESH, TOKEN_VERIFY, TestApp,
    assert_json_error, id_of, task_path,
};

#[tokio::test]
async fn malformed_json_is_400_json() {
    let app = TestApp::new().await;
    for body in ["{", "{\"username\": }", "not json", "{\"a\": 1,}", "\u{0}"] {
        let response = app
            .raw(Method::POST, REGISTER, Some("application/json"), body, &[])
            .await;

        assert_json_error(&response, StatusCode::BAD_REQUEST);
        let detail = response.str("detail");
        assert!(
            detail.starts_with("JSON parse error - "),
            "{body:?}: {detail}"
        );
    }
}

#[tokio::test]
async fn a_json_body_that_is_not_an_object_is_400() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    for body in [
        "[]",
        "[{\"title\": \"x\"}]",
        "\"title\"",
        "42",
        "null",
        "true",
    ] {
        let register = app
            .raw(Method::POST, REGISTER, Some("application/json"), body, &[])
            .await;
        let create = app
            .raw(
                Method::POST,
                TASKS,
                Some("application/json"),
                body,
                &[("authorization", &format!("Bearer {access}"))],
            )
            .await;

        for response in [register, create] {
            assert_json_error(&response, StatusCode::BAD_REQUEST);
            assert_eq!(
                response.json,
                json!({ "non_field_errors": ["Invalid data. Expected a JSON object."] }),
                "{body}"
            );
        }
    }
}

type Fields = &'static [&'static str];

#[tokio::test]
async fn values_that_are_no_text_are_named_beside_every_other_bad_field() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let task = app.create_task(&access, &json!({ "title": "Typed" })).await;
    let task_path = task_path(id_of(&task));
    // The request, the fields that are no text, and the other bad fields.
    let cases: Vec<(Method, &str, Value, Fields, Fields)> = vec![
        (
            Method::POST,
            REGISTER,
            json!({ "username": true, "email": "bad", "password": ["x"], "first_name": {"a": 1} }),
            &["username", "password", "first_name"],
            &["email"],
        ),
        (
            Method::POST,
            LOGIN,
            json!({ "username": {"a": 1}, "password": null }),
            &["username"],
            &["password"],
        ),
        (
            Method::POST,
            TASKS,
            json!({ "title": false, "description": [], "status_task": "bogus" }),
            &["title", "description"],
            &["status_task"],
        ),
        (
            Method::PATCH,
            &task_path,
            json!({ "title": "fine", "status_task": {"DONE": true} }),
            &["status_task"],
            &[],
        ),
        (
            Method::PUT,
            PROFILE,
            json!({ "username": ["ada"], "last_name": true, "email": "bad" }),
            &["username", "last_name"],
            &["email"],
        ),
    ];
    for (method, path, body, no_text, other) in cases {
        let response = app
            .request(method.clone(), path, Some(&body), Some(&access))
            .await;

        assert_json_error(&response, StatusCode::BAD_REQUEST);
        response.assert_field_errors(&[no_text, other].concat());
        for field in no_text {
            assert_eq!(
                response.json[field],
                json!(["Not a valid string."]),
                "{path}: the original app's words, not serde's"
            );
        }
    }
    app.get(&task_path, Some(&access))
        .await
        .assert_body(StatusCode::OK, task);
}

#[tokio::test]
async fn numbers_are_read_as_their_text_as_the_original_app_read_them() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let refused = app
        .request(
            Method::POST,
            TASKS,
            Some(&json!({ "title": 7, "status_task": 3 })),
            Some(&access),
        )
        .await;
    assert_json_error(&refused, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json,
        json!({ "status_task": ["\"3\" is not a valid choice."] })
    );

    let created = app
        .create_task(&access, &json!({ "title": 7, "description": 1e16 }))
        .await;
    assert_eq!(created["title"], "7");
    assert_eq!(created["description"], "1e+16", "as Python writes it");

    let numeric = app
        .request(
            Method::POST,
            REGISTER,
            Some(&json!({ "username": 20261206, "email": "n@example.com", "password": 12345678 })),
            None,
        )
        .await;
    assert_json_error(&numeric, StatusCode::BAD_REQUEST);
    numeric.assert_field_errors(&["password"]);
}

#[tokio::test]
async fn a_required_field_sent_as_null_is_refused_by_name_on_every_route() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let cases: [(&str, Value, &[&str], Option<&str>); 6] = [
        (
            REGISTER,
            json!({ "username": null, "email": null, "password": null }),
            &["username", "email", "password"],
            None,
        ),
        (
            LOGIN,
            json!({ "username": null, "password": null }),
            &["username", "password"],
            None,
        ),
        (TOKEN_VERIFY, json!({ "token": null }), &["token"], None),
        (
            TOKEN_REFRESH,
            json!({ "refresh": null }),
            &["refresh"],
            None,
        ),
        (LOGOUT, json!({ "refresh": null }), &["refresh"], None),
        (
            PASSWORD_CHANGE,
            json!({ "old_password": null, "new_password_1": null, "new_password_2": null }),
            &["old_password", "new_password_1", "new_password_2"],
            Some(&access),
        ),
    ];

    for (path, body, fields, token) in cases {
        let response = app.post_json(path, &body, token).await;

        response.assert_field_errors(fields);
        for field in fields {
            assert_eq!(
                response.json[field],
                json!(["This field may not be null."]),
                "{field} at {path}"
            );
        }
    }
    // Left out, each is still "required", as the original app answered.
    let response = app.post_json(LOGIN, &json!({}), None).await;
    assert_eq!(
        response.json["username"],
        json!(["This field is required."])
    );
}

#[tokio::test]
async fn a_write_that_is_not_uncompressed_utf8_json_is_415() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let bearer = format!("Bearer {access}");
    let body = r#"{"title": "x"}"#;
    let content_types = [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("application/json; charset=utf-16"),
        Some("application/json; charset=iso-8859-1"),
        None,
    ];
    let json = Some("application/json");
    let cases = content_types
        .map(|content_type| (content_type, None))
        .into_iter()
        .chain([(json, Some("gzip")), (json, Some("identity, br"))]);
    for (content_type, encoding) in cases {
        let mut headers = vec![("authorization", bearer.as_str())];
        headers.extend(encoding.map(|coding| ("content-encoding", coding)));
        let create = app
            .raw(Method::POST, TASKS, content_type, body, &headers)
            .await;
        let register = app
            .raw(Method::POST, REGISTER, content_type, body, &headers[1..])
            .await;

        for response in [create, register] {
            assert_json_error(&response, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert_eq!(
                response.json,
                json!({ "detail": "Unsupported media type; send application/json, in UTF-8, uncompressed." })
            );
        }
    }
}

#[tokio::test]
async fn json_content_types_with_parameters_or_suffixes_are_accepted() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let bearer = format!("Bearer {access}");
    for content_type in [
        "application/json; charset=utf-8",
        "application/json;charset=\"UTF-8\"",
        "application/json; charset=utf8",
        "Application/JSON",
        "application/vnd.api+json",
    ] {
        let response = app
            .raw(
                Method::POST,
                TASKS,
                Some(content_type),
                r#"{"title": "x"}"#,
                &[("authorization", &bearer)],
            )
            .await;

        assert_eq!(
            response.status,
            StatusCode::CREATED,
            "{content_type}: {}",
            response.json
        );
    }
}

#[tokio::test]
async fn an_empty_body_reads_as_an_empty_object_whatever_its_content_type() {
    let app = TestApp::new().await;

    for content_type in [None, Some("application/json"), Some("text/plain")] {
        let response = app
            .raw(Method::POST, LOGIN, content_type, Body::empty(), &[])
            .await;

        response.assert_body(
            StatusCode::BAD_REQUEST,
            json!({ "username": ["This field is required."], "password": ["This field is required."] }),
        );
    }
}

/// A NUL character in any text field is a 400 naming the field, as the original app's serializers
/// answered; nothing is stored.
#[tokio::test]
async fn a_nul_character_in_a_text_field_is_400() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let nul = "a\u{0}b-and-more";
    let refused = json!(["Null characters are not allowed."]);

    let mut registration = TestApp::registration("grace_hopper");
    registration["first_name"] = json!(nul);
    registration["password"] = json!(nul);
    let register = app.post_json(REGISTER, &registration, None).await;
    let create = app
        .post_json(
            TASKS,
            &json!({ "title": nul, "description": nul }),
            Some(&access),
        )
        .await;
    let profile = app
        .patch_json(PROFILE, &json!({ "last_name": nul }), Some(&access))
        .await;

    register.assert_body(
        StatusCode::BAD_REQUEST,
        json!({ "first_name": refused, "password": refused }),
    );
    create.assert_body(
        StatusCode::BAD_REQUEST,
        json!({ "title": refused, "description": refused }),
    );
    profile.assert_body(StatusCode::BAD_REQUEST, json!({ "last_name": refused }));
    let tasks = app.get(TASKS, Some(&access)).await;
    assert_eq!(tasks.json["count"], 0);
}
