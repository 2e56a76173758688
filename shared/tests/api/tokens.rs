//! Token verify, refresh rotation and logout.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use shared::config::AuthConfig;

use super::helpers::{
    LOGOUT, OTHER_SECRET, PASSWORD, PROFILE, SECRET, TOKEN_VERIFY, TestApp, assert_unauthorized,
    forge_tokens, id_of, keys, rejected_token_body,
};

#[tokio::test]
async fn verify_accepts_a_live_access_or_refresh_token() {
    let app = TestApp::new().await;
    let (_, access, refresh) = app.register("ada_lovelace").await;

    for token in [&access, &refresh] {
        let response = app
            .post_json(TOKEN_VERIFY, &json!({ "token": token }), None)
            .await;

        response.assert_body(StatusCode::OK, json!({ "message": "Token is valid" }));
    }
}

#[tokio::test]
async fn verify_accepts_the_path_without_trailing_slash() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;

    let response = app
        .post_json(
            "/api/v1/auth/token/verify",
            &json!({ "token": access }),
            None,
        )
        .await;

    response.assert_body(StatusCode::OK, json!({ "message": "Token is valid" }));
}

#[tokio::test]
async fn verify_refuses_garbage_expired_foreign_and_orphan_tokens() {
    let app = TestApp::new().await;
    let (user, _, _) = app.register("ada_lovelace").await;
    let id = id_of(&user);
    let cases = [
        ("garbage", "garbage".to_owned()),
        ("empty", String::new()),
        ("expired access", forge_tokens(SECRET, id, -60, 3600).access),
        (
            "expired refresh",
            forge_tokens(SECRET, id, 900, -60).refresh,
        ),
        (
            "another key",
            forge_tokens(OTHER_SECRET, id, 900, 900).access,
        ),
        (
            "user that does not exist",
            forge_tokens(SECRET, &uuid::Uuid::new_v4().to_string(), 900, 900).access,
        ),
    ];
    for (case, token) in cases {
        let response = app
            .post_json(TOKEN_VERIFY, &json!({ "token": token }), None)
            .await;

        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_unauthorized(&response, rejected_token_body());
    }
}

#[tokio::test]
async fn verify_without_a_token_is_400() {
    let app = TestApp::new().await;

    let response = app.post_json(TOKEN_VERIFY, &json!({}), None).await;

    response.assert_field_error("token", "This field is required.");
}

#[tokio::test]
async fn refresh_answers_a_new_pair_that_works() {
    let app = TestApp::new().await;
    let (user, access, refresh) = app.register("ada_lovelace").await;

    let response = app.refresh(&refresh).await;

    response.assert_status(StatusCode::OK);
    assert_eq!(keys(&response.json), ["access", "refresh"]);
    let (new_access, new_refresh) = (response.str("access"), response.str("refresh"));
    assert_ne!(new_access, access);
    assert_ne!(new_refresh, refresh);
    app.get(PROFILE, Some(new_access))
        .await
        .assert_body(StatusCode::OK, user);
    app.refresh(new_refresh).await.assert_status(StatusCode::OK);
}

/// A session refreshed again and again still ends at its maximum age from its sign-in: its
/// tokens expire with it, and its user signs in again.
#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_often_it_is_refreshed() {
    let app = TestApp::with_auth(AuthConfig {
        session_max_age_seconds: 4,
        ..AuthConfig::with_secret(SECRET)
    })
    .await;
    let (user, access, refresh) = app.register("ada_lovelace").await;
    // Timed from the sign-in's own whole second, as the server counts it.
    let signed_in = testkit::token_claim(&access, "auth_time");

    // Refreshed early: a refresh that restarted the session's clock (at a second past the
    // sign-in at least) would keep its tokens alive past the checks below.
    testkit::sleep_until_unix(signed_in, Duration::from_millis(1200)).await;
    let renewed = app.refresh(&refresh).await;
    renewed.assert_status(StatusCode::OK);
    let (access, refresh) = (renewed.str("access"), renewed.str("refresh"));
    assert_eq!(testkit::token_claim(access, "auth_time"), signed_in);
    app.get(PROFILE, Some(access))
        .await
        .assert_status(StatusCode::OK);
    testkit::sleep_until_unix(signed_in, Duration::from_millis(4300)).await;

    app.refresh(refresh)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.get(PROFILE, Some(access))
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let again = app.login_ok("ada_lovelace", PASSWORD).await;
    let profile = app.get(PROFILE, Some(&again.access)).await;
    profile.assert_status(StatusCode::OK);
    assert_eq!(profile.json["id"], user["id"]);
}

#[tokio::test]
async fn refresh_accepts_the_path_without_trailing_slash() {
    let app = TestApp::new().await;
    let (_, _, refresh) = app.register("ada_lovelace").await;

    let response = app
        .post_json(
            "/api/v1/auth/token/refresh",
            &json!({ "refresh": refresh }),
            None,
        )
        .await;

    response.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn refresh_token_reuse_is_401() {
    let app = TestApp::new().await;
    let (_, _, refresh) = app.register("ada_lovelace").await;
    app.refresh(&refresh).await.assert_status(StatusCode::OK);

    let reused = app.refresh(&refresh).await;

    assert_unauthorized(&reused, rejected_token_body());
}

#[tokio::test]
async fn refresh_rotation_walks_a_chain_and_replaying_any_used_link_burns_it() {
    let app = TestApp::new().await;
    let (_, _, mut current) = app.register("ada_lovelace").await;
    let mut used = Vec::new();

    for _ in 0..3 {
        let response = app.refresh(&current).await;
        response.assert_status(StatusCode::OK);
        used.push(std::mem::replace(
            &mut current,
            response.str("refresh").to_owned(),
        ));
    }

    for old in &used {
        app.refresh(old)
            .await
            .assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
    }
    // A replay means a copy is loose: the newest link dies too (RFC 9700 §4.14.2).
    app.refresh(&current)
        .await
        .assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
}

#[tokio::test]
async fn refresh_with_an_access_token_is_401() {
    let app = TestApp::new().await;
    let (_, access, refresh) = app.register("ada_lovelace").await;

    let response = app.refresh(&access).await;

    assert_unauthorized(&response, rejected_token_body());
    app.refresh(&refresh).await.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn refresh_with_a_bad_token_is_401() {
    let app = TestApp::new().await;
    let (user, _, _) = app.register("ada_lovelace").await;
    let id = id_of(&user);
    let cases = [
        ("garbage", "garbage".to_owned()),
        ("expired", forge_tokens(SECRET, id, 900, -60).refresh),
        (
            "another key",
            forge_tokens(OTHER_SECRET, id, 900, 900).refresh,
        ),
        // Well signed, but never issued by this server, so never stored.
        ("never issued", forge_tokens(SECRET, id, 900, 900).refresh),
        (
            "user that does not exist",
            forge_tokens(SECRET, &uuid::Uuid::new_v4().to_string(), 900, 900).refresh,
        ),
    ];
    for (case, token) in cases {
        let response = app.refresh(&token).await;

        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_unauthorized(&response, rejected_token_body());
    }
}

#[tokio::test]
async fn refresh_without_a_token_is_400() {
    let app = TestApp::new().await;

    let response = app
        .post_json("/api/v1/auth/token/refresh/", &json!({}), None)
        .await;

    response.assert_field_error("refresh", "This field is required.");
}

#[tokio::test]
async fn logout_answers_204_and_the_refresh_token_stops_working() {
    let app = TestApp::new().await;
    let (_, _, refresh) = app.register("ada_lovelace").await;

    let response = app
        .post_json(LOGOUT, &json!({ "refresh": refresh }), None)
        .await;

    response.assert_status(StatusCode::NO_CONTENT);
    assert_eq!(response.json, serde_json::Value::Null, "204 has no body");
    assert_unauthorized(&app.refresh(&refresh).await, rejected_token_body());
}

#[tokio::test]
async fn logout_ends_only_that_session() {
    let app = TestApp::new().await;
    let (_, _, first) = app.register("ada_lovelace").await;
    let second = app.login_ok("ada_lovelace", PASSWORD).await;

    app.post_json(LOGOUT, &json!({ "refresh": second.refresh }), None)
        .await
        .assert_status(StatusCode::NO_CONTENT);

    app.refresh(&second.refresh)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.refresh(&first).await.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn logout_with_an_access_token_is_401() {
    let app = TestApp::new().await;
    let (_, access, refresh) = app.register("ada_lovelace").await;

    let response = app
        .post_json(LOGOUT, &json!({ "refresh": access }), None)
        .await;

    assert_unauthorized(&response, rejected_token_body());
    app.refresh(&refresh).await.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn logout_with_garbage_is_401_and_without_a_token_is_400() {
    let app = TestApp::new().await;

    let garbage = app
        .post_json(LOGOUT, &json!({ "refresh": "garbage" }), None)
        .await;
    let missing = app.post_json(LOGOUT, &json!({}), None).await;

    assert_unauthorized(&garbage, rejected_token_body());
    missing.assert_field_error("refresh", "This field is required.");
}

#[tokio::test]
async fn logout_accepts_the_path_without_trailing_slash() {
    let app = TestApp::new().await;
    let (_, _, refresh) = app.register("ada_lovelace").await;

    let response = app
        .post_json("/api/v1/auth/logout", &json!({ "refresh": refresh }), None)
        .await;

    response.assert_status(StatusCode::NO_CONTENT);
}

/// Verify must not call a refresh token valid once refresh would refuse it: the error type's own
/// contract (`Error::TokenRejected`) lists verify among the endpoints that reject revoked and
/// used tokens.
#[tokio::test]
async fn verify_refuses_a_refresh_token_that_no_longer_works() {
    let app = TestApp::new().await;
    let (_, access, rotated) = app.register("ada_lovelace").await;
    app.refresh(&rotated).await.assert_status(StatusCode::OK);
    let logged_out = app.login_ok("ada_lovelace", PASSWORD).await.refresh;
    app.post_json(LOGOUT, &json!({ "refresh": logged_out }), None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let revoked = app.login_ok("ada_lovelace", PASSWORD).await.refresh;
    let change = json!({ "old_password": PASSWORD, "new_password_1": "new-passphrase-1", "new_password_2": "new-passphrase-1" });
    app.post_json("/api/v1/auth/profile/password/", &change, Some(&access))
        .await
        .assert_status(StatusCode::OK);

    for (case, token) in [
        ("consumed by rotation", rotated),
        ("logged out", logged_out),
        ("revoked by password change", revoked),
    ] {
        assert_unauthorized(&app.refresh(&token).await, rejected_token_body());

        let response = app
            .post_json(TOKEN_VERIFY, &json!({ "token": token }), None)
            .await;

        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "{case}: {}",
            response.json
        );
        assert_unauthorized(&response, rejected_token_body());
    }
}
