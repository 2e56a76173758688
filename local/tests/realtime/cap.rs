//! A user at the cap of 20 sockets: the records of sockets a server killed with SIGKILL left
//! behind (no `$disconnect` ran for them) do not hold their places once the management API
//! answers that they are gone, as API Gateway does for a socket whose `$disconnect` never came.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::Error as WsError;

use super::support::sockets::{connect, next_message, user};
use super::support::stores::store_flags;
use super::support::{Api, Server};
use crate::on_both_stores;

async fn sockets_gone_with_a_killed_server_free_their_places_at_the_cap(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let flags = store_flags(dynamodb).await;
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut first = Server::start_with(dir.path(), &flags);
    let (access, _) = user(&Api::new(&first)).await;
    let query = format!("?token={access}");
    let mut sockets = Vec::new();
    for n in 0..shared::realtime::MAX_CONNECTIONS_PER_USER {
        let socket = connect(&first, None, &query).await;
        sockets.push(socket.unwrap_or_else(|e| panic!("socket {n}: {e}")));
    }
    match connect(&first, None, &query).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        other => panic!("one past the cap: {:?}", other.map(|_| "connected")),
    }

    // Past the grace a connection still opening gets (API Gateway answers 410 until its
    // `$connect` returns), then the server dies with every record in place.
    tokio::time::sleep(Duration::from_secs(11)).await;
    first.stop();
    drop(sockets);
    let server = Server::start_with(dir.path(), &flags);

    let mut socket = connect(&server, None, &query)
        .await
        .expect("the dead sockets' places are free at once");
    Api::new(&server)
        .post("/tasks/", json!({ "title": "heard" }), Some(&access))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(next_message(&mut socket).await["title"], "heard");
}

/// A socket whose token has expired still holds its place until it closes (it may authenticate
/// again): otherwise a user could open the cap's worth of sockets with a token about to expire,
/// then as many again with the next one, and so on.
async fn sockets_whose_tokens_expired_hold_their_places_until_they_close(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let flags = store_flags(dynamodb).await;
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // Long enough for 20 handshakes on a loaded machine.
    let env = [("TASKMASTER_ACCESS_TOKEN_TTL", "20")];
    let server = Server::start_with_env(dir.path(), &flags, &env);
    let api = Api::new(&server);
    let (lapsing, refresh) = user(&api).await;
    let mut sockets = Vec::new();
    for n in 0..shared::realtime::MAX_CONNECTIONS_PER_USER {
        let socket = connect(&server, None, &format!("?token={lapsing}")).await;
        sockets.push(socket.unwrap_or_else(|e| panic!("socket {n}: {e}")));
    }
    let expires = testkit::token_claim(&lapsing, "exp");
    testkit::sleep_until_unix(expires, Duration::from_millis(300)).await;
    let refreshed = api.refresh(&refresh).await.expect(StatusCode::OK);
    let fresh = refreshed.body["access"].as_str().expect("an access token");
    let query = format!("?token={fresh}");

    match connect(&server, None, &query).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        other => panic!("past the cap: {:?}", other.map(|_| "connected")),
    }
    // One closes: its place is free once its `$disconnect` has run.
    let mut closing = sockets.pop().unwrap();
    closing.close(None).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match connect(&server, None, &query).await {
            Ok(_) => break,
            Err(WsError::Http(response)) if std::time::Instant::now() < deadline => {
                assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("after one closed: {error}"),
        }
    }
}

on_both_stores!(
    sockets_gone_with_a_killed_server_free_their_places_at_the_cap,
    sockets_whose_tokens_expired_hold_their_places_until_they_close,
);
