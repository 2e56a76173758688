//! Login and registration limits: failed logins per login name and per client address,
//! registrations per address; 429 with `Retry-After` until the window ends. The client's
//! address arrives as on AWS, in the HTTP API request context.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use shared::config::LimitsConfig;
use shared::http::client::with_source_ip;

use super::helpers::{LOGIN, PASSWORD, PASSWORD_CHANGE, PROFILE, REGISTER, Response, TestApp};

const HOME: &str = "198.51.100.7";
const ELSEWHERE: &str = "203.0.113.9";

impl TestApp {
    /// Sends `body` to `path` from the client address `ip`, as API Gateway would pass it.
    async fn post_from(&self, ip: &str, path: &str, body: &Value) -> Response {
        self.post_as_from(ip, path, body, None).await
    }

    /// [`Self::post_from`], with the access token `token` when there is one.
    async fn post_as_from(
        &self,
        ip: &str,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> Response {
        let mut request = testkit::http::request(Method::POST, path, Some(body), token);
        let ip = ip.parse().expect("an address");
        request.extensions_mut().insert(with_source_ip(ip));
        self.send(request).await
    }

    async fn login_from(&self, ip: &str, login: &str, password: &str) -> Response {
        self.post_from(
            ip,
            LOGIN,
            &json!({ "username": login, "password": password }),
        )
        .await
    }

    async fn register_from(&self, ip: &str, username: &str) -> Response {
        self.post_from(ip, REGISTER, &Self::registration(username))
            .await
    }

    /// Fails `n` password changes with `access` (from `ip` if given), asserting each is a 400.
    async fn fail_password_changes(&self, ip: Option<&str>, access: &str, n: u64) {
        let wrong = password_change("wrong-password");
        for attempt in 1..=n {
            let response = match ip {
                Some(ip) => {
                    self.post_as_from(ip, PASSWORD_CHANGE, &wrong, Some(access))
                        .await
                }
                None => self.post_json(PASSWORD_CHANGE, &wrong, Some(access)).await,
            };
            assert_eq!(
                response.status,
                StatusCode::BAD_REQUEST,
                "attempt {attempt}"
            );
        }
    }

    /// Fails `n` logins of `login` from `ip`, asserting each is a plain 401.
    async fn fail_logins(&self, ip: &str, login: &str, n: u64) {
        for attempt in 1..=n {
            let response = self.login_from(ip, login, "wrong-password").await;
            assert_eq!(
                response.status,
                StatusCode::UNAUTHORIZED,
                "attempt {attempt}"
            );
        }
    }
}

/// A fresh app with the default limits changed by `change`, made clear of a window's end
/// ([`testkit::clear_of_limit_window_ends`]).
async fn limited(change: impl FnOnce(&mut LimitsConfig)) -> TestApp {
    let mut limits = LimitsConfig::default();
    change(&mut limits);
    let app = TestApp::with_limits(limits).await;
    testkit::clear_of_limit_window_ends().await;
    app
}

/// Asserts a 429 with a JSON detail and a `Retry-After` of 1..=`window` seconds; returns it.
#[track_caller]
fn assert_throttled(response: &Response, window: i64) -> u64 {
    response.assert_status(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("Retry-After in seconds");
    assert!(
        (1..=window.unsigned_abs()).contains(&retry_after),
        "{retry_after}"
    );
    assert_eq!(
        response.json,
        json!({
            "detail": format!("Request was throttled. Expected available in {retry_after} seconds.")
        })
    );
    retry_after
}

#[tokio::test]
async fn the_21st_failed_login_of_a_username_is_429_and_so_is_the_right_password() {
    let app = limited(|_| {}).await;
    app.register("ada_lovelace").await;
    app.fail_logins(HOME, "ada_lovelace", 20).await;

    let wrong = app.login_from(HOME, "ada_lovelace", "wrong-password").await;
    let right = app.login_from(HOME, "ada_lovelace", PASSWORD).await;
    let other_address = app.login_from(ELSEWHERE, "ADA_LOVELACE", PASSWORD).await;

    assert_throttled(&wrong, 15 * 60);
    assert_throttled(&right, 15 * 60);
    assert_throttled(&other_address, 15 * 60);
}

#[tokio::test]
async fn a_locked_username_leaves_a_bystander_at_the_same_address_alone() {
    let app = limited(|l| l.login_failures_per_username = 3).await;
    app.register("ada_lovelace").await;
    app.register("grace_hopper").await;
    app.fail_logins(HOME, "ada_lovelace", 3).await;
    assert_throttled(&app.login_from(HOME, "ada_lovelace", PASSWORD).await, 900);

    let bystander = app.login_from(HOME, "grace_hopper", PASSWORD).await;

    bystander.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn unknown_usernames_lock_exactly_like_known_ones() {
    let app = limited(|l| l.login_failures_per_username = 3).await;
    app.register("ada_lovelace").await;
    app.fail_logins(HOME, "ada_lovelace", 3).await;
    app.fail_logins(HOME, "nobody_here", 3).await;

    let known = app.login_from(HOME, "ada_lovelace", "wrong-password").await;
    let unknown = app.login_from(HOME, "nobody_here", "wrong-password").await;

    // The same answer, both locked until the same window's end: the seconds left may differ by
    // the one that can tick between the two requests.
    let (known, unknown) = (
        assert_throttled(&known, 900),
        assert_throttled(&unknown, 900),
    );
    assert!(known.abs_diff(unknown) <= 1, "{known} s and {unknown} s");
}

#[tokio::test]
async fn too_many_failures_from_one_address_lock_every_name_from_it_but_not_elsewhere() {
    let app = limited(|l| l.login_failures_per_address = 4).await;
    app.register("ada_lovelace").await;
    for name in ["alpha_one", "bravo_two", "charlie_3", "delta_four"] {
        app.fail_logins(HOME, name, 1).await;
    }

    let same_address = app.login_from(HOME, "ada_lovelace", PASSWORD).await;
    let elsewhere = app.login_from(ELSEWHERE, "ada_lovelace", PASSWORD).await;

    assert_throttled(&same_address, 900);
    elsewhere.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn registrations_per_address_are_limited() {
    let app = limited(|l| l.registrations_per_address = 2).await;
    for name in ["first_user", "second_user"] {
        app.register_from(HOME, name)
            .await
            .assert_status(StatusCode::CREATED);
    }

    let third = app.register_from(HOME, "third_user").await;
    let elsewhere = app.register_from(ELSEWHERE, "fourth_user").await;

    assert_throttled(&third, 3600);
    elsewhere.assert_status(StatusCode::CREATED);
    // The refused registration stored nothing.
    app.login_from(ELSEWHERE, "third_user", PASSWORD)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

/// A username or email change says whether the name is taken, as a registration does: a user's
/// attempts at other names are held to the registration limit too; edits of other fields, and
/// names sent unchanged, are not counted.
#[tokio::test]
async fn name_changes_are_limited_per_user() {
    let app = limited(|l| l.registrations_per_address = 2).await;
    let (_, access, _) = app.register("prober").await;
    let (_, other, _) = app.register("bystander").await;
    for edit in 0..3 {
        let unchanged = json!({ "username": "prober", "first_name": format!("Edit {edit}") });
        app.patch_json(PROFILE, &unchanged, Some(&access))
            .await
            .assert_status(StatusCode::OK);
    }
    for probe in ["taken@example.com", "bystander_x"] {
        let field = if probe.contains('@') {
            "email"
        } else {
            "username"
        };
        app.patch_json(PROFILE, &json!({ field: probe }), Some(&access))
            .await
            .assert_status(StatusCode::OK);
    }

    let third = app
        .patch_json(PROFILE, &json!({ "username": "bystander" }), Some(&access))
        .await;

    assert_throttled(&third, 3600);
    // Another user's own limit is untouched.
    app.patch_json(PROFILE, &json!({ "username": "bystander_y" }), Some(&other))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn login_works_again_once_the_window_has_passed() {
    let app = limited(|l| {
        l.login_failures_per_username = 2;
        // Short enough to wait out, long enough for two failures on a busy machine.
        l.login_window_seconds = 5;
    })
    .await;
    app.register("ada_lovelace").await;
    // Windows are aligned to the clock: failures may straddle a boundary, so fail until locked.
    let mut locked = None;
    for _ in 0..10 {
        let response = app.login_from(HOME, "ada_lovelace", "wrong-password").await;
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            locked = Some(response);
            break;
        }
    }
    let retry_after = assert_throttled(&locked.expect("locked within 10 attempts"), 5);

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let after = app.login_from(HOME, "ada_lovelace", PASSWORD).await;

    after.assert_status(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guesses_sent_at_once_are_held_to_the_limit() {
    let app = limited(|l| l.login_failures_per_username = 3).await;
    app.register("ada_lovelace").await;

    let guesses = (0..12).map(|_| app.login_from(HOME, "ada_lovelace", "wrong-password"));
    let mut statuses = BTreeMap::new();
    for response in futures::future::join_all(guesses).await {
        *statuses.entry(response.status.as_u16()).or_insert(0) += 1;
    }

    assert_eq!(statuses, BTreeMap::from([(401, 3), (429, 9)]));
    assert_throttled(&app.login_from(HOME, "ada_lovelace", PASSWORD).await, 900);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn right_logins_sent_at_once_are_not_refused_for_each_other() {
    // Three of them wait for the first three's places: 12.4 s at most here, not 1.24, since the
    // hashes ahead of them are slow on a loaded machine.
    let app = limited(|l| {
        l.login_failures_per_username = 3;
        l.in_progress_pause = Duration::from_millis(400);
    })
    .await;
    app.register("ada_lovelace").await;

    let logins = (0..6).map(|_| app.login_from(HOME, "ada_lovelace", PASSWORD));
    for response in futures::future::join_all(logins).await {
        response.assert_status(StatusCode::OK);
    }

    // Only failures settle into a lock, and they still do.
    app.fail_logins(HOME, "ada_lovelace", 3).await;
    assert_throttled(&app.login_from(HOME, "ada_lovelace", PASSWORD).await, 900);
}

#[tokio::test]
async fn right_passwords_do_not_count_as_failures() {
    let app = limited(|l| l.login_failures_per_username = 2).await;
    app.register("ada_lovelace").await;
    for _ in 0..4 {
        app.login_from(HOME, "ada_lovelace", PASSWORD)
            .await
            .assert_status(StatusCode::OK);
    }

    app.fail_logins(HOME, "ada_lovelace", 2).await;

    assert_throttled(&app.login_from(HOME, "ada_lovelace", PASSWORD).await, 900);
}

#[tokio::test]
async fn every_spelling_of_an_email_counts_against_the_same_limit() {
    let app = limited(|l| l.login_failures_per_username = 3).await;
    app.register("ada_lovelace").await;
    for spelled in [
        " ada_lovelace@example.com",
        "ADA_LOVELACE@example.com\t",
        "\u{a0}ada_lovelace@example.com\n",
    ] {
        app.fail_logins(ELSEWHERE, spelled, 1).await;
    }

    let right = app
        .login_from(HOME, "ada_lovelace@example.com", PASSWORD)
        .await;

    assert_throttled(&right, 900);
}

/// An email-shaped name with `İ` in its domain reaches the account of the plain one's `i`, so it
/// is held to that name's count, not to one of its own (the original app's usernames may be
/// email-shaped; none need exist: an unknown name locks as a known one does).
#[tokio::test]
async fn a_dotted_capital_i_in_an_email_shaped_name_counts_against_the_plain_name() {
    let app = limited(|l| l.login_failures_per_username = 3).await;
    app.fail_logins(ELSEWHERE, "ada@eximple.com", 3).await;

    let dotted = app.login_from(HOME, "ada@exİmple.com", PASSWORD).await;

    assert_throttled(&dotted, 900);
}

/// A password change's body, with `old` as the old password.
fn password_change(old: &str) -> Value {
    json!({ "old_password": old, "new_password_1": "a-new-passw0rd", "new_password_2": "a-new-passw0rd" })
}

#[tokio::test]
async fn wrong_old_passwords_count_against_the_username_and_lock_it() {
    let app = limited(|l| l.login_failures_per_username = 3).await;
    let (_, access, _) = app.register("ada_lovelace").await;
    app.fail_password_changes(None, &access, 3).await;

    let right_old = app
        .post_json(PASSWORD_CHANGE, &password_change(PASSWORD), Some(&access))
        .await;
    let login = app.login_from(HOME, "ada_lovelace", PASSWORD).await;

    assert_throttled(&right_old, 900);
    assert_throttled(&login, 900);
}

/// A stolen access token cannot buy a fresh count of old-password guesses by renaming the account.
#[tokio::test]
async fn a_new_username_does_not_reset_the_count_of_wrong_old_passwords() {
    let app = limited(|l| l.login_failures_per_username = 3).await;
    let (_, access, _) = app.register("ada_lovelace").await;
    app.fail_password_changes(None, &access, 3).await;
    app.patch_json(
        PROFILE,
        &json!({ "username": "countess_ada" }),
        Some(&access),
    )
    .await
    .assert_status(StatusCode::OK);

    let right_old = app
        .post_json(PASSWORD_CHANGE, &password_change(PASSWORD), Some(&access))
        .await;

    assert_throttled(&right_old, 900);
}

#[tokio::test]
async fn wrong_old_passwords_count_against_the_address() {
    let app = limited(|l| l.login_failures_per_address = 3).await;
    let (_, access, _) = app.register("ada_lovelace").await;
    app.register("grace_hopper").await;
    app.fail_password_changes(Some(HOME), &access, 3).await;

    let from_home = app.login_from(HOME, "grace_hopper", PASSWORD).await;
    let from_elsewhere = app.login_from(ELSEWHERE, "grace_hopper", PASSWORD).await;

    assert_throttled(&from_home, 900);
    from_elsewhere.assert_status(StatusCode::OK);
}
