//! A client that stops reading while its events keep coming (a frozen tab, an app in the
//! background): once it has taken nothing for the server's write timeout (10 s, `serve.rs`), its
//! connection ends, its `$disconnect` runs and its place under the cap is free, rather than a
//! socket left open that hears nothing more and answers no ping. The server code is the same on
//! both stores: run on the embedded one.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::support::Api;
use super::support::sockets::{connect, user, ws_url};
use super::support::stores::server_on;

/// The server's write timeout (`local/src/serve.rs`).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_at_the_write_timeout_and_frees_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(false, dir.path(), &[]).await;
    let api = Api::new(&server);
    let (access, _) = user(&api).await;
    let query = format!("?token={access}");

    // One socket that reads nothing, through a small window, beside as many listening ones as
    // fill the user's places.
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp.connect(server.addr().parse().unwrap()).await.unwrap();
    let (stalled, _) = tokio_tungstenite::client_async(ws_url(&server, &query), stream)
        .await
        .expect("a handshake");
    let mut others = Vec::new();
    for _ in 1..shared::realtime::MAX_CONNECTIONS_PER_USER {
        let mut socket = connect(&server, None, &query).await.expect("a place");
        others.push(tokio::spawn(async move {
            while let Some(Ok(_)) = socket.next().await {}
        }));
    }

    // Eight megabytes of events (a 40 KB description each), more than the window and the
    // buffers on both ends hold (a loopback socket's may grow to megabytes).
    let task = api
        .post("/tasks/", json!({ "title": "large" }), Some(&access))
        .await
        .expect(StatusCode::CREATED)
        .body;
    let path = format!("/tasks/{}/", task["id"].as_str().unwrap());
    let description = "\u{1F600}".repeat(10_000);
    for n in 0..200 {
        let body = json!({ "title": format!("large {n}"), "description": description });
        api.patch(&path, body, &access).await.expect(StatusCode::OK);
    }
    let written = Instant::now();

    // The client reads nothing. Once the server has waited the write timeout on it (from when its
    // buffers filled, which the stream's delivery may reach well after the last write here), its
    // place is free: with every other place held, one more socket connects.
    let deadline = written + WRITE_TIMEOUT + Duration::from_secs(50);
    loop {
        match connect(&server, None, &query).await {
            Ok(_) => break,
            Err(WsError::Http(response)) if Instant::now() < deadline => {
                assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => panic!(
                "{:?} after the last event: the stalled socket still holds its place ({error})",
                written.elapsed()
            ),
        }
    }

    // Then the client reads again, pinging: it gets what had reached it, then the end of the
    // connection (no close frame: none could reach it), and no pong.
    let (mut sink, mut stream) = stalled.split();
    let pinging = tokio::spawn(async move {
        let ping = Message::Text(json!({ "action": "ping" }).to_string().into());
        while sink.send(ping.clone()).await.is_ok() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut heard = Vec::new();
        while let Some(Ok(message)) = stream.next().await {
            heard.push(message);
        }
        heard
    })
    .await;
    pinging.abort();
    let heard = read.expect("the connection ended, not left open and deaf");
    let closes: Vec<_> = heard.iter().filter(|m| m.is_close()).collect();
    assert_eq!(
        closes,
        Vec::<&Message>::new(),
        "after {} messages",
        heard.len()
    );
    assert!(
        !heard
            .iter()
            .any(|m| m.to_text().is_ok_and(|t| t.contains("pong"))),
        "a pong after the cut"
    );
}
