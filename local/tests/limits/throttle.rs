//! API Gateway's route throttling, mirrored with `--throttle`: a bucket per route, read from
//! `template.yaml` (here with small numbers, by flags), and past it the gateway's own 429.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::json;

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
    ];
    let server = support::stores::server_on(dynamodb, dir.path(), &flags).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");
    let send = |method: Method, path: &str| {
        let request = client.request(method.clone(), format!("{}{path}", server.base));
        let request = if method == Method::POST {
            request.json(&json!({ "username": "nobody", "password": "wrong-password" }))
        } else {
            request
        };
        request.send()
    };

    // The list route takes its burst (each answered by the API: no token), then API Gateway's 429,
    // with or without the trailing slash.
    for _ in 0..3 {
        let response = send(Method::GET, "/tasks/").await.expect("an answer");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let throttled = send(Method::GET, "/tasks").await.expect("an answer");
    assert_gateway_429(&throttled);
    assert_eq!(
        throttled.json::<serde_json::Value>().await.expect("JSON"),
        json!({ "message": "Too Many Requests" })
    );

    // Another route, and another method on the same path, have buckets of their own.
    let profile = send(Method::GET, "/auth/profile/")
        .await
        .expect("an answer");
    assert_eq!(profile.status(), StatusCode::UNAUTHORIZED);
    let create = send(Method::POST, "/tasks/").await.expect("an answer");
    assert_eq!(create.status(), StatusCode::UNAUTHORIZED);

    // Login has the tighter settings the template gives it.
    for _ in 0..2 {
        let response = send(Method::POST, "/auth/login/").await.expect("an answer");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_gateway_429(&send(Method::POST, "/auth/login/").await.expect("an answer"));

    // Paths no route takes share the `$default` route's bucket.
    for _ in 0..3 {
        let response = send(Method::GET, "/nothing/").await.expect("an answer");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    assert_gateway_429(&send(Method::GET, "/elsewhere/").await.expect("an answer"));

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

    // Emptied again (what the steps above took may have refilled it), then a second later the
    // list route has one request again, and then none.
    let mut sent = 0;
    while send(Method::GET, "/tasks/")
        .await
        .expect("an answer")
        .status()
        != StatusCode::TOO_MANY_REQUESTS
    {
        sent += 1;
        assert!(sent <= 3, "past the burst without a 429");
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refilled = send(Method::GET, "/tasks/").await.expect("an answer");
    assert_eq!(refilled.status(), StatusCode::UNAUTHORIZED);
    assert_gateway_429(&send(Method::GET, "/tasks/").await.expect("an answer"));
}
