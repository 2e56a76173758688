//! Driving a router in-process, as the API tests, the DynamoDB fault and call tests and the
//! benches do: one request builder, one sender, and what came back, with the assertions and JSON
//! helpers the tests read it with.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A request with a raw body, an optional content type and extra headers.
pub fn raw_request(
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
    headers: &[(&str, &str)],
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body.into()).expect("a valid request")
}

/// A request with an optional JSON body and an optional bearer token.
pub fn request(
    method: Method,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> Request<Body> {
    let bearer = token.map(|token| format!("Bearer {token}"));
    let auth: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    match body {
        Some(body) => raw_request(
            method,
            path,
            Some("application/json"),
            body.to_string(),
            &auth,
        ),
        None => raw_request(method, path, None, Body::empty(), &auth),
    }
}

/// Sends `request` through a clone of `router`. Every answer of this API is JSON or empty; any
/// other body panics, naming the status and the body. So does a header given twice: on AWS the
/// HTTP API's answer (payload 2.0, `aws_lambda_events`' `serialize_headers`) keeps only its first
/// value, while the local server would send them all.
pub async fn send(router: &Router, request: Request<Body>) -> Response {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let (parts, body) = response.into_parts();
    assert_eq!(
        parts.headers.keys_len(),
        parts.headers.len(),
        "a header given twice (AWS would keep only the first): {:?}",
        parts.headers
    );
    let bytes = body.collect().await.expect("reading the body").to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{} answered a body that is not JSON ({e}): {}",
                parts.status,
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    Response {
        status: parts.status,
        headers: parts.headers,
        json,
    }
}

/// What came back: the status, the headers and the body as JSON (`Null` for an empty body).
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Response {
    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("header is visible ASCII"))
    }

    /// Asserts the status, printing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode) -> &Self {
        assert_eq!(
            self.status, expected,
            "unexpected status; body: {}",
            self.json
        );
        self
    }

    /// Asserts the answer to a transient failure: 503, `Retry-After: 1` and a JSON `detail`.
    #[track_caller]
    pub fn assert_unavailable(&self) {
        self.assert_status(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(self.header("retry-after"), Some("1"));
        assert!(self.json["detail"].is_string(), "{}", self.json);
    }

    /// Asserts the status and the exact JSON body.
    #[track_caller]
    pub fn assert_body(&self, expected: StatusCode, body: Value) {
        self.assert_status(expected);
        assert_eq!(self.json, body);
    }

    /// Asserts a 400 naming exactly `fields` (in any order), each with at least one message.
    #[track_caller]
    pub fn assert_field_errors(&self, fields: &[&str]) {
        self.assert_status(StatusCode::BAD_REQUEST);
        let errors = self.json.as_object().expect("a 400 body is an object");
        let mut named: Vec<&str> = errors.keys().map(String::as_str).collect();
        let mut wanted = fields.to_vec();
        named.sort_unstable();
        wanted.sort_unstable();
        assert_eq!(named, wanted, "fields named in {}", self.json);
        for (field, messages) in errors {
            let messages = messages
                .as_array()
                .unwrap_or_else(|| panic!("{field}: a list of messages"));
            assert!(!messages.is_empty(), "{field} has no message");
            assert!(
                messages.iter().all(Value::is_string),
                "{field}: messages are strings"
            );
        }
    }

    /// Asserts a 400 whose only error is `message` on `field`.
    #[track_caller]
    pub fn assert_field_error(&self, field: &str, message: &str) {
        self.assert_body(StatusCode::BAD_REQUEST, json!({ field: [message] }));
    }

    /// A string field of the body, or a panic naming it.
    #[track_caller]
    pub fn str(&self, field: &str) -> &str {
        str_field(&self.json, field)
    }
}

/// A string field of a JSON object, or a panic naming it.
#[track_caller]
pub fn str_field<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` is not a string in {value}"))
}

/// The sorted keys of a JSON object.
#[track_caller]
pub fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// The path and query of an absolute URL (`http://host/path?q` → `/path?q`).
#[track_caller]
pub fn path_of(url: &str) -> String {
    let (_, rest) = url
        .split_once("://")
        .unwrap_or_else(|| panic!("{url} is not absolute"));
    let slash = rest
        .find('/')
        .unwrap_or_else(|| panic!("{url} has no path"));
    rest[slash..].to_owned()
}
