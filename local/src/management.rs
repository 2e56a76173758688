//! The local stand-in for API Gateway's management API (`POST`/`GET`/`DELETE /@connections/{id}`),
//! so the stream function posts through the real `aws-sdk-apigatewaymanagement` client.
//!
//! Like the real one it serves only its own caller: a request must carry this run's key as its
//! SigV4 access key id (the server's own notifier is built with it), must not come from a browser
//! page (no `Origin`), and must name a loopback `Host` (no DNS rebinding). Anything else is a 403.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::Message;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::ws::Registry;

pub fn routes(registry: Arc<Registry>, key: String) -> Router {
    Router::new()
        .route(
            "/@connections/{id}",
            post(post_to).get(describe).delete(disconnect),
        )
        .with_state(registry)
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let allowed = allowed(&request, &key);
                async move {
                    if allowed {
                        next.run(request).await
                    } else {
                        forbidden()
                    }
                }
            },
        ))
}

/// Whether `request` is the server's own notifier: signed with `key` as its access key id, not
/// from a web page, and addressed to a loopback host.
fn allowed(request: &Request, key: &str) -> bool {
    let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    let signed_with_key = header(AUTHORIZATION)
        .and_then(access_key_id)
        .is_some_and(|id| bool::from(id.as_bytes().ct_eq(key.as_bytes())));
    let loopback = header(HOST).is_some_and(|host| {
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        matches!(name, "127.0.0.1" | "localhost" | "[::1]")
    });
    signed_with_key && loopback && request.headers().get(ORIGIN).is_none()
}

/// The access key id of a SigV4 `Authorization` header: `AWS4-HMAC-SHA256 Credential=<id>/<date>/
/// <region>/<service>/aws4_request, SignedHeaders=..., Signature=...`.
fn access_key_id(authorization: &str) -> Option<&str> {
    let fields = authorization.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let credential = fields
        .split(',')
        .find_map(|field| field.trim().strip_prefix("Credential="))?;
    Some(credential.split_once('/')?.0)
}

/// What API Gateway answers a request it cannot authenticate.
fn forbidden() -> Response {
    let body = json!({ "message": "Forbidden" }).to_string();
    (
        StatusCode::FORBIDDEN,
        [
            ("x-amzn-errortype", "ForbiddenException"),
            ("content-type", "application/json"),
        ],
        body,
    )
        .into_response()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut request = axum::http::Request::builder()
            .method("POST")
            .uri("/@connections/abc");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(axum::body::Body::empty()).expect("a request")
    }

    const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=run-key/20261202/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0";

    #[test]
    fn only_the_runs_own_signed_loopback_requests_pass() {
        let ok = [("authorization", SIGNED), ("host", "127.0.0.1:4000")];
        assert!(allowed(&request(&ok), "run-key"));
        assert!(allowed(
            &request(&[("authorization", SIGNED), ("host", "localhost:4000")]),
            "run-key"
        ));
        assert!(!allowed(&request(&ok), "another-key"), "another key");
        assert!(!allowed(&request(&ok), "run-ke"), "a prefix of the key");
        let elsewhere = "AWS4-HMAC-SHA256 Credential=other/20261202/us-east-1/execute-api/aws4_request, SignedHeaders=host;Credential=run-key/, Signature=0";
        assert!(
            !allowed(
                &request(&[("authorization", elsewhere), ("host", "127.0.0.1:4000")]),
                "run-key"
            ),
            "the key outside the credential"
        );
        assert!(
            !allowed(&request(&[("host", "127.0.0.1:4000")]), "run-key"),
            "unsigned"
        );
        assert!(
            !allowed(
                &request(&[("authorization", SIGNED), ("host", "evil.example:4000")]),
                "run-key"
            ),
            "a rebound DNS name"
        );
        assert!(
            !allowed(
                &request(&[
                    ("authorization", SIGNED),
                    ("host", "127.0.0.1:4000"),
                    ("origin", "http://127.0.0.1:3000"),
                ]),
                "run-key"
            ),
            "a web page"
        );
    }
}
