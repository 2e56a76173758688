//! The embedded store against the store contract, on disk as `taskmaster-local` runs it (the API
//! suite in `api.rs` runs on its in-memory form), its data surviving a reopen of the file, and
//! its group commit: isolation within a shared commit, the change feed's order.

mod contract;

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use shared::domain::{Task, TaskChange, TaskId, TaskStatus, Timestamp};
use shared::store::{EmbeddedStore, ListQuery, Missing, Position, StoreError, Stores};
use tempfile::TempDir;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

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
    use std::sync::Arc;

    use shared::store::{EmbeddedStore, ImportStore, Stores};

    pub async fn stores() -> super::OnDisk {
        importing().await.0
    }

    pub async fn importing() -> (super::OnDisk, Arc<dyn ImportStore>) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = EmbeddedStore::open(&dir.path().join("file.redb")).expect("opening the file");
        let (stores, import) = Stores::with_import(store);
        (super::OnDisk { stores, _dir: dir }, import)
    }

    /// Every embedded store here is fresh.
    pub async fn importing_fresh() -> (super::OnDisk, Arc<dyn ImportStore>) {
        importing().await
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
                .create_task(task, crate::contract::at(task.owner, 0))
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
        .list_tasks(user.id, crate::contract::at(user.id, 0), &query(None))
        .await
        .expect("listing");
    assert_eq!(all.count, 3);
    assert_eq!(all.tasks, tasks.iter().rev().cloned().collect::<Vec<_>>());
    let done = stores
        .tasks
        .list_tasks(
            user.id,
            crate::contract::at(user.id, 0),
            &query(Some(TaskStatus::Done)),
        )
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

/// Writes sent together share one durable commit; each is still its own transaction. A rotation
/// by the wrong user removes the token before it finds it is not theirs, so it must roll back;
/// a second create of the same task must fail; neither may take the writes beside it along.
#[tokio::test]
async fn a_failing_write_rolls_back_alone_beside_the_writes_it_shares_a_commit_with() {
    let disk = backend::stores().await;
    let stores = &disk.stores;
    let (owner, token) = contract::registered(stores).await;
    let intruder = contract::registered(stores).await.0;
    let tasks: Vec<Task> = (0..32)
        .map(|n| contract::new_task(owner.id, TaskStatus::ALL[n % 3]))
        .collect();

    let replacements: Vec<_> = (0..16).map(|_| contract::token_for(&intruder)).collect();

    let thefts = replacements
        .iter()
        .map(|new| stores.tokens.rotate_refresh(&token.jti, intruder.id, new));
    let creates = tasks
        .iter()
        .chain(&tasks)
        .map(|t| stores.tasks.create_task(t, crate::contract::at(t.owner, 0)));
    let (thefts, creates) = tokio::join!(join_all(thefts), join_all(creates));

    for theft in thefts {
        contract::assert_missing(
            theft,
            Missing::RefreshToken,
            "rotating another user's token",
        );
    }
    let (first, second) = creates.split_at(tasks.len());
    assert!(first.iter().all(Result::is_ok), "first creates: {first:?}");
    for again in second.iter() {
        assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    }
    let expected: BTreeMap<TaskId, Task> = tasks.iter().map(|t| (t.id, t.clone())).collect();
    contract::assert_counts(stores, owner.id, &expected).await;
    stores
        .tokens
        .rotate_refresh(&token.jti, owner.id, &contract::token_for(&owner))
        .await
        .expect("the token survives every failed theft");
}

/// What a feed watcher saw: each change, and whether a read made the moment it arrived found
/// the task as the change left it.
type Seen = Vec<(TaskChange, bool)>;

/// Takes `n` changes from `feed`, reading each one's task as soon as it arrives.
fn watch(
    mut feed: UnboundedReceiver<TaskChange>,
    stores: &Stores,
    n: usize,
) -> JoinHandle<(UnboundedReceiver<TaskChange>, Seen)> {
    let reader = stores.tasks.clone();
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() < n {
            let change = feed.recv().await.expect("the feed stays open");
            let task = change.after.as_ref().or(change.before.as_ref());
            let task = task.expect("a change has a task");
            let stored = reader.task(task.owner, task.id).await.expect("reading");
            let readable = stored == change.after;
            seen.push((change, readable));
        }
        (feed, seen)
    })
}

/// Concurrent task writes reach the feed numbered 1, 2, 3… in commit order, one change per
/// committed write, each only once it is durable: a read (reads see durable state only) made
/// the moment a change arrives already finds the write.
#[tokio::test]
async fn the_feed_follows_commit_order_and_each_change_is_durable_when_it_arrives() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = EmbeddedStore::open(&dir.path().join("file.redb")).expect("opening the file");
    let feed = store.subscribe();
    let stores = Stores::new(store);
    let owner = contract::owner(&stores).await;
    let tasks: Vec<Task> = (0..48)
        .map(|_| contract::new_task(owner, TaskStatus::ToDo))
        .collect();
    let (to_update, to_delete) = tasks.split_at(24);
    let done: Vec<Task> = to_update
        .iter()
        .map(|t| contract::changed_task(t, |t| t.status = TaskStatus::Done))
        .collect();
    let within = |watcher| tokio::time::timeout(Duration::from_secs(10), watcher);

    let watcher = watch(feed, &stores, 48);
    let creates = join_all(
        tasks
            .iter()
            .map(|t| stores.tasks.create_task(t, crate::contract::at(t.owner, 0))),
    )
    .await;
    let (feed, mut seen) = within(watcher).await.expect("in time").expect("watched");
    let watcher = watch(feed, &stores, 48);
    let updates = to_update.iter().zip(&done).map(|(before, after)| {
        stores
            .tasks
            .update_task(before, after, crate::contract::at(before.owner, 0))
    });
    let deletes = to_delete
        .iter()
        .map(|t| stores.tasks.delete_task(t, crate::contract::at(t.owner, 0)));
    let (updates, deletes) = tokio::join!(join_all(updates), join_all(deletes));
    let (_, more) = within(watcher).await.expect("in time").expect("watched");
    seen.extend(more);

    let all_ok = creates.iter().chain(&updates).chain(&deletes);
    assert!(
        all_ok.clone().all(Result::is_ok),
        "{:?}",
        all_ok.collect::<Vec<_>>()
    );
    let sequences: Vec<u64> = seen.iter().map(|(change, _)| change.sequence).collect();
    assert_eq!(sequences, (1..=96).collect::<Vec<_>>(), "numbered in order");
    for (change, readable) in &seen {
        assert!(readable, "published before it was durable: {change:?}");
    }
    let kinds = |range: std::ops::Range<usize>, before: bool, after: bool| {
        seen[range]
            .iter()
            .filter(|(c, _)| c.before.is_some() == before && c.after.is_some() == after)
            .count()
    };
    assert_eq!(kinds(0..48, false, true), 48, "the creates");
    assert_eq!(kinds(48..96, true, true), 24, "the updates");
    assert_eq!(kinds(48..96, true, false), 24, "the deletes");
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
        let (stores, import) =
            Stores::with_import(EmbeddedStore::open(&path).expect("creating the file"));
        stores
            .users
            .create_user(&user, &contract::token_for(&user))
            .await
            .expect("creating a user");
        let added = import.import_tasks(user.id, &tasks).await;
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
    let all = stores
        .tasks
        .list_tasks(user.id, crate::contract::at(user.id, 0), &list(None))
        .await;
    assert_eq!(all.expect("listing").tasks, newest_first);
    let done = stores
        .tasks
        .list_tasks(
            user.id,
            crate::contract::at(user.id, 0),
            &list(Some(TaskStatus::Done)),
        )
        .await;
    let want: Vec<_> = newest_first
        .iter()
        .filter(|t| t.status == TaskStatus::Done)
        .cloned()
        .collect();
    assert_eq!(done.expect("listing").tasks, want);
}

/// A file of the layout that kept throttle counts as numbers opens with those tables gone (they
/// held at most one window's counts) and counts from nothing.
#[tokio::test]
async fn a_file_of_the_layout_with_numbered_counts_drops_them() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("file.redb");
    drop(EmbeddedStore::open(&path).expect("creating the file"));
    let numbered = redb::TableDefinition::<&str, u64>::new("limits");
    {
        let db = redb::Database::create(&path).expect("opening the file raw");
        let tx = db.begin_write().expect("a write");
        let meta = redb::TableDefinition::<&str, u64>::new("meta");
        tx.open_table(meta).unwrap().insert("layout", 2).unwrap();
        let key = format!("{:020}#test#a", Timestamp::now().unix() + 3600);
        tx.open_table(numbered)
            .unwrap()
            .insert(key.as_str(), 5)
            .unwrap();
        tx.commit().expect("committing");
    }

    let stores = Stores::new(EmbeddedStore::open(&path).expect("reopening the file"));
    let counter = shared::store::LimitCounter {
        name: "test#a".to_owned(),
        window_end: Timestamp::now().plus_seconds(3600),
    };
    let hit = shared::store::HitId::new();
    let counts = stores.limits.hit(&[counter], &hit).await.expect("counted");
    assert_eq!(counts[0].hits, 1);
    drop(stores);

    use redb::{ReadableDatabase, TableHandle};
    let db = redb::Database::create(&path).expect("opening the file raw");
    let tx = db.begin_read().expect("a read");
    let tables: Vec<String> = tx
        .list_tables()
        .expect("the tables")
        .map(|table| table.name().to_owned())
        .collect();
    assert!(!tables.contains(&"limits".to_owned()), "{tables:?}");
    assert!(tables.contains(&"limit_hits".to_owned()), "{tables:?}");
}
