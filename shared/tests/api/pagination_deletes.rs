//! Pages and their links when tasks are deleted between one page and the next: no task is
//! skipped, an emptied page links back to where it came from, and a page that has become an end
//! of the list links no further that way.

use axum::http::StatusCode;
use serde_json::Value;

use super::helpers::{TASKS, TestApp, id_of, task_path};
use super::list::{follow, ids, list};

/// T3..T0, two per page: page one is [T3, T2]; T1 and T0 are then deleted, so `next` leads to an
/// empty page, whose `previous` must lead back to [T3, T2].
#[tokio::test]
async fn previous_from_a_page_emptied_by_deletes_skips_no_task() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 4).await;
    let first = list(&app, &format!("{TASKS}?page_size=2"), &access)
        .await
        .json;
    for task in &tasks[..2] {
        app.delete(&task_path(id_of(task)), Some(&access))
            .await
            .assert_status(StatusCode::OK);
    }

    let emptied = follow(&app, &first, "next", &access).await;
    let back = follow(&app, &emptied, "previous", &access).await;

    assert_eq!(ids(&emptied), Vec::<String>::new());
    assert_eq!(ids(&back), ids(&first), "back to the page we came from");
}

/// The mirror case: page two is [T1, T0]; T3 and T2 are then deleted, so `previous` leads to an
/// empty page, whose `next` must lead back to [T1, T0].
#[tokio::test]
async fn next_from_a_page_emptied_by_deletes_skips_no_task() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 4).await;
    let first = list(&app, &format!("{TASKS}?page_size=2"), &access)
        .await
        .json;
    let second = follow(&app, &first, "next", &access).await;
    for task in &tasks[2..] {
        app.delete(&task_path(id_of(task)), Some(&access))
            .await
            .assert_status(StatusCode::OK);
    }

    let emptied = follow(&app, &second, "previous", &access).await;
    let forward = follow(&app, &emptied, "next", &access).await;

    assert_eq!(ids(&emptied), Vec::<String>::new());
    assert_eq!(ids(&forward), ids(&second), "back to the page we came from");
}

/// T5..T0, three per page: page one [T5, T4, T3] is then deleted, so page two, reached by its
/// `next`, is the whole list and links to no `previous` (it led to an empty page).
#[tokio::test]
async fn a_page_that_has_become_the_whole_list_has_no_previous() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 6).await;
    let first = list(&app, &format!("{TASKS}?page_size=3"), &access)
        .await
        .json;
    for task in &tasks[3..] {
        app.delete(&task_path(id_of(task)), Some(&access))
            .await
            .assert_status(StatusCode::OK);
    }

    let second = follow(&app, &first, "next", &access).await;

    assert_eq!(ids(&second).len(), 3);
    assert_eq!(second["count"], 3);
    assert_eq!(second["previous"], Value::Null, "{second}");
    assert_eq!(second["next"], Value::Null, "{second}");
}

/// The mirror case: page two [T2, T1, T0] is deleted, so page one, reached back by page two's
/// `previous`, is the whole list and links to no `next`.
#[tokio::test]
async fn a_page_reached_back_that_has_become_the_whole_list_has_no_next() {
    let app = TestApp::new().await;
    let (_, access, _) = app.register("ada_lovelace").await;
    let tasks = app.create_tasks(&access, 6).await;
    let first = list(&app, &format!("{TASKS}?page_size=3"), &access)
        .await
        .json;
    let second = follow(&app, &first, "next", &access).await;
    for task in &tasks[..3] {
        app.delete(&task_path(id_of(task)), Some(&access))
            .await
            .assert_status(StatusCode::OK);
    }

    let back = follow(&app, &second, "previous", &access).await;

    assert_eq!(ids(&back), ids(&first));
    assert_eq!(back["count"], 3);
    assert_eq!(back["next"], Value::Null, "{back}");
    assert_eq!(back["previous"], Value::Null, "{back}");
}
