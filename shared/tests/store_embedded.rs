//! The embedded store against the store contract, on disk as `taskmaster-local` runs it (the API
//! suite in `api.rs` runs on its in-memory form), and its data surviving a reopen of the file.

mod contract;

use std::borrow::Borrow;

use shared::domain::{TaskStatus, Timestamp};
use shared::store::{EmbeddedStore, ListQuery, Position, Stores};
use tempfile::TempDir;

/// Stores over a database file in a temporary directory, removed when dropped (after the store).
struct OnDisk {
    stores: Stores,
    _dir: TempDir,
}

impl Borrow<Stores> for OnDisk {
    fn borrow(&self) -> &Stores {
        &self.stores
    }
}

/// A fresh database file for each case.
mod backend {
    pub async fn stores() -> super::OnDisk {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = shared::store::EmbeddedStore::open(&dir.path().join("file.redb"))
            .expect("opening the file");
        super::OnDisk {
            stores: shared::store::Stores::new(store),
            _dir: dir,
        }
    }
}

#[tokio::test]
async fn data_survives_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("file.redb");
    let user = contract::new_user();
    let token = contract::token_for(&user);
    let logged_in = contract::token_for(&user);
    let login_at = Timestamp::now();
    let tasks = [TaskStatus::ToDo, TaskStatus::Done, TaskStatus::Done]
        .map(|status| contract::new_task(user.id, status));
    {
        let stores = Stores::new(EmbeddedStore::open(&path).expect("creating the file"));
        stores
            .users
            .create_user(&user, &token)
            .await
            .expect("creating a user");
        stores
            .users
            .record_login(&user, login_at, &logged_in)
            .await
            .expect("recording a login");
        for task in &tasks {
            stores
                .tasks
                .create_task(task)
                .await
                .expect("creating a task");
        }
    }

    let stores = Stores::new(EmbeddedStore::open(&path).expect("reopening the file"));

    let mut expected = user.clone();
    expected.last_login = Some(login_at);
    let by_name = stores.users.user_by_username(&user.username).await;
    assert_eq!(by_name.expect("reading"), Some(expected.clone()));
    let by_email = stores.users.user_by_email(&user.email).await;
    assert_eq!(by_email.expect("reading"), Some(expected));
    for task in &tasks {
        let found = stores.tasks.task(user.id, task.id).await.expect("reading");
        assert_eq!(found.as_ref(), Some(task));
    }
    let query = |status| ListQuery {
        status,
        limit: 10,
        position: Position::First,
    };
    let all = stores
        .tasks
        .list_tasks(user.id, &query(None))
        .await
        .expect("listing");
    assert_eq!(all.count, 3);
    assert_eq!(all.tasks, tasks.iter().rev().cloned().collect::<Vec<_>>());
    let done = stores
        .tasks
        .list_tasks(user.id, &query(Some(TaskStatus::Done)))
        .await;
    assert_eq!(done.expect("listing").count, 2);
    for old in [&token, &logged_in] {
        stores
            .tokens
            .rotate_refresh(&old.jti, user.id, &contract::token_for(&user))
            .await
            .expect("a token stored before the reopen rotates after it");
    }
}

#[tokio::test]
async fn a_file_in_use_cannot_be_opened_twice() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("file.redb");
    let _open = EmbeddedStore::open(&path).expect("opening the file");

    let second = EmbeddedStore::open(&path);

    let message = format!("{:#}", second.expect_err("a second open must fail"));
    assert!(message.contains("in use"), "unclear message: {message}");
}

#[tokio::test]
async fn a_file_of_the_layout_that_listed_by_id_is_reindexed_by_creation_time() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("file.redb");
    let user = contract::new_user();
    // Random ids, created an hour apart: id order is not creation order.
    let tasks: Vec<_> = [
        TaskStatus::ToDo,
        TaskStatus::Done,
        TaskStatus::ToDo,
        TaskStatus::Done,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, status)| {
        let mut task = contract::new_task(user.id, status);
        task.id = shared::domain::TaskId::parse(&uuid::Uuid::new_v4().to_string()).unwrap();
        task.date_created = Timestamp::now().plus_seconds(3600 * i as i64 - 86_400);
        task
    })
    .collect();
    {
        let stores = Stores::new(EmbeddedStore::open(&path).expect("creating the file"));
        stores
            .users
            .create_user(&user, &contract::token_for(&user))
            .await
            .expect("creating a user");
        let added = stores.tasks.import_tasks(user.id, &tasks).await;
        assert_eq!(added.expect("importing"), 4);
    }
    // Rewrite the file as the earlier layout left it: no layout mark, no by-created index, and
    // by-status keys of owner, status byte and id only.
    {
        let db = redb::Database::create(&path).expect("opening the file raw");
        let tx = db.begin_write().expect("a write");
        tx.delete_table(redb::TableDefinition::<&str, u64>::new("meta"))
            .expect("dropping meta");
        let by_created = redb::TableDefinition::<&[u8], ()>::new("tasks_by_created");
        tx.delete_table(by_created).expect("dropping by_created");
        let by_status = redb::TableDefinition::<&[u8], ()>::new("tasks_by_status");
        tx.delete_table(by_status).expect("dropping by_status");
        {
            let mut table = tx.open_table(by_status).expect("by_status");
            for task in &tasks {
                let mut key = user.id.as_uuid().as_bytes().to_vec();
                key.push(u8::from(task.status == TaskStatus::Done) * 2);
                key.extend_from_slice(task.id.as_uuid().as_bytes());
                table.insert(key.as_slice(), ()).expect("an old entry");
            }
        }
        tx.commit().expect("committing");
    }

    let stores = Stores::new(EmbeddedStore::open(&path).expect("reopening the file"));

    let mut newest_first = tasks.clone();
    newest_first.reverse();
    let list = |status| ListQuery {
        status,
        limit: 10,
        position: Position::First,
    };
    let all = stores.tasks.list_tasks(user.id, &list(None)).await;
    assert_eq!(all.expect("listing").tasks, newest_first);
    let done = stores
        .tasks
        .list_tasks(user.id, &list(Some(TaskStatus::Done)))
        .await;
    let want: Vec<_> = newest_first
        .iter()
        .filter(|t| t.status == TaskStatus::Done)
        .cloned()
        .collect();
    assert_eq!(done.expect("listing").tasks, want);
}
