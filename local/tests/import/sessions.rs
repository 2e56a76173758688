//! The original app's access tokens after the import: an active user's keep working (the same
//! signing key), an inactive user's are refused, as the original refused them; and an operator
//! lets a user the import left unable to log in back in.

use reqwest::StatusCode;
use testkit::original::original_token;

use super::fixture::{self, BUSY, OLD_PASSWORD};
use super::support::{Answer, Api, Server, run_with_input};
use super::{Setup, assert_run};

/// The original's signing key (its Django `SECRET_KEY`), given to taskmaster at the cut-over.
const ORIGINAL_SECRET: &str = "the-original-django-secret-key-0123456789";

/// An access token the original app issued to the fixture user `username`, valid for a day.
fn original_access(username: &str) -> String {
    let user = fixture::users()
        .into_iter()
        .find(|u| u.username == username);
    let id = fixture::api_id(&user.expect("a fixture user"));
    original_token(ORIGINAL_SECRET, &id, "access", 24 * 3600)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_inactive_users_original_token_is_401_and_an_active_users_works() {
    let setup = Setup::new(false).await;
    assert_run(&setup.import(&[]), 2, &[]);
    let env = [("TASKMASTER_JWT_SECRET", ORIGINAL_SECRET)];
    let server = Server::start_with_env(setup.dir.path(), &[], &env);
    let api = Api::new(&server);

    let active = api.get("tasks/", &original_access(BUSY)).await;
    let inactive = api.get("tasks/", &original_access("sleeper")).await;

    active.expect(StatusCode::OK);
    inactive.expect(StatusCode::UNAUTHORIZED);
}

/// A user the import brought over unable to log in (inactive in the original) logs in once an
/// operator gives it a password with `set-password`.
#[tokio::test(flavor = "multi_thread")]
async fn set_password_lets_in_a_user_imported_unable_to_log_in() {
    let setup = Setup::new(false).await;
    assert_run(&setup.import(&[]), 2, &[]);
    let mut server = Server::start(setup.dir.path());
    let api = Api::new(&server);
    sleepers_login(&api, OLD_PASSWORD)
        .await
        .expect(StatusCode::UNAUTHORIZED);
    server.stop();

    let new_password = "a new start for sleeper";
    let args = ["set-password", "--username", "sleeper"];
    let run = run_with_input(&args, setup.dir.path(), &format!("{new_password}\n"), &[]);
    assert_eq!(run.status.code(), Some(0), "{run:#?}");

    let server = Server::start(setup.dir.path());
    sleepers_login(&Api::new(&server), new_password)
        .await
        .expect(StatusCode::OK);
}

async fn sleepers_login(api: &Api, password: &str) -> Answer {
    let body = serde_json::json!({ "username": "sleeper", "password": password });
    api.post("auth/login/", body, None).await
}
