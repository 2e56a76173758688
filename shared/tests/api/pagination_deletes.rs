//! Pages and their links when tasks are deleted between one page and the next: no task is
//! skipped, an emptied page links back to where it came from, a `previous` page that reaches the
//! newest task short is the first page, full, and a page that has become an end of the list links
//! no further that way.

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

/// The mirror case: page two is [T1, T0]; T3 and T2 are then deleted, so nothing lies before page
/// two any more: its `previous` answers the first page, which is now [T1, T0], and links nowhere.
#[tokio::test]
async fn previous_once_every_task_before_was_deleted_answers_the_first_page() {
    let paged = Paged::new(4, 2).await;
    let second = paged.follow(&paged.first, "next").await;
    paged.delete(&paged.tasks[2..]).await;

    let back = paged.follow(&second, "previous").await;

    assert_eq!(ids(&back), ids(&second), "the first page now");
    assert_eq!(back["previous"], Value::Null, "{back}");
    assert_eq!(back["next"], Value::Null, "{back}");
}

/// T6..T0, three per page: page two is [T3, T2, T1]; T6 and T5 are then deleted, so one task (T4)
/// lies before page two. Its `previous` is the first page, full: [T4, T3, T2], whose `next` goes on
/// to [T1, T0] (a page of T4 alone would have been the first page, short, with no way back up).
#[tokio::test]
async fn a_previous_page_that_reaches_the_newest_task_short_is_the_first_page_full() {
    let paged = Paged::new(7, 3).await;
    let second = paged.follow(&paged.first, "next").await;
    paged.delete(&paged.tasks[5..]).await;

    let back = paged.follow(&second, "previous").await;
    let then = paged.follow(&back, "next").await;

    let id = |n: usize| id_of(&paged.tasks[n]).to_owned();
    assert_eq!(ids(&back), [id(4), id(3), id(2)]);
    assert_eq!(back["previous"], Value::Null, "{back}");
    assert_eq!(ids(&then), [id(1), id(0)]);
    assert_eq!(then["next"], Value::Null, "{then}");
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
