//! What API Gateway's HTTP API does to a request's head before a function sees it, done here too
//! so a client finds the difference on the laptop and not after a deploy.
//!
//! **The quota**: a request line and header values together at most 10,240 bytes, a quota that
//! cannot be raised. On AWS a larger request never reaches a function; locally it is refused
//! here, with a JSON 4xx. (API Gateway's own status and body for it are not documented; this
//! answers 414 when the request line alone is over, else 431.) hyper itself refuses, before any of
//! this runs and with an empty body, a URI over 64 KiB (414), a head of more than 100 header lines
//! or about 400 KiB (431), and a request it cannot parse as HTTP/1.1 (400: a malformed request
//! line or header, a `Content-Length` that is not one non-negative number), which API Gateway
//! would refuse before any function too. The 100 lines are hyper's default: raising it makes hyper
//! parse every request's headers into a heap buffer of that size, a cost on every request for
//! heads no browser or SDK sends.
//!
//! **Repeated header lines joined**, for the HTTP API's routes: payload format 2.0 has no
//! multi-value headers; a header sent on several lines reaches the function as one value, the
//! lines joined with commas (cookies, which it hands over apart, come back from `lambda_http`
//! joined with "; "). So two `If-Match` lines are one list, and two `Authorization` lines one
//! invalid credential, on both hosts. (The WebSocket API's events are another format, with
//! every line kept: see `ws::event`.)

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::error::Detail;

/// The quota, in bytes.
pub const MAX_HEAD_BYTES: usize = 10_240;

/// Answers a request whose head is over [`MAX_HEAD_BYTES`] without running the app.
pub async fn refuse_oversized(request: Request, next: Next) -> Response {
    // "GET /tasks/?page=2 HTTP/1.1": the method, the target as sent, the version, two spaces.
    let target = request
        .uri()
        .path_and_query()
        .map_or(1, |p| p.as_str().len());
    let line = request.method().as_str().len() + target + "HTTP/1.1".len() + 2;
    let values: usize = request.headers().values().map(|v| v.len()).sum();
    if line > MAX_HEAD_BYTES {
        let detail = format!("Request URI is too long (limit {MAX_HEAD_BYTES} bytes).");
        return refused(StatusCode::URI_TOO_LONG, detail);
    }
    if line + values > MAX_HEAD_BYTES {
        let detail = format!(
            "Request line and header values are too large (limit {MAX_HEAD_BYTES} bytes together)."
        );
        return refused(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, detail);
    }
    next.run(request).await
}

fn refused(status: StatusCode, detail: String) -> Response {
    (status, Json(Detail::new(detail))).into_response()
}

/// Joins each header sent on several lines into one value, as API Gateway does.
pub async fn join_repeated(mut request: Request, next: Next) -> Response {
    let headers = request.headers_mut();
    let repeated: Vec<HeaderName> = headers
        .keys()
        .filter(|name| headers.get_all(*name).iter().nth(1).is_some())
        .cloned()
        .collect();
    for name in repeated {
        let separator: &[u8] = if name == header::COOKIE { b"; " } else { b"," };
        let lines: Vec<&[u8]> = headers
            .get_all(&name)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        // Joined from valid values with a valid separator, so always a valid value.
        if let Ok(joined) = HeaderValue::from_bytes(&lines.join(separator)) {
            headers.insert(name, joined);
        }
    }
    next.run(request).await
}
