//! The embedded store: redb, an ACID key-value store in one file (or in memory, for tests).
//!
//! Tables mirror the DynamoDB model: users by id, guard tables mapping a case-folded username or
//! email to its user, refresh tokens by jti, tasks by (owner, id), two list indexes (by creation
//! time, and by status then creation time), one counts row per user, and throttle counters. Each trait method is one
//! redb transaction, so each is atomic; writes share their fsync with the writes running beside
//! them (`commit`), and reads see only what is durable.

mod commit;
mod connections;
mod expiry;
mod import;
mod limits;
mod tasks;
mod tokens;
mod users;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use redb::backends::InMemoryBackend;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Serialize, de::DeserializeOwned};

use tokio::sync::mpsc::UnboundedReceiver;

use super::StoreError;
use crate::domain::{Task, TaskChange};
use commit::Committer;

const USERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("users");
const USERNAMES: TableDefinition<&str, &[u8]> = TableDefinition::new("usernames");
const EMAILS: TableDefinition<&str, &[u8]> = TableDefinition::new("emails");
const REFRESH_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("refresh_tokens");
const TASKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tasks");
const TASKS_BY_CREATED: TableDefinition<&[u8], ()> = TableDefinition::new("tasks_by_created");
const TASKS_BY_STATUS: TableDefinition<&[u8], ()> = TableDefinition::new("tasks_by_status");
/// The layout version of a database file (`"layout"`); see [`LAYOUT`].
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// 2: tasks are listed by creation time, then id (version 1 listed them by id).
/// 3: throttle counters are sets of hit ids (version 2 kept numbers, in other tables).
const LAYOUT: u64 = 3;
const TASK_COUNTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("task_counts");
/// `owner ++ key` → [`crate::store::IdempotentCreate`].
const IDEMPOTENT_CREATES: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("idempotent_creates");
const CONNECTIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("connections");
const CONNECTION_OWNERS: TableDefinition<&str, &[u8]> = TableDefinition::new("connection_owners");

/// The embedded store. Cheap to clone; all clones share one database, its writer thread and one
/// change feed. The database closes when the last clone is dropped.
#[derive(Clone)]
pub struct EmbeddedStore {
    committer: Arc<Committer>,
}

/// A task write, for the change feed: (before, after).
type Change = (Option<Task>, Option<Task>);

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                anyhow::anyhow!("{} is in use by another process", path.display())
            }
            other => anyhow::Error::new(other).context(format!("opening {}", path.display())),
        })?;
        Self::init(db)
    }

    /// A fresh database that lives in memory only.
    pub fn in_memory() -> anyhow::Result<Self> {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .context("creating in-memory database")?;
        Self::init(db)
    }

    /// Creates every table, brings an older file's indexes up to [`LAYOUT`], and drops what
    /// expired while the store was closed (`expiry`).
    fn init(db: Database) -> anyhow::Result<Self> {
        let tx = db.begin_write().context("opening tables")?;
        {
            tx.open_table(USERS)?;
            tx.open_table(USERNAMES)?;
            tx.open_table(EMAILS)?;
            tx.open_table(TASKS)?;
            tx.open_table(TASKS_BY_CREATED)?;
            tx.open_table(TASKS_BY_STATUS)?;
            let mut meta = tx.open_table(META)?;
            let layout = meta.get("layout")?.map(|v| v.value());
            let older = |than| layout.is_none_or(|layout| layout < than);
            if older(2) {
                tasks::rebuild_indexes(&tx)?;
            }
            if older(3) {
                limits::drop_numbered_counts(&tx)?;
            }
            meta.insert("layout", LAYOUT)?;
            tx.open_table(TASK_COUNTS)?;
            tx.open_table(CONNECTIONS)?;
            tx.open_table(CONNECTION_OWNERS)?;
            tx.open_table(limits::HITS)?;
            tx.open_table(limits::SETTLED)?;
            tx.open_table(import::IMPORT)?;
            expiry::sweep(&tx)?;
        }
        tx.commit().context("creating tables")?;
        Ok(Self {
            committer: Arc::new(Committer::start(db)?),
        })
    }

    /// Runs a read on the state as of the last durable commit, in place.
    ///
    /// Not on a blocking thread: every read is a few point lookups or one bounded range (a page
    /// of at most 100 tasks) on pages redb and the kernel cache, tens of microseconds, well
    /// within what a Tokio task may take between awaits; handing it to `spawn_blocking` cost two
    /// thread switches per read, more than the read itself (docs/PERFORMANCE.md).
    async fn read<T>(
        &self,
        work: impl FnOnce(&redb::ReadTransaction) -> anyhow::Result<T>,
    ) -> Result<T, StoreError> {
        work(&self.committer.snapshot()).map_err(|error| store_error(error, "reading"))
    }

    /// Committed task changes from now on, in commit order. One subscriber; a new call replaces it.
    pub fn subscribe(&self) -> UnboundedReceiver<TaskChange> {
        self.committer.subscribe()
    }

    /// Runs a write transaction on the writer thread; commits only when `work` succeeds, and
    /// answers once the commit is durable.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.write_task(move |tx| Ok((work(tx)?, None))).await
    }

    /// Like [`Self::write`], for a task write: its change goes to the feed once durable, in
    /// commit order.
    async fn write_task<T: Send + 'static>(
        &self,
        work: impl FnOnce(&redb::WriteTransaction) -> Result<(T, Option<Change>), StoreError>
        + Send
        + 'static,
    ) -> Result<T, StoreError> {
        self.committer.submit(work).await
    }
}

fn encode<T: Serialize>(value: &T) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(value).context("encoding record")
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> anyhow::Result<T> {
    serde_json::from_slice(bytes).context("decoding record")
}

/// Turns a redb error into a store error, with context ([`store_error`]).
trait Ctx<T> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T, E: Into<redb::Error>> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| store_error(anyhow::Error::new(e.into()), what))
    }
}

/// The store error of a failed read or write, with context: the disk failing (full, or an I/O
/// error, and every write after it, which redb refuses until the database is opened again) is
/// `Unavailable`, a 503 and not a bug's 500, and says so in the log; anything else is unexpected.
fn store_error(error: anyhow::Error, what: &'static str) -> StoreError {
    if disk_failed(&error) {
        tracing::error!(
            error = format!("{error:#}"),
            what,
            "the database's disk failed (full?): free space, then restart the server"
        );
        StoreError::Unavailable
    } else {
        StoreError::Unexpected(error.context(what))
    }
}

/// Whether the disk failed, wherever in `error`'s chain redb says so.
fn disk_failed(error: &anyhow::Error) -> bool {
    use redb::{Error, StorageError, TableError};
    let storage = |e: &StorageError| matches!(e, StorageError::Io(_) | StorageError::PreviousIo);
    error.chain().any(|cause| {
        cause.downcast_ref::<StorageError>().is_some_and(storage)
            || matches!(cause.downcast_ref::<TableError>(), Some(TableError::Storage(e)) if storage(e))
            || matches!(
                cause.downcast_ref::<Error>(),
                Some(Error::Io(_) | Error::PreviousIo)
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_disk_is_unavailable_and_anything_else_unexpected_in_writes_and_reads() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let failures = [
            (redb::Error::Io(full), true),
            (redb::Error::PreviousIo, true),
            (redb::Error::Corrupted("a page".to_owned()), false),
        ];
        for (error, unavailable) in failures {
            let mapped = Err::<(), _>(error).ctx("committing").unwrap_err();
            assert_eq!(
                matches!(mapped, StoreError::Unavailable),
                unavailable,
                "{mapped:?}"
            );
        }
        // A read's error, as its closure's `?` wraps it.
        let read =
            |error: redb::StorageError| disk_failed(&anyhow::Error::new(error).context("reading"));
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(read(redb::StorageError::Io(full)));
        assert!(read(redb::StorageError::PreviousIo));
        assert!(!read(redb::StorageError::Corrupted("a page".to_owned())));
        let table = redb::TableError::Storage(redb::StorageError::PreviousIo);
        assert!(disk_failed(&anyhow::Error::new(table)));
    }
}
