//! A logout ends the one session its refresh token belongs to: every token of that session, its
//! access tokens included, is refused from then on, whichever of its refresh tokens was sent; the
//! user's other sessions go on.

use axum::http::StatusCode;
use serde_json::json;

use super::helpers::{
    LOGOUT, PASSWORD, PROFILE, TOKEN_VERIFY, TestApp, assert_unauthorized, rejected_token_body,
};
use super::sessions::assert_refused_everywhere;

async fn logout(app: &TestApp, refresh: &str) {
    app.post_json(LOGOUT, &json!({ "refresh": refresh }), None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn logout_refuses_every_access_token_of_the_session_and_no_other() {
    let app = TestApp::new().await;
    let first = app.register_user("ada_lovelace").await;
    let other = app.login_ok("ada_lovelace", PASSWORD).await;
    let task = app
        .create_task(&first.access, &json!({ "title": "Mine" }))
        .await;
    let rotated = app.refresh(&first.refresh).await;
    rotated.assert_status(StatusCode::OK);
    let (rotated_access, rotated_refresh) = (rotated.str("access"), rotated.str("refresh"));

    logout(&app, rotated_refresh).await;

    // The session's access tokens, from before and after its refresh.
    for access in [first.access.as_str(), rotated_access] {
        assert_refused_everywhere(&app, access, &task, &other.access).await;
    }
    // (The spent first refresh token is not sent again: that would be a replay, which ends this
    // session too.)
    assert_unauthorized(&app.refresh(rotated_refresh).await, rejected_token_body());
    app.post_json(TOKEN_VERIFY, &json!({ "token": rotated_refresh }), None)
        .await
        .assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
    // The other session was not a replay's victim: it goes on, refreshes included.
    app.get(PROFILE, Some(&other.access))
        .await
        .assert_status(StatusCode::OK);
    let refreshed = app.refresh(&other.refresh).await;
    refreshed.assert_status(StatusCode::OK);
    app.get(PROFILE, Some(refreshed.str("access")))
        .await
        .assert_status(StatusCode::OK);
}

/// A client that lost a refresh's answer still holds the spent token, and may log out with it:
/// the session's newer tokens end too, and the user's other sessions are not ended as a replay's.
#[tokio::test]
async fn logout_with_a_refreshed_token_ends_the_newer_tokens_of_its_session() {
    let app = TestApp::new().await;
    let first = app.register_user("ada_lovelace").await;
    let other = app.login_ok("ada_lovelace", PASSWORD).await;
    let rotated = app.refresh(&first.refresh).await;
    rotated.assert_status(StatusCode::OK);
    let (newer_access, newer_refresh) = (rotated.str("access"), rotated.str("refresh"));

    logout(&app, &first.refresh).await;

    assert_unauthorized(&app.refresh(newer_refresh).await, rejected_token_body());
    for token in [newer_access, newer_refresh] {
        app.post_json(TOKEN_VERIFY, &json!({ "token": token }), None)
            .await
            .assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
    }
    app.get(PROFILE, Some(newer_access))
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.refresh(&other.refresh)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn logging_out_twice_or_after_logout_all_is_fine() {
    let app = TestApp::new().await;
    let registered = app.register_user("ada_lovelace").await;

    logout(&app, &registered.refresh).await;
    logout(&app, &registered.refresh).await;

    let again = app.login_ok("ada_lovelace", PASSWORD).await;
    app.request(
        axum::http::Method::POST,
        super::helpers::LOGOUT_ALL,
        None,
        Some(&again.access),
    )
    .await
    .assert_status(StatusCode::NO_CONTENT);
    logout(&app, &again.refresh).await;
    app.login_ok("ada_lovelace", PASSWORD).await;
}
