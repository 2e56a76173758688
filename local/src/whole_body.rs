//! API Gateway reads a request's whole body before it invokes a function: a function's deadline
//! (`shared::http::deadline`, 9 s) counts its own work only, and a request whose body never
//! arrives whole never reaches a function at all. Here a client sends its body at its own pace, so
//! [`read_whole`] reads it first, as API Gateway does: a slow upload is not charged to the
//! handler's deadline (which would tell the client 503, retry, with its write perhaps done), and an
//! upload that fails is answered 400 without running the route (a `DELETE` or a logout-all whose
//! body stopped short used to be carried out).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use shared::error::Error;
use shared::http::BODY_LIMIT;

/// How long a whole body may take to arrive, however steadily it trickles in: a client cannot
/// hold a request (nor the server's shutdown, which waits for it) longer than this. A body that
/// goes quiet is cut off sooner, by the router's body timeout (`crate::serve::BODY_TIMEOUT`).
pub const BODY_READ_LIMIT: Duration = Duration::from_secs(30);

/// Runs the request once its body has arrived. A body past [`BODY_LIMIT`] (announced, or found
/// while reading) goes on as it came, what was read of it first, with a `Content-Length` past the
/// limit: API Gateway hands a function its body's length, so every route refuses it (413) where it
/// refuses one announced, a route that takes a token once the caller is known (a chunked body
/// sent to a `DELETE` used to be ignored, and the task deleted). One that fails to arrive (quiet,
/// too slow, or broken chunks) is a JSON 400, and the connection closes.
pub async fn read_whole(request: Request, next: Next) -> Response {
    if shared::http::extract::announced_past_limit(request.headers()) {
        // Refused without a byte read (413), as it was announced.
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    // What has arrived, as hyper handed it over: at most the limit and one more chunk.
    let mut read = Vec::new();
    let mut length = 0;
    let reading = async {
        while length <= BODY_LIMIT {
            match stream.next().await {
                Some(Ok(chunk)) => {
                    length += chunk.len();
                    read.push(chunk);
                }
                Some(Err(_)) => return false,
                None => break,
            }
        }
        true
    };
    if !tokio::time::timeout(BODY_READ_LIMIT, reading)
        .await
        .unwrap_or(false)
    {
        return not_arrived();
    }
    let arrived = futures::stream::iter(read.into_iter().map(Ok::<Bytes, axum::Error>));
    let body = if length > BODY_LIMIT {
        // Past the limit: the length read so far says so; the rest follows what was read, unread.
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        Body::from_stream(arrived.chain(stream))
    } else {
        Body::from_stream(arrived)
    };
    next.run(Request::from_parts(parts, body)).await
}

/// The answer to a body that did not arrive whole, in the API's error shape. The connection is
/// closed after it: what the client sends next may be the rest of this body.
fn not_arrived() -> Response {
    let message = format!(
        "The request body did not arrive whole: it stopped short of its Content-Length, went quiet \
         for {} s, took more than {} s, or its chunks were malformed.",
        crate::serve::BODY_TIMEOUT.as_secs(),
        BODY_READ_LIMIT.as_secs()
    );
    let mut response = Error::BadRequest(message).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
