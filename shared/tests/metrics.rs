//! The metrics lines (CloudWatch Embedded Metric Format) of real handler invocations: API Gateway
//! events through `lambda_http` into the functions' routers, and a WebSocket route, each line
//! parsed and checked against the EMF specification ("Specification: Embedded metric format",
//! CloudWatch user guide): the `_aws` metadata, namespace, dimensions, metric names, units and
//! values. One test, since the emitter is per process (as in a Lambda container).

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use lambda_http::RequestExt;
use serde_json::Value;
use shared::AppState;
use shared::config::AuthConfig;
use shared::http::{app, auth, tasks};
use shared::store::{EmbeddedStore, Stores};
use testkit::Captured;
use testkit::events::{PASSWORD, seed};
use tower::ServiceExt;

const NAMESPACE: &str = "taskmaster/metrics-test";
const TRACE_ID: &str = "Root=1-6b06aa98-17ebd62cd4689acd8f4085e8;Parent=53995c3f42cd8ad8;Sampled=1";

/// The units EMF accepts (those of CloudWatch's `StandardUnit`).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one line against the EMF specification and returns it.
fn check_emf(line: &Value) -> &Value {
    let root = line.as_object().expect("a JSON object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    let timestamp = aws["Timestamp"]
        .as_u64()
        .expect("_aws.Timestamp: epoch milliseconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        now.abs_diff(timestamp) < 60_000,
        "Timestamp is in milliseconds, and now"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics array");
    assert!(!directives.is_empty());
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert!((1..=256).contains(&namespace.len()), "Namespace length");
        assert!(
            namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_/#:".contains(c)),
            "Namespace characters: {namespace}"
        );
        let mut dimension_keys = HashSet::new();
        for set in directive["Dimensions"]
            .as_array()
            .expect("Dimensions array")
        {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30, "at most 30 dimensions per set");
            for key in set {
                let key = key.as_str().expect("a dimension is a key");
                assert!(root[key].is_string(), "dimension {key} is a string member");
                dimension_keys.insert(key);
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics array");
        assert!(
            !metrics.is_empty() && metrics.len() <= 100,
            "1 to 100 metrics"
        );
        let mut names = HashSet::new();
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!((1..=1024).contains(&name.len()));
            assert!(names.insert(name), "metric {name} listed once");
            assert!(
                !dimension_keys.contains(name),
                "{name} is not also a dimension"
            );
            let unit = metric["Unit"].as_str().expect("Unit");
            assert!(UNITS.contains(&unit), "unit {unit}");
            assert!(root[name].is_number(), "metric {name} has a number value");
        }
    }
    line
}

fn lambda_context(request_id: &str) -> lambda_http::Context {
    let mut context = lambda_http::Context::default();
    context.request_id = request_id.to_owned();
    context.xray_trace_id = Some(TRACE_ID.to_owned());
    context
}

async fn invoke(router: axum::Router<AppState>, state: &AppState, event: &str, request_id: &str) {
    let request = lambda_http::request::from_str(event)
        .unwrap()
        .with_lambda_context(lambda_context(request_id));
    app(router, state.clone()).oneshot(request).await.unwrap();
}

#[tokio::test]
async fn every_invocation_writes_one_valid_emf_line_with_its_metrics_and_ids() {
    let captured = Captured::default();
    shared::metrics::init_with_sink(
        "task-create",
        NAMESPACE.to_owned(),
        Box::new(captured.clone()),
    );
    let stores = Stores::new(EmbeddedStore::in_memory().unwrap());
    let mut auth = AuthConfig::with_secret("metrics-tests-secret-of-at-least-32-bytes");
    auth.limits.login_failures_per_username = 1;
    let state = AppState::new(stores.clone(), &auth);
    let gateway = shared::realtime::Gateway::new(&stores, state.jwt.clone());
    let seeded = seed(&state).await;

    // A task created: 201, and the business counter.
    invoke(
        tasks::create(),
        &state,
        &testkit::events::event("task-create", Some(&seeded)),
        "r-1",
    )
    .await;
    // A login with a wrong password: 401, a failed login.
    let wrong = testkit::events::event("login", None).replace(PASSWORD, "not-the-password");
    invoke(auth::login(), &state, &wrong, "r-2").await;
    // Another, past the limit of one failure: 429, a throttled login.
    invoke(auth::login(), &state, &wrong, "r-4").await;
    // A WebSocket message refused (no action): a 200 frame carrying a 400, counted as the 400.
    let context = lambda_context("r-3");
    let ws = shared::metrics::websocket_route(&context, gateway.message(Default::default()));
    assert_eq!(ws.await.status_code, 200);

    let lines = captured.take_lines();
    assert_eq!(lines.len(), 4, "one line per invocation: {lines:?}");
    for line in &lines {
        let line = check_emf(line);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Function"]])
        );
        assert_eq!(line["Function"], "task-create");
        assert_eq!(line["Requests"], 1);
        assert!(line["Latency"].as_f64().unwrap() >= 0.0);
        assert_eq!(line["xrayTraceId"], TRACE_ID, "the X-Ray trace id is kept");
    }
    let [created, login, throttled, ws] = &lines[..] else {
        unreachable!()
    };

    assert_eq!(created["requestId"], "r-1");
    assert_eq!(created["ColdStart"], 1, "the container's first invocation");
    assert_eq!(
        (created["status"].clone(), created["Errors4xx"].clone()),
        (201.into(), 0.into())
    );
    assert_eq!(created["TasksCreated"], 1);
    assert!(
        created.get("LoginsFailed").is_none(),
        "counters appear when counted"
    );

    assert_eq!(login["requestId"], "r-2");
    assert_eq!(login["ColdStart"], 0);
    assert_eq!(
        (login["status"].clone(), login["Errors4xx"].clone()),
        (401.into(), 1.into())
    );
    assert_eq!(login["Errors5xx"], 0);
    assert_eq!(login["LoginsFailed"], 1);
    assert!(
        login.get("TasksCreated").is_none(),
        "counts do not leak between invocations"
    );

    assert_eq!(
        (throttled["requestId"].clone(), throttled["status"].clone()),
        ("r-4".into(), 429.into())
    );
    assert_eq!(throttled["LoginsThrottled"], 1);
    assert!(throttled.get("LoginsFailed").is_none(), "{throttled}");

    assert_eq!(
        (ws["requestId"].clone(), ws["status"].clone()),
        ("r-3".into(), 400.into())
    );
    assert_eq!(
        (ws["Errors4xx"].clone(), ws["Errors5xx"].clone()),
        (1.into(), 0.into())
    );
}
