//! The OpenAPI document: the committed `openapi.json` is exactly what the code generates, it lists
//! every route with its methods and security, and the server serves it.
//!
//! `UPDATE_OPENAPI=1 cargo test -p shared --test openapi` rewrites `openapi.json` from the code.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::AppState;
use shared::config::AuthConfig;
use shared::domain::TaskStatus;
use shared::http::openapi::{BEARER, OPENAPI, document};
use shared::http::{ENDPOINTS, all_routes, app, tasks};
use shared::store::{EmbeddedStore, Stores};
use tower::ServiceExt;

/// The functions anyone may call: every other endpoint needs an access token. Written out here,
/// not taken from the code under test, since it is the part that matters most.
const PUBLIC: [&str; 5] = [
    "register",
    "login",
    "token-verify",
    "token-refresh",
    "logout",
];

/// Every route the routers serve (without the trailing slash), from the endpoint table: its
/// methods (lowercase), and whether it needs an access token; and the document's own route.
fn routes() -> BTreeMap<&'static str, (BTreeSet<String>, bool)> {
    let mut routes = BTreeMap::new();
    for endpoint in ENDPOINTS {
        for path in endpoint.paths {
            let (methods, bearer) = routes
                .entry(*path)
                .or_insert_with(|| (BTreeSet::new(), !PUBLIC.contains(&endpoint.function)));
            assert_eq!(*bearer, !PUBLIC.contains(&endpoint.function), "{path}");
            methods.extend(endpoint.methods.iter().map(|m| m.as_str().to_lowercase()));
        }
    }
    routes.insert(OPENAPI, (BTreeSet::from(["get".to_owned()]), false));
    routes
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn generated() -> Value {
    serde_json::to_value(document()).unwrap()
}

/// `openapi.json` at the repository root.
fn committed_path() -> PathBuf {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR"));
    shared.parent().unwrap().join("openapi.json")
}

/// The operations of a path item, by method.
fn operations(item: &Value) -> Vec<(&str, &Value)> {
    METHODS
        .iter()
        .filter_map(|method| item.get(*method).map(|op| (*method, op)))
        .collect()
}

#[test]
fn committed_openapi_json_is_the_generated_document() {
    let generated = serde_json::to_string_pretty(&document()).unwrap() + "\n";
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(generated.lines().count()));
        panic!(
            "{} differs from the document the code generates (first at line {}); regenerate it \
             with `UPDATE_OPENAPI=1 cargo test -p shared --test openapi` and commit the result",
            path.display(),
            line + 1
        );
    }
}

#[test]
fn document_is_openapi_3_1_with_the_bearer_scheme() {
    let doc = generated();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "taskmaster");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let mut scheme = doc["components"]["securitySchemes"][BEARER].clone();
    let description = scheme.as_object_mut().and_then(|s| s.remove("description"));
    assert!(
        description
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|d| d.len() > 20),
        "the scheme says how to get a token: {description:?}"
    );
    assert_eq!(
        scheme,
        json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT" })
    );
}

#[test]
fn every_route_is_documented_in_both_slash_forms_with_its_methods() {
    let doc = generated();
    let paths = doc["paths"].as_object().unwrap();
    let mut expected = BTreeSet::new();
    for (path, (methods, _)) in routes() {
        for form in [path.to_string(), format!("{path}/")] {
            let item = paths
                .get(&form)
                .unwrap_or_else(|| panic!("{form} is not in the document"));
            let documented: BTreeSet<String> = operations(item)
                .into_iter()
                .map(|(m, _)| m.to_owned())
                .collect();
            assert_eq!(documented, methods, "methods of {form}");
            expected.insert(form);
        }
    }
    let documented: BTreeSet<String> = paths.keys().cloned().collect();
    assert_eq!(
        documented, expected,
        "the document lists a path no router serves"
    );
}

#[test]
fn authenticated_operations_require_the_bearer_token_and_others_do_not() {
    let doc = generated();
    for (path, (_, bearer)) in routes() {
        for form in [path.to_string(), format!("{path}/")] {
            for (method, op) in operations(&doc["paths"][&form]) {
                let security = op.get("security");
                if bearer {
                    assert_eq!(security, Some(&json!([{ BEARER: [] }])), "{method} {form}");
                    assert!(
                        op["responses"].get("401").is_some(),
                        "{method} {form} has no 401"
                    );
                } else {
                    // Open to anyone, said outright: `[]`, not nothing.
                    assert_eq!(security, Some(&json!([])), "{method} {form}");
                }
            }
        }
    }
}

#[test]
fn operation_ids_are_unique_and_the_legacy_create_path_is_deprecated() {
    let doc = generated();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in operations(item) {
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(
                ids.insert(id.clone()),
                "{method} {path}: duplicate operationId {id}"
            );
            let legacy = path.starts_with(tasks::TASK_CREATE);
            assert_eq!(
                op.get("deprecated") == Some(&json!(true)),
                legacy,
                "{method} {path}"
            );
        }
    }
}

#[test]
fn every_reference_resolves() {
    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.push(target);
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let doc = generated();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target.strip_prefix('#').unwrap();
        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
    }
}

#[test]
fn schemas_carry_the_domain_rules() {
    let doc = generated();
    let schemas = &doc["components"]["schemas"];
    let statuses: Vec<&str> = TaskStatus::ALL.iter().map(TaskStatus::as_str).collect();
    assert_eq!(schemas["TaskStatus"]["enum"], json!(statuses));
    let username = &schemas["RegisterRequest"]["properties"]["username"];
    assert_eq!(
        (&username["minLength"], &username["maxLength"]),
        (&json!(4), &json!(30))
    );
    assert_eq!(
        schemas["RegisterRequest"]["required"],
        json!(["username", "email", "password"])
    );
    let list = doc["paths"][format!("{}/", tasks::TASKS)]["get"]["parameters"]
        .as_array()
        .unwrap();
    let page_size = list.iter().find(|p| p["name"] == "page_size").unwrap();
    assert_eq!(page_size["schema"]["maximum"], json!(tasks::MAX_PAGE_SIZE));
    assert_eq!(
        page_size["schema"]["default"],
        json!(tasks::DEFAULT_PAGE_SIZE)
    );
}

#[tokio::test]
async fn the_server_serves_the_document_at_both_paths() {
    let state = AppState::new(
        Stores::new(EmbeddedStore::in_memory().expect("in-memory store")),
        &AuthConfig::with_secret("openapi-tests-secret-of-at-least-32-bytes"),
    );
    for uri in [OPENAPI.to_owned(), format!("{OPENAPI}/")] {
        let request = Request::get(&uri).body(Body::empty()).unwrap();
        let response = app(all_routes(), state.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json",
            "{uri}"
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let served: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(served, generated(), "{uri}");
    }
}
