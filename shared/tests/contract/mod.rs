//! The store contract: one suite every storage implementation must pass, so that behaviour
//! (uniqueness, ordering, counts, conflicts, token rotation) cannot drift between stores.
//!
//! A store's test file declares `mod backend { pub async fn stores() -> F }`, where `F` borrows
//! as a [`Stores`] (a `Stores` itself, or a struct that also keeps a temporary directory alive),
//! and then `mod contract;`: every case is a test that takes its stores from that backend. The API
//! and task-stream suites run on both stores the same way. Every case makes its own users with
//! random names and never relies on global state, so the cases may share one store instance (as
//! they do on DynamoDB Local).

mod connections;
mod imports;
mod limits;
mod listing;
mod revocation;
mod sessions;
mod tasks;
mod tokens;
mod users;

use std::collections::BTreeMap;

use shared::domain::{
    Email, Ended, PersonName, Task, TaskDescription, TaskId, TaskOrder, TaskStatus, TaskTitle,
    Timestamp, User, UserId, Username,
};
use shared::store::{
    ListQuery, Missing, Position, RefreshToken, Rotation, StoreError, Stores, TaskPage,
};

/// A random lowercase hex string of `len` (≤ 32) characters.
pub fn random_hex(len: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..len].to_owned()
}

/// A username nobody else has (22 characters).
pub fn unique_username() -> Username {
    Username::parse(format!("u_{}", random_hex(20))).expect("a valid username")
}

/// An email address nobody else has.
pub fn unique_email() -> Email {
    Email::parse(format!("{}@example.com", random_hex(24))).expect("a valid email")
}

/// A user that is not stored yet, with a fresh id, username and email.
pub fn new_user() -> User {
    user_named(unique_username(), unique_email())
}

/// A user that is not stored yet, with the given username and email.
pub fn user_named(username: Username, email: Email) -> User {
    User {
        first_name: PersonName::parse("Ada".into()).expect("a valid name"),
        last_name: PersonName::parse("Lovelace".into()).expect("a valid name"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        ..testkit::events::unsaved_user(UserId::new(), username, email)
    }
}

/// A caller of `user` at session epoch `epoch`, with no login session of its own.
pub fn at(user: UserId, epoch: u64) -> shared::domain::Session {
    shared::domain::Session {
        user,
        epoch,
        sid: None,
    }
}

/// A fresh refresh token of `user`, live for an hour.
pub fn token_for(user: &User) -> RefreshToken {
    RefreshToken {
        jti: random_hex(32),
        user_id: user.id,
        expires_at: Timestamp::now().plus_seconds(3600),
        sid: None,
    }
}

/// A refresh token of `user` that expired a minute ago.
pub fn expired_token_for(user: &User) -> RefreshToken {
    RefreshToken {
        expires_at: Timestamp::now().plus_seconds(-60),
        ..token_for(user)
    }
}

/// Stores a new user with a first refresh token, returning both.
pub async fn registered(stores: &Stores) -> (User, RefreshToken) {
    let user = new_user();
    let token = token_for(&user);
    stores
        .users
        .create_user(&user, &token)
        .await
        .expect("creating a fresh user");
    (user, token)
}

/// `user` as the service writes it next: one version later, with `change` applied.
pub fn changed(user: &User, change: impl FnOnce(&mut User)) -> User {
    let mut after = user.clone();
    after.version += 1;
    after.last_updated = Timestamp::now();
    change(&mut after);
    after
}

/// A task of `owner` that is not stored yet, with a fresh (time-ordered) id.
pub fn new_task(owner: UserId, status: TaskStatus) -> Task {
    let now = Timestamp::now();
    let id = TaskId::new();
    Task {
        id,
        owner,
        title: TaskTitle::parse(format!("task {id}")).expect("a valid title"),
        description: TaskDescription::parse("something to do".into()).expect("a valid description"),
        status,
        date_created: now,
        last_updated: now,
        version: 0,
    }
}

/// `task` as the service writes it next: one version later, with `change` applied.
pub fn changed_task(task: &Task, change: impl FnOnce(&mut Task)) -> Task {
    let mut after = task.clone();
    after.version += 1;
    after.last_updated = Timestamp::now();
    change(&mut after);
    after
}

/// Stores `count` new tasks of `owner` with `status`, one after the other, oldest first.
pub async fn created_tasks(
    stores: &Stores,
    owner: UserId,
    status: TaskStatus,
    count: usize,
) -> Vec<Task> {
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let task = new_task(owner, status);
        stores
            .tasks
            .create_task(&task, crate::contract::at(task.owner, 0))
            .await
            .expect("creating a task");
        tasks.push(task);
    }
    tasks
}

/// A freshly registered user's id, to own tasks.
pub async fn owner(stores: &Stores) -> UserId {
    registered(stores).await.0.id
}

/// The ids of `tasks` (given oldest first), newest first.
pub fn newest_first(tasks: &[Task]) -> Vec<TaskId> {
    tasks.iter().rev().map(|task| task.id).collect()
}

/// The list positions of `tasks` (given oldest first), newest first.
pub fn positions(tasks: &[Task]) -> Vec<TaskOrder> {
    tasks.iter().rev().map(Task::order).collect()
}

/// Asserts that `owner`'s total and per-status counts, and full listings, match `expected`.
pub async fn assert_counts(stores: &Stores, owner: UserId, expected: &BTreeMap<TaskId, Task>) {
    let filters = std::iter::once(None).chain(TaskStatus::ALL.map(Some));
    for status in filters {
        let want: Vec<TaskId> = expected
            .values()
            .rev()
            .filter(|task| status.is_none_or(|s| task.status == s))
            .map(|task| task.id)
            .collect();
        let page = list(stores, owner, status, 100, Position::First).await;
        assert_eq!(page.count, want.len() as u64, "count of {status:?}");
        assert_eq!(ids(&page), want, "listing of {status:?}");
        assert!(!page.more, "nothing beyond a full listing of {status:?}");
    }
}

/// One page of `owner`'s tasks.
pub async fn list(
    stores: &Stores,
    owner: UserId,
    status: Option<TaskStatus>,
    limit: usize,
    position: Position,
) -> TaskPage {
    let query = ListQuery {
        status,
        limit,
        position,
    };
    stores
        .tasks
        .list_tasks(owner, crate::contract::at(owner, 0), &query)
        .await
        .expect("listing tasks")
}

/// The ids of a page's tasks, in the page's order.
pub fn ids(page: &TaskPage) -> Vec<TaskId> {
    page.tasks.iter().map(|task| task.id).collect()
}

/// Panics unless `result` is `Err(Missing(missing))`.
#[track_caller]
pub fn assert_missing<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    missing: Missing,
    what: &str,
) {
    assert!(
        matches!(result, Err(StoreError::Missing(m)) if m == missing),
        "{what}: expected Missing({missing:?}), got {result:?}"
    );
}

/// Panics unless `result` is a reuse of a consumed refresh token that ended `ended`.
#[track_caller]
pub fn assert_reused(result: Result<Rotation, StoreError>, ended: Option<Ended>, what: &str) {
    assert!(
        matches!(result, Ok(Rotation::Reused(e)) if e == ended),
        "{what}: expected Reused({ended:?}), got {result:?}"
    );
}

/// Panics unless `result` is `Err(Conflict)`.
#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::Conflict)),
        "{what}: expected Conflict, got {result:?}"
    );
}

/// Panics unless `result` is `Err(Taken)` with exactly these flags.
#[track_caller]
pub fn assert_taken<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    username: bool,
    email: bool,
    what: &str,
) {
    assert!(
        matches!(result, Err(StoreError::Taken { username: u, email: e }) if u == username && e == email),
        "{what}: expected Taken {{ username: {username}, email: {email} }}, got {result:?}"
    );
}
