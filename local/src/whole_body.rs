//! API Gateway reads a request's whole body before it invokes a function, so a function's deadline
//! (`shared::http::deadline`, 9 s) counts its own work only. Here a client sends its body at its own
//! pace, and without this layer a slow upload would count against the handler's deadline: the
//! client would be told 503 (retry) for its own slowness, and its write might be done all the same.
//! [`read_whole`] reads the body first, as API Gateway does; a body that goes quiet is still cut
//! off by the router's body timeout (`crate::serve::BODY_TIMEOUT`), and the handler sees that.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use shared::http::BODY_LIMIT;

/// Runs the request once its body has arrived. A body past [`BODY_LIMIT`] (announced, or found
/// while reading), or one that failed to arrive, goes on as it came, what was read of it first:
/// the routes that read a body refuse it as they would have.
pub async fn read_whole(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > BODY_LIMIT as u64) {
        // Refused without a byte read (413), as it was announced.
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut read = Vec::new();
    let body = loop {
        match stream.next().await {
            None => break Body::from(read),
            Some(Ok(chunk)) => {
                read.extend_from_slice(&chunk);
                if read.len() > BODY_LIMIT {
                    let read = futures::stream::once(async { Ok(Bytes::from(read)) });
                    break Body::from_stream(read.chain(stream));
                }
            }
            Some(Err(error)) => {
                break Body::from_stream(futures::stream::iter([
                    Ok(Bytes::from(read)),
                    Err(error),
                ]));
            }
        }
    };
    next.run(Request::from_parts(parts, body)).await
}
