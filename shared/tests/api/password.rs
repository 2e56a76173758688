//! Changing the password, and what it revokes.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::helpers::{
    PASSWORD, PASSWORD_CHANGE, PROFILE, TestApp, assert_unauthorized, invalid_token_body, keys,
    rejected_token_body,
};

const NEW_PASSWORD: &str = "a-brand-new-passphrase";

fn change(old: &str, new_1: &str, new_2: &str) -> Value {
    json!({ "old_password": old, "new_password_1": new_1, "new_password_2": new_2 })
}

#[tokio::test]
async fn password_change_with_a_wrong_old_password_is_400_on_old_password() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let response = app
        .post_json(
            PASSWORD_CHANGE,
            &change("not-my-password", NEW_PASSWORD, NEW_PASSWORD),
            Some(&access),
        )
        .await;

    response.assert_field_error("old_password", "Your old password was entered incorrectly.");
    app.login_ok("ada_lovelace", PASSWORD).await;
}

#[tokio::test]
async fn password_change_with_a_mismatched_confirmation_is_400_on_new_password_2() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let response = app
        .post_json(
            PASSWORD_CHANGE,
            &change(PASSWORD, NEW_PASSWORD, "something-else-entirely"),
            Some(&access),
        )
        .await;

    response.assert_field_error("new_password_2", "Value should be same as new_password_1");
    app.login_ok("ada_lovelace", PASSWORD).await;
}

#[tokio::test]
async fn password_change_to_a_weak_password_is_400_on_new_password_1() {
    let cases = [
        (
            "short",
            "This password is too short. It must contain at least 8 characters.",
        ),
        ("12345678901", "This password is entirely numeric."),
    ];
    let long = "p".repeat(129);
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    for (weak, message) in cases.into_iter().chain([(
        long.as_str(),
        "This password is too long. It must contain at most 128 characters.",
    )]) {
        let response = app
            .post_json(
                PASSWORD_CHANGE,
                &change(PASSWORD, weak, weak),
                Some(&access),
            )
            .await;

        response.assert_field_error("new_password_1", message);
    }
    app.login_ok("ada_lovelace", PASSWORD).await;
}

#[tokio::test]
async fn password_change_names_every_wrong_field_at_once() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let response = app
        .post_json(
            PASSWORD_CHANGE,
            &change("not-my-password", "short", "shorter"),
            Some(&access),
        )
        .await;

    response.assert_body(
        StatusCode::BAD_REQUEST,
        json!({
            "old_password": ["Your old password was entered incorrectly."],
            "new_password_1": ["This password is too short. It must contain at least 8 characters."],
            "new_password_2": ["Value should be same as new_password_1"],
        }),
    );
    app.login_ok("ada_lovelace", PASSWORD).await;
}

#[tokio::test]
async fn password_change_with_missing_fields_is_400_naming_each() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let response = app
        .post_json(PASSWORD_CHANGE, &json!({}), Some(&access))
        .await;

    response.assert_body(
        StatusCode::BAD_REQUEST,
        json!({
            "old_password": ["This field is required."],
            "new_password_1": ["This field is required."],
            "new_password_2": ["This field is required."],
        }),
    );
}

#[tokio::test]
async fn password_change_needs_an_access_token() {
    let app = TestApp::new().await;
    let (_, _, refresh) = app.register("ada_lovelace").await;
    let body = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD);

    let missing = app.post_json(PASSWORD_CHANGE, &body, None).await;
    let with_refresh = app.post_json(PASSWORD_CHANGE, &body, Some(&refresh)).await;

    assert_unauthorized(
        &missing,
        json!({ "detail": "Authentication credentials were not provided." }),
    );
    assert_unauthorized(
        &with_refresh,
        json!({ "detail": "Given token not valid for any token type", "code": "token_not_valid" }),
    );
    app.login_ok("ada_lovelace", PASSWORD).await;
}

#[tokio::test]
async fn password_change_succeeds_and_swaps_which_password_logs_in() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let response = app
        .post_json(
            PASSWORD_CHANGE,
            &change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD),
            Some(&access),
        )
        .await;

    response.assert_status(StatusCode::OK);
    assert_eq!(
        keys(&response.json),
        ["access", "detail", "refresh"],
        "the message and a fresh pair"
    );
    assert_eq!(response.json["detail"], "password updated successfully");
    app.login("ada_lovelace", PASSWORD).await.assert_body(
        StatusCode::UNAUTHORIZED,
        json!({ "detail": "Invalid login credentials" }),
    );
    app.login_ok("ada_lovelace", NEW_PASSWORD).await;
}

#[tokio::test]
async fn password_change_revokes_every_refresh_token_issued_before_it() {
    // Arrange: one session from register, one from a login.
    let app = TestApp::new().await;
    let (_, access, register_refresh) = app.register("ada_lovelace").await;
    let login = app.login_ok("ada_lovelace", PASSWORD).await;

    // Act
    app.post_json(
        PASSWORD_CHANGE,
        &change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD),
        Some(&login.access),
    )
    .await
    .assert_status(StatusCode::OK);

    // Assert
    for old in [&register_refresh, &login.refresh] {
        app.refresh(old)
            .await
            .assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
    }
    let after = app.login_ok("ada_lovelace", NEW_PASSWORD).await;
    let rotated = app.refresh(&after.refresh).await;
    rotated.assert_status(StatusCode::OK);
    app.get(PROFILE, Some(rotated.str("access")))
        .await
        .assert_status(StatusCode::OK);
    // Access tokens issued before it end too (every route: `sessions.rs`).
    assert_unauthorized(&app.get(PROFILE, Some(&access)).await, invalid_token_body());
}

#[tokio::test]
async fn password_change_revokes_refresh_tokens_obtained_by_rotation_too() {
    let app = TestApp::new().await;
    let (_, access, refresh) = app.register("ada_lovelace").await;
    let rotated = app.refresh(&refresh).await;
    rotated.assert_status(StatusCode::OK);

    app.post_json(
        PASSWORD_CHANGE,
        &change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD),
        Some(&access),
    )
    .await
    .assert_status(StatusCode::OK);

    app.refresh(rotated.str("refresh"))
        .await
        .assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
}

/// Passwords are read trimmed of surrounding whitespace, as the original app's serializers read
/// them: a new password set with spaces at either end logs in without them, and with others; its
/// confirmation is compared trimmed. (A space a phone's keyboard adds locked its user out.)
#[tokio::test]
async fn passwords_are_read_without_whitespace_at_either_end() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let spaced = format!("  {NEW_PASSWORD}\t");
    let response = app
        .post_json(
            PASSWORD_CHANGE,
            &change(
                &format!("{PASSWORD} "),
                &spaced,
                &format!("{NEW_PASSWORD} "),
            ),
            Some(&access),
        )
        .await;

    response.assert_status(StatusCode::OK);
    app.login_ok("ada_lovelace", NEW_PASSWORD).await;
    app.login_ok("ada_lovelace", &format!(" {NEW_PASSWORD}  "))
        .await;
    app.login("ada_lovelace", &format!("{NEW_PASSWORD}x"))
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}
