//! `template.yaml` and the code agree: one function per crate and one crate per function, every
//! route the template gives a function is served by that function's router, and the tables have
//! the keys, index and TTL attribute the DynamoDB store uses.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use axum::http::{Method, Request, StatusCode};
use serde_norway::Value;
use shared::AppState;
use shared::config::AuthConfig;
use shared::store::{EmbeddedStore, Stores};
use testkit::schema::{TEMPLATE, table_properties};
use tower::ServiceExt;

#[path = "template/limits.rs"]
mod limits;
mod support;

fn template() -> Value {
    serde_norway::from_str(TEMPLATE).expect("template.yaml parses")
}

/// (crate, [(method, path)]) of every serverless function in the template.
fn template_functions() -> Vec<(String, Vec<(String, String)>)> {
    let template = template();
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut functions = Vec::new();
    for (id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: Binary"));
        assert_eq!(
            resource["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        assert_eq!(
            resource["Properties"]["CodeUri"].as_str(),
            Some("./functions"),
            "{id}"
        );
        let routes = resource["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(|(_, event)| event["Type"].as_str() == Some("HttpApi"))
            .map(|(_, event)| {
                let props = &event["Properties"];
                (
                    props["Method"].as_str().unwrap().to_owned(),
                    props["Path"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        functions.push((binary.to_owned(), routes));
    }
    functions.sort();
    functions
}

#[test]
fn every_binary_has_a_function_and_every_function_a_binary() {
    let crates = testkit::function_binaries();
    let functions: Vec<String> = template_functions()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(crates, functions);
    let routed: Vec<&str> = support::function_routers()
        .iter()
        .map(|(name, _)| *name)
        .collect();
    for (name, routes) in template_functions() {
        // HTTP functions need a router in the test table; WebSocket and stream functions have none.
        assert_eq!(
            routed.contains(&name.as_str()),
            !routes.is_empty(),
            "{name}: router table vs HttpApi routes"
        );
    }
}

#[tokio::test]
async fn every_template_route_is_served_by_its_function_router() {
    let state = AppState::new(
        Stores::new(EmbeddedStore::in_memory().unwrap()),
        &AuthConfig::with_secret("template-tests-secret-of-at-least-32-bytes"),
    );
    let routers = support::function_routers();
    for (function, routes) in template_functions()
        .into_iter()
        .filter(|(_, routes)| !routes.is_empty())
    {
        let router = &routers
            .iter()
            .find(|(name, _)| *name == function)
            .unwrap()
            .1;
        for (method, path) in routes {
            if path == "$default" {
                continue; // the fallback: checked by `unmatched_requests_get_json_404_and_405`
            }
            let path = path.replace("{id}", "0190f1d2-0000-7000-8000-000000000000");
            for path in [path.clone(), format!("{path}/")] {
                let request = Request::builder()
                    .method(Method::from_bytes(method.as_bytes()).unwrap())
                    .uri(&path)
                    .body(axum::body::Body::empty())
                    .unwrap();
                let app = shared::http::app(router.clone(), state.clone());
                let status = app.oneshot(request).await.unwrap().status();
                // Unauthenticated and bodiless: the handler answers 400 or 401, never the
                // router's 404 or 405.
                assert!(
                    status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{function}: {method} {path} answered {status}"
                );
            }
        }
    }
}

#[test]
fn tables_have_the_keys_index_and_ttl_the_store_uses() {
    let users = table_properties(TEMPLATE, "UsersTable").unwrap();
    assert_eq!(users["KeySchema"][0]["AttributeName"].as_str(), Some("pk"));
    assert_eq!(
        users["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some("expires_at")
    );
    assert_eq!(users["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));

    let tasks = table_properties(TEMPLATE, "TasksTable").unwrap();
    let keys: Vec<(&str, &str)> = tasks["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap(),
                k["KeyType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, [("pk", "HASH"), ("sk", "RANGE")]);
    for (at, (name, sort_key)) in [("by_created", "created_sk"), ("by_status", "status_sk")]
        .into_iter()
        .enumerate()
    {
        let index = &tasks["LocalSecondaryIndexes"][at];
        assert_eq!(index["IndexName"].as_str(), Some(name));
        assert_eq!(
            index["KeySchema"][1]["AttributeName"].as_str(),
            Some(sort_key)
        );
        assert_eq!(index["Projection"]["ProjectionType"].as_str(), Some("ALL"));
    }
    assert_eq!(
        tasks["StreamSpecification"]["StreamViewType"].as_str(),
        Some("NEW_AND_OLD_IMAGES")
    );
    assert_eq!(tasks["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
}

#[tokio::test]
async fn unmatched_requests_get_json_404_and_405() {
    let state = AppState::new(
        Stores::new(EmbeddedStore::in_memory().unwrap()),
        &AuthConfig::with_secret("template-tests-secret-of-at-least-32-bytes"),
    );
    let fallback = template_functions()
        .into_iter()
        .find(|(_, routes)| routes.iter().any(|(_, path)| path == "$default"));
    assert_eq!(
        fallback.map(|(name, _)| name).as_deref(),
        Some("fallback"),
        "the $default route goes to `fallback`"
    );
    for (method, path, status) in [
        ("GET", "/api/v1/nowhere/", StatusCode::NOT_FOUND),
        (
            "DELETE",
            "/api/v1/auth/register/",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        ("PUT", "/api/v1/tasks", StatusCode::METHOD_NOT_ALLOWED),
        (
            "POST",
            "/api/v1/tasks/0190f1d2-0000-7000-8000-000000000000/",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = shared::http::app(axum::Router::new(), state.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{method} {path}"
        );
    }
}

/// The signing key's ARN reaches only the functions that check or issue tokens: every HTTP
/// endpoint but `fallback`, and `ws-connect`. The Globals give it to nobody, and no function gets
/// a key itself (`shared/tests/transformed_template.rs` checks the values and the permissions).
#[test]
fn only_the_functions_that_check_tokens_get_the_signing_key_arn() {
    let template = template();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert!(
        globals.get("TASKMASTER_JWT_SECRET_ARN").is_none(),
        "the secret is not a global"
    );
    let mut holders: Vec<&str> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .filter(|r| {
            let variables = &r["Properties"]["Environment"]["Variables"];
            assert!(
                variables.get("TASKMASTER_JWT_SECRET").is_none(),
                "no key by value"
            );
            variables.get("TASKMASTER_JWT_SECRET_ARN").is_some()
        })
        .map(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap())
        .collect();
    holders.sort_unstable();
    let mut expected: Vec<&str> = support::function_routers()
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| *name != "fallback")
        .chain(["ws-connect", "ws-default"])
        .collect();
    expected.sort_unstable();
    assert_eq!(holders, expected);
}

/// The route API Gateway's HTTP API picks for `method path` among the template's routes: an exact
/// path beats one with a path variable, and a request no route takes goes to `$default`
/// (API Gateway developer guide, "Routing API requests"). The trailing slash plays no part.
fn aws_route<'a>(routes: &'a [(String, String, String)], method: &str, path: &str) -> &'a str {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let matches = |pattern: &str| {
        let pattern: Vec<&str> = pattern.split('/').collect();
        pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()))
    };
    routes
        .iter()
        .filter(|(_, m, p)| (m == method || m == "ANY") && p != "$default" && matches(p))
        .min_by_key(|(_, _, p)| p.matches('{').count())
        .or_else(|| routes.iter().find(|(_, _, p)| p == "$default"))
        .map(|(function, _, _)| function.as_str())
        .unwrap()
}

/// Whatever function API Gateway hands a request to, it answers what the local server answers
/// for it: a wrong method on a known path is 405 everywhere (`GET /tasks/create` reaches task-get
/// through the `GET /tasks/{id}` route on AWS), an unknown path 404, and the OpenAPI document is
/// served by `fallback`.
#[tokio::test]
async fn every_request_gets_the_same_status_on_aws_as_locally() {
    let state = AppState::new(
        Stores::new(EmbeddedStore::in_memory().unwrap()),
        &AuthConfig::with_secret("template-tests-secret-of-at-least-32-bytes"),
    );
    let routes: Vec<(String, String, String)> = template_functions()
        .into_iter()
        .flat_map(|(function, routes)| {
            routes
                .into_iter()
                .map(move |(m, p)| (function.clone(), m, p))
        })
        .collect();
    let routers = support::function_routers();
    let local = shared::http::app(shared::http::all_routes(), state.clone());
    let id = "0190f1d2-0000-7000-8000-000000000000";
    let paths: std::collections::BTreeSet<&str> = shared::http::METHODS_AND_PATHS
        .iter()
        .flat_map(|(_, paths)| paths.iter().copied())
        .chain([shared::http::openapi::OPENAPI, "/api/v1/nowhere"])
        .collect();
    let paths = paths.into_iter().map(|path| path.replace("{id}", id));
    let mut checked = 0;
    let mut allows = std::collections::BTreeMap::new();
    for path in paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            for path in [path.clone(), format!("{path}/")] {
                let function = aws_route(&routes, method, &path);
                let router = &routers
                    .iter()
                    .find(|(name, _)| *name == function)
                    .unwrap()
                    .1;
                let request = || {
                    Request::builder()
                        .method(method)
                        .uri(&path)
                        .body(axum::body::Body::empty())
                        .unwrap()
                };
                // The status, and a 405's `Allow`: what the path takes on any function.
                let answer = |response: axum::response::Response| {
                    let allow = response.headers().get("allow").cloned();
                    (response.status(), allow)
                };
                let on_aws = shared::http::app(router.clone(), state.clone())
                    .oneshot(request())
                    .await
                    .unwrap();
                let locally = local.clone().oneshot(request()).await.unwrap();
                let (on_aws, locally) = (answer(on_aws), answer(locally));
                assert_eq!(on_aws, locally, "{method} {path} (on AWS: {function})");
                if on_aws.0 == StatusCode::METHOD_NOT_ALLOWED {
                    allows.insert(path.trim_end_matches('/').to_owned(), on_aws.1);
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked} requests");
    let allow = |path: &str| {
        allows[path]
            .as_ref()
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        allow("/api/v1/tasks/create").as_deref(),
        Some("POST,OPTIONS")
    );
    assert_eq!(
        allow(&format!("/api/v1/tasks/{id}")).as_deref(),
        Some("GET,PUT,PATCH,DELETE,OPTIONS")
    );
    assert_eq!(
        aws_route(&routes, "GET", "/api/v1/tasks/create"),
        "task-get"
    );
    assert_eq!(
        aws_route(&routes, "GET", "/api/v1/openapi.json"),
        "fallback"
    );
}
