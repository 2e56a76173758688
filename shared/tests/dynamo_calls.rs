//! What each endpoint costs on DynamoDB, counted through an SDK interceptor against DynamoDB
//! Local: a change that adds a round trip fails here (and `docs/DYNAMODB.md` must change with it).

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::json;
use support::dynamo_harness::{Harness, unique};

mod support;

fn sorted(mut calls: Vec<String>) -> Vec<String> {
    calls.sort();
    calls
}

#[tokio::test]
async fn every_endpoint_makes_its_documented_dynamodb_calls() {
    let h = Harness::new(None).await;
    let name = unique("calls_");
    let password = "correct-horse-battery";
    let register =
        json!({ "username": name, "email": format!("{name}@example.com"), "password": password });

    let calls = h
        .calls_of("POST", "/api/v1/auth/register/", None, Some(register))
        .await;
    assert_eq!(
        calls,
        ["TransactWriteItems"],
        "register (no client address)"
    );
    // From an address (as API Gateway gives one), the address's registration counter first.
    let other = unique("calls_");
    let body =
        json!({ "username": other, "email": format!("{other}@example.com"), "password": password });
    let mut request = testkit::http::request(
        axum::http::Method::POST,
        "/api/v1/auth/register/",
        Some(&body),
        None,
    );
    let address = "192.0.2.1".parse().unwrap();
    request
        .extensions_mut()
        .insert(shared::http::client::with_source_ip(address));
    h.calls.take();
    let response = testkit::http::send(&h.app, request).await;
    response.assert_status(StatusCode::CREATED);
    assert_eq!(
        h.calls.take(),
        ["UpdateItem", "TransactWriteItems"],
        "register"
    );

    let login = json!({ "username": name, "password": password });
    let sign_in = async || {
        let (_, answer, _) = h
            .send("POST", "/api/v1/auth/login/", None, Some(login.clone()))
            .await;
        let token = |field: &str| answer["tokens"][field].as_str().unwrap().to_owned();
        (token("access"), token("refresh"))
    };
    let (access, refresh) = sign_in().await;
    let token = Some(access.as_str());
    // Sessions of their own for the logout and the replay below, which end them.
    let (_, leaving) = sign_in().await;
    let (_, replayed) = sign_in().await;
    let calls = h
        .calls_of("POST", "/api/v1/auth/login/", None, Some(login.clone()))
        .await;
    // The attempt is counted (UpdateItem) beside the first user read, and taken back beside the
    // login's write once the password proves right, so the order varies: compared sorted.
    assert_eq!(
        sorted(calls),
        [
            "GetItem",
            "GetItem",
            "TransactWriteItems",
            "UpdateItem",
            "UpdateItem"
        ],
        "login"
    );
    for (who, username) in [
        ("a known user", name.as_str()),
        ("nobody", "no_such_user_here"),
    ] {
        h.calls.take();
        let body = json!({ "username": username, "password": "wrong-password-1" });
        let (status, _, _) = h
            .send("POST", "/api/v1/auth/login/", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            sorted(h.calls.take()),
            ["GetItem", "GetItem", "UpdateItem", "UpdateItem"],
            "a failed login of {who} reads the same, and its count is settled"
        );
    }

    assert_eq!(
        h.calls_of("GET", "/api/v1/auth/profile/", token, None)
            .await,
        ["GetItem"],
        "profile-get"
    );
    let calls = h
        .calls_of(
            "PATCH",
            "/api/v1/auth/profile/",
            token,
            Some(json!({ "first_name": "Ada" })),
        )
        .await;
    assert_eq!(
        calls,
        ["GetItem", "UpdateItem"],
        "profile-update without a rename"
    );
    let calls = h
        .calls_of(
            "PUT",
            "/api/v1/auth/profile/",
            token,
            Some(json!({ "username": unique("renamed_") })),
        )
        .await;
    assert_eq!(
        calls,
        ["GetItem", "UpdateItem", "TransactWriteItems"],
        "profile-update with a rename: the user, the name-change counter, the rename"
    );

    let calls = h
        .calls_of(
            "POST",
            "/api/v1/auth/token/verify/",
            None,
            Some(json!({ "token": access })),
        )
        .await;
    assert_eq!(calls, ["GetItem"], "token-verify of an access token");
    let calls = h
        .calls_of(
            "POST",
            "/api/v1/auth/token/verify/",
            None,
            Some(json!({ "token": refresh })),
        )
        .await;
    assert_eq!(calls, ["BatchGetItem"], "token-verify of a refresh token");
    let (_, pair, _) = h
        .send(
            "POST",
            "/api/v1/auth/token/refresh/",
            None,
            Some(json!({ "refresh": refresh })),
        )
        .await;
    let calls = h
        .calls_of(
            "POST",
            "/api/v1/auth/token/refresh/",
            None,
            Some(json!({ "refresh": pair["refresh"] })),
        )
        .await;
    assert_eq!(calls, ["GetItem", "TransactWriteItems"], "token-refresh");
    let calls = h
        .calls_of(
            "POST",
            "/api/v1/auth/logout/",
            None,
            Some(json!({ "refresh": leaving })),
        )
        .await;
    // The token and its user in one read; the session ended and the token revoked in one write.
    assert_eq!(calls, ["BatchGetItem", "TransactWriteItems"], "logout");
    // A replay: the consumed token read, then it and its user read together, and the session
    // ended in one write (no sockets are served here, so no connections Query).
    let present = async || {
        let body = json!({ "refresh": replayed });
        h.send("POST", "/api/v1/auth/token/refresh/", None, Some(body))
            .await
            .0
    };
    assert_eq!(present().await, StatusCode::OK);
    h.calls.take();
    assert_eq!(present().await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.calls.take(),
        ["GetItem", "BatchGetItem", "TransactWriteItems"],
        "token-refresh, a consumed token replayed"
    );

    let (_, task, _) = h
        .send(
            "POST",
            "/api/v1/tasks/",
            token,
            Some(json!({ "title": "counted" })),
        )
        .await;
    let path = format!("/api/v1/tasks/{}/", task["id"].as_str().unwrap());
    let calls = h
        .calls_of(
            "POST",
            "/api/v1/tasks/",
            token,
            Some(json!({ "title": "another" })),
        )
        .await;
    assert_eq!(calls, ["TransactWriteItems"], "task-create");
    // The session check (the user item) is read beside the task, in parallel.
    assert_eq!(
        h.calls_of("GET", &path, token, None).await,
        ["GetItem", "GetItem"],
        "task-get"
    );
    let calls = h
        .calls_of("PATCH", &path, token, Some(json!({ "title": "renamed" })))
        .await;
    assert_eq!(
        calls,
        ["GetItem", "GetItem", "TransactWriteItems"],
        "task-update, same status (the session checked inside the write)"
    );
    let calls = h
        .calls_of("PUT", &path, token, Some(json!({ "status_task": "DONE" })))
        .await;
    assert_eq!(
        calls,
        ["GetItem", "GetItem", "TransactWriteItems"],
        "task-update, status change"
    );
    // The two at once: compared sorted.
    assert_eq!(
        sorted(h.calls_of("GET", "/api/v1/tasks/", token, None).await),
        ["BatchGetItem", "Query"],
        "task-list"
    );
    let calls = h
        .calls_of(
            "GET",
            "/api/v1/tasks/?status_task=DONE&page_size=1",
            token,
            None,
        )
        .await;
    assert_eq!(
        sorted(calls),
        ["BatchGetItem", "Query"],
        "task-list by status"
    );
    assert_eq!(
        h.calls_of("DELETE", &path, token, None).await,
        ["GetItem", "GetItem", "TransactWriteItems"],
        "task-delete"
    );

    h.calls.take();
    let (status, changed, _) = h
        .send(
            "POST",
            "/api/v1/auth/profile/password/",
            token,
            Some(json!({ "old_password": password, "new_password_1": "new-horse-battery", "new_password_2": "new-horse-battery" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        h.calls.take(),
        [
            "GetItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem",
            "TransactWriteItems"
        ],
        "password-update: the user, the user's and the username's failures counted and taken back \
         (no client address here), the update with its fresh refresh token"
    );
    let access = changed["access"].as_str().unwrap().to_owned();
    let calls = h
        .calls_of("POST", "/api/v1/auth/logout/all/", Some(&access), None)
        .await;
    assert_eq!(calls, ["GetItem", "UpdateItem"], "logout-all");
}

#[tokio::test]
async fn the_websocket_routes_and_the_stream_function_make_their_documented_calls() {
    use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
    use shared::realtime::{Gateway, Notifier};

    let h = Harness::new(None).await;
    let name = unique("socket_");
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
    let (_, registered, _) = h
        .send("POST", "/api/v1/auth/register/", None, Some(body))
        .await;
    let access = registered["tokens"]["access"].as_str().unwrap().to_owned();
    let gateway = Gateway::new(&h.stores, h.jwt.clone());
    let event = |route: &str| {
        let mut event = ApiGatewayWebsocketProxyRequest::default();
        event.request_context.connection_id = Some(unique("conn"));
        event.request_context.route_key = Some(route.to_owned());
        event
            .headers
            .insert("authorization", format!("Bearer {access}").parse().unwrap());
        event
    };
    let connect = event("$connect");
    let mut disconnect = event("$disconnect");
    disconnect.request_context.connection_id = connect.request_context.connection_id.clone();
    let mut authenticate = event("$default");
    authenticate.request_context.connection_id = connect.request_context.connection_id.clone();
    authenticate.body = Some(json!({ "action": "authenticate", "token": access }).to_string());

    h.calls.take();
    assert_eq!(gateway.connect(connect).await.status_code, 200);
    let mut calls = h.calls.take();
    // The last two at once, in either order.
    calls[2..].sort_unstable();
    assert_eq!(
        calls,
        ["GetItem", "TransactWriteItems", "GetItem", "Query"],
        "ws-connect: the session checked before the connection is recorded and after, beside a \
         count of the user's connections"
    );
    assert_eq!(gateway.message(authenticate).await.status_code, 200);
    assert_eq!(
        h.calls.take(),
        ["GetItem", "Query", "UpdateItem", "GetItem", "Query"],
        "ws-default, authenticate: the session, the user's connections, the renewal, the session \
         again (a logout landing meanwhile) beside the connections counted again"
    );
    assert_eq!(gateway.disconnect(disconnect).await.status_code, 200);
    assert_eq!(
        h.calls.take(),
        ["GetItem", "TransactWriteItems"],
        "ws-disconnect"
    );
    let mut ping = event("$default");
    ping.body = Some(r#"{"action":"ping"}"#.to_owned());
    assert_eq!(gateway.message(ping).await.status_code, 200);
    assert!(h.calls.take().is_empty(), "ws-default, a ping");

    let (_, task, _) = h
        .send(
            "POST",
            "/api/v1/tasks/",
            Some(&access),
            Some(json!({ "title": "streamed" })),
        )
        .await;
    let task = shared::domain::TaskId::parse(task["id"].as_str().unwrap()).unwrap();
    let owner = shared::auth::JwtKeys::decode(&h.jwt, &access, shared::auth::TokenType::Access)
        .await
        .unwrap()
        .unwrap()
        .user_id;
    let stored = h.stores.tasks.task(owner, task).await.unwrap().unwrap();
    let mut event = aws_lambda_events::event::dynamodb::Event::default();
    event.records = vec![
        shared::store::dynamo::stream_record(&shared::domain::TaskChange {
            sequence: 1,
            before: None,
            after: Some(stored),
        })
        .unwrap(),
    ];
    // No connection is open, so the stream function only looks: one Query, and the owner's
    // session epoch read beside it; no post.
    let management = Notifier::management_client("http://127.0.0.1:9", Some("test-key"));
    h.calls.take();
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    let response = Notifier::new(&h.stores, management)
        .handle(event, deadline)
        .await;
    assert!(response.batch_item_failures.is_empty());
    let mut calls = h.calls.take();
    calls.sort();
    assert_eq!(calls, ["GetItem", "Query"], "task-stream per task change");
}
