//! Registration.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::helpers::{
    PASSWORD, PROFILE, REGISTER, TestApp, USER_FIELDS, assert_uuid, keys, split_auth_body,
    str_field, timestamp,
};

/// Whether any string anywhere in `value` equals `needle`, or any key is `key`.
fn mentions(value: &Value, needle: &str, key: &str) -> bool {
    match value {
        Value::String(text) => text == needle,
        Value::Array(items) => items.iter().any(|item| mentions(item, needle, key)),
        Value::Object(fields) => fields
            .iter()
            .any(|(name, item)| name.contains(key) || mentions(item, needle, key)),
        _ => false,
    }
}

#[tokio::test]
async fn register_answers_201_with_the_user_and_a_token_pair() {
    // Arrange
    let app = TestApp::new().await;
    let body = json!({
        "username": "Ada_Lovelace",
        "email": "Ada.Lovelace@Example.COM",
        "password": PASSWORD,
        "first_name": "Ada",
        "last_name": "Lovelace",
    });

    // Act
    let response = app.post_json(REGISTER, &body, None).await;

    // Assert
    response.assert_status(StatusCode::CREATED);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert!(
        !mentions(&response.json, PASSWORD, "password"),
        "no password in {}",
        response.json
    );
    let registered = split_auth_body(response.json);
    let user = &registered.user;
    assert_eq!(keys(user), USER_FIELDS);
    assert_uuid(str_field(user, "id"));
    assert_eq!(user["username"], "ada_lovelace");
    assert_eq!(user["email"], "ada.lovelace@example.com");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "Lovelace");
    assert_eq!(user["is_superuser"], false);
    timestamp(user, "last_login");
    timestamp(user, "last_updated");
    assert_ne!(registered.access, registered.refresh);
}

#[tokio::test]
async fn register_tokens_work_right_away() {
    let app = TestApp::new().await;
    let (user, access, refresh) = app.register("grace_hopper").await;

    let profile = app.get(PROFILE, Some(&access)).await;
    let refreshed = app.refresh(&refresh).await;

    profile.assert_body(StatusCode::OK, user);
    refreshed.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn register_without_names_gives_empty_names() {
    let app = TestApp::new().await;
    let body =
        json!({ "username": "no_names", "email": "no_names@example.com", "password": PASSWORD });

    let response = app.post_json(REGISTER, &body, None).await;

    response.assert_status(StatusCode::CREATED);
    assert_eq!(response.json["first_name"], "");
    assert_eq!(response.json["last_name"], "");
}

#[tokio::test]
async fn register_accepts_the_path_without_trailing_slash() {
    let app = TestApp::new().await;

    let response = app
        .post_json(
            "/api/v1/auth/register",
            &TestApp::registration("no_slash"),
            None,
        )
        .await;

    response.assert_status(StatusCode::CREATED);
    assert_eq!(response.json["username"], "no_slash");
}

#[tokio::test]
async fn register_accepts_boundary_lengths() {
    let app = TestApp::new().await;
    let cases = [
        json!({ "username": "abcd", "email": "abcd@example.com", "password": "abcdefg1" }),
        json!({
            "username": "a".repeat(30),
            "email": format!("{}@{}.com", "b".repeat(64), "c".repeat(63)),
            "password": "p".repeat(128),
            "first_name": "f".repeat(150),
            "last_name": "l".repeat(150),
        }),
    ];
    for body in cases {
        let response = app.post_json(REGISTER, &body, None).await;

        response.assert_status(StatusCode::CREATED);
    }
}

#[tokio::test]
async fn register_with_every_field_bad_names_them_all_at_once() {
    let app = TestApp::new().await;
    let body = json!({
        "username": "ab",
        "email": "not-an-email",
        "password": "short",
        "first_name": "f".repeat(151),
        "last_name": "l".repeat(151),
    });

    let response = app.post_json(REGISTER, &body, None).await;

    response.assert_body(
        StatusCode::BAD_REQUEST,
        json!({
            "username": ["Ensure this field has at least 4 characters."],
            "email": ["Enter a valid email address."],
            "password": ["This password is too short. It must contain at least 8 characters."],
            "first_name": ["Ensure this field has no more than 150 characters."],
            "last_name": ["Ensure this field has no more than 150 characters."],
        }),
    );
}

#[tokio::test]
async fn register_with_an_invalid_field_is_400_naming_it() {
    const INVALID_USERNAME: &str =
        "Enter a valid username. It may contain only letters, numbers and _ characters.";
    let long_email = format!(
        "{}@{}.{}.com",
        "a".repeat(64),
        "b".repeat(63),
        "c".repeat(123)
    );
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "username too short",
            json!("abc"),
            "username",
            "Ensure this field has at least 4 characters.",
        ),
        (
            "username too long",
            json!("a".repeat(31)),
            "username",
            "Ensure this field has no more than 30 characters.",
        ),
        (
            "username with a space",
            json!("ada love"),
            "username",
            INVALID_USERNAME,
        ),
        (
            "username with a dash",
            json!("ada-love"),
            "username",
            INVALID_USERNAME,
        ),
        (
            "username with an accent",
            json!("émile_z"),
            "username",
            INVALID_USERNAME,
        ),
        (
            "blank username",
            json!(""),
            "username",
            "Ensure this field has at least 4 characters.",
        ),
        (
            "email without @",
            json!("ada.example.com"),
            "email",
            "Enter a valid email address.",
        ),
        (
            "email without domain dot",
            json!("ada@example"),
            "email",
            "Enter a valid email address.",
        ),
        (
            "email with a space",
            json!("a da@example.com"),
            "email",
            "Enter a valid email address.",
        ),
        (
            "email too long",
            json!(long_email),
            "email",
            "Ensure this field has no more than 254 characters.",
        ),
        (
            "short password",
            json!("abc1234"),
            "password",
            "This password is too short. It must contain at least 8 characters.",
        ),
        (
            "numeric password",
            json!("1234567890"),
            "password",
            "This password is entirely numeric.",
        ),
        (
            "long password",
            json!("p".repeat(129)),
            "password",
            "This password is too long. It must contain at most 128 characters.",
        ),
        (
            "long first name",
            json!("f".repeat(151)),
            "first_name",
            "Ensure this field has no more than 150 characters.",
        ),
        (
            "long last name",
            json!("l".repeat(151)),
            "last_name",
            "Ensure this field has no more than 150 characters.",
        ),
    ];
    let app = TestApp::new().await;
    for (case, value, field, message) in cases {
        let mut body = TestApp::registration("valid_name");
        body[field] = value;

        let response = app.post_json(REGISTER, &body, None).await;

        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            response.json
        );
        assert_eq!(response.json, json!({ field: [message] }), "{case}");
    }
    // None of the refused registrations created the account.
    app.post_json(REGISTER, &TestApp::registration("valid_name"), None)
        .await
        .assert_status(StatusCode::CREATED);
}

#[tokio::test]
async fn register_with_missing_fields_is_400_naming_each() {
    let cases: [(Value, &[&str]); 4] = [
        (json!({}), &["username", "email", "password"]),
        (json!({ "username": "only_name" }), &["email", "password"]),
        (
            json!({ "email": "e@example.com", "password": PASSWORD }),
            &["username"],
        ),
        (
            json!({ "username": "no_pass", "email": "e@example.com" }),
            &["password"],
        ),
    ];
    let app = TestApp::new().await;
    for (body, fields) in cases {
        let response = app.post_json(REGISTER, &body, None).await;

        response.assert_field_errors(fields);
        for field in fields {
            assert_eq!(
                response.json[field],
                json!(["This field is required."]),
                "{field} in {body}"
            );
        }
    }
}

#[tokio::test]
async fn register_with_a_taken_username_in_another_case_is_400() {
    let app = TestApp::new().await;
    app.register("ada_lovelace").await;
    let body =
        json!({ "username": "ADA_Lovelace", "email": "other@example.com", "password": PASSWORD });

    let response = app.post_json(REGISTER, &body, None).await;

    response.assert_field_error("username", "User with this username already exists.");
}

#[tokio::test]
async fn register_with_a_taken_email_in_another_case_is_400() {
    let app = TestApp::new().await;
    app.register("ada_lovelace").await;
    let body = json!({
        "username": "someone_else",
        "email": "ADA_LOVELACE@Example.com",
        "password": PASSWORD,
    });

    let response = app.post_json(REGISTER, &body, None).await;

    response.assert_field_error("email", "User with this email already exists.");
}

#[tokio::test]
async fn register_with_taken_username_and_email_names_both() {
    let app = TestApp::new().await;
    app.register("ada_lovelace").await;

    let response = app
        .post_json(REGISTER, &TestApp::registration("ada_lovelace"), None)
        .await;

    response.assert_body(
        StatusCode::BAD_REQUEST,
        json!({
            "username": ["User with this username already exists."],
            "email": ["User with this email already exists."],
        }),
    );
}

#[tokio::test]
async fn register_ignores_mass_assigned_fields() {
    let app = TestApp::new().await;
    let chosen_id = "00000000-0000-4000-8000-000000000001";
    let mut body = TestApp::registration("sneaky_user");
    body["is_superuser"] = json!(true);
    body["id"] = json!(chosen_id);
    body["is_staff"] = json!(true);
    body["last_login"] = json!("2000-01-01T00:00:00Z");
    body["tokens"] = json!({ "access": "x", "refresh": "y" });

    let response = app.post_json(REGISTER, &body, None).await;

    response.assert_status(StatusCode::CREATED);
    let registered = split_auth_body(response.json);
    assert_eq!(registered.user["is_superuser"], false);
    assert_ne!(registered.user["id"], chosen_id);
    assert_ne!(registered.user["last_login"], "2000-01-01T00:00:00Z");
    assert_ne!(registered.access, "x");
    let profile = app.get(PROFILE, Some(&registered.access)).await;
    assert_eq!(profile.json["is_superuser"], false);
}

/// Usernames and first and last names are trimmed, as the original app's serializer trimmed text
/// (and as a login trims the name it is given): a padded name registers, and logs in unpadded.
#[tokio::test]
async fn register_trims_the_names_it_is_given() {
    let app = TestApp::new().await;
    let mut body = TestApp::registration("padded_user");
    body["username"] = json!("  Padded_User\t");
    body["first_name"] = json!(" Ada ");

    let response = app.post_json(REGISTER, &body, None).await;

    response.assert_status(StatusCode::CREATED);
    let registered = split_auth_body(response.json);
    assert_eq!(registered.user["username"], "padded_user");
    assert_eq!(registered.user["first_name"], "Ada");
}
