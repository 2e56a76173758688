//! The original app's access tokens after the import: an active user's keep working (the same
//! signing key), an inactive user's are refused, as the original refused them.

use reqwest::StatusCode;
use testkit::original::original_token;

use super::fixture::{self, BUSY};
use super::support::{Api, Server};
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
