//! The Lambda path: each function's API Gateway HTTP API event from `events/` goes through
//! `lambda_http`'s own request conversion into that function's router, exactly as on AWS
//! (`$default` stage, trailing slash in `rawPath`, route key without it).

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde_json::Value;
use shared::config::AuthConfig;
use shared::http::app;
use shared::store::{EmbeddedStore, Stores};
use testkit::events::{EXPECTED_ANSWERS, USERNAME, check_answer, expected_answer};

mod support;
use shared::AppState;
use tower::ServiceExt;

fn state() -> AppState {
    let store = EmbeddedStore::in_memory().expect("in-memory store");
    AppState::new(
        Stores::new(store),
        &AuthConfig::with_secret("lambda-event-tests-secret-of-32-bytes"),
    )
}

/// The event of `function`, with its placeholders filled in for the user the events are written
/// for, who owns one task (registered first unless `register_first` is false).
async fn event(function: &str, state: &AppState, register_first: bool) -> String {
    let seeded = if register_first {
        Some(testkit::events::seed(state).await)
    } else {
        None
    };
    testkit::events::event(function, seeded.as_ref())
}

/// Feeds `function`'s event through `lambda_http` into `router` and returns status and JSON body.
async fn invoke(
    function: &str,
    router: Router<AppState>,
    register_first: bool,
) -> (StatusCode, Value) {
    let state = state();
    let event = event(function, &state, register_first).await;
    let request = lambda_http::request::from_str(&event).expect("a valid API Gateway event");
    let response = app(router, state)
        .oneshot(request)
        .await
        .expect("router is infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "{function}: JSON response"
    );
    (status, serde_json::from_slice(&bytes).expect("JSON body"))
}

#[tokio::test]
async fn every_function_answers_its_api_gateway_event() {
    let rows = support::function_routers()
        .iter()
        .filter(|(f, _)| expected_answer(f, USERNAME).is_some())
        .count();
    assert_eq!(
        rows, EXPECTED_ANSWERS,
        "a row of expected_answer() names no function: renamed?"
    );
    for (function, router) in support::function_routers() {
        let (status, body) = invoke(function, router, function != "register").await;
        if let Err(why) = check_answer(function, USERNAME, status.as_u16(), &body) {
            panic!("{why}");
        }
    }
}

#[tokio::test]
async fn registrations_are_counted_by_the_http_api_source_ip() {
    let mut auth = AuthConfig::with_secret("lambda-event-tests-secret-of-32-bytes");
    auth.limits.registrations_per_address = 1;
    let state = AppState::new(Stores::new(EmbeddedStore::in_memory().unwrap()), &auth);
    let router = app(shared::http::auth::register(), state);
    let event = testkit::events::event("register", None);
    assert!(event.contains("\"sourceIp\": \"203.0.113.10\""), "{event}");
    let status_of = |event: String| {
        let router = router.clone();
        async move {
            let request = lambda_http::request::from_str(&event).unwrap();
            router.oneshot(request).await.unwrap().status()
        }
    };

    let first = status_of(event.clone()).await;
    let again = status_of(event.clone()).await;
    let other_address = status_of(event.replace("203.0.113.10", "198.51.100.20")).await;

    assert_eq!(first, StatusCode::CREATED);
    assert_eq!(again, StatusCode::TOO_MANY_REQUESTS);
    // Another address passes the limit (and finds the name taken).
    assert_eq!(other_address, StatusCode::BAD_REQUEST);
}
