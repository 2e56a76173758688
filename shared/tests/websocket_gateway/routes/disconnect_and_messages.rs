//! `$disconnect` forgetting its connection and only it, and `$default` answering what a client
//! sends: a JSON error for anything it does not know, a pong to a ping.

use serde_json::json;

use super::{CONNECTION_ID, Harness, connect_json, recorded, request, status_and_body};

#[tokio::test]
async fn disconnect_removes_the_connection_it_was_made_for() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    harness.connect_as(&user).await;

    let response = harness.disconnect(recorded("ws-disconnect")).await;

    assert_eq!(status_and_body(&response).0, 200);
    assert_eq!(harness.connections_of(user.id).await, Vec::<String>::new());
    assert_eq!(harness.owner_of(CONNECTION_ID).await, None);
}

#[tokio::test]
async fn disconnect_leaves_the_users_other_connections() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let mut other = connect_json(&user.access);
    other["requestContext"]["connectionId"] = json!("OtherConnId0=");
    for event in [connect_json(&user.access), other] {
        assert_eq!(harness.connect(request(event)).await.status_code, 200);
    }

    let response = harness.disconnect(recorded("ws-disconnect")).await;

    assert_eq!(response.status_code, 200);
    assert_eq!(harness.connections_of(user.id).await, vec!["OtherConnId0="]);
}

#[tokio::test]
async fn disconnecting_an_unknown_connection_is_ok() {
    let harness = Harness::new().await;

    let response = harness.disconnect(recorded("ws-disconnect")).await;

    assert_eq!(status_and_body(&response).0, 200);
    assert_eq!(harness.owner_of(CONNECTION_ID).await, None);
}

#[tokio::test]
async fn a_client_message_gets_a_json_error_and_the_connection_stays() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    harness.connect_as(&user).await;

    let response = harness.message(recorded("ws-default")).await;

    let (status, body) = status_and_body(&response);
    assert_eq!(status, 200);
    assert_eq!(body["action"], "error", "{body}");
    assert!(body["detail"].is_string(), "{body}");
    assert_eq!(harness.connections_of(user.id).await, vec![CONNECTION_ID]);

    let mut ping = recorded("ws-default");
    ping.body = Some(r#"{"action":"ping"}"#.to_owned());
    let (status, body) = status_and_body(&harness.message(ping).await);
    assert_eq!(
        (status, body),
        (200, serde_json::json!({ "action": "pong" }))
    );
}
