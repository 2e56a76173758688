//! Imports from the original app: users under the same uniqueness rules, tasks idempotently with
//! exact counts, and lists in creation order whatever the ids.

use std::borrow::Borrow;

use shared::domain::TaskStatus::{Done, InProgress, ToDo};
use shared::domain::{Email, Task, TaskId, TaskStatus, Timestamp, UserId, Username};
use shared::store::{Imported, Missing, Position, Stores};

use super::{ids, list, new_task, new_user, owner, positions, random_hex, user_named};

/// `count` tasks of `owner` with random (UUIDv4) ids, created an hour apart, oldest first, so
/// that id order and creation order disagree.
fn imported_tasks(owner: UserId, count: usize) -> Vec<Task> {
    let start = Timestamp::now().plus_seconds(-3600 * count as i64);
    (0..count)
        .map(|i| {
            let mut task = new_task(owner, [ToDo, Done, InProgress][i % 3]);
            task.id = TaskId::parse(&uuid::Uuid::new_v4().to_string()).expect("a uuid");
            task.date_created = start.plus_seconds(3600 * i as i64);
            task.last_updated = task.date_created;
            task
        })
        .collect()
}

/// The ids of `tasks` newest first, keeping only `status` if given.
fn expected(tasks: &[Task], status: Option<TaskStatus>) -> Vec<TaskId> {
    let mut sorted: Vec<&Task> = tasks
        .iter()
        .filter(|task| status.is_none_or(|s| task.status == s))
        .collect();
    sorted.sort_by_key(|task| std::cmp::Reverse(task.order()));
    sorted.into_iter().map(|task| task.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imported_tasks_list_by_creation_time_not_by_id() {
    let (fixture, import) = crate::backend::importing().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let tasks = imported_tasks(owner, 9);
    let mut by_id = tasks.clone();
    by_id.sort_by_key(|task| task.id);
    assert_ne!(
        by_id, tasks,
        "the ids must not already be in creation order"
    );
    // Written in id order, to show the order comes from the dates.
    let added = import.import_tasks(owner, &by_id).await;
    assert_eq!(added.expect("importing"), 9);
    let newer = super::created_tasks(stores, owner, ToDo, 1).await;

    let all: Vec<Task> = tasks.iter().chain(&newer).cloned().collect();
    let page = list(stores, owner, None, 100, Position::First).await;
    assert_eq!((page.count, ids(&page)), (10, expected(&all, None)));
    let at = positions(&all);
    let second = list(stores, owner, None, 3, Position::After(at[2])).await;
    assert_eq!(ids(&second), expected(&all, None)[3..6]);
    let back = list(stores, owner, None, 3, Position::Before(at[6])).await;
    assert_eq!(ids(&back), expected(&all, None)[3..6]);
    for status in [ToDo, Done] {
        let page = list(stores, owner, Some(status), 100, Position::First).await;
        assert_eq!(ids(&page), expected(&all, Some(status)), "{status:?}");
    }
    let one = stores
        .tasks
        .task(owner, tasks[4].id)
        .await
        .expect("reading");
    assert_eq!(one.as_ref(), Some(&tasks[4]), "read back by id, unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn importing_tasks_again_adds_only_the_new_ones() {
    let (fixture, import) = crate::backend::importing().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let tasks = imported_tasks(owner, 12);

    let first = import.import_tasks(owner, &tasks[..8]).await;
    let again = import.import_tasks(owner, &tasks[4..]).await;
    let twice = import.import_tasks(owner, &tasks).await;

    assert_eq!(
        (
            first.expect("first"),
            again.expect("again"),
            twice.expect("twice")
        ),
        (8, 4, 0)
    );
    for status in [None, Some(ToDo), Some(InProgress), Some(Done)] {
        let page = list(stores, owner, status, 100, Position::First).await;
        let want = expected(&tasks, status);
        assert_eq!(
            (page.count, ids(&page)),
            (want.len() as u64, want),
            "{status:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stored_tasks_are_read_back_in_the_order_asked_and_none_where_not_stored() {
    let (fixture, import) = crate::backend::importing().await;
    let stores: &Stores = fixture.borrow();
    let (owner, someone_else) = (owner(stores).await, owner(stores).await);
    let tasks = imported_tasks(owner, 5);
    let added = import.import_tasks(owner, &tasks[..3]).await;
    assert_eq!(added.expect("importing"), 3);

    let ids: Vec<TaskId> = tasks.iter().rev().map(|task| task.id).collect();
    let stored = import.stored_tasks(owner, &ids).await.expect("reading");
    // The newest two were not imported.
    let reversed = tasks.iter().rev().enumerate();
    let want: Vec<Option<Task>> = reversed
        .map(|(i, task)| (i >= 2).then(|| task.clone()))
        .collect();
    assert_eq!(stored, want);
    let theirs = import.stored_tasks(someone_else, &ids).await;
    assert_eq!(theirs.expect("reading"), vec![None; 5], "by owner and id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_first_user_recorded_for_ownerless_tasks_stays() {
    let (fixture, import) = crate::backend::importing_fresh().await;
    let stores: &Stores = fixture.borrow();
    let (first, second) = (owner(stores).await, owner(stores).await);
    assert_eq!(import.orphans_owner().await.expect("reading"), None);

    let recorded = import.record_orphans_owner(first).await;
    assert_eq!(recorded.expect("recording"), first);
    let again = import.record_orphans_owner(second).await;
    assert_eq!(again.expect("recording"), first, "the first one stays");
    assert_eq!(import.orphans_owner().await.expect("reading"), Some(first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn importing_tasks_of_a_missing_owner_is_missing_user() {
    // The fixture holds the store's files until the end.
    let (_fixture, import) = crate::backend::importing().await;
    let nobody = UserId::new();
    let result = import
        .import_tasks(nobody, &imported_tasks(nobody, 2))
        .await;
    super::assert_missing(result, Missing::User, "tasks of nobody");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imported_users_are_created_then_present_and_clashes_are_taken() {
    let (fixture, import) = crate::backend::importing().await;
    let stores: &Stores = fixture.borrow();
    let (first, second) = (new_user(), new_user());
    let shouting = Email::parse(first.email.as_ref().to_uppercase()).expect("an email");
    let same_email = user_named(super::unique_username(), shouting);
    let legacy = Username::existing(format!("First.Last+{}", random_hex(8))).expect("a name");
    let dotted = user_named(legacy.clone(), super::unique_email());
    let batch = [first.clone(), second, same_email, dotted.clone()];

    let outcomes = import.import_users(&batch).await.expect("importing");
    let again = import.import_users(&batch).await.expect("again");

    let taken = Imported::Taken {
        username: false,
        email: true,
    };
    use Imported::{Created, Present};
    assert_eq!(outcomes, [Created, Created, taken, Created]);
    assert_eq!(again, [Present, Present, taken, Present]);
    let found = stores
        .users
        .user_by_username(&legacy)
        .await
        .expect("reading");
    assert_eq!(found, Some(dotted), "a legacy name reads back");
    let by_email = stores
        .users
        .user_by_email(&first.email)
        .await
        .expect("reading");
    assert_eq!(
        by_email.map(|u| u.id),
        Some(first.id),
        "the first one keeps the email"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_imported_user_clashing_with_a_registered_one_is_taken() {
    let (fixture, import) = crate::backend::importing().await;
    let stores: &Stores = fixture.borrow();
    let (registered, _) = super::registered(stores).await;
    let name_clash = user_named(registered.username.clone(), super::unique_email());
    let both = user_named(registered.username.clone(), registered.email.clone());

    let outcomes = import
        .import_users(&[name_clash.clone(), both])
        .await
        .expect("importing");

    assert_eq!(
        outcomes,
        [
            Imported::Taken {
                username: true,
                email: false
            },
            Imported::Taken {
                username: true,
                email: true
            }
        ]
    );
    let stored = stores.users.user(name_clash.id).await.expect("reading");
    assert_eq!(stored, None, "nothing of a refused user is stored");
    let email_free = stores.users.user_by_email(&name_clash.email).await;
    assert_eq!(email_free.expect("reading"), None, "its email stays free");
}
