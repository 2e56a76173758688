//! The original app's users and clients after the move-in: old passwords (upgraded on first
//! login), legacy-shaped usernames, tokens the original issued, and its `null` answers.

use axum::http::StatusCode;
use serde_json::json;
use shared::domain::{Email, PersonName, Timestamp, User, UserId, Username};
use shared::store::Imported;
use testkit::original::{DJANGO_ITERATIONS, django_hash, original_token};

use super::helpers::*;

/// The original app allowed six-character passwords.
const OLD_PASSWORD: &str = "s3cret";

/// Stores a user as the importer would: the original's id, name and Django hash.
async fn imported(app: &TestApp, username: &str, email: &str, iterations: u32) -> User {
    let joined = Timestamp::now().plus_seconds(-86_400 * 400);
    let user = User {
        id: UserId::new(),
        username: Username::existing(username.into()).expect("a legacy name"),
        email: Email::parse(email.into()).expect("an email"),
        first_name: PersonName::parse("Ada".into()).expect("a name"),
        last_name: PersonName::default(),
        password_hash: django_hash(OLD_PASSWORD, "legacysalt", iterations),
        is_superuser: false,
        date_joined: joined,
        last_updated: joined,
        last_login: None,
        version: 0,
        session_epoch: 0,
        ended_sessions: Default::default(),
    };
    let outcome = app.import.import_users(std::slice::from_ref(&user)).await;
    assert_eq!(outcome.expect("importing"), [Imported::Created]);
    user
}

async fn stored_hash(app: &TestApp, id: UserId) -> String {
    let user = app.stores.users.user(id).await.expect("reading");
    user.expect("the user").password_hash
}

#[tokio::test]
async fn an_old_password_logs_in_once_and_is_then_stored_as_argon2id() {
    let app = TestApp::new().await;
    let user = imported(&app, "First.Last", "first@example.com", DJANGO_ITERATIONS).await;

    app.login("first.last", "wrong-password")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    assert!(
        stored_hash(&app, user.id)
            .await
            .starts_with("pbkdf2_sha256$")
    );
    let session = app.login_ok("First.Last", OLD_PASSWORD).await;

    assert_eq!(session.user["username"], "first.last");
    assert_eq!(session.user["id"], user.id.to_string());
    let upgraded = stored_hash(&app, user.id).await;
    assert!(upgraded.starts_with("$argon2id$"), "{upgraded}");
    app.login_ok("first@example.com", OLD_PASSWORD).await;
    app.login("first.last", "wrong-password")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    assert_eq!(stored_hash(&app, user.id).await, upgraded, "upgraded once");
}

/// The original app trimmed every password it read: an old password typed with whitespace at
/// either end logs in, and still does once its hash is upgraded.
#[tokio::test]
async fn an_old_password_typed_with_spaces_logs_in_as_it_did() {
    let app = TestApp::new().await;
    let user = imported(&app, "spaced", "spaced@example.com", DJANGO_ITERATIONS).await;

    app.login_ok("spaced", &format!("{OLD_PASSWORD} ")).await;

    assert!(stored_hash(&app, user.id).await.starts_with("$argon2id$"));
    app.login_ok("spaced", &format!("\t{OLD_PASSWORD}  ")).await;
    app.login_ok("spaced", OLD_PASSWORD).await;
}

#[tokio::test]
async fn a_username_with_an_at_sign_logs_in_by_name_and_by_email() {
    let app = TestApp::new().await;
    imported(&app, "ada@home", "ada@example.com", 1_000).await;

    app.login_ok("ADA@home", OLD_PASSWORD).await;
    app.login_ok("Ada@Example.com", OLD_PASSWORD).await;
}

#[tokio::test]
async fn legacy_shaped_names_stay_for_imported_accounts_only() {
    let app = TestApp::new().await;
    imported(&app, "grace.h", "grace@example.com", 1_000).await;
    let session = app.login_ok("grace.h", OLD_PASSWORD).await;

    let same = json!({ "username": "grace.h", "first_name": "Grace" });
    let kept = app.patch_json(PROFILE, &same, Some(&session.access)).await;
    let renamed = app
        .patch_json(
            PROFILE,
            &json!({ "username": "grace.hopper" }),
            Some(&session.access),
        )
        .await;
    let registered = app
        .post_json(REGISTER, &TestApp::registration("new.name"), None)
        .await;

    kept.assert_status(StatusCode::OK);
    assert_eq!(
        (&kept.json["username"], &kept.json["first_name"]),
        (&json!("grace.h"), &json!("Grace"))
    );
    renamed.assert_field_errors(&["username"]);
    registered.assert_field_errors(&["username"]);
}

/// A new name must pass today's rule as sent: `Admİn_x` and `admin_x` with a Kelvin sign fold
/// into it (İ to i, K to k), but a registration refuses them, and so does a rename.
#[tokio::test]
async fn a_rename_spelled_outside_todays_rule_is_refused_though_it_folds_into_it() {
    let app = TestApp::new().await;
    let session = app.register_user("ada_lovelace").await;

    for spelled in ["Adm\u{130}n_x", "adm\u{130}n_x", "\u{212a}ate_x"] {
        let renamed = app
            .patch_json(
                PROFILE,
                &json!({ "username": spelled }),
                Some(&session.access),
            )
            .await;
        let mut registration = TestApp::registration("someone_x");
        registration["username"] = json!(spelled);
        let registered = app.post_json(REGISTER, &registration, None).await;

        renamed.assert_field_errors(&["username"]);
        registered.assert_field_errors(&["username"]);
    }
    let profile = app.get(PROFILE, Some(&session.access)).await;
    assert_eq!(profile.json["username"], "ada_lovelace");
}

#[tokio::test]
async fn an_access_token_the_original_issued_works_until_it_expires() {
    let app = TestApp::new().await;
    let user = imported(&app, "olduser", "old@example.com", 1_000).await;
    let week = 7 * 24 * 3600;
    let access = original_token(SECRET, &user.id.to_string(), "access", week);
    let expired = original_token(SECRET, &user.id.to_string(), "access", -1);
    let foreign = original_token(OTHER_SECRET, &user.id.to_string(), "access", week);

    let profile = app.get(PROFILE, Some(&access)).await;
    let created = app
        .post_json(
            "/api/v1/tasks/create/",
            &json!({ "title": "old client" }),
            Some(&access),
        )
        .await;
    let verified = app
        .post_json(TOKEN_VERIFY, &json!({ "token": access }), None)
        .await;

    profile.assert_status(StatusCode::OK);
    assert_eq!(profile.json["username"], "olduser");
    created.assert_status(StatusCode::CREATED);
    verified.assert_status(StatusCode::OK);
    for refused in [expired, foreign] {
        assert_unauthorized(
            &app.get(PROFILE, Some(&refused)).await,
            invalid_token_body(),
        );
    }
}

#[tokio::test]
async fn a_refresh_token_the_original_issued_is_refused() {
    let app = TestApp::new().await;
    let user = imported(&app, "olduser", "old@example.com", 1_000).await;
    let refresh = original_token(SECRET, &user.id.to_string(), "refresh", 14 * 24 * 3600);

    let refreshed = app.refresh(&refresh).await;
    let verified = app
        .post_json(TOKEN_VERIFY, &json!({ "token": refresh }), None)
        .await;

    refreshed.assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
    verified.assert_body(StatusCode::UNAUTHORIZED, rejected_token_body());
}

#[tokio::test]
async fn a_null_task_field_is_a_400_naming_it() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let task = app
        .create_task(&access, &json!({ "title": "keep me" }))
        .await;
    let path = task_path(id_of(&task));

    for field in ["title", "description", "status_task"] {
        let response = app
            .patch_json(&path, &json!({ field: null }), Some(&access))
            .await;
        response.assert_body(
            StatusCode::BAD_REQUEST,
            json!({ field: ["This field may not be null."] }),
        );
    }
    let created = app
        .post_json(TASKS, &json!({ "title": null }), Some(&access))
        .await;

    created.assert_body(
        StatusCode::BAD_REQUEST,
        json!({ "title": ["This field may not be null."] }),
    );
    app.get(&path, Some(&access))
        .await
        .assert_body(StatusCode::OK, task);
}

#[tokio::test]
async fn a_legacy_username_shaped_like_an_email_stays_its_owners_after_someone_registers_it() {
    let app = TestApp::new().await;
    let carol = imported(
        &app,
        "carol@corp.com",
        "carol.x@corp.com",
        DJANGO_ITERATIONS,
    )
    .await;
    let mut mallory = TestApp::registration("mallory_1");
    mallory["email"] = json!("CAROL@corp.com");
    app.post_json(REGISTER, &mallory, None)
        .await
        .assert_status(StatusCode::CREATED);

    let session = app.login_ok("Carol@corp.com", OLD_PASSWORD).await;

    assert_eq!(session.user["id"], carol.id.to_string());
    app.login("carol@corp.com", PASSWORD)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.login_ok("mallory_1", PASSWORD).await;
}
