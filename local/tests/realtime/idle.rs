//! API Gateway's idle timeout counts messages either way, not control frames: a socket that only
//! listens stays open while events reach it, and one that only sends WebSocket pings is closed.
//! The server code is the same on both stores: run on the embedded one.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::support::sockets::{assert_closed_with, listening, next_message};
use super::support::stores::server_on;

#[tokio::test]
async fn events_reaching_a_listening_socket_keep_it_past_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    // Each event must reach the socket within the idle timeout of the one before: a second
    // apart, each a fsync'd create, so the timeout leaves room for a slow disk and a busy machine.
    let server = server_on(false, dir.path(), &["--ws-idle-timeout", "5"]).await;
    let (api, access, mut socket) = listening(&server).await;

    // Two idle timeouts' worth of time, the client silent, an event every second.
    for n in 0..10 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let title = format!("event {n}");
        api.post("/tasks/", json!({ "title": title }), Some(&access))
            .await
            .expect(StatusCode::CREATED);
        assert_eq!(next_message(&mut socket).await["title"], title);
    }

    // Then nothing either way: closed as API Gateway closes an idle socket.
    assert_closed_with(&mut socket, 1001, Duration::from_secs(12)).await;
}

#[tokio::test]
async fn websocket_pings_do_not_keep_a_socket_open() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(false, dir.path(), &["--ws-idle-timeout", "2"]).await;
    let (_, _, socket) = listening(&server).await;
    let (mut sender, mut receiver) = socket.split();
    let pinging = async {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if sender.send(Message::Ping(vec![1].into())).await.is_err() {
                break;
            }
        }
    };
    let closed = async {
        while let Some(frame) = receiver.next().await {
            if let Ok(Message::Close(frame)) = frame {
                return frame;
            }
        }
        None
    };

    // Pinged every half second, the socket is closed at its idle timeout all the same (waited
    // for five times over: pings that counted would keep it open throughout).
    let closed = tokio::select! {
        closed = tokio::time::timeout(Duration::from_secs(10), closed) => closed,
        () = pinging => panic!("the pings stopped"),
    };

    let frame = closed.expect("closed within 10 s").expect("a close frame");
    assert_eq!(u16::from(frame.code), 1001, "{frame:?}");
}
