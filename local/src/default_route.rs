//! `HEAD`, which no route of the stack's HTTP API takes: API Gateway hands it to the `$default`
//! route, whose `fallback` function answers it (405 on an endpoint's path, with its `Allow`; the
//! OpenAPI document's `HEAD` as its `GET`). The local router would answer it with `GET`'s handler
//! (a task list's 200 to a monitor that only ever gets a 405 on AWS), so the local server hands it
//! to what `fallback` runs instead. The local server's own pages and the WebSocket path are not
//! the HTTP API's and keep their handlers.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tower::ServiceExt;

/// What the `fallback` function serves, built once.
pub fn fallback() -> Router {
    shared::http::app(shared::http::openapi::get(), ())
}

/// Hands an HTTP API `HEAD` to `fallback`; lets any other request through.
pub async fn head_to_fallback(
    State(fallback): State<Router>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if request.method() != Method::HEAD || crate::pages::serves(path) || crate::ws::serves(path) {
        return next.run(request).await;
    }
    match fallback.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
