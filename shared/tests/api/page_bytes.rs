//! A page of tasks fits in what Lambda may return (6 MiB, its body escaped once more inside the
//! proxy response): a page whose tasks would not fit holds fewer, and its links still reach
//! every task exactly once.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::helpers::{TASKS, TestApp};
use super::list::{follow, ids, list, newest_first};

/// Lambda's limit on a synchronous invocation's response.
const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

/// What `page` takes once `lambda_http` has written it as a JSON string in the proxy response.
fn wire_size(page: &Value) -> usize {
    let body = serde_json::to_string(page).expect("a page is JSON");
    body.len() + body.bytes().filter(|b| matches!(b, b'"' | b'\\')).count()
}

#[tokio::test]
async fn a_page_too_big_for_a_lambda_response_holds_fewer_tasks_and_its_links_reach_every_one() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    // Each task at its limits, in the character JSON writes longest: `\u0001`, 6 bytes (7 escaped
    // again). 90 of them are about 6.4 MB as Lambda counts them.
    let text = |n| "\u{1}".repeat(n);
    let mut tasks = Vec::new();
    for _ in 0..90 {
        let body = json!({ "title": text(100), "description": text(10_000) });
        tasks.push(app.create_task(&access, &body).await);
    }

    let first = list(&app, &format!("{TASKS}?page_size=100"), &access).await;
    first.assert_status(StatusCode::OK);
    let mut page = first.json;
    let held = ids(&page).len();
    assert!(
        (1..90).contains(&held),
        "the first page holds {held} of 90 tasks"
    );
    let mut seen = Vec::new();
    let mut pages = vec![page.clone()];
    loop {
        assert_eq!(page["count"], 90);
        let size = wire_size(&page);
        assert!(size <= LAMBDA_RESPONSE_LIMIT, "a page of {size} bytes");
        seen.extend(ids(&page));
        if page["next"].is_null() {
            break;
        }
        assert!(
            str_has(&page["next"], "page_size=100"),
            "the links keep the size asked for: {}",
            page["next"]
        );
        page = follow(&app, &page, "next", &access).await;
        pages.push(page.clone());
    }
    assert!(pages.len() >= 2);
    assert_eq!(seen, newest_first(&tasks), "every task once, newest first");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 90);

    // Back from the last page: each `previous` is within the limit and reaches the first task.
    let mut back = Vec::new();
    let mut page = pages.pop().expect("the last page");
    back.extend(ids(&page).into_iter().rev());
    while !page["previous"].is_null() {
        page = follow(&app, &page, "previous", &access).await;
        let size = wire_size(&page);
        assert!(size <= LAMBDA_RESPONSE_LIMIT, "a page of {size} bytes");
        back.extend(ids(&page).into_iter().rev());
    }
    back.reverse();
    assert_eq!(back, seen, "walking back reaches every task once");
}

fn str_has(value: &Value, part: &str) -> bool {
    value.as_str().is_some_and(|s| s.contains(part))
}
