//! Paging through the task list: cursors both ways, the status filter's pages, and cursors
//! that were tampered with or outlived their tasks.

use std::collections::HashSet;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::helpers::{TASKS, TestApp, id_of, path_of, str_field, task_path};
use super::list::{cursor_of, follow, ids, list, newest_first};

#[tokio::test]
async fn walking_next_covers_every_task_exactly_once_newest_first() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 23).await;
    let first = list(&app, &format!("{TASKS}?page_size=5"), &access).await;
    first.assert_status(StatusCode::OK);

    let mut page = first.json;
    let mut seen = ids(&page);
    let mut pages = 1;
    while !page["next"].is_null() {
        page = follow(&app, &page, "next", &access).await;
        assert_eq!(page["count"], 23);
        assert!(
            !page["previous"].is_null(),
            "a page after the first has a previous link"
        );
        seen.extend(ids(&page));
        pages += 1;
    }

    assert_eq!(pages, 5);
    assert_eq!(seen, newest_first(&tasks));
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23);
}

#[tokio::test]
async fn following_next_then_previous_gives_back_the_same_page() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    app.create_tasks(&access, 23).await;
    let first = list(&app, &format!("{TASKS}?page_size=5"), &access)
        .await
        .json;

    let mut pages = vec![first];
    while let Some(page) = pages.last().filter(|page| !page["next"].is_null()) {
        let next = follow(&app, page, "next", &access).await;
        pages.push(next);
    }

    // Walk back from the last page: each `previous` is exactly the page we came from.
    for i in (1..pages.len()).rev() {
        let back = follow(&app, &pages[i], "previous", &access).await;
        assert_eq!(
            back["results"],
            pages[i - 1]["results"],
            "previous of page {i}"
        );
        assert_eq!(back["count"], 23);
        assert!(
            !back["next"].is_null(),
            "a page before the last has a next link"
        );
        if i == 1 {
            assert_eq!(back["previous"], Value::Null, "back on the first page");
        } else {
            let again = follow(&app, &back, "previous", &access).await;
            assert_eq!(
                again["results"],
                pages[i - 2]["results"],
                "previous of previous of page {i}"
            );
        }
        let forward = follow(&app, &back, "next", &access).await;
        assert_eq!(
            forward["results"], pages[i]["results"],
            "next of previous of page {i}"
        );
    }
}

#[tokio::test]
async fn status_filter_has_its_own_exact_count_and_pagination() {
    // Arrange: 7 DONE and 5 TO DO tasks, interleaved.
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let mut done = Vec::new();
    for i in 0..12 {
        let status = if i % 2 == 0 || i == 11 {
            "DONE"
        } else {
            "TO DO"
        };
        let task = app
            .create_task(
                &access,
                &json!({ "title": format!("Task {i}"), "status_task": status }),
            )
            .await;
        if status == "DONE" {
            done.push(task);
        }
    }

    // Act
    let first = list(
        &app,
        &format!("{TASKS}?status_task=DONE&page_size=3"),
        &access,
    )
    .await;

    // Assert
    first.assert_status(StatusCode::OK);
    assert_eq!(first.json["count"], 7);
    let mut page = first.json;
    let mut seen = ids(&page);
    while !page["next"].is_null() {
        assert!(
            str_field(&page, "next").contains("status_task=DONE"),
            "the filter travels with the link"
        );
        page = follow(&app, &page, "next", &access).await;
        assert_eq!(page["count"], 7);
        assert!(
            page["results"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|task| task["status_task"] == "DONE")
        );
        seen.extend(ids(&page));
    }
    assert_eq!(seen, newest_first(&done));
    let back = follow(&app, &page, "previous", &access).await;
    assert!(
        back["results"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|task| task["status_task"] == "DONE")
    );
    assert_eq!(list(&app, TASKS, &access).await.json["count"], 12);
    let to_do = list(&app, &format!("{TASKS}?status_task=TO%20DO"), &access).await;
    assert_eq!(to_do.json["count"], 5);
    let in_progress = list(&app, &format!("{TASKS}?status_task=IN+PROGRESS"), &access).await;
    in_progress.assert_body(
        StatusCode::OK,
        json!({ "count": 0, "next": null, "previous": null, "results": [] }),
    );
}

#[tokio::test]
async fn status_filter_links_keep_a_status_with_a_space() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    for i in 0..3 {
        app.create_task(
            &access,
            &json!({ "title": format!("Task {i}"), "status_task": "IN PROGRESS" }),
        )
        .await;
    }
    let first = list(
        &app,
        &format!("{TASKS}?status_task=IN%20PROGRESS&page_size=2"),
        &access,
    )
    .await;

    let second = follow(&app, &first.json, "next", &access).await;

    assert_eq!(second["count"], 3);
    assert_eq!(second["results"].as_array().map(Vec::len), Some(1));
    let back = follow(&app, &second, "previous", &access).await;
    assert_eq!(back["results"], first.json["results"]);
}

#[tokio::test]
async fn list_with_a_tampered_cursor_is_400() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    app.create_tasks(&access, 4).await;
    let first = list(&app, &format!("{TASKS}?page_size=2"), &access).await;
    let cursor = cursor_of(first.str("next")).to_owned();
    // A cursor is `<base64url JSON>.<base64url HMAC>`; tamper with the JSON part.
    let (payload, _) = cursor.split_once('.').expect("a signed cursor");
    let decoded: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON");
    let reencode = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let mut bad_direction = decoded.clone();
    bad_direction["d"] = json!("sideways");
    let mut bad_id = decoded.clone();
    bad_id["k"] = json!("not-a-task-id");
    let cases = [
        ("garbage", "not a cursor!".to_owned()),
        ("truncated", cursor[..cursor.len() - 3].to_owned()),
        ("extra characters", format!("{cursor}x")),
        ("plain base64 text", URL_SAFE_NO_PAD.encode("hello")),
        ("bad direction", reencode(bad_direction)),
        ("bad task id", reencode(bad_id)),
        ("an array", reencode(json!([1, 2, 3]))),
    ];
    for (case, tampered) in cases {
        let path = format!("{TASKS}?page_size=2&cursor={}", urlencode(&tampered));

        let response = list(&app, &path, &access).await;

        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            response.json
        );
        response.assert_field_error("cursor", "Invalid cursor.");
    }
}

/// A well-formed cursor the server never issued (the client re-encoded one with another task id,
/// keeping the old signature) is refused: cursors are signed.
#[tokio::test]
async fn list_with_a_forged_but_well_formed_cursor_is_400() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    app.create_tasks(&access, 4).await;
    let first = list(&app, &format!("{TASKS}?page_size=2"), &access).await;
    let cursor = cursor_of(first.str("next")).to_owned();
    let (payload, signature) = cursor.split_once('.').expect("a signed cursor");
    let mut forged: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON");
    forged["k"] = json!(uuid::Uuid::now_v7().to_string());
    let forged = format!("{}.{signature}", URL_SAFE_NO_PAD.encode(forged.to_string()));

    let response = list(
        &app,
        &format!("{TASKS}?page_size=2&cursor={forged}"),
        &access,
    )
    .await;

    response.assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_cursor_of_one_listing_is_refused_by_another() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    app.create_tasks(&access, 4).await;
    let first = list(&app, &format!("{TASKS}?page_size=2"), &access).await;
    let cursor = cursor_of(first.str("next")).to_owned();

    let response = list(
        &app,
        &format!("{TASKS}?page_size=2&status_task=DONE&cursor={cursor}"),
        &access,
    )
    .await;

    response.assert_field_error("cursor", "This cursor belongs to another listing.");
}

/// Percent-encodes what a query value cannot hold as is.
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_cursor_from_another_users_listing_is_400() {
    let app = TestApp::new().await;
    let (_, ada, _) = app.register("ada_lovelace").await;
    let (_, grace, _) = app.register("grace_hopper").await;
    app.create_tasks(&grace, 3).await;
    app.create_tasks(&ada, 4).await;
    let ada_first = list(&app, &format!("{TASKS}?page_size=2"), &ada).await;

    let response = list(&app, &path_of(ada_first.str("next")), &grace).await;

    response.assert_field_error("cursor", "Invalid cursor.");
}

#[tokio::test]
async fn a_full_last_page_has_no_next_link() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 10).await;

    let only = list(&app, TASKS, &access).await;
    let two_pages = list(&app, &format!("{TASKS}?page_size=5"), &access).await;
    let second = follow(&app, &two_pages.json, "next", &access).await;

    assert_eq!(ids(&only.json), newest_first(&tasks));
    assert_eq!(
        (&only.json["next"], &only.json["previous"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(ids(&second), newest_first(&tasks)[5..]);
    assert_eq!(second["next"], Value::Null);
}

#[tokio::test]
async fn deleting_the_task_a_cursor_points_at_does_not_break_the_walk() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 9).await;
    let first = list(&app, &format!("{TASKS}?page_size=3"), &access)
        .await
        .json;
    let last_of_first = first["results"][2].clone();

    app.delete(&task_path(id_of(&last_of_first)), Some(&access))
        .await
        .assert_status(StatusCode::OK);
    let second = follow(&app, &first, "next", &access).await;
    let back = follow(&app, &second, "previous", &access).await;

    assert_eq!(second["count"], 8);
    assert_eq!(ids(&second), newest_first(&tasks)[3..6]);
    // Only two tasks are newer than the second page now: `previous` answers the first page as
    // it is now, full (pagination_deletes.rs).
    let newest = newest_first(&tasks);
    assert_eq!(ids(&back), [&newest[..2], &newest[3..4]].concat());
    assert_eq!(back["previous"], Value::Null);
}
