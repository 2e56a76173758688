//! The WebSocket routes on the recorded API Gateway events of `events/`: `ws-connect.json`
//! (with `<access-token>` filled in), `ws-disconnect.json` and `ws-default.json`, through
//! [`Gateway`] over the test crate's store, each route run as its own function.

mod bound;
mod deadline;
mod disconnect_and_messages;
mod racing;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use serde_json::{Value, json};
use shared::AppState;
use shared::config::AuthConfig;
use shared::domain::UserId;
use shared::realtime::{CONNECTION_LIFETIME_SECONDS, Gateway};
use shared::store::Stores;

/// The connection id the three recorded events share.
const CONNECTION_ID: &str = "L0SM9cOFvHcCIhw=";

const SECRET: &str = "websocket-gateway-tests-secret-of-32-bytes";

/// A gateway and the services that register users, on one fresh store.
struct Harness {
    stores: Stores,
    state: AppState,
    gateway: Gateway,
}

/// A registered user and its tokens.
struct Registered {
    id: UserId,
    access: String,
    refresh: String,
}

impl Harness {
    async fn new() -> Self {
        let stores = crate::backend::stores().await;
        let state = AppState::new(stores.clone(), &AuthConfig::with_secret(SECRET));
        let gateway = Gateway::new(&stores, state.jwt.clone());
        Self {
            stores,
            state,
            gateway,
        }
    }

    async fn connect(&self, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        crate::backend::as_function("ws-connect", self.gateway.connect(event)).await
    }

    async fn disconnect(&self, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        crate::backend::as_function("ws-disconnect", self.gateway.disconnect(event)).await
    }

    async fn message(&self, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        crate::backend::as_function("ws-default", self.gateway.message(event)).await
    }

    /// Connects `user` with its access token, as the recorded connection.
    async fn connect_as(&self, user: &Registered) {
        let connected = self.connect(request(connect_json(&user.access))).await;
        assert_eq!(connected.status_code, 200, "{:?}", connected.body);
    }

    async fn register(&self) -> Registered {
        let (user, pair) = self
            .state
            .accounts
            .register(testkit::events::events_user(), None)
            .await
            .expect("registering");
        Registered {
            id: user.id,
            access: pair.access,
            refresh: pair.refresh,
        }
    }

    async fn connections_of(&self, user: UserId) -> Vec<String> {
        testkit::events::connection_ids(&self.stores, user).await
    }

    /// `user`'s connection records, whole.
    async fn records_of(&self, user: UserId) -> Vec<shared::store::Connection> {
        self.stores
            .connections
            .connections_of(user)
            .await
            .expect("reading a user's connections")
    }

    async fn owner_of(&self, id: &str) -> Option<UserId> {
        self.stores
            .connections
            .connection_owner(id)
            .await
            .expect("reading a connection's owner")
    }
}

fn event_text(name: &str) -> String {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// `ws-connect.json` with its placeholder replaced by `token`, as JSON to adjust further.
fn connect_json(token: &str) -> Value {
    serde_json::from_str(&event_text("ws-connect").replace("<access-token>", token)).unwrap()
}

/// `event` without its `Authorization` header (in both header maps).
fn without_authorization(mut event: Value) -> Value {
    for map in ["headers", "multiValueHeaders"] {
        event[map].as_object_mut().unwrap().remove("Authorization");
    }
    event
}

/// `event` with `Authorization: value` in both header maps.
fn with_authorization(mut event: Value, value: &str) -> Value {
    event["headers"]["Authorization"] = json!(value);
    event["multiValueHeaders"]["Authorization"] = json!([value]);
    event
}

/// `event` with `?token=<token>` and no `Authorization` header.
fn with_query_token(event: Value, token: &str) -> Value {
    let mut event = without_authorization(event);
    event["queryStringParameters"] = json!({ "token": token });
    event["multiValueQueryStringParameters"] = json!({ "token": [token] });
    event
}

fn request(event: Value) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_value(event).expect("an API Gateway WebSocket event")
}

fn recorded(name: &str) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_str(&event_text(name)).expect("an API Gateway WebSocket event")
}

/// `ws-default.json` carrying `{"action": "authenticate", "token": token}`.
fn authenticate(token: &str) -> ApiGatewayWebsocketProxyRequest {
    let mut message = recorded("ws-default");
    message.body = Some(json!({ "action": "authenticate", "token": token }).to_string());
    message
}

/// Status and JSON body of a response (which must say it is JSON).
fn status_and_body(response: &ApiGatewayProxyResponse) -> (i64, Value) {
    assert_eq!(
        response
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("application/json")
    );
    let body = match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).expect("a JSON body"),
        other => panic!("expected a text body, got {other:?}"),
    };
    (response.status_code, body)
}

#[test]
fn the_recorded_events_share_one_connection_and_name_their_routes() {
    let events = [
        (recorded("ws-connect"), "$connect", "CONNECT"),
        (recorded("ws-disconnect"), "$disconnect", "DISCONNECT"),
        (recorded("ws-default"), "$default", "MESSAGE"),
    ];
    for (event, route, kind) in events {
        let context = &event.request_context;
        assert_eq!(context.connection_id.as_deref(), Some(CONNECTION_ID));
        assert_eq!(context.route_key.as_deref(), Some(route));
        assert_eq!(context.event_type.as_deref(), Some(kind));
    }
}

#[tokio::test]
async fn connect_with_a_bearer_access_token_stores_the_connection_under_its_user() {
    let harness = Harness::new().await;
    let user = harness.register().await;

    let response = harness.connect(request(connect_json(&user.access))).await;

    assert_eq!(status_and_body(&response).0, 200);
    assert_eq!(harness.connections_of(user.id).await, vec![CONNECTION_ID]);
    assert_eq!(harness.owner_of(CONNECTION_ID).await, Some(user.id));
}

#[tokio::test]
async fn connect_with_the_raw_token_in_authorization_stores_the_connection() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let event = with_authorization(connect_json(""), &user.access);

    let response = harness.connect(request(event)).await;

    assert_eq!(status_and_body(&response).0, 200);
    assert_eq!(harness.connections_of(user.id).await, vec![CONNECTION_ID]);
}

#[tokio::test]
async fn connect_with_a_lowercase_bearer_scheme_stores_the_connection() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let event = with_authorization(connect_json(""), &format!("bearer {}", user.access));

    let response = harness.connect(request(event)).await;

    assert_eq!(status_and_body(&response).0, 200);
    assert_eq!(harness.connections_of(user.id).await, vec![CONNECTION_ID]);
}

#[tokio::test]
async fn connect_with_the_token_in_the_query_string_stores_the_connection() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let event = with_query_token(connect_json(""), &user.access);

    let response = harness.connect(request(event)).await;

    assert_eq!(status_and_body(&response).0, 200);
    assert_eq!(harness.connections_of(user.id).await, vec![CONNECTION_ID]);
    assert_eq!(harness.owner_of(CONNECTION_ID).await, Some(user.id));
}

/// Asserts that `event` is refused with 401 and stores no connection (of `user`, or by id).
async fn assert_refused(harness: &Harness, user: UserId, event: Value, what: &str) {
    let response = harness.connect(request(event)).await;

    let (status, body) = status_and_body(&response);
    assert_eq!(status, 401, "{what}: {body}");
    assert!(body["detail"].is_string(), "{what}: a detail: {body}");
    assert_eq!(
        harness.connections_of(user).await,
        Vec::<String>::new(),
        "{what}"
    );
    assert_eq!(harness.owner_of(CONNECTION_ID).await, None, "{what}");
}

#[tokio::test]
async fn connect_without_a_token_is_refused_and_stores_nothing() {
    let harness = Harness::new().await;
    let user = harness.register().await;

    assert_refused(
        &harness,
        user.id,
        without_authorization(connect_json("")),
        "no token",
    )
    .await;
    assert_refused(&harness, user.id, connect_json(""), "an empty Bearer token").await;
}

#[tokio::test]
async fn connect_with_a_garbage_or_forged_token_is_refused_and_stores_nothing() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let forger = AuthConfig::with_secret("another-secret-entirely-of-32-bytes!!");
    let forged = shared::auth::JwtKeys::new(&forger)
        .issue_pair(user.id, 0, shared::domain::SessionId::random(), None)
        .unwrap()
        .access;

    assert_refused(
        &harness,
        user.id,
        connect_json("garbage"),
        "a garbage bearer token",
    )
    .await;
    assert_refused(
        &harness,
        user.id,
        with_query_token(connect_json(""), "garbage"),
        "a garbage query token",
    )
    .await;
    assert_refused(
        &harness,
        user.id,
        connect_json(&forged),
        "a token signed with another secret",
    )
    .await;
    assert_refused(
        &harness,
        user.id,
        with_authorization(connect_json(""), &format!("Basic {}", user.access)),
        "an access token under another scheme",
    )
    .await;
}

#[tokio::test]
async fn connect_with_a_refresh_token_is_refused_and_stores_nothing() {
    let harness = Harness::new().await;
    let user = harness.register().await;

    assert_refused(
        &harness,
        user.id,
        connect_json(&user.refresh),
        "a refresh token in the header",
    )
    .await;
    assert_refused(
        &harness,
        user.id,
        with_query_token(connect_json(""), &user.refresh),
        "a refresh token in the query string",
    )
    .await;
}

#[tokio::test]
async fn connect_with_a_token_of_a_user_that_does_not_exist_is_refused() {
    let harness = Harness::new().await;
    let ghost = UserId::new();
    let token = harness
        .state
        .jwt
        .issue_pair(ghost, 0, shared::domain::SessionId::random(), None)
        .unwrap()
        .access;

    assert_refused(&harness, ghost, connect_json(&token), "a ghost's token").await;
}

#[tokio::test]
async fn connect_with_an_expired_access_token_is_refused() {
    let harness = Harness::new().await;
    let user = harness.register().await;
    let mut expired = AuthConfig::with_secret(SECRET);
    expired.access_ttl_seconds = -60;
    let token = shared::auth::JwtKeys::new(&expired)
        .issue_pair(user.id, 0, shared::domain::SessionId::random(), None)
        .unwrap()
        .access;

    assert_refused(&harness, user.id, connect_json(&token), "an expired token").await;
}

#[test]
fn a_stored_connection_expires_a_little_after_api_gateways_two_hours() {
    let two_hours = 2 * 60 * 60;
    assert!(
        (two_hours + 1..=two_hours + 60 * 60).contains(&CONNECTION_LIFETIME_SECONDS),
        "{CONNECTION_LIFETIME_SECONDS} s"
    );
}
