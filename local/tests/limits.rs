//! Limits against the real server over TCP, on both stores: login and registration limits, counted
//! by the connection's peer address as API Gateway counts by `sourceIp`; and what API Gateway does to
//! a request's head: its quota, and repeated header lines joined into one value; and what its
//! WebSocket API does to a message past its sizes or not in UTF-8; a client that reads nothing; a
//! connection that never sends a whole head; clients that leave before their answer; and, with
//! `--throttle`, API Gateway's route throttling.

mod support;

/// What the server does with HTTP clients that hold a connection without a whole request.
#[path = "limits/connections.rs"]
mod connections;
use connections::a_body_announced_past_the_limit_is_413_at_once;

/// Clients that leave before their answer.
#[path = "limits/left.rs"]
mod left;
use left::{
    a_request_closed_as_soon_as_sent_is_still_handled,
    a_request_whose_client_left_is_handled_to_its_end,
};

/// API Gateway's route throttling, with `--throttle`.
#[path = "limits/throttle.rs"]
mod throttle;
use throttle::each_route_past_its_bucket_gets_api_gateways_429;

use std::time::Duration;

use futures::SinkExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::sockets::{assert_closed_with, listening, next_message};
use support::{Api, PASSWORD, tokens, unique_name};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// Posts `body` and answers the status, the `Retry-After` header and the JSON body.
async fn post(base: &str, path: &str, body: Value) -> (StatusCode, Option<u64>, Value) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client")
        .post(format!("{base}/{path}"))
        .json(&body)
        .send()
        .await
        .expect("an answer");
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().expect("ASCII").parse().expect("seconds"));
    (
        response.status(),
        retry_after,
        response.json().await.expect("JSON"),
    )
}

async fn login(base: &str, name: &str, password: &str) -> (StatusCode, Option<u64>, Value) {
    post(
        base,
        "auth/login/",
        json!({ "username": name, "password": password }),
    )
    .await
}

#[track_caller]
fn assert_throttled((status, retry_after, body): &(StatusCode, Option<u64>, Value), window: u64) {
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry_after = retry_after.expect("a Retry-After header");
    assert!((1..=window).contains(&retry_after), "{retry_after}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("throttled")),
        "{body}"
    );
}

async fn failed_logins_and_registrations_are_limited_per_name_and_peer_address(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let flags = [
        "--login-failures-per-username",
        "3",
        "--login-failures-per-address",
        "5",
        "--registrations-per-address",
        "3",
    ];
    let server = support::stores::server_on(dynamodb, dir.path(), &flags).await;
    testkit::clear_of_limit_window_ends().await;
    let api = Api::new(&server);
    let (ada, grace) = (unique_name("ada"), unique_name("grace"));
    for name in [&ada, &grace] {
        api.register(name, &format!("{name}@example.com"))
            .await
            .expect(StatusCode::CREATED);
    }

    // Three failures lock ada's name, the right password included, with the window's end.
    for _ in 0..3 {
        let (status, _, _) = login(&server.base, &ada, "wrong-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_throttled(&login(&server.base, &ada, PASSWORD).await, 900);
    // A bystander at the same address still logs in.
    api.login(&grace).await.expect(StatusCode::OK);

    // Two more failures, under other names, use up the address: now nobody logs in from it.
    for name in ["nobody_one", "nobody_two"] {
        let (status, _, _) = login(&server.base, name, "wrong-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_throttled(&login(&server.base, &grace, PASSWORD).await, 900);

    // The third registration from this address is allowed, the fourth is not.
    let third = unique_name("third");
    api.register(&third, &format!("{third}@example.com"))
        .await
        .expect(StatusCode::CREATED);
    let fourth = unique_name("fourth");
    let body = json!({ "username": fourth, "email": format!("{fourth}@example.com"), "password": PASSWORD });
    assert_throttled(&post(&server.base, "auth/register/", body).await, 3600);
}

/// API Gateway's HTTP API quota: request line and header values at most 10,240 bytes together.
async fn a_request_head_over_api_gateways_quota_gets_a_json_4xx(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(dynamodb, dir.path(), &[]).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");
    let url = format!("{}/tasks/", server.base);
    // The request line as sent: "GET /api/v1/tasks/ HTTP/1.1".
    let line = "GET ".len() + url.len() - url.find("/api/").expect("a path") + " HTTP/1.1".len();
    // reqwest's own headers: host, and accept (*/*).
    let own = server.addr().len() + "*/*".len();
    let send = |cookie: usize| {
        client
            .get(&url)
            .header("accept", "*/*")
            .header("cookie", "c".repeat(cookie))
            .send()
    };

    // Exactly at the quota: through to the app, which wants a token.
    let at_quota = 10_240 - line - own;
    let response = send(at_quota).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // One byte over: refused before the app, in JSON.
    let response = send(at_quota + 1).await.expect("an answer");
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body: Value = response.json().await.expect("JSON");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("10240")),
        "{body}"
    );

    // A query string past the quota on its own: 414.
    let long = format!("{url}?search={}", "q".repeat(10_240));
    let response = client.get(long).send().await.expect("an answer");
    assert_eq!(response.status(), StatusCode::URI_TOO_LONG);
    let body: Value = response.json().await.expect("JSON");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("too long")),
        "{body}"
    );
}

/// A header sent on several lines reaches the app as one value, the lines joined with commas, as
/// payload format 2.0 hands it to a function: two `Authorization` lines are one invalid
/// credential, and two `Idempotency-Key` lines one key. The WebSocket API's `$connect` event is
/// another format: its `headers` hold the last line of each.
async fn repeated_header_lines_reach_the_app_joined(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(dynamodb, dir.path(), &[]).await;
    let api = Api::new(&server);
    let name = unique_name("joined");
    let answer = api.register(&name, &format!("{name}@example.com")).await;
    let (access, _) = tokens(&answer.expect(StatusCode::CREATED));
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");

    let bearer = format!("Bearer {access}");
    let profile = |lines: usize| {
        let mut request = client.get(format!("{}/auth/profile/", server.base));
        for _ in 0..lines {
            request = request.header("authorization", &bearer);
        }
        request.send()
    };
    let once = profile(1).await.expect("an answer");
    assert_eq!(once.status(), StatusCode::OK);
    let twice = profile(2).await.expect("an answer");
    assert_eq!(twice.status(), StatusCode::UNAUTHORIZED);

    let create = |keys: &'static [&'static str]| {
        let mut request = client
            .post(format!("{}/tasks/", server.base))
            .bearer_auth(&access)
            .json(&json!({ "title": "keyed twice" }));
        for key in keys {
            request = request.header("idempotency-key", *key);
        }
        async move {
            let response = request.send().await.expect("an answer");
            assert_eq!(response.status(), StatusCode::CREATED);
            let task: Value = response.json().await.expect("JSON");
            task["id"].as_str().expect("an id").to_owned()
        }
    };
    let first = create(&["one", "two"]).await;
    assert_eq!(create(&["one,two"]).await, first, "one key, \"one,two\"");
    assert_ne!(create(&["one"]).await, first, "\"one\" is another key");

    let mut handshake = support::sockets::ws_url(&server, "")
        .into_client_request()
        .expect("a handshake");
    for line in ["Bearer not-a-token", bearer.as_str()] {
        let value = line.parse().expect("a header value");
        handshake.headers_mut().append("authorization", value);
    }
    let connected = tokio_tungstenite::connect_async(handshake).await;
    let (_, response) = connected.expect("the last Authorization line connects");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
}

/// API Gateway's sizes: a 32 KB frame and a 128 KB message at most; past them, a close with 1009.
async fn a_frame_over_api_gateways_size_closes_the_socket_with_1009(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(dynamodb, dir.path(), &[]).await;
    let (_, _, mut socket) = listening(&server).await;
    let padded = |bytes| json!({ "action": "ping", "padding": "x".repeat(bytes) }).to_string();
    socket
        .send(Message::Text(padded(30 * 1024).into()))
        .await
        .expect("sent");
    assert_eq!(next_message(&mut socket).await["action"], "pong");

    socket
        .send(Message::Text(padded(40 * 1024).into()))
        .await
        .expect("sent");

    assert_closed_with(&mut socket, 1009, Duration::from_secs(10)).await;
}

/// A text message that is not UTF-8 closes the socket with 1007 (RFC 6455, 7.4.1), not with a
/// bare close frame, which a browser reports as 1005.
async fn a_text_message_that_is_not_utf8_closes_the_socket_with_1007(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(dynamodb, dir.path(), &[]).await;
    let (_, _, mut socket) = listening(&server).await;
    let frame = Frame::message(vec![0xff, 0xfe], OpCode::Data(Data::Text), true);

    socket.send(Message::Frame(frame)).await.expect("sent");

    assert_closed_with(&mut socket, 1007, Duration::from_secs(10)).await;
}

/// A frame that breaks the protocol (here a reserved opcode) closes the socket with 1002 (RFC
/// 6455, 7.4.1), not with a bare close frame, which a browser reports as 1005.
async fn a_frame_breaking_the_protocol_closes_the_socket_with_1002(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(dynamodb, dir.path(), &[]).await;
    let (_, _, mut socket) = listening(&server).await;
    let frame = Frame::message(b"{}".to_vec(), OpCode::Data(Data::Reserved(3)), true);

    socket.send(Message::Frame(frame)).await.expect("sent");

    assert_closed_with(&mut socket, 1002, Duration::from_secs(10)).await;
}

/// A binary frame closes the socket with 1003, as API Gateway closes it: it takes text only.
async fn a_binary_frame_closes_the_socket_with_1003(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(dynamodb, dir.path(), &[]).await;
    let (_, _, mut socket) = listening(&server).await;
    let ping = br#"{"action": "ping"}"#.to_vec();

    socket
        .send(Message::Binary(ping.into()))
        .await
        .expect("sent");

    assert_closed_with(&mut socket, 1003, Duration::from_secs(10)).await;
}

/// A client that reads nothing (its receive window full) while it keeps sending: the server does
/// not hold every reply for it, without bound; past its queue it drops the connection, and the
/// server serves others as before.
async fn a_client_that_reads_nothing_is_dropped_not_buffered(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let server = support::stores::server_on(dynamodb, dir.path(), &[]).await;
    let api = Api::new(&server);
    let (access, _) = support::sockets::user(&api).await;
    let url = support::sockets::ws_url(&server, &format!("?token={access}"));
    let reads_nothing = || async {
        let tcp = tokio::net::TcpSocket::new_v4().expect("a socket");
        tcp.set_recv_buffer_size(4096).expect("a small window");
        let addr = server.addr().parse().expect("an address");
        let stream = tcp.connect(addr).await.expect("connected");
        let (socket, _) = tokio_tungstenite::client_async(url.as_str(), stream)
            .await
            .expect("a handshake");
        socket
    };

    // Messages, each answered with an error, none read. A bounded run: the server's and the
    // kernel's buffers fill after some tens of thousands of answers. Dropped well within the
    // server's 10 s write deadline, which would drop it too: the queue's bound does it.
    let mut socket = reads_nothing().await;
    let started = std::time::Instant::now();
    let mut sent = 0;
    let dropped = loop {
        if sent == 400_000 || started.elapsed() > Duration::from_secs(8) {
            break false;
        }
        if socket.send(Message::Text("x".into())).await.is_err() {
            break true;
        }
        sent += 1;
    };
    let took = started.elapsed();
    assert!(dropped, "still open after {sent} messages in {took:?}");

    // Pings, which the socket answers with pongs by itself, none read: 40 MB of them leave the
    // server's memory where it was (they added 37 MB to it before its write buffer was bounded).
    #[cfg(target_os = "linux")]
    {
        let before = resident_mib(server.pid());
        let mut socket = reads_nothing().await;
        let ping = Message::Ping(vec![7; 125].into());
        for _ in 0..(40 << 20) / 131 {
            if socket.send(ping.clone()).await.is_err() {
                break;
            }
        }
        let grown = resident_mib(server.pid()).saturating_sub(before);
        assert!(grown < 16, "the server grew by {grown} MiB");
    }
    let (_, _, mut other) = listening(&server).await;
    other
        .send(Message::Text(
            json!({ "action": "ping" }).to_string().into(),
        ))
        .await
        .expect("sent");
    assert_eq!(next_message(&mut other).await["action"], "pong");
}

/// The resident memory of process `pid`, in MiB.
#[cfg(target_os = "linux")]
fn resident_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("kB");
    kib / 1024
}

on_both_stores!(
    a_client_that_reads_nothing_is_dropped_not_buffered,
    a_body_announced_past_the_limit_is_413_at_once,
    a_request_whose_client_left_is_handled_to_its_end,
    a_request_closed_as_soon_as_sent_is_still_handled,
    failed_logins_and_registrations_are_limited_per_name_and_peer_address,
    a_request_head_over_api_gateways_quota_gets_a_json_4xx,
    repeated_header_lines_reach_the_app_joined,
    a_frame_over_api_gateways_size_closes_the_socket_with_1009,
    a_text_message_that_is_not_utf8_closes_the_socket_with_1007,
    a_frame_breaking_the_protocol_closes_the_socket_with_1002,
    a_binary_frame_closes_the_socket_with_1003,
    each_route_past_its_bucket_gets_api_gateways_429,
);
