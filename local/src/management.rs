//! The local stand-in for API Gateway's management API (`POST`/`GET`/`DELETE /@connections/{id}`),
//! so the stream function posts through the real `aws-sdk-apigatewaymanagement` client.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::Message;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::ws::Registry;

pub fn routes(registry: Arc<Registry>) -> Router {
    Router::new()
        .route(
            "/@connections/{id}",
            post(post_to).get(describe).delete(disconnect),
        )
        .with_state(registry)
}

/// What API Gateway answers for a connection that is not open.
fn gone(id: &str) -> Response {
    let body = json!({ "message": format!("Connection {id} is gone") }).to_string();
    (
        StatusCode::GONE,
        [
            ("x-amzn-errortype", "GoneException"),
            ("content-type", "application/json"),
        ],
        body,
    )
        .into_response()
}

async fn post_to(
    State(registry): State<Arc<Registry>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    if registry.send(&id, Message::Text(text.into())) {
        StatusCode::OK.into_response()
    } else {
        gone(&id)
    }
}

async fn describe(State(registry): State<Arc<Registry>>, Path(id): Path<String>) -> Response {
    match registry.info(&id) {
        Some((connected_at, user_agent)) => axum::Json(json!({
            "connectedAt": connected_at.to_string(),
            "lastActiveAt": connected_at.to_string(),
            "identity": { "sourceIp": "127.0.0.1", "userAgent": user_agent },
        }))
        .into_response(),
        None => gone(&id),
    }
}

async fn disconnect(State(registry): State<Arc<Registry>>, Path(id): Path<String>) -> Response {
    if registry.close(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        gone(&id)
    }
}
