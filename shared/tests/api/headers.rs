//! Response headers every client relies on: what caches may keep, and the request id.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::helpers::{LOGIN, PROFILE, TASKS, TOKEN_REFRESH, TestApp};

#[tokio::test]
async fn answers_that_carry_tokens_are_never_stored_by_any_cache() {
    let app = TestApp::new().await;
    let registered = app.register_user("cache_ada").await;
    let login = app
        .post_json(
            LOGIN,
            &json!({ "username": "cache_ada", "password": super::helpers::PASSWORD }),
            None,
        )
        .await;
    let refresh = app
        .post_json(
            TOKEN_REFRESH,
            &json!({ "refresh": registered.refresh }),
            None,
        )
        .await;

    for (what, response) in [("login", &login), ("refresh", &refresh)] {
        response.assert_status(StatusCode::OK);
        assert_eq!(response.header("cache-control"), Some("no-store"), "{what}");
    }
    let register = app
        .post_json(
            super::helpers::REGISTER,
            &TestApp::registration("cache_bob"),
            None,
        )
        .await;
    register.assert_status(StatusCode::CREATED);
    assert_eq!(register.header("cache-control"), Some("no-store"));
    let failed = app
        .post_json(
            LOGIN,
            &json!({ "username": "cache_ada", "password": "wrong-password-1" }),
            None,
        )
        .await;
    assert_eq!(failed.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn user_data_is_private_and_revalidated() {
    let app = TestApp::new().await;
    let ada = app.register_user("cache_private").await;
    let created = app
        .post_json(TASKS, &json!({ "title": "mine" }), Some(&ada.access))
        .await;
    let profile = app.get(PROFILE, Some(&ada.access)).await;
    let list = app.get(TASKS, Some(&ada.access)).await;
    let refused = app.get(TASKS, None).await;

    for response in [&created, &profile, &list, &refused] {
        assert_eq!(
            response.header("cache-control"),
            Some("private, no-cache"),
            "{}",
            response.json
        );
    }
}

/// A browser takes every answer for the type it says (JSON), never sniffs it into a page.
#[tokio::test]
async fn no_answer_may_be_sniffed_into_another_type() {
    let app = TestApp::new().await;
    let ada = app.register_user("sniff_ada").await;
    let answers = [
        app.get(PROFILE, Some(&ada.access)).await,
        app.get(TASKS, Some(&ada.access)).await,
        app.get(TASKS, None).await,
        app.get("/nowhere", None).await,
        app.delete(TASKS, Some(&ada.access)).await,
        app.refresh(&ada.refresh).await,
    ];
    for response in &answers {
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{} {}",
            response.status,
            response.json
        );
    }
}

#[tokio::test]
async fn a_plain_client_request_id_is_kept_and_any_other_is_replaced() {
    let app = TestApp::new().await;
    let send = async |id: &str| {
        app.raw(Method::GET, TASKS, None, "", &[("x-request-id", id)])
            .await
            .header("x-request-id")
            .map(str::to_owned)
    };

    assert_eq!(send("abc-123-XYZ").await.as_deref(), Some("abc-123-XYZ"));
    for forged in [
        "forged id=admin status=200",
        "a\tb",
        "{\"json\":1}",
        &"x".repeat(65),
        "",
    ] {
        let answered = send(forged).await.expect("every answer has a request id");
        assert_ne!(answered, forged);
        assert!(
            uuid::Uuid::parse_str(&answered).is_ok(),
            "{forged:?} replaced by one of ours, got {answered}"
        );
    }
}

#[tokio::test]
async fn options_anywhere_is_204_with_no_body() {
    let app = TestApp::new().await;
    for path in [TASKS, "/api/v1/tasks/some-id/", "/nowhere"] {
        let response = app.raw(Method::OPTIONS, path, None, "", &[]).await;
        assert_eq!(response.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(response.json, serde_json::Value::Null, "{path}");
    }
}
