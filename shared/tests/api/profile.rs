//! The caller's profile: reading it, updating it, and the bearer-token checks every protected
//! route shares.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::helpers::{
    OTHER_SECRET, PASSWORD, PROFILE, SECRET, TestApp, USER_FIELDS, assert_unauthorized,
    forge_tokens, id_of, invalid_token_body, keys, timestamp,
};

#[tokio::test]
async fn profile_answers_the_callers_user() {
    let app = TestApp::new().await;
    let (user, access, _) = app.register("ada_lovelace").await;

    let response = app.get(PROFILE, Some(&access)).await;

    response.assert_body(StatusCode::OK, user);
    assert_eq!(keys(&response.json), USER_FIELDS);
}

#[tokio::test]
async fn profile_accepts_the_path_without_trailing_slash() {
    let app = TestApp::new().await;
    let (user, access, _) = app.register("ada_lovelace").await;

    let response = app.get("/api/v1/auth/profile", Some(&access)).await;

    response.assert_body(StatusCode::OK, user);
}

#[tokio::test]
async fn profile_without_a_token_is_401_with_a_bearer_challenge() {
    let app = TestApp::new().await;

    let response = app.get(PROFILE, None).await;

    assert_unauthorized(
        &response,
        json!({ "detail": "Authentication credentials were not provided." }),
    );
}

#[tokio::test]
async fn profile_with_a_bad_token_is_401_token_not_valid() {
    let app = TestApp::new().await;
    let (user, access, _) = app.register("ada_lovelace").await;
    let id = id_of(&user);
    let expired = forge_tokens(SECRET, id, -60, -60).access;
    let other_key = forge_tokens(OTHER_SECRET, id, 900, 900).access;
    let tampered = flip_char(&access, access.len() - 10);
    let cases = [
        ("garbage", "not-a-jwt".to_owned()),
        ("expired", expired),
        ("signed with another key", other_key),
        ("bad signature", tampered),
        ("alg none", alg_none_token(id)),
    ];
    for (case, token) in cases {
        let response = app.get(PROFILE, Some(&token)).await;

        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_unauthorized(&response, invalid_token_body());
    }
}

/// `token` with the character at `at` replaced by another base64url character.
fn flip_char(token: &str, at: usize) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// An unsigned token with valid access claims for `user`.
fn alg_none_token(user: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = chrono::Utc::now().timestamp();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let claims = json!({
        "token_type": "access", "user_id": user, "jti": "0123456789abcdef0123456789abcdef",
        "iat": now, "exp": now + 600,
    });
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

#[tokio::test]
async fn profile_with_a_refresh_token_as_access_is_401() {
    let app = TestApp::new().await;
    let (_, _, refresh) = app.register("ada_lovelace").await;

    let response = app.get(PROFILE, Some(&refresh)).await;

    assert_unauthorized(&response, invalid_token_body());
}

#[tokio::test]
async fn profile_of_a_user_that_does_not_exist_is_401() {
    let app = TestApp::new().await;
    let ghost = forge_tokens(SECRET, &uuid::Uuid::new_v4().to_string(), 900, 900).access;

    let response = app.get(PROFILE, Some(&ghost)).await;

    assert_unauthorized(&response, invalid_token_body());
}

#[tokio::test]
async fn profile_update_changes_only_the_fields_sent() {
    for method in [Method::PUT, Method::PATCH] {
        let app = TestApp::new().await;
        let (before, access, _) = app.register("ada_lovelace").await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;

        let response = app
            .request(
                method.clone(),
                PROFILE,
                Some(&json!({ "first_name": "Augusta" })),
                Some(&access),
            )
            .await;

        response.assert_status(StatusCode::OK);
        let after = &response.json;
        assert_eq!(after["first_name"], "Augusta", "{method}");
        for unchanged in [
            "id",
            "username",
            "email",
            "last_name",
            "is_superuser",
            "last_login",
        ] {
            assert_eq!(after[unchanged], before[unchanged], "{method}: {unchanged}");
        }
        assert!(
            timestamp(after, "last_updated") > timestamp(&before, "last_updated"),
            "{method}"
        );
        app.get(PROFILE, Some(&access))
            .await
            .assert_body(StatusCode::OK, after.clone());
    }
}

#[tokio::test]
async fn profile_update_lowercases_and_validates_like_register() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let response = app
        .patch_json(
            PROFILE,
            &json!({ "username": "Countess_Ada", "email": "Countess@Example.ORG" }),
            Some(&access),
        )
        .await;

    response.assert_status(StatusCode::OK);
    assert_eq!(response.json["username"], "countess_ada");
    assert_eq!(response.json["email"], "countess@example.org");
    app.login_ok("COUNTESS_ADA", PASSWORD).await;
    app.login_ok("countess@example.org", PASSWORD).await;
}

#[tokio::test]
async fn profile_update_with_bad_fields_is_400_naming_each() {
    let app = TestApp::new().await;
    let (before, access, _) = app.register("ada_lovelace").await;
    let body = json!({
        "username": "ada lovelace",
        "email": "nope",
        "first_name": "f".repeat(151),
        "last_name": "l".repeat(151),
    });

    let response = app.put_json(PROFILE, &body, Some(&access)).await;

    response.assert_field_errors(&["username", "email", "first_name", "last_name"]);
    assert_eq!(
        response.json["username"],
        json!(["Enter a valid username. It may contain only letters, numbers and _ characters."]),
        "the words register uses"
    );
    app.get(PROFILE, Some(&access))
        .await
        .assert_body(StatusCode::OK, before);
}

#[tokio::test]
async fn a_new_name_too_short_is_named_beside_other_bad_fields() {
    let app = TestApp::new().await;
    let (before, access, _) = app.register("ada_lovelace").await;
    let body = json!({ "username": "x", "email": "nope", "first_name": "f".repeat(151) });

    let response = app.patch_json(PROFILE, &body, Some(&access)).await;

    response.assert_field_errors(&["username", "email", "first_name"]);
    assert_eq!(
        response.json["username"],
        json!(["Ensure this field has at least 4 characters."])
    );
    app.get(PROFILE, Some(&access))
        .await
        .assert_body(StatusCode::OK, before);
}

#[tokio::test]
async fn profile_fields_sent_as_null_are_400_naming_each() {
    let app = TestApp::new().await;
    let (before, access, _) = app.register("ada_lovelace").await;
    let body = json!({ "username": null, "email": null, "first_name": null, "last_name": null });

    let response = app.patch_json(PROFILE, &body, Some(&access)).await;

    response.assert_field_errors(&["username", "email", "first_name", "last_name"]);
    assert_eq!(
        response.json["email"],
        json!(["This field may not be null."])
    );
    app.get(PROFILE, Some(&access))
        .await
        .assert_body(StatusCode::OK, before);
}

#[tokio::test]
async fn profile_rename_frees_the_old_name_for_someone_else() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    app.patch_json(
        PROFILE,
        &json!({ "username": "countess", "email": "countess@example.org" }),
        Some(&access),
    )
    .await
    .assert_status(StatusCode::OK);
    let (taker, _, _) = app.register("ADA_LOVELACE").await;

    assert_eq!(taker["username"], "ada_lovelace");
    assert_eq!(taker["email"], "ada_lovelace@example.com");
    app.login("ada_lovelace", PASSWORD)
        .await
        .assert_status(StatusCode::OK);
    let renamed = app.login_ok("countess", PASSWORD).await;
    assert_ne!(renamed.user["id"], taker["id"]);
}

#[tokio::test]
async fn profile_update_to_a_taken_name_or_email_is_400() {
    let cases = [
        (
            json!({ "username": "Grace_Hopper" }),
            "username",
            "User with this username already exists.",
        ),
        (
            json!({ "email": "GRACE_HOPPER@example.com" }),
            "email",
            "User with this email already exists.",
        ),
    ];
    let app = TestApp::new().await;
    app.register("grace_hopper").await;
    let (before, access, _) = app.register("ada_lovelace").await;
    for (body, field, message) in cases {
        let response = app.patch_json(PROFILE, &body, Some(&access)).await;

        response.assert_field_error(field, message);
    }
    app.get(PROFILE, Some(&access))
        .await
        .assert_body(StatusCode::OK, before);
}

#[tokio::test]
async fn profile_update_to_ones_own_name_in_another_case_is_fine() {
    let app = TestApp::new().await;
    let (before, access, _) = app.register("ada_lovelace").await;

    let response = app
        .patch_json(
            PROFILE,
            &json!({ "username": "ADA_LOVELACE" }),
            Some(&access),
        )
        .await;

    response.assert_status(StatusCode::OK);
    assert_eq!(response.json["username"], before["username"]);
}

#[tokio::test]
async fn profile_update_ignores_id_superuser_dates_and_password() {
    let app = TestApp::new().await;
    let (before, access, _) = app.register("ada_lovelace").await;
    let body = json!({
        "id": "00000000-0000-4000-8000-000000000001",
        "is_superuser": true,
        "last_login": "2000-01-01T00:00:00Z",
        "last_updated": "2000-01-01T00:00:00Z",
        "date_joined": "2000-01-01T00:00:00Z",
        "password": "a-new-password-123",
    });

    let response = app.patch_json(PROFILE, &body, Some(&access)).await;

    response.assert_status(StatusCode::OK);
    assert_eq!(response.json, before);
    app.login_ok("ada_lovelace", PASSWORD).await;
    app.login("ada_lovelace", "a-new-password-123")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn profile_update_needs_a_token() {
    let app = TestApp::new().await;
    let (_, _, refresh) = app.register("ada_lovelace").await;
    let body = json!({ "first_name": "Nobody" });

    let missing = app.patch_json(PROFILE, &body, None).await;
    let refresh_as_access = app.put_json(PROFILE, &body, Some(&refresh)).await;

    assert_unauthorized(
        &missing,
        json!({ "detail": "Authentication credentials were not provided." }),
    );
    assert_unauthorized(&refresh_as_access, invalid_token_body());
}

#[tokio::test]
async fn profile_update_with_an_empty_body_changes_nothing() {
    let app = TestApp::new().await;
    let (before, access, _) = app.register("ada_lovelace").await;

    let response = app.put_json(PROFILE, &json!({}), Some(&access)).await;

    response.assert_body(StatusCode::OK, before);
}

#[tokio::test]
async fn profile_updates_touch_only_the_callers_account() {
    let app = TestApp::new().await;
    let (_, ada, _) = app.register("ada_lovelace").await;
    let (grace, grace_access, _) = app.register("grace_hopper").await;

    app.patch_json(PROFILE, &json!({ "first_name": "Changed" }), Some(&ada))
        .await
        .assert_status(StatusCode::OK);

    let response = app.get(PROFILE, Some(&grace_access)).await;
    response.assert_body(StatusCode::OK, grace);
    assert_eq!(response.json["first_name"], Value::from("Ada"));
}
