//! API Gateway's route throttling, mirrored with `--throttle`: a bucket per route, read from
//! `template.yaml` (here with small numbers, by flags), and past it the gateway's own 429.

use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use tokio_tungstenite::tungstenite::Error as WsError;

use super::support;

#[track_caller]
fn assert_gateway_429(response: &Response) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/json");
    // API Gateway's answer, not the API's: none of its headers, and no Retry-After.
    for name in ["x-request-id", "retry-after", "cache-control"] {
        assert!(!headers.contains_key(name), "{name} in {headers:?}");
    }
}

/// What one route let through before API Gateway's 429, and how long that took from its first
/// request: a bucket holds its burst and gains `rate` a second meanwhile, so a loaded machine
/// may see one request more than the burst, never more than the time allows.
struct Drained {
    statuses: Vec<StatusCode>,
    took: Duration,
}

impl Drained {
    #[track_caller]
    fn assert_took(&self, burst: usize, rate: f64, status: StatusCode) {
        let allowed = burst + (self.took.as_secs_f64() * rate).ceil() as usize;
        let passed = self.statuses.len();
        assert!(
            (burst..=allowed).contains(&passed),
            "{passed} let through in {:?}, burst {burst}",
            self.took
        );
        assert!(
            self.statuses.iter().all(|s| *s == status),
            "{:?}",
            self.statuses
        );
    }
}

pub async fn each_route_past_its_bucket_gets_api_gateways_429(dynamodb: bool) {
    let dir = tempfile::tempdir().expect("a data dir");
    let flags = [
        "--throttle",
        "--throttle-rate",
        "1",
        "--throttle-burst",
        "3",
        "--auth-throttle-rate",
        "1",
        "--auth-throttle-burst",
        "2",
        "--ws-throttle-rate",
        "1",
        "--ws-throttle-burst",
        "2",
    ];
    let server = support::stores::server_on(dynamodb, dir.path(), &flags).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");
    // An empty body: login refuses it (400) before any hash or store call, so each request is
    // quick, and the buckets, in front of the handlers, see the same requests.
    let send = |method: Method, path: &str| {
        let request = client.request(method.clone(), format!("{}{path}", server.base));
        let request = if method == Method::POST {
            request.json(&json!({}))
        } else {
            request
        };
        request.send()
    };
    // Sends to a route until API Gateway's 429 (which it checks), at most 10 times.
    let drain = |method: Method, path: &'static str| {
        let send = &send;
        async move {
            let began = Instant::now();
            let mut statuses = Vec::new();
            loop {
                let response = send(method.clone(), path).await.expect("an answer");
                if response.status() == StatusCode::TOO_MANY_REQUESTS {
                    assert_gateway_429(&response);
                    let took = began.elapsed();
                    return (Drained { statuses, took }, response);
                }
                statuses.push(response.status());
                assert!(statuses.len() <= 10, "{path}: no 429 after {statuses:?}");
            }
        }
    };

    // The list route takes its burst (each answered by the API: no token), then API Gateway's 429,
    // with or without the trailing slash.
    let began = Instant::now();
    let (list, throttled) = drain(Method::GET, "/tasks/").await;
    list.assert_took(3, 1.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        throttled.json::<serde_json::Value>().await.expect("JSON"),
        json!({ "message": "Too Many Requests" })
    );
    let (again, _) = drain(Method::GET, "/tasks").await;
    assert_refilled_at_most(&again, began);

    // Another route, and another method on the same path, have buckets of their own.
    let profile = send(Method::GET, "/auth/profile/")
        .await
        .expect("an answer");
    assert_eq!(profile.status(), StatusCode::UNAUTHORIZED);
    let create = send(Method::POST, "/tasks/").await.expect("an answer");
    assert_eq!(create.status(), StatusCode::UNAUTHORIZED);

    // Login has the tighter settings the template gives it.
    let (login, _) = drain(Method::POST, "/auth/login/").await;
    login.assert_took(2, 1.0, StatusCode::BAD_REQUEST);

    // Paths no route takes share the `$default` route's bucket.
    let began = Instant::now();
    let (nothing, _) = drain(Method::GET, "/nothing/").await;
    nothing.assert_took(3, 1.0, StatusCode::NOT_FOUND);
    let (elsewhere, _) = drain(Method::GET, "/elsewhere/").await;
    assert_refilled_at_most(&elsewhere, began);

    // WebSocket handshakes, of every client, share the WebSocket API's `$connect` bucket: each
    // refused by `$connect` (no token), then the gateway's 429 before any `$connect` runs.
    let began = Instant::now();
    let mut refused = Vec::new();
    let throttled = loop {
        match support::sockets::connect(&server, None, "").await {
            Err(WsError::Http(response)) if response.status() == StatusCode::TOO_MANY_REQUESTS => {
                break response;
            }
            Err(WsError::Http(response)) => refused.push(response.status()),
            other => panic!("a refused handshake, not {other:?}"),
        }
        assert!(refused.len() <= 10, "no 429 after {refused:?}");
    };
    let handshakes = Drained {
        statuses: refused,
        took: began.elapsed(),
    };
    handshakes.assert_took(2, 1.0, StatusCode::UNAUTHORIZED);
    assert_eq!(throttled.headers()["content-type"], "application/json");
    let body = throttled.body().as_deref().unwrap_or_default();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(body).expect("JSON"),
        json!({ "message": "Too Many Requests" })
    );
    // The HTTP API's buckets are apart from it.
    let profile = send(Method::GET, "/auth/profile/").await;
    assert_eq!(
        profile.expect("an answer").status(),
        StatusCode::UNAUTHORIZED
    );

    // The local server's own pages are not the stack's, and are never throttled.
    let origin = server.base.trim_end_matches("/api/v1");
    for _ in 0..10 {
        let page = client
            .get(format!("{origin}/"))
            .send()
            .await
            .expect("a page");
        assert_eq!(page.status(), StatusCode::OK);
    }

    // Emptied again, then a second later the list route lets a request through again, and no
    // more than a second's worth (its burst is three).
    let began = Instant::now();
    drain(Method::GET, "/tasks/").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (refilled, _) = drain(Method::GET, "/tasks/").await;
    assert!(!refilled.statuses.is_empty(), "nothing a second later");
    assert_refilled_at_most(&refilled, began);
}

/// A drained bucket holds under one request, then gains one a second: `drained`, sent after the
/// bucket's drain that began at `began`, got at most that many through.
#[track_caller]
fn assert_refilled_at_most(drained: &Drained, began: Instant) {
    let since = began.elapsed();
    let allowed = since.as_secs_f64().ceil() as usize;
    assert!(
        drained.statuses.len() <= allowed,
        "{:?} through {since:?} after a drain",
        drained.statuses
    );
}
