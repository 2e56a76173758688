//! `taskmaster-local set-password` end to end, on both stores: the binary sets a user's password
//! from its standard input, and the server then takes the new password, refuses the old one and
//! every token the user held, and leaves other users alone. Refused runs change nothing.

mod support;

use reqwest::StatusCode;
use serde_json::json;

use support::stores::store_flags;
use support::{Api, Failed, PASSWORD, Server, run_with_input, tokens, unique_name};

const NEW_PASSWORD: &str = "a brand-new passphrase";

/// Runs `set-password` for `username` with `input` on its standard input, on the store `flags` name.
fn set_password(dir: &std::path::Path, flags: &[String], username: &str, input: &str) -> Failed {
    let mut args = vec!["set-password", "--username", username];
    args.extend(flags.iter().map(String::as_str));
    run_with_input(&args, dir, input)
}

fn server(dir: &std::path::Path, flags: &[String]) -> Server {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Server::start_with(dir, &flags)
}

/// A registered user's username and the tokens its registration gave.
async fn registered(api: &Api, prefix: &str) -> (String, (String, String)) {
    let name = unique_name(prefix);
    let answer = api
        .register(&name, &format!("{name}@example.com"))
        .await
        .expect(StatusCode::CREATED);
    (name, tokens(&answer))
}

async fn login(api: &Api, username: &str, password: &str) -> StatusCode {
    let body = json!({ "username": username, "password": password });
    api.post("auth/login/", body, None).await.status
}

/// A data dir, the flags of a store (fresh tables on DynamoDB Local), and a server on them.
async fn started(dynamodb: bool) -> (tempfile::TempDir, Vec<String>, Server) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let flags = store_flags(dynamodb).await;
    let running = server(dir.path(), &flags);
    (dir, flags, running)
}

async fn the_new_password_logs_in_and_every_old_session_ends(dynamodb: bool) {
    let (dir, flags, mut running) = started(dynamodb).await;
    let api = Api::new(&running);
    let (user, (access, refresh)) = registered(&api, "forgot").await;
    let (other, (other_access, _)) = registered(&api, "bystander").await;
    // The embedded store is one process's at a time: the server stops for the change.
    running.stop();

    let run = set_password(
        dir.path(),
        &flags,
        &user.to_uppercase(),
        &format!("{NEW_PASSWORD}\n"),
    );
    assert_eq!(run.status.code(), Some(0), "{run:#?}");
    assert!(run.stdout.contains("password set for"), "{run:#?}");
    assert!(
        !format!("{run:?}").contains(NEW_PASSWORD),
        "the password is never printed"
    );

    let running = server(dir.path(), &flags);
    let api = Api::new(&running);
    assert_eq!(login(&api, &user, NEW_PASSWORD).await, StatusCode::OK);
    assert_eq!(login(&api, &user, PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        api.get("tasks/", &access).await.status,
        StatusCode::UNAUTHORIZED,
        "the access token of a session the change ended"
    );
    assert_eq!(api.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    // Another user keeps their password and session.
    assert_eq!(
        api.get("tasks/", &other_access).await.status,
        StatusCode::OK
    );
    assert_eq!(login(&api, &other, PASSWORD).await, StatusCode::OK);
}

async fn a_refused_run_changes_nothing(dynamodb: bool) {
    let (dir, flags, mut running) = started(dynamodb).await;
    let api = Api::new(&running);
    let (user, (access, _)) = registered(&api, "kept").await;
    if !dynamodb {
        // Beside the server that holds the embedded store.
        let run = set_password(dir.path(), &flags, &user, &format!("{NEW_PASSWORD}\n"));
        assert_eq!(run.status.code(), Some(1), "{run:#?}");
        assert!(run.stderr.contains("in use by another"), "{run:#?}");
    }
    running.stop();

    for (username, input, why) in [
        (user.as_str(), "short\n", "the password is refused"),
        (user.as_str(), "12345678901\n", "entirely numeric"),
        (user.as_str(), "", "too short"),
        (
            "nobody-of-that-name",
            "a fine password\n",
            "no user is named",
        ),
        ("not a username!", "a fine password\n", "--username"),
    ] {
        let run = set_password(dir.path(), &flags, username, input);
        assert_eq!(run.status.code(), Some(1), "{why}: {run:#?}");
        assert!(run.stderr.contains(why), "{why}: {run:#?}");
    }

    let running = server(dir.path(), &flags);
    let api = Api::new(&running);
    assert_eq!(api.get("tasks/", &access).await.status, StatusCode::OK);
    assert_eq!(login(&api, &user, PASSWORD).await, StatusCode::OK);
}

on_both_stores!(
    the_new_password_logs_in_and_every_old_session_ends,
    a_refused_run_changes_nothing,
);
