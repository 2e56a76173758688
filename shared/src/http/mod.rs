//! The HTTP layer: axum handlers and DTOs, one router per endpoint, and the layers every host
//! wraps them in. A Lambda mounts one endpoint's router; the local server merges them all.

pub mod auth;
pub mod client;
pub mod conditional;
pub mod deadline;
pub mod endpoints;
pub mod error;
pub mod extract;
pub mod openapi;
mod pages;
pub mod profile;
pub mod tasks;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{ALLOW, CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use axum::routing::MethodRouter;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use self::endpoints::{ENDPOINTS, Endpoint, METHODS_AND_PATHS};
use crate::AppState;
use crate::error::Error;

/// Request bodies above this size get 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A router serving `method_router` at `path` both with and without a trailing slash.
pub(crate) fn route<S: Clone + Send + Sync + 'static>(
    path: &str,
    method_router: MethodRouter<S>,
) -> Router<S> {
    with_route(Router::new(), path, method_router)
}

/// `router` also serving `method_router` at `path`, with and without a trailing slash.
fn with_route<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    path: &str,
    method_router: MethodRouter<S>,
) -> Router<S> {
    router
        .route(path, method_router.clone())
        .route(&format!("{path}/"), method_router)
}

/// Every endpoint of [`ENDPOINTS`] and the OpenAPI document, as the local server and the tests
/// serve them.
pub fn all_routes() -> Router<AppState> {
    ENDPOINTS
        .iter()
        .fold(Router::new(), |router, endpoint| {
            router.merge((endpoint.router)())
        })
        .merge(openapi::get())
}

/// What API Gateway's `$default` route serves: requests no other route took. Every known path
/// answers 405 (its methods are served by other functions), anything else 404, both in JSON, so
/// clients see the same errors on AWS as locally. A 405's `Allow` names every method the path
/// takes on any function: a Lambda's own router knows only its own. `HEAD` is left out: the
/// local router answers it with `GET`'s handler, but no route of the HTTP API takes it, so on AWS
/// it reaches `fallback` and is refused.
fn unmatched<S: Clone + Send + Sync + 'static>() -> Router<S> {
    // The router-free table, not ENDPOINTS: its routers would link every handler into `fallback`.
    let paths: BTreeSet<&'static str> = known_routes()
        .flat_map(|(_, paths)| paths.iter().copied())
        .collect();
    // One router routed path by path: merging a router per path cost a cold start ~0.3 M
    // instructions (callgrind). A 405's `Allow` is worked out when one is answered, not here.
    paths.into_iter().fold(Router::new(), |router, path| {
        let not_allowed = MethodRouter::new().fallback(move |method: Method| async move {
            let allow: Vec<&str> = known_routes()
                .filter(|(_, paths)| paths.contains(&path))
                .flat_map(|(methods, _)| methods.iter().copied())
                .collect();
            (
                [(ALLOW, allow.join(","))],
                Error::MethodNotAllowed(method.to_string()),
            )
        });
        with_route(router, path, not_allowed)
    })
}

/// The methods and paths of every endpoint and of the OpenAPI document, row by row.
fn known_routes()
-> impl Iterator<Item = &'static (&'static [&'static str], &'static [&'static str])> {
    const DOCUMENT: (&[&str], &[&str]) = (&["GET"], &[openapi::OPENAPI]);
    METHODS_AND_PATHS.iter().chain([&DOCUMENT])
}

/// Wraps `routes` in what every host needs: JSON 404/405, the body limit, request ids, a log
/// line and a metrics line ([`crate::metrics`]) per request, a JSON 503 for a request past its
/// deadline ([`deadline`]), and a JSON 500 for a panic.
///
/// Every known path is routed, with [`unmatched`]'s 405 for the methods `routes` does not serve,
/// so a Lambda answers a request API Gateway gave it for another endpoint's path exactly as the
/// local server does: `GET /tasks/create` matches the `GET /tasks/{id}` route on AWS, and
/// task-get answers 405 with `Allow: POST,OPTIONS`, not 404 for a task named "create".
///
/// The layers wrap the routed app once, as one service: `Router::layer` would wrap each route's
/// each method on its own, work that a Lambda's cold start paid for every known path.
pub fn app<S: Clone + Send + Sync + 'static>(routes: Router<S>, state: S) -> Router {
    let routed = routes
        .merge(unmatched())
        .fallback(|| async { Error::NotFound("Not found.") })
        // Paths of no endpoint (the local server's WebSocket path).
        .method_not_allowed_fallback(|method: Method| async move {
            Error::MethodNotAllowed(method.to_string())
        })
        .with_state(state);
    // Outermost first.
    let layered = tower::ServiceBuilder::new()
        .layer(axum::middleware::map_response(default_headers))
        .layer(axum::middleware::map_request(screen_request_id))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
                })
                .on_request(())
                .on_failure(())
                .on_response(|response: &Response<_>, latency: Duration, _: &Span| {
                    tracing::info!(status = response.status().as_u16(), latency_ms = latency.as_millis() as u64, "served");
                }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(axum::middleware::from_fn(record_metrics))
        .layer(axum::middleware::from_fn(deadline::within_deadline))
        // The local server's guard: one request's panic answers a JSON 500 and the server runs on.
        // The Lambda bootstraps abort on a panic instead (scripts/lib/lambda-flags.sh, docs/BUILD.md).
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            axum::response::IntoResponse::into_response(Error::Unexpected(anyhow::anyhow!("panic")))
        }))
        .layer(axum::middleware::from_fn(answer_options))
        .layer(axum::middleware::from_fn(ended_sessions_get_401))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .service(routed);
    Router::new().fallback_service(layered)
}

/// `OPTIONS` on any path is a 204 with no body. On AWS the HTTP API answers CORS preflights itself
/// (its `CorsConfiguration`), and an `OPTIONS` that is no preflight reaches the `fallback`
/// function through the `$default` route; locally the server's CORS layer answers preflights
/// before this, as API Gateway does. So a 405's `Allow` names `OPTIONS` beside the route's methods.
async fn answer_options(
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response<axum::body::Body> {
    if request.method() == Method::OPTIONS {
        let mut response = Response::new(axum::body::Body::empty());
        *response.status_mut() = axum::http::StatusCode::NO_CONTENT;
        return response;
    }
    let mut response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let methods = response.headers().get(ALLOW).and_then(|v| v.to_str().ok());
        if let Some(Ok(allow)) = methods.map(|m| HeaderValue::try_from(format!("{m},OPTIONS"))) {
            response.headers_mut().insert(ALLOW, allow);
        }
    }
    response
}

/// An authenticated request refused for what it sent (a 400, 413 or 415), before any store call
/// checked its session: if that session has ended, the answer is the 401 any ended session gets,
/// so a client is sent back to sign in rather than to mend a field, and the answer does not tell
/// a revoked token from a bad one. One read of the user, and only on such refusals; every other
/// answer checked the session in its own store calls (a 404, 409, 412 or 422 comes from them).
async fn ended_sessions_get_401(
    mut request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response<axum::body::Body> {
    let seen = extract::Authenticated::default();
    request.extensions_mut().insert(seen.clone());
    let response = next.run(request).await;
    let status = response.status();
    let refused_input = matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    if refused_input && seen.has_ended().await {
        return axum::response::IntoResponse::into_response(Error::InvalidToken);
    }
    response
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A client's `x-request-id` is kept (and echoed, and logged) only if it is a plain token of 1 to
/// 64 letters, digits and hyphens; any other value is dropped and the request gets an id of ours,
/// so no client-made text reaches the logs through it.
async fn screen_request_id<B>(mut request: Request<B>) -> Request<B> {
    let plain = |id: &[u8]| {
        (1..=64).contains(&id.len()) && id.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    };
    if request
        .headers()
        .get(X_REQUEST_ID)
        .is_some_and(|id| !plain(id.as_bytes()))
    {
        request.headers_mut().remove(X_REQUEST_ID);
    }
    request
}

/// Every answer is one user's data: shared caches must not keep it, and a browser must check
/// with us before reusing it (responses that carry tokens are stricter: [`carrying_tokens`]). And
/// a browser must take it for the type it says, never sniff a JSON answer into a page or script.
async fn default_headers<B>(mut response: Response<B>) -> Response<B> {
    let headers = response.headers_mut();
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("private, no-cache"));
    headers
        .entry(X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    response
}

/// Marks every answer of `router` `Cache-Control: no-store`: it carries tokens, which no cache
/// (browser, proxy, or a mobile HTTP library's) may keep.
pub(crate) fn carrying_tokens<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(axum::middleware::map_response(
        async |mut response: Response<axum::body::Body>| {
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        },
    ))
}

/// The request's metrics line: status, latency and what the handler counted.
async fn record_metrics(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let context = request.extensions().get::<lambda_http::Context>().cloned();
    crate::metrics::invocation(
        context.as_ref(),
        |response: &axum::response::Response| Some(response.status().as_u16()),
        next.run(request),
    )
    .await
}
