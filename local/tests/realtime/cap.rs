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

on_both_stores!(sockets_gone_with_a_killed_server_free_their_places_at_the_cap);
