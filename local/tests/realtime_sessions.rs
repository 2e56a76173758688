//! Sockets bound to their session, over the running server on both stores: a password change or
//! a logout-all closes the user's sockets and refuses the old token at the handshake, a logout
//! or a replayed refresh token the sockets of its one session; a socket
//! whose token has expired hears nothing more, unless it renewed its session with `authenticate`;
//! a handshake its client abandons leaves no connection behind.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::sockets::{ARRIVAL, Socket, assert_silent, connect, listening, next_message, ws_url};
use support::stores::{server_on, server_with_env};
use support::{Api, Server, tokens, unique_name};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// The access token lifetime of the expiry case: the renewed token is taken half of it after the
/// first, so it outlives the first by about that much, time enough on a busy machine for a change
/// to reach its socket.
const SHORT_TTL: u64 = 12;

/// When `token` expires (its `exp`, in seconds since the epoch).
fn expiry(token: &str) -> u64 {
    testkit::token_claim(token, "exp")
}

/// Registers a fresh user; answers its name and access token.
async fn registered(api: &Api) -> (String, String) {
    let name = unique_name("ss");
    let answer = api.register(&name, &format!("{name}@example.com")).await;
    let (access, _) = tokens(&answer.expect(StatusCode::CREATED));
    (name, access)
}

/// Waits until the server closes `socket` with 1000, the code API Gateway's `DeleteConnection`
/// closes with; any task event before that fails the test.
async fn assert_closed_without_events(socket: &mut Socket) {
    let closed = tokio::time::timeout(ARRIVAL, async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Message::Text(text)) => panic!("a closing socket heard {text}"),
                Ok(Message::Close(frame)) => {
                    let code = frame.map(|frame| frame.code);
                    assert_eq!(code, Some(CloseCode::Normal), "the close frame's code");
                    return;
                }
                Ok(_) => {}
                Err(error) => panic!("the socket ended without a close frame: {error}"),
            }
        }
        panic!("the socket ended without a close frame");
    })
    .await;
    closed.expect("the server closes the socket in time");
}

/// Asserts a handshake with `access` is refused with a 401.
async fn assert_refused_at_the_handshake(server: &Server, access: &str) {
    match connect(server, None, &format!("?token={access}")).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), StatusCode::UNAUTHORIZED),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the handshake succeeded with a token of an ended session"),
    }
}

/// Ends every session of the user of `access` (`end` is "password" or "logout-all"), asserting
/// the user's open sockets close unheard and the old token no longer opens one; answers a token
/// of the new session.
async fn end_sessions_and_check_sockets(dynamodb: bool, end: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dynamodb, dir.path(), &[]).await;
    let (api, access, mut first) = listening(&server).await;
    let mut second = connect(&server, Some(&format!("Bearer {access}")), "")
        .await
        .expect("a second device connects");
    let fresh = if end == "password" {
        let change = json!({
            "old_password": support::PASSWORD,
            "new_password_1": "a-brand-new-passphrase",
            "new_password_2": "a-brand-new-passphrase",
        });
        let answer = api
            .post("auth/profile/password/", change, Some(&access))
            .await;
        answer.expect(StatusCode::OK).str("access")
    } else {
        let answer = api
            .post("auth/logout/all/", Value::Null, Some(&access))
            .await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT);
        let me = api.get("auth/profile/", &access).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body);
        String::new()
    };

    for socket in [&mut first, &mut second] {
        assert_closed_without_events(socket).await;
    }
    assert_refused_at_the_handshake(&server, &access).await;
    if !fresh.is_empty() {
        let mut current = connect(&server, None, &format!("?token={fresh}"))
            .await
            .expect("the new session's token connects");
        api.post("tasks/", json!({ "title": "after" }), Some(&fresh))
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(next_message(&mut current).await["title"], "after");
    }
}

async fn a_password_change_closes_the_users_sockets_unheard(dynamodb: bool) {
    end_sessions_and_check_sockets(dynamodb, "password").await;
}

async fn logout_all_closes_the_users_sockets_unheard(dynamodb: bool) {
    end_sessions_and_check_sockets(dynamodb, "logout-all").await;
}

/// How one login session is ended.
#[derive(Clone, Copy)]
enum OneSessionEnd {
    /// `auth/logout/` with its refresh token.
    Logout,
    /// Its refresh token presented again after it rotated (RFC 9700's reuse detection).
    Replay,
}

/// Ends one session as `end` says: the session's sockets (one opened before a rotation and one
/// after, for a replay) close unheard and its tokens open no other, while the user's other
/// session keeps its socket and hears the next change.
async fn ending_one_session_closes_its_sockets_only(dynamodb: bool, end: OneSessionEnd) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dynamodb, dir.path(), &[]).await;
    let api = Api::new(&server);
    let name = unique_name("lo");
    let answer = api.register(&name, &format!("{name}@example.com")).await;
    let (leaving, leaving_refresh) = tokens(&answer.expect(StatusCode::CREATED));
    let (staying, _) = tokens(&api.login(&name).await.expect(StatusCode::OK));
    let mut leaving_tokens = vec![leaving];
    if let OneSessionEnd::Replay = end {
        let rotated = api.refresh(&leaving_refresh).await;
        leaving_tokens.push(rotated.expect(StatusCode::OK).str("access"));
    }
    let mut closing = Vec::new();
    for token in &leaving_tokens {
        let socket = connect(&server, None, &format!("?token={token}")).await;
        closing.push(socket.expect("connect"));
    }
    let mut open = connect(&server, None, &format!("?token={staying}"))
        .await
        .expect("connect");

    let (path, expected) = match end {
        OneSessionEnd::Logout => ("auth/logout/", StatusCode::NO_CONTENT),
        OneSessionEnd::Replay => ("auth/token/refresh/", StatusCode::UNAUTHORIZED),
    };
    let answer = api
        .post(path, json!({ "refresh": leaving_refresh }), None)
        .await;
    assert_eq!(answer.status, expected, "{}", answer.body);

    for (socket, token) in closing.iter_mut().zip(&leaving_tokens) {
        assert_closed_without_events(socket).await;
        assert_refused_at_the_handshake(&server, token).await;
    }
    api.post("tasks/", json!({ "title": "after" }), Some(&staying))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(next_message(&mut open).await["title"], "after");
}

async fn a_logout_closes_that_sessions_sockets_only(dynamodb: bool) {
    ending_one_session_closes_its_sockets_only(dynamodb, OneSessionEnd::Logout).await;
}

async fn a_replayed_refresh_token_closes_its_sessions_sockets_only(dynamodb: bool) {
    ending_one_session_closes_its_sockets_only(dynamodb, OneSessionEnd::Replay).await;
}

async fn authenticate(socket: &mut Socket, token: &str) -> Value {
    let message = json!({ "action": "authenticate", "token": token }).to_string();
    socket.send(Message::Text(message.into())).await.unwrap();
    next_message(socket).await
}

async fn an_expired_socket_hears_nothing_unless_it_authenticated_again(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let ttl = SHORT_TTL.to_string();
    let env = [("TASKMASTER_ACCESS_TOKEN_TTL", ttl.as_str())];
    let server = server_with_env(dynamodb, dir.path(), &[], &env).await;
    let api = Api::new(&server);
    let (name, access) = registered(&api).await;
    let mut lapsing = connect(&server, None, &format!("?token={access}"))
        .await
        .expect("connect");
    let mut renewed = connect(&server, None, &format!("?token={access}"))
        .await
        .expect("connect");

    tokio::time::sleep(Duration::from_secs(SHORT_TTL / 2)).await;
    let (newer, _) = tokens(&api.login(&name).await.expect(StatusCode::OK));
    let answer = authenticate(&mut renewed, &newer).await;
    assert_eq!(answer["action"], "authenticated", "{answer}");
    assert!(answer["expires_at"].is_string(), "{answer}");
    // The first token has expired; the renewed one has not (for about another SHORT_TTL / 2 s).
    testkit::sleep_until_unix(expiry(&access), Duration::from_millis(300)).await;
    assert!(
        expiry(&newer) > expiry(&access) + 2,
        "the renewed token outlives the first"
    );
    api.post("tasks/", json!({ "title": "late" }), Some(&newer))
        .await
        .expect(StatusCode::CREATED);

    assert_eq!(next_message(&mut renewed).await["title"], "late");
    assert_closed_without_events(&mut lapsing).await;
}

async fn authenticate_refuses_another_users_token_and_an_invalid_one(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dynamodb, dir.path(), &[]).await;
    let (api, access, mut socket) = listening(&server).await;
    let (_, someone_else) = registered(&api).await;

    let theirs = authenticate(&mut socket, &someone_else).await;
    let invalid = authenticate(&mut socket, "not-a-token").await;

    let refused = json!({
        "action": "error",
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
    });
    assert_eq!(theirs, refused);
    assert_eq!(invalid, refused);
    // The socket stays its user's, and open.
    api.post("tasks/", json!({ "title": "still mine" }), Some(&access))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(next_message(&mut socket).await["title"], "still mine");
}

/// Clients that send the handshake and leave while `$connect` runs, after 0 to 20 ms: each
/// connection `$connect` recorded gets its `$disconnect`, as on AWS. Before, on DynamoDB Local a
/// record stayed, the stream retried every change for it as "still opening", and the user's live
/// socket heard each change several times.
async fn a_handshake_its_client_abandons_leaves_no_connection_behind(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dynamodb, dir.path(), &[]).await;
    let (api, access, mut socket) = listening(&server).await;
    let url = ws_url(&server, &format!("?token={access}"));
    let (host, path) = url
        .trim_start_matches("ws://")
        .split_once('/')
        .expect("host and path");
    let handshake = format!(
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    for delay in [0, 1, 2, 3, 5, 8, 12, 20] {
        let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
        tcp.write_all(handshake.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        drop(tcp);
    }
    // Every abandoned `$connect` has ended by now, and its `$disconnect` run: the server bounds
    // a `$connect` and its clean-up by these two, however busy the machine.
    let bound = shared::realtime::ROUTE_DEADLINE + shared::realtime::FORGET_WITHIN;
    tokio::time::sleep(bound + Duration::from_secs(1)).await;

    let created = api
        .post("/tasks/", json!({ "title": "Once" }), Some(&access))
        .await
        .expect(StatusCode::CREATED)
        .body;
    let heard = next_message(&mut socket).await;
    assert_eq!(
        (heard["action"].as_str(), &heard["id"]),
        (Some("task_create"), &created["id"])
    );
    // A change retried for a connection left behind would come again.
    for _ in 0..2 {
        assert_silent(&mut socket).await;
    }
}

on_both_stores!(
    a_handshake_its_client_abandons_leaves_no_connection_behind,
    a_password_change_closes_the_users_sockets_unheard,
    logout_all_closes_the_users_sockets_unheard,
    a_logout_closes_that_sessions_sockets_only,
    a_replayed_refresh_token_closes_its_sessions_sockets_only,
    an_expired_socket_hears_nothing_unless_it_authenticated_again,
    authenticate_refuses_another_users_token_and_an_invalid_one,
);
