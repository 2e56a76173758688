//! Listing: newest first, limits, both directions, status filters and owner scoping.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use shared::domain::Task;
use shared::domain::TaskStatus::{Done, InProgress, ToDo};
use shared::store::{Position, Stores};

use super::{assert_counts, created_tasks, ids, list, new_task, newest_first, owner, positions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_owner_without_tasks_lists_nothing() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;

    for status in [None, Some(ToDo), Some(Done)] {
        let page = list(stores, owner, status, 10, Position::First).await;
        assert_eq!((page.count, page.tasks.len(), page.more), (0, 0, false));
    }
    let page = list(
        stores,
        owner,
        None,
        10,
        Position::After(new_task(owner, ToDo).order()),
    )
    .await;
    assert_eq!((page.count, page.tasks.len(), page.more), (0, 0, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_is_newest_first_with_limit_and_more() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let tasks = created_tasks(stores, owner, ToDo, 5).await;
    assert!(
        tasks.windows(2).all(|w| w[0].id < w[1].id),
        "ids in creation order"
    );
    let all = newest_first(&tasks);

    let page = list(stores, owner, None, 10, Position::First).await;
    assert_eq!(page.count, 5);
    assert_eq!(page.tasks, tasks.iter().rev().cloned().collect::<Vec<_>>());
    assert!(!page.more, "everything fits");

    let page = list(stores, owner, None, 2, Position::First).await;
    assert_eq!(
        (page.count, ids(&page), page.more),
        (5, all[..2].to_vec(), true)
    );

    let page = list(stores, owner, None, 5, Position::First).await;
    assert_eq!(
        (ids(&page), page.more),
        (all.clone(), false),
        "exactly full"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_pages_forward_with_after_and_back_with_before() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let tasks = created_tasks(stores, owner, ToDo, 5).await;
    let all = newest_first(&tasks);
    let at = positions(&tasks);

    let second = list(stores, owner, None, 2, Position::After(at[1])).await;
    assert_eq!(
        (second.count, ids(&second), second.more),
        (5, all[2..4].to_vec(), true)
    );
    let last = list(stores, owner, None, 2, Position::After(at[3])).await;
    assert_eq!((ids(&last), last.more), (all[4..].to_vec(), false));
    let beyond = list(stores, owner, None, 2, Position::After(at[4])).await;
    assert_eq!(
        (beyond.count, ids(&beyond), beyond.more),
        (5, vec![], false)
    );

    // Back from the last page gives the page before it, still newest first.
    let back = list(stores, owner, None, 2, Position::Before(at[4])).await;
    assert_eq!(
        (back.count, ids(&back), back.more),
        (5, all[2..4].to_vec(), true)
    );
    let front = list(stores, owner, None, 2, Position::Before(at[2])).await;
    assert_eq!((ids(&front), front.more), (all[..2].to_vec(), false));
    let short = list(stores, owner, None, 10, Position::Before(at[3])).await;
    assert_eq!((ids(&short), short.more), (all[..3].to_vec(), false));
    let none = list(stores, owner, None, 2, Position::Before(at[0])).await;
    assert_eq!((ids(&none), none.more), (vec![], false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_filters_by_status_with_its_own_count() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let statuses = [ToDo, Done, InProgress, Done, ToDo, Done, ToDo];
    let mut tasks = Vec::new();
    for status in statuses {
        tasks.extend(created_tasks(stores, owner, status, 1).await);
    }
    let done_tasks: Vec<Task> = tasks.iter().filter(|t| t.status == Done).cloned().collect();
    let done = newest_first(&done_tasks);
    let done_at = positions(&done_tasks);

    let page = list(stores, owner, Some(Done), 10, Position::First).await;
    assert_eq!(
        (page.count, ids(&page), page.more),
        (3, done.clone(), false)
    );
    assert!(page.tasks.iter().all(|task| task.status == Done));

    let first = list(stores, owner, Some(Done), 1, Position::First).await;
    assert_eq!(
        (first.count, ids(&first), first.more),
        (3, done[..1].to_vec(), true)
    );
    let rest = list(stores, owner, Some(Done), 5, Position::After(done_at[0])).await;
    assert_eq!(
        (rest.count, ids(&rest), rest.more),
        (3, done[1..].to_vec(), false)
    );
    let back = list(stores, owner, Some(Done), 1, Position::Before(done_at[2])).await;
    assert_eq!(
        (back.count, ids(&back), back.more),
        (3, done[1..2].to_vec(), true)
    );

    let progress = list(stores, owner, Some(InProgress), 10, Position::First).await;
    assert_eq!((progress.count, progress.tasks.len()), (1, 1));
    let total = list(stores, owner, None, 1, Position::First).await;
    assert_eq!((total.count, total.more), (7, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn other_owners_tasks_never_appear() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (alice, bob) = (owner(stores).await, owner(stores).await);
    let mut mine = BTreeMap::new();
    for status in [ToDo, Done, ToDo] {
        let theirs = new_task(bob, status);
        stores
            .tasks
            .create_task(&theirs, crate::contract::at(theirs.owner, 0))
            .await
            .expect("creating bob's");
        let task = created_tasks(stores, alice, status, 1).await.remove(0);
        mine.insert(task.id, task);
    }

    assert_counts(stores, alice, &mine).await;
    let bobs = list(stores, bob, None, 100, Position::First).await;
    assert_eq!(bobs.count, 3);
    assert!(
        bobs.tasks
            .iter()
            .all(|task| task.owner == bob && !mine.contains_key(&task.id))
    );
    let newest_of_alice = mine.values().map(Task::order).max().expect("a task");
    let after = list(stores, bob, None, 100, Position::Before(newest_of_alice)).await;
    assert!(after.tasks.iter().all(|task| task.owner == bob));
}
