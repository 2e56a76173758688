//! Tasks: reads scoped to their owner, optimistic updates and exact counts.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use shared::domain::TaskStatus::{Done, InProgress, ToDo};
use shared::domain::{Task, TaskId, TaskTitle, Timestamp};
use shared::store::{Created, IdempotentCreate, Missing, Position, Stores};

use super::{
    assert_conflict, assert_counts, assert_missing, changed_task, created_tasks, list, new_task,
    owner,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_reads_back_as_created() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let task = new_task(owner, InProgress);

    stores
        .tasks
        .create_task(&task, crate::contract::at(task.owner, 0))
        .await
        .expect("creating");

    let found = stores.tasks.task(owner, task.id).await.expect("reading");
    assert_eq!(found, Some(task));
    let unknown = stores
        .tasks
        .task(owner, TaskId::new())
        .await
        .expect("reading");
    assert_eq!(unknown, None, "an id never created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_owners_task_is_not_found() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let (alice, bob) = (owner(stores).await, owner(stores).await);
    let task = created_tasks(stores, alice, ToDo, 1).await.remove(0);

    let found = stores.tasks.task(bob, task.id).await.expect("reading");

    assert_eq!(found, None, "bob reads alice's task");
    let page = list(stores, bob, None, 100, Position::First).await;
    assert_eq!(
        (page.count, page.tasks.len()),
        (0, 0),
        "bob lists alice's task"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_task_moves_the_status_counts() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let tasks = created_tasks(stores, owner, ToDo, 3).await;
    let done = changed_task(&tasks[1], |t| {
        t.status = Done;
        t.title = TaskTitle::parse("finished".into()).expect("a title");
    });

    stores
        .tasks
        .update_task(&tasks[1], &done, crate::contract::at(tasks[1].owner, 0))
        .await
        .expect("updating");

    let found = stores.tasks.task(owner, done.id).await.expect("reading");
    assert_eq!(found.as_ref(), Some(&done));
    let expected: BTreeMap<TaskId, Task> = [tasks[0].clone(), done, tasks[2].clone()]
        .into_iter()
        .map(|task| (task.id, task))
        .collect();
    assert_counts(stores, owner, &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_task_refuses_a_stale_version() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let task = created_tasks(stores, owner, ToDo, 1).await.remove(0);
    let first = changed_task(&task, |t| t.status = InProgress);
    stores
        .tasks
        .update_task(&task, &first, crate::contract::at(task.owner, 0))
        .await
        .expect("updating");

    let late = changed_task(&task, |t| t.status = Done);
    let result = stores
        .tasks
        .update_task(&task, &late, crate::contract::at(task.owner, 0))
        .await;

    assert_conflict(result, "update from a stale version");
    let found = stores.tasks.task(owner, task.id).await.expect("reading");
    assert_eq!(
        found,
        Some(first.clone()),
        "the stale update changed the task"
    );
    assert_counts(stores, owner, &BTreeMap::from([(first.id, first)])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn updating_a_deleted_task_is_not_found() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let task = created_tasks(stores, owner, ToDo, 1).await.remove(0);
    stores
        .tasks
        .delete_task(&task, crate::contract::at(task.owner, 0))
        .await
        .expect("deleting");

    let result = stores
        .tasks
        .update_task(
            &task,
            &changed_task(&task, |t| t.status = Done),
            crate::contract::at(task.owner, 0),
        )
        .await;

    assert_missing(result, Missing::Task, "updating a deleted task");
    assert_eq!(
        stores.tasks.task(owner, task.id).await.expect("reading"),
        None
    );
    assert_counts(stores, owner, &BTreeMap::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_task_uncounts_and_a_second_delete_is_not_found() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let tasks = created_tasks(stores, owner, Done, 2).await;

    stores
        .tasks
        .delete_task(&tasks[0], crate::contract::at(tasks[0].owner, 0))
        .await
        .expect("deleting");

    assert_eq!(
        stores
            .tasks
            .task(owner, tasks[0].id)
            .await
            .expect("reading"),
        None
    );
    let kept = BTreeMap::from([(tasks[1].id, tasks[1].clone())]);
    assert_counts(stores, owner, &kept).await;
    assert_missing(
        stores
            .tasks
            .delete_task(&tasks[0], crate::contract::at(tasks[0].owner, 0))
            .await,
        Missing::Task,
        "deleting twice",
    );
    assert_counts(stores, owner, &kept).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_task_refuses_a_stale_version() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let task = created_tasks(stores, owner, ToDo, 1).await.remove(0);
    let updated = changed_task(&task, |t| t.status = InProgress);
    stores
        .tasks
        .update_task(&task, &updated, crate::contract::at(task.owner, 0))
        .await
        .expect("updating");

    assert_conflict(
        stores
            .tasks
            .delete_task(&task, crate::contract::at(task.owner, 0))
            .await,
        "deleting a stale version",
    );

    assert_counts(stores, owner, &BTreeMap::from([(updated.id, updated)])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_updates_of_one_task_succeed_once() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let task = created_tasks(stores, owner, ToDo, 1).await.remove(0);
    let attempts: Vec<Task> = (0..8)
        .map(|i| changed_task(&task, |t| t.status = [InProgress, Done][i % 2]))
        .collect();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(attempts.len()));

    let handles: Vec<_> = attempts
        .iter()
        .cloned()
        .map(|after| {
            let (stores, barrier, before) = (stores.clone(), barrier.clone(), task.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                stores
                    .tasks
                    .update_task(&before, &after, crate::contract::at(before.owner, 0))
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("update task"));
    }

    let won = results.iter().position(Result::is_ok);
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for result in results.into_iter().filter(Result::is_err) {
        assert_conflict(result, "a losing update");
    }
    let winner = attempts[won.expect("a winner")].clone();
    let found = stores.tasks.task(owner, task.id).await.expect("reading");
    assert_eq!(found.as_ref(), Some(&winner));
    assert_counts(stores, owner, &BTreeMap::from([(winner.id, winner)])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counts_stay_exact_after_a_mix_of_writes() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let mut model = BTreeMap::new();
    for (status, n) in [(ToDo, 4), (InProgress, 3), (Done, 2)] {
        for task in created_tasks(stores, owner, status, n).await {
            model.insert(task.id, task);
        }
    }
    let of = |model: &BTreeMap<TaskId, Task>, status| -> Vec<Task> {
        model
            .values()
            .filter(|t| t.status == status)
            .cloned()
            .collect()
    };

    for gone in [of(&model, ToDo)[0].clone(), of(&model, Done)[0].clone()] {
        stores
            .tasks
            .delete_task(&gone, crate::contract::at(gone.owner, 0))
            .await
            .expect("deleting");
        model.remove(&gone.id);
    }
    let moves = [
        (of(&model, ToDo)[0].clone(), Done),
        (of(&model, ToDo)[1].clone(), Done),
        (of(&model, InProgress)[0].clone(), ToDo),
        (of(&model, InProgress)[1].clone(), InProgress),
    ];
    for (before, status) in moves {
        let after = changed_task(&before, |t| {
            t.status = status;
            t.title = TaskTitle::parse("moved".into()).expect("a title");
        });
        stores
            .tasks
            .update_task(&before, &after, crate::contract::at(before.owner, 0))
            .await
            .expect("updating");
        model.insert(after.id, after);
    }
    for task in created_tasks(stores, owner, InProgress, 1).await {
        model.insert(task.id, task);
    }

    assert_eq!(model.len(), 8);
    assert_counts(stores, owner, &model).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_creates_are_all_counted() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let tasks: Vec<Task> = (0..20)
        .map(|i| new_task(owner, [ToDo, InProgress, Done][i % 3]))
        .collect();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(tasks.len()));

    let handles: Vec<_> = tasks
        .iter()
        .cloned()
        .map(|task| {
            let (stores, barrier) = (stores.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                stores
                    .tasks
                    .create_task(&task, crate::contract::at(task.owner, 0))
                    .await
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("create task").expect("creating");
    }

    let model: BTreeMap<TaskId, Task> = tasks.into_iter().map(|t| (t.id, t)).collect();
    assert_counts(stores, owner, &model).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_is_used_once_until_it_expires() {
    let fixture = crate::backend::stores().await;
    let stores: &Stores = fixture.borrow();
    let owner = owner(stores).await;
    let once = |task: Task, expires_at: Timestamp| IdempotentCreate {
        key: "the-key".to_owned(),
        fingerprint: "f".to_owned(),
        task,
        expires_at,
    };
    // Time enough for both creates on a busy machine, then waited out.
    let soon = Timestamp::now().plus_seconds(5);
    let first = once(new_task(owner, ToDo), soon);

    let created = stores
        .tasks
        .create_task_once(&first, crate::contract::at(first.task.owner, 0))
        .await
        .expect("first");
    let repeat = once(new_task(owner, ToDo), soon);
    let repeated = stores
        .tasks
        .create_task_once(&repeat, crate::contract::at(repeat.task.owner, 0))
        .await
        .expect("repeat");

    assert_eq!(created, Created::New);
    assert_eq!(repeated, Created::Earlier(first.clone()), "nothing written");
    assert_eq!(
        stores
            .tasks
            .task(owner, repeat.task.id)
            .await
            .expect("reading"),
        None
    );
    tokio::time::sleep(std::time::Duration::from_millis(6100)).await;
    let later = once(new_task(owner, Done), Timestamp::now().plus_seconds(60));
    let reused = stores
        .tasks
        .create_task_once(&later, crate::contract::at(later.task.owner, 0))
        .await
        .expect("after expiry");
    assert_eq!(reused, Created::New, "an expired key is free again");
    let page = list(stores, owner, None, 10, Position::First).await;
    assert_eq!(page.count, 2, "the first task and the one after expiry");
}
