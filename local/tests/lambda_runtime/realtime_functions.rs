//! The WebSocket route functions and the stream function: each answers its recorded event from
//! `events/`, and what it does shows in DynamoDB or at the management API.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::{Value, json};
use shared::domain::{Timestamp, UserId};
use shared::store::Connection;

use super::fixtures::{Tables, event, seed};
use super::http_functions::http_functions;
use super::process::{api_response, function_binaries, invoke, repo_root};

/// The functions run here, with events that are not API Gateway HTTP API events.
const REALTIME: [&str; 4] = ["ws-connect", "ws-disconnect", "ws-default", "task-stream"];

/// The connection id the three WebSocket events share.
const CONNECTION_ID: &str = "L0SM9cOFvHcCIhw=";

/// The owner of the first three records of `events/task-stream.json`.
const STREAM_OWNER: &str = "6f1c2a9e-8d0b-4c55-9a4e-1b2c3d4e5f60";

fn connection(id: &str, user: UserId) -> Connection {
    let now = Timestamp::now().plus_seconds(-60);
    Connection {
        id: id.to_owned(),
        user_id: user,
        connected_at: now,
        expires_at: now.plus_seconds(3600),
        token_expires_at: now.plus_seconds(3600),
        epoch: 0,
        sid: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_connect_records_the_connection_of_the_tokens_user() {
    let tables = Tables::create("ws-connect").await;
    let seeded = seed(&tables.state).await;

    // As the template gives it; nothing is asked of it below the user's cap (a closed port).
    let invoked = invoke(
        "ws-connect",
        event("ws-connect", &seeded),
        &tables.config,
        &[("TASKMASTER_WS_ENDPOINT", "http://127.0.0.1:9".to_owned())],
    )
    .await;

    let response = api_response("ws-connect", &invoked.raw);
    assert_eq!(response.status, 200, "{response:?}");
    let owner = tables
        .stores
        .connections
        .connection_owner(CONNECTION_ID)
        .await
        .expect("reading the connection");
    assert_eq!(owner, Some(seeded.user_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_disconnect_forgets_the_connection() {
    let tables = Tables::create("ws-disconnect").await;
    let seeded = seed(&tables.state).await;
    let open = connection(CONNECTION_ID, seeded.user_id);
    tables
        .stores
        .connections
        .add_connection(&open)
        .await
        .expect("recording the connection");

    let invoked = invoke(
        "ws-disconnect",
        event("ws-disconnect", &seeded),
        &tables.config,
        &[],
    )
    .await;

    let response = api_response("ws-disconnect", &invoked.raw);
    assert_eq!(response.status, 200, "{response:?}");
    let connections = &tables.stores.connections;
    let owner = connections.connection_owner(CONNECTION_ID).await;
    assert_eq!(owner.expect("reading the connection"), None);
    let listed = connections.connections_of(seeded.user_id).await;
    assert_eq!(listed.expect("listing connections"), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_default_answers_a_message_with_an_error_and_keeps_the_socket() {
    let tables = Tables::create("ws-default").await;
    let seeded = seed(&tables.state).await;

    let invoked = invoke(
        "ws-default",
        event("ws-default", &seeded),
        &tables.config,
        &[],
    )
    .await;

    let response = api_response("ws-default", &invoked.raw);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body["action"], "error", "{response:?}");
}

/// Every post a stand-in management API received: connection id and JSON body.
type Posts = Arc<Mutex<Vec<(String, Value)>>>;

async fn record_post(State(posts): State<Posts>, Path(id): Path<String>, body: Bytes) {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    posts.lock().expect("posts").push((id, body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_stream_posts_the_owners_task_changes_and_reports_no_failure() {
    let tables = Tables::create("task-stream").await;
    let owner = UserId::parse(STREAM_OWNER).expect("a user id");
    testkit::events::ensure_user(&tables.stores, owner).await;
    let listening = connection("listening=", owner);
    tables
        .stores
        .connections
        .add_connection(&listening)
        .await
        .expect("recording the connection");
    let posts = Posts::default();
    let management = Router::new()
        .route("/@connections/{id}", post(record_post))
        .with_state(posts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, management).await });
    let path = repo_root().join("events/task-stream.json");
    let recorded = std::fs::read_to_string(&path).expect("events/task-stream.json");

    let invoked = invoke(
        "task-stream",
        recorded,
        &tables.config,
        &[("TASKMASTER_WS_ENDPOINT", endpoint)],
    )
    .await;

    let response: Value = serde_json::from_slice(&invoked.raw).expect("a JSON response");
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    let posts = posts.lock().expect("posts").clone();
    let actions: Vec<(&str, &str)> = posts
        .iter()
        .map(|(id, body)| (id.as_str(), body["action"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(
        actions,
        [
            ("listening=", "task_create"),
            ("listening=", "task_update"),
            ("listening=", "task_delete"),
        ]
    );
}

/// Between them, this file and `http_functions.rs` run every binary of `functions/src/bin/`.
#[test]
fn every_function_binary_is_run() {
    let crates = function_binaries();
    let mut run: Vec<String> = http_functions()
        .into_iter()
        .chain(REALTIME.iter().copied())
        .map(str::to_owned)
        .collect();
    run.sort();
    assert_eq!(crates, run);
}
