//! The local stand-in for API Gateway's WebSocket API: upgrades `ws://HOST/ws/tasks/`, gives each
//! connection an id, and calls the same `$connect` / `$default` / `$disconnect` code the Lambdas
//! run, with real API Gateway WebSocket events. Served inside the REST app's layers, so a request
//! that is no handshake gets the API's JSON errors and a request id, as any other path does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use shared::domain::Timestamp;
use shared::error::Error;
use shared::realtime::Gateway;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::time::Instant;

/// An open connection: where its outgoing messages go, and what `GET @connections` reports.
#[derive(Debug)]
struct Client {
    outgoing: UnboundedSender<Message>,
    connected_at: Timestamp,
    user_agent: String,
}

/// The open connections of this server, by connection id.
#[derive(Debug, Default)]
pub struct Registry(Mutex<HashMap<String, Client>>);

impl Registry {
    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<String, Client>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message for a connection; `false` if it is not open (API Gateway's 410).
    pub fn send(&self, id: &str, message: Message) -> bool {
        self.clients()
            .get(id)
            .is_some_and(|client| client.outgoing.send(message).is_ok())
    }

    /// Closes a connection from the server side; `false` if it is not open.
    pub fn close(&self, id: &str) -> bool {
        match self.clients().remove(id) {
            Some(client) => {
                let _ = client.outgoing.send(Message::Close(None));
                true
            }
            None => false,
        }
    }

    /// `(connected_at, user_agent)` of an open connection.
    pub fn info(&self, id: &str) -> Option<(Timestamp, String)> {
        self.clients()
            .get(id)
            .map(|client| (client.connected_at, client.user_agent.clone()))
    }
}

/// API Gateway's limits on a WebSocket connection, which the local server applies the same way:
/// closed after `idle` without a message from the client, and after `max_duration` in any case
/// (API Gateway: 10 minutes and 2 hours). Either close runs `$disconnect`, as on AWS.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub idle: Duration,
    pub max_duration: Duration,
}

#[derive(Clone)]
struct WsState {
    gateway: Gateway,
    registry: Arc<Registry>,
    limits: Limits,
}

/// `GET /ws/tasks` and `/ws/tasks/`, for [`shared::http::app`] to wrap with the other routes (its
/// JSON 405 answers their other methods).
pub fn routes<S: Clone + Send + Sync + 'static>(
    gateway: Gateway,
    registry: Arc<Registry>,
    limits: Limits,
) -> Router<S> {
    Router::new()
        .route("/ws/tasks", get(upgrade))
        .route("/ws/tasks/", get(upgrade))
        .with_state(WsState {
            gateway,
            registry,
            limits,
        })
}

/// axum's [`WebSocketUpgrade`], with the API's JSON 400 (not axum's plain text) for a request that
/// is not a WebSocket handshake.
struct Handshake(WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(Self)
            .map_err(|rejection| {
                Error::BadRequest(format!(
                    "A WebSocket upgrade is required here ({}).",
                    rejection.body_text()
                ))
            })
    }
}

/// An API Gateway-style connection id: 10 random bytes, base64.
fn new_connection_id() -> String {
    use base64::Engine;
    let bytes: [u8; 10] = rand::random();
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// The event API Gateway would send for `route` on connection `id`.
fn event(
    route: &str,
    event_type: &str,
    id: &str,
    headers: HeaderMap,
    query: HashMap<String, String>,
    body: Option<String>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut request = ApiGatewayWebsocketProxyRequest::default();
    request.headers = headers;
    request.query_string_parameters = query.into();
    request.body = body;
    let context = &mut request.request_context;
    context.route_key = Some(route.to_owned());
    context.event_type = Some(event_type.to_owned());
    context.connection_id = Some(id.to_owned());
    context.stage = Some("local".to_owned());
    context.domain_name = Some("localhost".to_owned());
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.request_time_epoch = Timestamp::now().unix() * 1000;
    context.message_direction = Some("IN".to_owned());
    request
}

fn body_text(response: &ApiGatewayProxyResponse) -> Option<String> {
    match &response.body {
        Some(Body::Text(text)) => Some(text.clone()),
        Some(Body::Binary(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    }
}

async fn upgrade(
    State(state): State<WsState>,
    Handshake(upgrade): Handshake,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = new_connection_id();
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let answer = state
        .gateway
        .connect(event("$connect", "CONNECT", &id, headers, query, None))
        .await;
    if answer.status_code != 200 {
        // Refused at the handshake, as API Gateway does: no 101.
        let status = u16::try_from(answer.status_code)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok());
        let body = body_text(&answer).unwrap_or_default();
        let headers = [("content-type", "application/json")];
        return (status.unwrap_or(StatusCode::FORBIDDEN), headers, body).into_response();
    }
    upgrade.on_upgrade(move |socket| session(socket, id, user_agent, state))
}

async fn session(socket: WebSocket, id: String, user_agent: String, state: WsState) {
    let (mut sink, mut incoming) = socket.split();
    let (outgoing, mut queue) = unbounded_channel();
    state.registry.clients().insert(
        id.clone(),
        Client {
            outgoing,
            connected_at: Timestamp::now(),
            user_agent,
        },
    );
    tracing::debug!(connection_id = id, "websocket connected");
    let writer = tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
    });
    let end = Instant::now() + state.limits.max_duration;
    loop {
        let next =
            tokio::time::timeout_at(end.min(Instant::now() + state.limits.idle), incoming.next());
        let message = match next.await {
            Ok(Some(Ok(message))) => message,
            Ok(_) => break,
            Err(_) => {
                // What API Gateway sends when its idle or duration limit ends a connection.
                let frame = CloseFrame {
                    code: close_code::AWAY,
                    reason: "Going away".into(),
                };
                state.registry.send(&id, Message::Close(Some(frame)));
                tracing::debug!(connection_id = id, "websocket limit reached; closing");
                break;
            }
        };
        let body = match message {
            Message::Text(text) => text.to_string(),
            Message::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let answer = state
            .gateway
            .message(event(
                "$default",
                "MESSAGE",
                &id,
                HeaderMap::new(),
                HashMap::new(),
                Some(body),
            ))
            .await;
        if let Some(reply) = body_text(&answer) {
            state.registry.send(&id, Message::Text(reply.into()));
        }
    }
    state.registry.clients().remove(&id);
    // Let a close frame already queued go out before the writer stops.
    let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
    state
        .gateway
        .disconnect(event(
            "$disconnect",
            "DISCONNECT",
            &id,
            HeaderMap::new(),
            HashMap::new(),
            None,
        ))
        .await;
    tracing::debug!(connection_id = id, "websocket disconnected");
}
