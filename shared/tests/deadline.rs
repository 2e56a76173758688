//! A request that runs past `REQUEST_DEADLINE` is answered 503 with `Retry-After` in JSON, like any
//! transient failure, and one that finishes inside it is answered as usual. Tokio's clock is paused,
//! so the minutes below pass at once.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::routing::get;
use shared::http::app;
use shared::http::deadline::REQUEST_DEADLINE;

/// The app every host serves, around one route that takes `took` to answer.
fn taking(took: Duration) -> Router {
    let routes = Router::new().route(
        "/slow",
        get(move || async move {
            tokio::time::sleep(took).await;
            axum::Json(serde_json::json!({ "done": true }))
        }),
    );
    app(routes, ())
}

async fn get_slow(router: &Router) -> (testkit::http::Response, Duration) {
    let started = tokio::time::Instant::now();
    let response = testkit::http::send(
        router,
        testkit::http::request(Method::GET, "/slow", None, None),
    )
    .await;
    (response, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_request_past_its_deadline_is_a_503_at_the_deadline() {
    let (response, waited) = get_slow(&taking(Duration::from_secs(600))).await;

    response.assert_unavailable();
    assert!(response.header("x-request-id").is_some());
    assert_eq!(waited, REQUEST_DEADLINE);
}

#[tokio::test(start_paused = true)]
async fn a_request_inside_its_deadline_is_answered() {
    let took = REQUEST_DEADLINE - Duration::from_millis(1);
    let (response, waited) = get_slow(&taking(took)).await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.json);
    assert_eq!(response.json["done"], true);
    assert_eq!(waited, took);
}
