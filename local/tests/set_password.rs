//! `taskmaster-local set-password` end to end, on both stores: the binary sets a user's password
//! from its standard input, and the server then takes the new password, refuses the old one and
//! every token the user held, and leaves other users alone. Refused runs change nothing.

mod support;

use std::sync::{Arc, Mutex};

use axum::extract::Path;
use reqwest::StatusCode;
use serde_json::json;
use shared::domain::UserId;
use shared::store::{DynamoConfig, DynamoStore, Stores};

use support::sockets::listening;
use support::stores::store_flags;
use support::{Api, Failed, PASSWORD, Server, run_with_input, tokens, unique_name};

const NEW_PASSWORD: &str = "a brand-new passphrase";

/// Runs `set-password` for `username` with `input` on its standard input, on the store `flags` name.
fn set_password(dir: &std::path::Path, flags: &[String], username: &str, input: &str) -> Failed {
    let mut args = vec!["set-password", "--username", username];
    args.extend(flags.iter().map(String::as_str));
    run_with_input(&args, dir, input, &[])
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
        // Sockets are closed through AWS's management API: not for an embedded store.
        let ws = ["--ws-endpoint".to_owned(), "http://127.0.0.1:9".to_owned()];
        let run = set_password(dir.path(), &ws, &user, &format!("{NEW_PASSWORD}\n"));
        assert_eq!(run.status.code(), Some(1), "{run:#?}");
        assert!(run.stderr.contains("needs --aws"), "{run:#?}");
    }
    running.stop();

    for (username, input, why) in [
        (user.as_str(), "short\n", "the password is refused"),
        (user.as_str(), "12345678901\n", "entirely numeric"),
        (user.as_str(), "", "too short"),
        (
            user.as_str(),
            "a fine password\nand another\n",
            "more than one line",
        ),
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

/// A stand-in for API Gateway's management API: answers every `DELETE /@connections/{id}` with
/// 204 and records the ids.
async fn management_api() -> (String, Arc<Mutex<Vec<String>>>) {
    let deleted = Arc::new(Mutex::new(Vec::new()));
    let record = deleted.clone();
    let app = axum::Router::new().route(
        "/@connections/{id}",
        axum::routing::delete(move |Path(id): Path<String>| {
            record.lock().expect("the record").push(id);
            std::future::ready(StatusCode::NO_CONTENT)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, deleted)
}

/// With the WebSocket API's endpoint, the user's open sockets are closed at once (through the
/// management API, as the Lambdas close them) and forgotten; without it they would wait for the
/// user's next task change.
#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_with_the_ws_endpoint_the_users_sockets_are_closed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let flags = store_flags(true).await;
    let running = server(dir.path(), &flags);
    let (api, access, _socket) = listening(&running).await;
    let profile = api
        .get("auth/profile/", &access)
        .await
        .expect(StatusCode::OK);
    let (user, id) = (profile.str("username"), profile.str("id"));
    let stores = dynamo_stores(&flags);
    let id = UserId::parse(&id).expect("a user id");
    let open: Vec<String> = (stores.connections.connections_of(id).await.unwrap())
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(open.len(), 1, "the socket's connection");

    let (endpoint, deleted) = management_api().await;
    let mut args = vec![
        "set-password",
        "--username",
        &user,
        "--ws-endpoint",
        &endpoint,
    ];
    args.extend(flags.iter().map(String::as_str));
    // The management API's requests are signed with the environment's credentials; these are the
    // ones the DynamoDB Local client uses by default, so it keeps finding the server's tables.
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "taskmasterlocal"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_REGION", "us-east-1"),
    ];
    let run = run_with_input(
        &args,
        dir.path(),
        &format!("{NEW_PASSWORD}\n"),
        &credentials,
    );
    assert_eq!(run.status.code(), Some(0), "{run:#?}");
    assert!(
        run.stdout.contains("their open sockets are closed"),
        "{run:#?}"
    );
    assert_eq!(
        *deleted.lock().unwrap(),
        open,
        "DeleteConnection for the socket"
    );
    assert!(
        stores
            .connections
            .connections_of(id)
            .await
            .unwrap()
            .is_empty(),
        "forgotten"
    );
    assert_eq!(login(&api, &user, NEW_PASSWORD).await, StatusCode::OK);
}

/// The DynamoDB Local stores `flags` name ([`store_flags`]).
fn dynamo_stores(flags: &[String]) -> Stores {
    let flag = |name: &str| {
        let at = flags.iter().position(|f| f == name).expect("the flag");
        flags[at + 1].clone()
    };
    let config = DynamoConfig {
        users_table: flag("--users-table"),
        tasks_table: flag("--tasks-table"),
        connections_table: flag("--connections-table"),
        endpoint: Some(flag("--dynamodb-endpoint")),
        emulator_key: None,
    };
    Stores::new(DynamoStore::new(config.patient_client(), &config))
}

on_both_stores!(
    the_new_password_logs_in_and_every_old_session_ends,
    a_refused_run_changes_nothing,
);
