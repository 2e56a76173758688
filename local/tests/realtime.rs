//! Real time over the running server, on both stores: task changes reach their owner's WebSocket
//! connections (and nobody else's), and the handshake refuses anything but an access token.
//! The DynamoDB runs use DynamoDB Local with the tasks table's stream polled by the server.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "realtime/cap.rs"]
mod cap;
#[path = "realtime/idle.rs"]
mod idle;
#[path = "realtime/slow_stream.rs"]
mod slow_stream;
#[path = "realtime/stalled.rs"]
mod stalled;

use std::time::Duration;

use futures::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::sockets::{
    Socket, assert_closed_with, assert_silent, connect, listening, next_message, user,
};
use support::stores::server_on;
use support::{Api, Server};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

async fn server(dynamodb: bool, dir: &std::path::Path) -> Server {
    server_on(dynamodb, dir, &[]).await
}

async fn header_and_query_clients_get_new_tasks_and_others_get_nothing(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dynamodb, dir.path()).await;
    let api = Api::new(&server);
    let (access, _) = user(&api).await;
    let (other_access, _) = user(&api).await;
    let mut by_header = connect(&server, Some(&format!("Bearer {access}")), "")
        .await
        .expect("connect by header");
    let mut by_query = connect(&server, None, &format!("?token={access}"))
        .await
        .expect("connect by query");
    let mut raw_header = connect(&server, Some(&access), "")
        .await
        .expect("connect by raw header");
    let mut other = connect(&server, Some(&format!("Bearer {other_access}")), "")
        .await
        .expect("connect other");

    let created = api
        .post(
            "/tasks/",
            json!({ "title": "Live", "description": "pushed" }),
            Some(&access),
        )
        .await;
    let created = created.expect(StatusCode::CREATED).body;

    let mut expected = created.clone();
    expected["action"] = json!("task_create");
    for socket in [&mut by_header, &mut by_query, &mut raw_header] {
        assert_eq!(next_message(socket).await, expected);
    }
    assert_silent(&mut other).await;
}

async fn anonymous_and_forged_tokens_are_refused_at_the_handshake(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dynamodb, dir.path()).await;
    let api = Api::new(&server);
    let (_, refresh) = user(&api).await;
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl";
    for (case, header, query) in [
        ("anonymous", None, String::new()),
        (
            "forged header",
            Some(format!("Bearer {forged}")),
            String::new(),
        ),
        ("forged query", None, format!("?token={forged}")),
        (
            "refresh token",
            Some(format!("Bearer {refresh}")),
            String::new(),
        ),
    ] {
        match connect(&server, header.as_deref(), &query).await {
            Err(WsError::Http(response)) => {
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}")
            }
            Err(other) => panic!("{case}: unexpected error {other}"),
            Ok(_) => panic!("{case}: the handshake succeeded"),
        }
    }
}

async fn a_burst_of_creates_arrives_as_distinct_messages_then_updates_and_deletes(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dynamodb, dir.path()).await;
    let api = Api::new(&server);
    let (access, _) = user(&api).await;
    let mut socket = connect(&server, Some(&format!("Bearer {access}")), "")
        .await
        .expect("connect");

    let creates = (0..20).map(|i| {
        api.post(
            "/tasks/",
            json!({ "title": format!("burst {i}") }),
            Some(&access),
        )
    });
    let ids: Vec<String> = futures::future::join_all(creates)
        .await
        .into_iter()
        .map(|answer| answer.expect(StatusCode::CREATED).str("id"))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < ids.len() {
        let message = next_message(&mut socket).await;
        assert_eq!(message["action"], "task_create", "{message}");
        seen.insert(message["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ids.iter().cloned().collect());

    let id = &ids[0];
    let updated = api
        .patch(
            &format!("/tasks/{id}/"),
            json!({ "status_task": "DONE" }),
            &access,
        )
        .await;
    let mut expected = updated.expect(StatusCode::OK).body;
    expected["action"] = json!("task_update");
    assert_eq!(next_message(&mut socket).await, expected);

    api.delete(&format!("/tasks/{id}/"), &access)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        next_message(&mut socket).await,
        json!({ "id": id, "action": "task_delete" })
    );
}

async fn a_client_message_gets_an_error_and_the_connection_stays(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dynamodb, dir.path()).await;
    let (api, access, mut socket) = listening(&server).await;

    socket
        .send(Message::Text(r#"{"action":"subscribe"}"#.into()))
        .await
        .unwrap();
    let reply = next_message(&mut socket).await;
    assert_eq!(reply["action"], "error", "{reply}");

    api.post("/tasks/", json!({ "title": "still open" }), Some(&access))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(next_message(&mut socket).await["title"], "still open");
}

async fn a_ping_is_answered_pong_and_keeps_the_socket_past_the_idle_timeout(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dynamodb, dir.path(), &["--ws-idle-timeout", "5"]).await;
    let (api, access, mut socket) = listening(&server).await;

    // Two idle timeouts' worth of time and more, a ping every second; the last pong leaves the
    // event below a whole idle timeout to arrive in, however slow the machine.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        socket
            .send(Message::Text(r#"{"action":"ping"}"#.into()))
            .await
            .unwrap();
        assert_eq!(next_message(&mut socket).await, json!({ "action": "pong" }));
    }
    api.post("/tasks/", json!({ "title": "kept alive" }), Some(&access))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(next_message(&mut socket).await["title"], "kept alive");
}

/// Waits for the server to close `socket` as API Gateway does (1001, "Going away").
async fn assert_closed_by_the_gateway(socket: &mut Socket, within: Duration) {
    assert_closed_with(socket, 1001, within).await;
}

async fn a_silent_socket_is_closed_after_the_idle_timeout_and_its_user_reconnects(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    // Idle long enough that the new socket below hears its event within the timeout even on a
    // loaded machine.
    let server = server_on(dynamodb, dir.path(), &["--ws-idle-timeout", "5"]).await;
    let (api, access, mut socket) = listening(&server).await;

    assert_closed_by_the_gateway(&mut socket, Duration::from_secs(15)).await;

    // The close runs `$disconnect` on the same path as a client's own close; the client then
    // reconnects (and re-lists), and hears the next change on its new socket.
    let mut fresh = connect(&server, None, &format!("?token={access}"))
        .await
        .expect("connect again");
    api.post("/tasks/", json!({ "title": "after" }), Some(&access))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(next_message(&mut fresh).await["title"], "after");
}

async fn every_socket_is_closed_at_the_maximum_duration_even_when_busy(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--ws-idle-timeout", "60", "--ws-max-duration", "3"];
    let server = server_on(dynamodb, dir.path(), &flags).await;
    let (_, _, mut socket) = listening(&server).await;
    socket
        .send(Message::Text(r#"{"action":"ping"}"#.into()))
        .await
        .unwrap();
    assert_eq!(next_message(&mut socket).await["action"], "pong");

    assert_closed_by_the_gateway(&mut socket, Duration::from_secs(10)).await;
}

/// A client's close is answered with a close frame, as the protocol asks (RFC 6455, 5.5.1) and
/// API Gateway does, so a browser reports a clean close with its own code instead of 1006.
async fn a_clients_close_is_answered_with_a_close_frame(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dynamodb, dir.path()).await;
    let (_, _, mut socket) = listening(&server).await;

    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    };
    socket.send(Message::Close(Some(frame))).await.unwrap();

    assert_closed_with(&mut socket, 1000, Duration::from_secs(10)).await;
    // And the server ends the TCP connection itself (RFC 6455, 7.1.1), not waiting for the
    // client to: the connection under the socket reaches its end.
    let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = socket.get_mut() else {
        panic!("a plain TCP connection")
    };
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest)).await;
    assert!(
        matches!(read, Ok(Ok(_))),
        "the server kept the connection open: {read:?}"
    );
}

/// SIGTERM (what a service manager sends) answers what is in progress, closes every socket as API
/// Gateway does when it goes away, and ends the server cleanly.
async fn a_stopping_server_closes_its_sockets_going_away(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dynamodb, dir.path()).await;
    let (_, _, mut socket) = listening(&server).await;

    let stopped = tokio::task::spawn_blocking(move || server.terminate());

    assert_closed_by_the_gateway(&mut socket, Duration::from_secs(10)).await;
    let stopped = stopped.await.unwrap();
    assert!(stopped.status.success(), "{stopped:#?}");
}

on_both_stores!(
    a_clients_close_is_answered_with_a_close_frame,
    a_stopping_server_closes_its_sockets_going_away,
    header_and_query_clients_get_new_tasks_and_others_get_nothing,
    anonymous_and_forged_tokens_are_refused_at_the_handshake,
    a_burst_of_creates_arrives_as_distinct_messages_then_updates_and_deletes,
    a_client_message_gets_an_error_and_the_connection_stays,
    a_ping_is_answered_pong_and_keeps_the_socket_past_the_idle_timeout,
    a_silent_socket_is_closed_after_the_idle_timeout_and_its_user_reconnects,
    every_socket_is_closed_at_the_maximum_duration_even_when_busy,
);

/// The WebSocket path asked over plain HTTP answers as every other path does: JSON errors with a
/// request id, a 405 naming the methods it takes, and a 204 to `OPTIONS`.
#[tokio::test]
async fn the_websocket_path_answers_plain_http_with_the_apis_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let root = server.base.trim_end_matches("/api/v1").to_owned();
    let client = reqwest::Client::new();

    for path in ["/ws/tasks/", "/ws/tasks"] {
        let cases = [
            (reqwest::Method::GET, StatusCode::BAD_REQUEST, "WebSocket"),
            (
                reqwest::Method::POST,
                StatusCode::METHOD_NOT_ALLOWED,
                "POST",
            ),
            (
                reqwest::Method::DELETE,
                StatusCode::METHOD_NOT_ALLOWED,
                "DELETE",
            ),
        ];
        for (method, status, mentioned) in cases {
            let case = format!("{method} {path}");
            let response = client
                .request(method, format!("{root}{path}"))
                .send()
                .await
                .unwrap();

            assert_eq!(response.status(), status, "{case}");
            let headers = response.headers().clone();
            assert!(headers.contains_key("x-request-id"), "{case}: {headers:?}");
            if status == StatusCode::METHOD_NOT_ALLOWED {
                let allow = headers.get("allow").map(|v| v.to_str().unwrap());
                assert!(
                    allow.is_some_and(|a| a.contains("GET")),
                    "{case}: {headers:?}"
                );
            }
            let content_type = headers.get("content-type").map(|v| v.to_str().unwrap());
            assert_eq!(content_type, Some("application/json"), "{case}");
            let body: Value = response.json().await.unwrap();
            let detail = body["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(mentioned), "{case}: {body}");
        }

        let options = client
            .request(reqwest::Method::OPTIONS, format!("{root}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(options.status(), StatusCode::NO_CONTENT, "OPTIONS {path}");
    }
}

#[tokio::test]
async fn the_management_api_refuses_any_caller_without_this_runs_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let _server = Server::start_with(dir.path(), &["--management-addr", &addr]);
    let url = format!("http://{addr}/@connections/some-connection");
    let client = reqwest::Client::new();
    // The fixed key every run used before keys were per run.
    let old_key = "AWS4-HMAC-SHA256 Credential=taskmasterlocal/20261202/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00";

    let attempts = [
        client.post(&url).body("forged"),
        client
            .post(&url)
            .header("authorization", old_key)
            .body("forged"),
        client.get(&url),
        client.delete(&url),
        client
            .delete(&url)
            .header("authorization", old_key)
            .header("origin", "http://evil.example"),
    ];
    for attempt in attempts {
        let response = attempt.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["message"], "Forbidden");
    }
}
