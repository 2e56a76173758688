//! The Postman collection (`postman/`) calls every operation of the committed OpenAPI document, so
//! a new endpoint cannot be left out of it. newman runs the collection in the test command
//! (`scripts/postman-local`); this only checks what it covers.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn read(relative: &str) -> Value {
    let text = std::fs::read_to_string(repository().join(relative)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A path with its parameters blanked and without the trailing slash: `/api/v1/tasks/{id}/` and
/// `{{baseUrl}}/api/v1/tasks/{{taskId}}` both read `/api/v1/tasks/{}`.
fn shape(path: &str) -> String {
    let path = path.split('?').next().unwrap().trim_end_matches('/');
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every request of the collection, folders included, as (method, path shape). Requests sent to
/// a link an earlier answer gave (`{{nextUrl}}`) have no path of their own and are left out.
fn requests(items: &[Value], found: &mut BTreeSet<(String, String)>) {
    for item in items {
        if let Some(children) = item["item"].as_array() {
            requests(children, found);
            continue;
        }
        let request = &item["request"];
        let raw = request["url"]["raw"]
            .as_str()
            .or(request["url"].as_str())
            .unwrap();
        if let Some(path) = raw.strip_prefix("{{baseUrl}}") {
            let method = request["method"].as_str().unwrap().to_ascii_lowercase();
            found.insert((method, shape(path)));
        }
    }
}

#[test]
fn the_collection_calls_every_documented_operation() {
    let document = read("openapi.json");
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            let path = shape(path);
            item.as_object()
                .unwrap()
                .keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    assert!(documented.len() > 10, "{documented:?}");

    let collection = read("postman/taskmaster.postman_collection.json");
    let mut called = BTreeSet::new();
    requests(collection["item"].as_array().unwrap(), &mut called);

    let missing: Vec<_> = documented.difference(&called).collect();
    assert!(
        missing.is_empty(),
        "operations of openapi.json no request of the Postman collection calls: {missing:?}"
    );
}
