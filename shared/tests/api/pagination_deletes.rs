//! Pages and their links when tasks are deleted between one page and the next: no task is
//! skipped, an emptied page links back to where it came from, and a page that has become an end
//! of the list links no further that way.

use axum::http::StatusCode;
use serde_json::Value;

use super::helpers::{TASKS, TestApp, id_of, task_path};
use super::list::{follow, ids, list};

/// A user with `n` tasks (oldest first), and the first page of `per_page` of them.
struct Paged {
    app: TestApp,
    access: String,
    tasks: Vec<Value>,
    first: Value,
}

impl Paged {
    async fn new(n: usize, per_page: usize) -> Self {
        let app = TestApp::new().await;
        let (_, access, _) = app.register("ada_lovelace").await;
        let tasks = app.create_tasks(&access, n).await;
        let first = list(&app, &format!("{TASKS}?page_size={per_page}"), &access)
            .await
            .json;
        Self {
            app,
            access,
            tasks,
            first,
        }
    }

    async fn delete(&self, tasks: &[Value]) {
        for task in tasks {
            self.app
                .delete(&task_path(id_of(task)), Some(&self.access))
                .await
                .assert_status(StatusCode::OK);
        }
    }

    async fn follow(&self, page: &Value, link: &str) -> Value {
        follow(&self.app, page, link, &self.access).await
    }
}

/// T3..T0, two per page: page one is [T3, T2]; T1 and T0 are then deleted, so `next` leads to an
/// empty page, whose `previous` must lead back to [T3, T2].
#[tokio::test]
async fn previous_from_a_page_emptied_by_deletes_skips_no_task() {
    let paged = Paged::new(4, 2).await;
    paged.delete(&paged.tasks[..2]).await;

    let emptied = paged.follow(&paged.first, "next").await;
    let back = paged.follow(&emptied, "previous").await;

    assert_eq!(ids(&emptied), Vec::<String>::new());
    assert_eq!(
        ids(&back),
        ids(&paged.first),
        "back to the page we came from"
    );
}

/// The mirror case: page two is [T1, T0]; T3 and T2 are then deleted, so `previous` leads to an
/// empty page, whose `next` must lead back to [T1, T0].
#[tokio::test]
async fn next_from_a_page_emptied_by_deletes_skips_no_task() {
    let paged = Paged::new(4, 2).await;
    let second = paged.follow(&paged.first, "next").await;
    paged.delete(&paged.tasks[2..]).await;

    let emptied = paged.follow(&second, "previous").await;
    let forward = paged.follow(&emptied, "next").await;

    assert_eq!(ids(&emptied), Vec::<String>::new());
    assert_eq!(ids(&forward), ids(&second), "back to the page we came from");
}

/// T5..T0, three per page: page one [T5, T4, T3] is then deleted, so page two, reached by its
/// `next`, is the whole list and links to no `previous` (it led to an empty page).
#[tokio::test]
async fn a_page_that_has_become_the_whole_list_has_no_previous() {
    let paged = Paged::new(6, 3).await;
    paged.delete(&paged.tasks[3..]).await;

    let second = paged.follow(&paged.first, "next").await;

    assert_eq!(ids(&second).len(), 3);
    assert_eq!(second["count"], 3);
    assert_eq!(second["previous"], Value::Null, "{second}");
    assert_eq!(second["next"], Value::Null, "{second}");
}

/// The mirror case: page two [T2, T1, T0] is deleted, so page one, reached back by page two's
/// `previous`, is the whole list and links to no `next`.
#[tokio::test]
async fn a_page_reached_back_that_has_become_the_whole_list_has_no_next() {
    let paged = Paged::new(6, 3).await;
    let second = paged.follow(&paged.first, "next").await;
    paged.delete(&paged.tasks[..3]).await;

    let back = paged.follow(&second, "previous").await;

    assert_eq!(ids(&back), ids(&paged.first));
    assert_eq!(back["count"], 3);
    assert_eq!(back["next"], Value::Null, "{back}");
    assert_eq!(back["previous"], Value::Null, "{back}");
}
