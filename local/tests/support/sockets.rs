//! WebSocket clients of a running server: connecting, reading the next message, and hearing
//! nothing.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use super::{Api, Server, tokens, unique_name};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a message may take: generous, the machine may be busy.
pub const ARRIVAL: Duration = Duration::from_secs(10);
/// How long to wait before concluding nothing will come.
pub const SILENCE: Duration = Duration::from_millis(1500);

pub fn ws_url(server: &Server, query: &str) -> String {
    format!(
        "{}/ws/tasks/{query}",
        server
            .base
            .replace("http://", "ws://")
            .trim_end_matches("/api/v1")
    )
}

/// Connects with `authorization` as the header value (if any) and `query` appended to the URL.
pub async fn connect(
    server: &Server,
    authorization: Option<&str>,
    query: &str,
) -> Result<Socket, WsError> {
    let mut request = ws_url(server, query).into_client_request()?;
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert("authorization", value.parse().expect("a header value"));
    }
    let (socket, response) = connect_async(request).await?;
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    Ok(socket)
}

/// The next JSON message, failing the test if none comes in time.
pub async fn next_message(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(ARRIVAL, socket.next())
            .await
            .expect("a message within the time limit")
            .expect("the socket stays open")
            .expect("a valid frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("a JSON message"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Asserts nothing arrives for [`SILENCE`] (a close, or the end of the stream, is silence too).
pub async fn assert_silent(socket: &mut Socket) {
    if let Ok(Some(message)) = tokio::time::timeout(SILENCE, socket.next()).await {
        panic!("expected no message, got {message:?}");
    }
}

pub async fn user(api: &Api) -> (String, String) {
    let name = unique_name("rt");
    let answer = api
        .register(&name, &format!("{name}@example.com"))
        .await
        .expect(StatusCode::CREATED);
    tokens(&answer)
}

/// A fresh user of `server`, its access token, and its socket connected by `?token=`.
pub async fn listening(server: &Server) -> (Api, String, Socket) {
    let api = Api::new(server);
    let (access, _) = user(&api).await;
    let socket = connect(server, None, &format!("?token={access}"))
        .await
        .expect("connect");
    (api, access, socket)
}

/// Waits for the server to close `socket` with `code`.
pub async fn assert_closed_with(socket: &mut Socket, code: u16, within: Duration) {
    let closed = tokio::time::timeout(within, async {
        while let Some(frame) = socket.next().await {
            if let Ok(Message::Close(frame)) = frame {
                return frame;
            }
        }
        None
    })
    .await
    .expect("closed in time")
    .expect("a close frame");
    assert_eq!(u16::from(closed.code), code, "{closed:?}");
}
