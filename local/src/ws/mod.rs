//! The local stand-in for API Gateway's WebSocket API: upgrades `ws://HOST/ws/tasks/`, gives each
//! connection an id, and calls the same `$connect` / `$default` / `$disconnect` code the Lambdas
//! run, with real API Gateway WebSocket events. Served inside the REST app's layers, so a request
//! that is no handshake gets the API's JSON errors and a request id, as any other path does.

mod activity;
mod registry;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use shared::domain::Timestamp;
use shared::error::Error;
use shared::realtime::Gateway;
use tokio::sync::Notify;
use tokio::sync::mpsc::channel;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;

use activity::Activity;
pub use registry::Registry;
use registry::{Client, Live, close_frame};

/// API Gateway's limits on a WebSocket connection, applied the same way: closed after `idle`
/// without a message either way (a client's, or one posted to it; control frames such as pings do
/// not count), and after `max_duration` in any case (API Gateway: 10 minutes and 2 hours), each
/// close running `$disconnect`. The sizes are fixed, as on AWS: a frame
/// over [`MAX_FRAME`] or a message over [`MAX_MESSAGE`] closes the connection with 1009.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub idle: Duration,
    pub max_duration: Duration,
}

/// API Gateway's largest WebSocket frame, 32 KB: longer messages come in several frames.
pub const MAX_FRAME: usize = 32 * 1024;
/// API Gateway's largest WebSocket message, 128 KB.
pub const MAX_MESSAGE: usize = 128 * 1024;
/// Bytes a connection may hold written but not yet taken by its client: a few of the largest
/// messages.
const MAX_UNWRITTEN: usize = 4 * MAX_MESSAGE;

#[derive(Clone)]
struct WsState {
    gateway: Gateway,
    registry: Arc<Registry>,
    limits: Limits,
}

/// Whether `path` is the WebSocket API's (not the HTTP API's).
pub fn serves(path: &str) -> bool {
    matches!(path, "/ws/tasks" | "/ws/tasks/")
}

/// `GET /ws/tasks` and `/ws/tasks/`, for [`shared::http::app`] to wrap (JSON 405 to other methods).
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

/// The event API Gateway would send for `route` on `id` (`headers`: each one's last line).
fn event(
    route: &str,
    event_type: &str,
    id: &str,
    headers: HeaderMap,
    query: HashMap<String, String>,
    body: Option<String>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut request = ApiGatewayWebsocketProxyRequest::default();
    for (name, value) in &headers {
        request.headers.insert(name, value.clone());
    }
    request.multi_value_headers = headers;
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
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // On a task of its own, so a client leaving mid-handshake (which drops this handler) cannot
    // cut `$connect` short; what it accepted is then dropped, and its `$disconnect` runs.
    let connect = tokio::spawn({
        let state = state.clone();
        async move {
            let id = new_connection_id();
            let event = event("$connect", "CONNECT", &id, headers, query, None);
            let live = Live::new(&state.registry);
            let answer = state.gateway.connect(event).await;
            let accepted = (answer.status_code == 200).then(|| Accepted {
                id,
                state,
                live: Some(live),
            });
            (answer, accepted)
        }
    });
    let Ok((answer, accepted)) = connect.await else {
        return Error::Unexpected(anyhow::anyhow!("$connect panicked")).into_response();
    };
    let Some(accepted) = accepted else {
        // Refused at the handshake, as API Gateway does: no 101.
        let status = u16::try_from(answer.status_code)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok());
        let body = body_text(&answer).unwrap_or_default();
        let mut refusal = (status.unwrap_or(StatusCode::FORBIDDEN), body).into_response();
        for name in ["content-type", "retry-after"] {
            if let Some(value) = answer.headers.get(name) {
                refusal.headers_mut().insert(name, value.clone());
            }
        }
        return refusal;
    };
    upgrade
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        // What the socket may hold unwritten, the pongs it answers pings with included: a client
        // that pings and never reads would otherwise grow it without bound. Past it, the
        // connection ends, as past the outgoing queue (`registry::QUEUE`).
        .max_write_buffer_size(MAX_UNWRITTEN)
        // A failed upgrade drops the callback below, and with it `accepted`.
        .on_upgrade(move |socket| session(socket, accepted, user_agent))
}

/// A connection `$connect` accepted. Its `$disconnect` runs once: when its session ends, or when
/// this is dropped without one (the client left mid-handshake, the upgrade failed), as API Gateway
/// runs it after every `$connect` that succeeded: a record left behind has the stream retry
/// deliveries to it.
struct Accepted {
    id: String,
    state: WsState,
    /// Held until `$disconnect` has run; taken when it runs.
    live: Option<Live>,
}

impl Accepted {
    /// Runs `$disconnect`, then gives the session's place back.
    async fn disconnect(mut self) {
        let live = self.live.take();
        disconnect(&self.state, &self.id).await;
        drop(live);
    }
}

impl Drop for Accepted {
    fn drop(&mut self) {
        let Some(live) = self.live.take() else { return };
        let (id, state) = (std::mem::take(&mut self.id), self.state.clone());
        tracing::debug!(connection_id = id, "websocket handshake not completed");
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                disconnect(&state, &id).await;
                drop(live);
            });
        }
    }
}

async fn session(socket: WebSocket, accepted: Accepted, user_agent: String) {
    let (id, state) = (accepted.id.clone(), accepted.state.clone());
    let mut stopping = state.registry.stopping.subscribe();
    let (mut sink, mut incoming) = socket.split();
    let (outgoing, mut queue) = channel(registry::QUEUE);
    let overflow = Arc::new(Notify::new());
    state.registry.clients().insert(
        id.clone(),
        Client {
            outgoing,
            overflow: overflow.clone(),
            connected_at: Timestamp::now(),
            user_agent,
        },
    );
    tracing::debug!(connection_id = id, "websocket connected");
    let activity = Activity::new();
    let mut writer = tokio::spawn({
        let activity = activity.clone();
        async move {
            while let Some(message) = queue.recv().await {
                let closing = matches!(message, Message::Close(_));
                let data = matches!(message, Message::Text(_) | Message::Binary(_));
                // A client that took nothing for the write timeout (`crate::serve`), perhaps
                // mid-frame: nothing more can reach it, a close frame included. The session
                // ends with this task, and the connection with it (the client sees 1006).
                if sink.send(message).await.is_err() {
                    return Written::Cut;
                }
                if closing {
                    break;
                }
                if data {
                    activity.now();
                }
            }
            // Sends what tungstenite still holds: the reply to a client's close, without which a
            // browser reports 1006, an abnormal close. The connection ends once the session drops
            // its reading half, right after `$disconnect`, without waiting for the client.
            let _ = sink.close().await;
            Written::Flushed
        }
    });
    let end = Instant::now() + state.limits.max_duration;
    let mut written = false;
    let close = |code, reason: &'static str| {
        state.registry.send(&id, close_frame(code, reason));
        tracing::debug!(connection_id = id, reason, "closing websocket");
    };
    loop {
        let deadline = end.min(activity.last() + state.limits.idle);
        let next = tokio::select! {
            next = tokio::time::timeout_at(deadline, incoming.next()) => match next {
                Ok(next) => Some(next),
                // A message posted to the client meanwhile moved the idle deadline on.
                Err(_) if activity.last() + state.limits.idle > deadline && deadline < end => {
                    continue;
                }
                Err(_) => None,
            },
            _ = stopping.wait_for(|&stopping| stopping) => None,
            // Its queue overflowed (the registry dropped it): no close frame could get through.
            () = overflow.notified() => break,
            // The writer gave up on a client that reads nothing; or it sent a close, whose
            // reply is still read (a socket closed with it unread would send a reset, and the
            // client might lose the close frame).
            ended = &mut writer, if !written => {
                written = true;
                if matches!(ended, Ok(Written::Cut)) {
                    break;
                }
                continue;
            }
        };
        let message = match next {
            Some(Some(Ok(message))) => message,
            Some(Some(Err(error))) => {
                if let Some((code, reason)) = close_for(&error) {
                    close(code, reason);
                }
                break;
            }
            Some(None) => break,
            // What API Gateway sends when its idle or duration limit ends a connection, and what
            // the server sends all of them when it stops.
            None => {
                close(close_code::AWAY, "Going away");
                break;
            }
        };
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            activity.now();
        }
        let body = match message {
            Message::Text(text) => text.to_string(),
            // API Gateway takes no binary frame from a client: it closes with 1003 (its reason
            // text is not documented).
            Message::Binary(_) => {
                close(close_code::UNSUPPORTED, "Binary frames are not supported");
                break;
            }
            // tungstenite has queued the close reply of the same code (RFC 6455, 5.5.1); the
            // writer's closing flush sends it.
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
    // Let a close frame already queued go out, then stop the writer, which a client that reads
    // nothing would hold (and the socket with it) for as long as it kept its end open.
    if !written {
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut writer).await;
    }
    writer.abort();
    accepted.disconnect().await;
}

/// How a connection's writer ended.
enum Written {
    /// Its client took nothing for the write timeout: the connection is of no more use.
    Cut,
    /// It sent a close, or the session let it go, and flushed what tungstenite held.
    Flushed,
}

/// Runs the connection's `$disconnect`.
async fn disconnect(state: &WsState, id: &str) {
    let event = event(
        "$disconnect",
        "DISCONNECT",
        id,
        HeaderMap::new(),
        HashMap::new(),
        None,
    );
    state.gateway.disconnect(event).await;
    tracing::debug!(connection_id = id, "websocket disconnected");
}

/// The close a failed read gets: 1009 for a frame or message over [`MAX_FRAME`] or
/// [`MAX_MESSAGE`], 1007 for a text message that is not UTF-8, 1002 for a frame that breaks the
/// protocol (an unmasked or reserved one, a stray continuation: RFC 6455, 7.4.1).
fn close_for(error: &axum::Error) -> Option<(u16, &'static str)> {
    match std::error::Error::source(error)?.downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(_) => Some((close_code::SIZE, "Message too big")),
        tungstenite::Error::Utf8(_) => Some((close_code::INVALID, "Invalid UTF-8")),
        tungstenite::Error::Protocol(_) => Some((close_code::PROTOCOL, "Protocol error")),
        _ => None,
    }
}
