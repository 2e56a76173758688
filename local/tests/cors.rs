//! A page on another origin calling the running server, on both stores: the preflight and the real
//! request carry the CORS headers `template.yaml` gives the HTTP API, so a browser lets the page
//! read the answer (and the headers it needs), locally as on AWS.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::json;
use support::stores::server_on;
use support::{Api, tokens, unique_name};

const ORIGIN: &str = "http://app.example.test";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
        .to_str()
        .unwrap()
}

/// The comma-separated values of a header, lowercased.
fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .split(',')
        .map(|v| v.trim().to_lowercase())
        .collect()
}

async fn a_preflight_allows_the_methods_and_headers_a_page_needs(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dynamodb, dir.path(), &[]).await;
    let client = reqwest::Client::new();

    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{}/tasks/", server.base))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "authorization, content-type, if-match, if-none-match",
        )
        .send()
        .await
        .unwrap();

    // As the stack's `fallback` function answers it on AWS.
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    let headers = preflight.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), "*");
    let methods = values(headers, "access-control-allow-methods");
    for method in ["get", "post", "put", "patch", "delete"] {
        assert!(
            methods.iter().any(|m| m == method),
            "{method} in {methods:?}"
        );
    }
    let allowed = values(headers, "access-control-allow-headers");
    for wanted in [
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "idempotency-key",
    ] {
        assert!(
            allowed.iter().any(|h| h == wanted),
            "{wanted} in {allowed:?}"
        );
    }
    assert_eq!(header(headers, "access-control-max-age"), "600");
    assert!(preflight.bytes().await.unwrap().is_empty());

    let plain = client
        .request(reqwest::Method::OPTIONS, format!("{}/tasks/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        plain.status(),
        StatusCode::NO_CONTENT,
        "OPTIONS anywhere is a 204"
    );
    assert!(plain.bytes().await.unwrap().is_empty());
}

async fn a_real_request_exposes_the_headers_scripts_read(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dynamodb, dir.path(), &[]).await;
    let api = Api::new(&server);
    let name = unique_name("cors");
    let registered = api
        .register(&name, &format!("{name}@example.com"))
        .await
        .expect(StatusCode::CREATED);
    let (access, _) = tokens(&registered);

    let response = reqwest::Client::new()
        .post(format!("{}/tasks/", server.base))
        .header("origin", ORIGIN)
        .bearer_auth(&access)
        .json(&json!({ "title": "from another origin" }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::CREATED);
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), "*");
    let exposed = values(headers, "access-control-expose-headers");
    for wanted in [
        "etag",
        "idempotent-replayed",
        "location",
        "retry-after",
        "x-request-id",
    ] {
        assert!(
            exposed.iter().any(|h| h == wanted),
            "{wanted} in {exposed:?}"
        );
    }
}

async fn the_allowed_origins_can_be_narrowed_as_the_stack_parameter_does(dynamodb: bool) {
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "--cors-allow-origins",
        // A space after the comma, as people write lists: dropped, not part of the origin.
        "https://one.example, https://two.example",
    ];
    let server = server_on(dynamodb, dir.path(), &flags).await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{}/tasks/", server.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };

    let allowed = preflight("https://two.example").await.unwrap();
    assert_eq!(
        header(allowed.headers(), "access-control-allow-origin"),
        "https://two.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert_eq!(refused.status(), StatusCode::NO_CONTENT);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        refused.headers()
    );
}

on_both_stores!(
    a_preflight_allows_the_methods_and_headers_a_page_needs,
    a_real_request_exposes_the_headers_scripts_read,
    the_allowed_origins_can_be_narrowed_as_the_stack_parameter_does,
);
