//! Login by username or email.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::helpers::{
    LOGIN, PASSWORD, PROFILE, REGISTER, TestApp, USER_FIELDS, keys, split_auth_body, timestamp,
};

#[tokio::test]
async fn login_by_username_in_any_case_answers_the_user_and_tokens() {
    let app = TestApp::new().await;
    let (registered, _, _) = app.register("ada_lovelace").await;

    let response = app.login("ADA_LoveLace", PASSWORD).await;

    response.assert_status(StatusCode::OK);
    let login = split_auth_body(response.json);
    assert_eq!(keys(&login.user), USER_FIELDS);
    assert_eq!(login.user["id"], registered["id"]);
    assert_eq!(login.user["username"], "ada_lovelace");
    assert!(timestamp(&login.user, "last_login") >= timestamp(&registered, "last_login"));
    app.get(PROFILE, Some(&login.access))
        .await
        .assert_status(StatusCode::OK);
}

/// Whitespace around the name (a phone's keyboard adds a space after a word) is not part of it;
/// inside it, it is, and around the password it is too.
#[tokio::test]
async fn login_reads_the_name_without_whitespace_around_it() {
    let app = TestApp::new().await;
    let (registered, _, _) = app.register("ada_lovelace").await;

    for login in [
        "ada_lovelace ",
        " Ada_Lovelace\t",
        " ada_lovelace@example.com ",
    ] {
        let response = app.login(login, PASSWORD).await;
        response.assert_status(StatusCode::OK);
        assert_eq!(response.json["id"], registered["id"], "{login:?}");
    }
    // Whitespace inside a name is part of it. (A password is read trimmed too, as the original
    // app read it: `api::password::passwords_are_read_without_whitespace_at_either_end`.)
    app.login("ada lovelace", PASSWORD)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_by_email_in_any_case_answers_the_user_and_tokens() {
    let app = TestApp::new().await;
    let (registered, _, _) = app.register("ada_lovelace").await;

    let response = app.login("Ada_Lovelace@EXAMPLE.com", PASSWORD).await;

    response.assert_status(StatusCode::OK);
    let login = split_auth_body(response.json);
    assert_eq!(login.user["id"], registered["id"]);
    assert_eq!(login.user["email"], "ada_lovelace@example.com");
}

#[tokio::test]
async fn login_records_the_new_last_login() {
    let app = TestApp::new().await;
    let (registered, _, _) = app.register("ada_lovelace").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let login = app.login_ok("ada_lovelace", PASSWORD).await;

    assert!(timestamp(&login.user, "last_login") > timestamp(&registered, "last_login"));
    let profile = app.get(PROFILE, Some(&login.access)).await;
    assert_eq!(profile.json["last_login"], login.user["last_login"]);
}

#[tokio::test]
async fn login_with_a_wrong_password_is_401() {
    let app = TestApp::new().await;
    app.register("ada_lovelace").await;

    let response = app.login("ada_lovelace", "wrong-password").await;

    response.assert_body(
        StatusCode::UNAUTHORIZED,
        json!({ "detail": "Invalid login credentials" }),
    );
}

#[tokio::test]
async fn login_with_unknown_user_is_401() {
    let app = TestApp::new().await;

    let response = app.login("nobody_here", PASSWORD).await;

    response.assert_body(
        StatusCode::UNAUTHORIZED,
        json!({ "detail": "Invalid login credentials" }),
    );
}

#[tokio::test]
async fn login_failures_do_not_tell_whether_the_user_exists() {
    let app = TestApp::new().await;
    app.register("ada_lovelace").await;

    let wrong_password = app.login("ada_lovelace", "wrong-password").await;
    let unknown_user = app.login("nobody_here", "wrong-password").await;
    let unknown_email = app.login("nobody@example.com", "wrong-password").await;
    let invalid_name = app.login("x", "wrong-password").await;

    for other in [&unknown_user, &unknown_email, &invalid_name] {
        assert_eq!(other.status, wrong_password.status);
        assert_eq!(other.json, wrong_password.json);
        assert_eq!(
            other.header("www-authenticate"),
            wrong_password.header("www-authenticate")
        );
    }
}

#[tokio::test]
async fn login_with_missing_fields_is_400_naming_each() {
    let cases: [(Value, &[&str]); 3] = [
        (json!({}), &["username", "password"]),
        (json!({ "username": "ada_lovelace" }), &["password"]),
        (json!({ "password": PASSWORD }), &["username"]),
    ];
    let app = TestApp::new().await;
    for (body, fields) in cases {
        let response = app.post_json(LOGIN, &body, None).await;

        response.assert_field_errors(fields);
        for field in fields {
            assert_eq!(response.json[field], json!(["This field is required."]));
        }
    }
}

#[tokio::test]
async fn login_accepts_the_path_without_trailing_slash() {
    let app = TestApp::new().await;
    app.register("ada_lovelace").await;

    let response = app
        .post_json(
            "/api/v1/auth/login",
            &json!({ "username": "ada_lovelace", "password": PASSWORD }),
            None,
        )
        .await;

    response.assert_status(StatusCode::OK);
}

/// Addresses the original app's validator took (an internationalised domain, `localhost`, an
/// address literal, a quoted local part) register, and their users sign in with them in any case.
/// An internationalised domain is kept in its ASCII form, so its every spelling is one address.
#[tokio::test]
async fn every_address_the_original_app_took_registers_and_signs_in() {
    let app = TestApp::new().await;
    for (n, (email, stored)) in [
        ("Ada@Exämple.com", "ada@xn--exmple-cua.com"),
        ("ada@localhost", "ada@localhost"),
        ("ada@[192.0.2.1]", "ada@[192.0.2.1]"),
        (
            "\"ada\\ lovelace\"@example.com",
            "\"ada\\ lovelace\"@example.com",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let username = format!("address_{n}");
        let mut body = TestApp::registration(&username);
        body["email"] = json!(email);
        let registered = app.post_json(REGISTER, &body, None).await;
        registered.assert_status(StatusCode::CREATED);
        assert_eq!(registered.json["email"], json!(stored), "{email}");

        for spelled in [email.to_uppercase(), stored.to_owned()] {
            app.login(&spelled, PASSWORD)
                .await
                .assert_status(StatusCode::OK);
        }
    }
    let mut again = TestApp::registration("address_again");
    again["email"] = json!("ada@xn--exmple-cua.com");
    app.post_json(REGISTER, &again, None)
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}
