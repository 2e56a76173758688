//! The store contract: one suite every storage implementation must pass, so that behaviour
//! (uniqueness, ordering, counts, conflicts, token rotation) cannot drift between stores.
//!
//! A store's test file is `mod contract; contract_tests!(<future of a fixture>);`. The fixture is
//! anything that borrows as a [`Stores`] (a `Stores` itself, or a struct that also keeps a temporary
//! directory alive). Every case makes its own users with random names and never relies on global
//! state, so the cases may share one store instance (as DynamoDB Local will).

pub mod connections;
pub mod imports;
pub mod listing;
pub mod tasks;
pub mod tokens;
pub mod users;

use std::collections::BTreeMap;

use shared::domain::{
    Email, PersonName, Task, TaskDescription, TaskId, TaskOrder, TaskStatus, TaskTitle, Timestamp,
    User, UserId, Username,
};
use shared::store::{ListQuery, Position, RefreshToken, StoreError, Stores, TaskPage};

/// Expands to one `#[tokio::test]` per contract case, each running on a fixture from `$make`
/// (an expression giving a future whose output borrows as `Stores`; evaluated once per case).
#[macro_export]
macro_rules! contract_tests {
    ($make:expr) => {
        $crate::contract_tests!(@cases $make;
            users::a_user_reads_back_by_id_username_and_email,
            users::a_taken_username_and_email_are_both_reported,
            users::a_taken_username_writes_nothing_and_leaves_the_email_free,
            users::a_taken_email_writes_nothing_and_leaves_the_username_free,
            users::simultaneous_registrations_of_one_username_make_one_user,
            users::simultaneous_registrations_of_one_email_make_one_user,
            users::record_login_sets_last_login_and_stores_a_rotatable_token,
            users::update_user_replaces_the_user_and_refuses_a_stale_version,
            users::a_rename_moves_the_username_guard,
            users::an_email_change_moves_the_email_guard,
            users::a_rename_to_a_taken_name_changes_nothing,
            tokens::rotation_consumes_the_old_token,
            tokens::rotating_another_users_token_is_not_found_and_leaves_it_live,
            tokens::an_expired_token_does_not_rotate,
            tokens::an_unknown_token_does_not_rotate,
            tokens::a_new_session_epoch_kills_every_older_token,
            tokens::simultaneous_rotations_of_one_token_succeed_once,
            tokens::a_revoked_token_does_not_rotate,
            tokens::revoking_an_unknown_token_is_ok,
            tokens::revoking_someone_elses_token_leaves_it_working,
            tasks::a_task_reads_back_as_created,
            tasks::another_owners_task_is_not_found,
            tasks::update_task_moves_the_status_counts,
            tasks::update_task_refuses_a_stale_version,
            tasks::updating_a_deleted_task_is_not_found,
            tasks::delete_task_uncounts_and_a_second_delete_is_not_found,
            tasks::delete_task_refuses_a_stale_version,
            tasks::simultaneous_updates_of_one_task_succeed_once,
            tasks::counts_stay_exact_after_a_mix_of_writes,
            tasks::simultaneous_creates_are_all_counted,
            listing::an_owner_without_tasks_lists_nothing,
            listing::list_is_newest_first_with_limit_and_more,
            listing::list_pages_forward_with_after_and_back_with_before,
            listing::list_filters_by_status_with_its_own_count,
            listing::other_owners_tasks_never_appear,
            imports::imported_tasks_list_by_creation_time_not_by_id,
            imports::importing_tasks_again_adds_only_the_new_ones,
            imports::importing_tasks_of_a_missing_owner_is_not_found,
            imports::imported_users_are_created_then_present_and_clashes_are_taken,
            imports::an_imported_user_clashing_with_a_registered_one_is_taken,
            connections::an_added_connection_is_listed_under_its_user,
            connections::a_connections_owner_is_found_by_its_id,
            connections::removing_a_connection_removes_it_from_the_list_and_the_owner_lookup,
            connections::removing_an_unknown_connection_is_ok,
            connections::removing_a_connection_twice_is_ok,
            connections::a_users_connections_never_appear_for_another_user,
            connections::an_expired_connection_is_not_listed,
            connections::two_connections_of_one_user_are_both_listed,
            connections::many_connections_of_one_user_are_all_listed,
            connections::a_listed_connection_says_whose_it_is_and_when_it_was_made,
        );
    };
    (@cases $make:expr; $($module:ident :: $case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $make.await;
                let stores: &::shared::store::Stores = ::std::borrow::Borrow::borrow(&fixture);
                $crate::contract::$module::$case(stores).await;
            }
        )+
    };
}

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
    let now = Timestamp::now();
    User {
        id: UserId::new(),
        username,
        email,
        first_name: PersonName::parse("Ada".into()).expect("a valid name"),
        last_name: PersonName::parse("Lovelace".into()).expect("a valid name"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        is_superuser: false,
        date_joined: now,
        last_updated: now,
        last_login: None,
        version: 0,
        session_epoch: 0,
    }
}

/// A fresh refresh token of `user`, live for an hour.
pub fn token_for(user: &User) -> RefreshToken {
    RefreshToken {
        jti: random_hex(32),
        user_id: user.id,
        expires_at: Timestamp::now().plus_seconds(3600),
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
            .create_task(&task)
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
        .list_tasks(owner, &query)
        .await
        .expect("listing tasks")
}

/// The ids of a page's tasks, in the page's order.
pub fn ids(page: &TaskPage) -> Vec<TaskId> {
    page.tasks.iter().map(|task| task.id).collect()
}

/// Panics unless `result` is `Err(NotFound)`.
#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "{what}: expected NotFound, got {result:?}"
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
