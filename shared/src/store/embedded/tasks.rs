//! Tasks, their by-status index and the per-user counts.

use std::ops::Bound;

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use super::{
    Ctx, EmbeddedStore, IDEMPOTENT_CREATES, TASK_COUNTS, TASKS, TASKS_BY_CREATED, TASKS_BY_STATUS,
    USERS, decode, encode,
};
use crate::domain::{Session, Task, TaskId, TaskOrder, TaskStatus, Timestamp, User, UserId};
use crate::store::{
    Created, IdempotentCreate, ListQuery, Missing, Position, StoreError, TaskCounts, TaskPage,
    TaskStore,
};

fn status_byte(status: TaskStatus) -> u8 {
    match status {
        TaskStatus::ToDo => 0,
        TaskStatus::InProgress => 1,
        TaskStatus::Done => 2,
    }
}

/// `owner ++ id`: a task, in the tasks table.
fn task_key(owner: UserId, id: &[u8; 16]) -> Vec<u8> {
    let mut key = owner.as_uuid().as_bytes().to_vec();
    key.extend_from_slice(id);
    key
}

/// The task `id` of `owner` in `tasks`, the tasks table.
pub(super) fn read_task(
    tasks: &impl ReadableTable<&'static [u8], &'static [u8]>,
    owner: UserId,
    id: TaskId,
) -> anyhow::Result<Option<Task>> {
    let found = tasks.get(task_key(owner, id.as_uuid().as_bytes()).as_slice())?;
    found.map(|bytes| decode(bytes.value())).transpose()
}

/// `owner ++ [status] ++ created ++ id`: a list position, in the by-created index (no status) or
/// the by-status index. `created` is big-endian microseconds with the sign bit flipped, so the
/// bytes sort as the times do.
fn order_key(owner: UserId, status: Option<TaskStatus>, order: &TaskOrder) -> Vec<u8> {
    let mut key = owner.as_uuid().as_bytes().to_vec();
    key.extend(status.map(status_byte));
    let created = order.created.unix_micros().cast_unsigned() ^ (1 << 63);
    key.extend_from_slice(&created.to_be_bytes());
    key.extend_from_slice(order.id.as_uuid().as_bytes());
    key
}

/// The lowest or highest key of a listing (`fill` 0x00 or 0xff after the prefix).
fn listing_bound(owner: UserId, status: Option<TaskStatus>, fill: u8) -> Vec<u8> {
    let mut key = owner.as_uuid().as_bytes().to_vec();
    key.extend(status.map(status_byte));
    key.extend_from_slice(&[fill; 24]);
    key
}

fn stored_key(task: &Task) -> Vec<u8> {
    task_key(task.owner, task.id.as_uuid().as_bytes())
}

/// Writes the list entries of `task`, or removes them.
fn index(tx: &WriteTransaction, task: &Task, present: bool) -> Result<(), StoreError> {
    for (table, status) in [
        (TASKS_BY_CREATED, None),
        (TASKS_BY_STATUS, Some(task.status)),
    ] {
        let mut table = tx.open_table(table).ctx("opening index")?;
        let key = order_key(task.owner, status, &task.order());
        if present {
            table.insert(key.as_slice(), ()).ctx("writing index")?;
        } else {
            table.remove(key.as_slice()).ctx("deleting index entry")?;
        }
    }
    Ok(())
}

/// Rebuilds both list indexes from the tasks table: for a database written before tasks were
/// listed by creation time (its by-status keys had no time in them).
pub(super) fn rebuild_indexes(tx: &WriteTransaction) -> Result<(), StoreError> {
    tx.delete_table(TASKS_BY_STATUS).ctx("dropping index")?;
    tx.delete_table(TASKS_BY_CREATED).ctx("dropping index")?;
    tx.open_table(TASKS_BY_STATUS).ctx("creating index")?;
    tx.open_table(TASKS_BY_CREATED).ctx("creating index")?;
    let tasks = tx.open_table(TASKS).ctx("opening tasks")?;
    for entry in tasks.iter().ctx("reading tasks")? {
        let (_, bytes) = entry.ctx("reading task")?;
        index(tx, &decode::<Task>(bytes.value())?, true)?;
    }
    Ok(())
}

pub(super) fn stored_task(tx: &WriteTransaction, task: &Task) -> Result<Option<Task>, StoreError> {
    let tasks = tx.open_table(TASKS).ctx("opening tasks")?;
    let found = tasks.get(stored_key(task).as_slice()).ctx("reading task")?;
    Ok(found.map(|bytes| decode(bytes.value())).transpose()?)
}

/// Reads the stored copy of `task` and checks it is the version the caller read.
fn check_unchanged(tx: &WriteTransaction, task: &Task) -> Result<Task, StoreError> {
    let stored = stored_task(tx, task)?.ok_or(StoreError::Missing(Missing::Task))?;
    if stored.version != task.version {
        return Err(StoreError::Conflict);
    }
    Ok(stored)
}

pub(super) fn put(tx: &WriteTransaction, task: &Task) -> Result<(), StoreError> {
    let mut tasks = tx.open_table(TASKS).ctx("opening tasks")?;
    tasks
        .insert(stored_key(task).as_slice(), encode(task)?.as_slice())
        .ctx("writing task")?;
    index(tx, task, true)
}

fn remove(tx: &WriteTransaction, task: &Task) -> Result<(), StoreError> {
    tx.open_table(TASKS)
        .ctx("opening tasks")?
        .remove(stored_key(task).as_slice())
        .ctx("deleting task")?;
    index(tx, task, false)
}

pub(super) fn owner_exists(tx: &WriteTransaction, owner: UserId) -> Result<bool, StoreError> {
    let users = tx.open_table(USERS).ctx("opening users")?;
    let found = users
        .get(owner.as_uuid().as_bytes().as_slice())
        .ctx("reading owner")?;
    Ok(found.is_some())
}

/// Checks, in the write's own transaction, that `owner` exists and still honours `session`:
/// `Missing(User)` or `Missing(Session)` otherwise. Runs before anything is written.
fn check_session(tx: &WriteTransaction, owner: UserId, session: Session) -> Result<(), StoreError> {
    let users = tx.open_table(USERS).ctx("opening users")?;
    let found = users
        .get(owner.as_uuid().as_bytes().as_slice())
        .ctx("reading owner")?;
    let owner: User = match found {
        Some(bytes) => decode(bytes.value())?,
        None => return Err(StoreError::Missing(Missing::User)),
    };
    if !session.is_current(&owner) {
        return Err(StoreError::Missing(Missing::Session));
    }
    Ok(())
}

/// Applies `change` to `owner`'s counts.
pub(super) fn count(
    tx: &WriteTransaction,
    owner: UserId,
    change: impl FnOnce(&mut TaskCounts),
) -> Result<(), StoreError> {
    let mut table = tx.open_table(TASK_COUNTS).ctx("opening counts")?;
    let key = owner.as_uuid().as_bytes().as_slice();
    let mut counts: TaskCounts = match table.get(key).ctx("reading counts")? {
        Some(bytes) => decode(bytes.value())?,
        None => TaskCounts::default(),
    };
    change(&mut counts);
    table
        .insert(key, encode(&counts)?.as_slice())
        .ctx("writing counts")?;
    Ok(())
}

/// Stores a new task of an existing owner, for a caller of `session`, and counts it.
fn insert(tx: &WriteTransaction, task: &Task, session: Session) -> Result<(), StoreError> {
    check_session(tx, task.owner, session)?;
    if stored_task(tx, task)?.is_some() {
        return Err(StoreError::Conflict);
    }
    put(tx, task)?;
    count(tx, task.owner, |c| c.apply(task.status, 1))
}

#[async_trait]
impl TaskStore for EmbeddedStore {
    async fn create_task(&self, task: &Task, session: Session) -> Result<(), StoreError> {
        let task = task.clone();
        self.write_task(move |tx| {
            insert(tx, &task, session)?;
            Ok(((), Some((None, Some(task)))))
        })
        .await
    }

    async fn create_task_once(
        &self,
        create: &IdempotentCreate,
        session: Session,
    ) -> Result<Created, StoreError> {
        let create = create.clone();
        self.write_task(move |tx| {
            check_session(tx, create.task.owner, session)?;
            let mut table = tx.open_table(IDEMPOTENT_CREATES).ctx("opening keys")?;
            let mut key = create.task.owner.as_uuid().as_bytes().to_vec();
            key.extend_from_slice(create.key.as_bytes());
            let earlier: Option<IdempotentCreate> =
                match table.get(key.as_slice()).ctx("reading key")? {
                    Some(bytes) => Some(decode(bytes.value())?),
                    None => None,
                };
            // Live through its last whole second, as DynamoDB compares it.
            let now = Timestamp::now().unix();
            if let Some(earlier) = earlier.filter(|e| e.expires_at.unix() >= now) {
                return Ok((Created::Earlier(earlier), None));
            }
            table
                .insert(key.as_slice(), encode(&create)?.as_slice())
                .ctx("writing key")?;
            drop(table);
            insert(tx, &create.task, session)?;
            Ok((Created::New, Some((None, Some(create.task)))))
        })
        .await
    }

    async fn task(&self, owner: UserId, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.read(move |tx| read_task(&tx.open_table(TASKS)?, owner, id))
            .await
    }

    async fn update_task(
        &self,
        before: &Task,
        after: &Task,
        session: Session,
    ) -> Result<(), StoreError> {
        let (before, after) = (before.clone(), after.clone());
        self.write_task(move |tx| {
            check_session(tx, before.owner, session)?;
            let stored = check_unchanged(tx, &before)?;
            remove(tx, &stored)?;
            put(tx, &after)?;
            if stored.status != after.status {
                count(tx, after.owner, |c| {
                    c.apply(stored.status, -1);
                    c.apply(after.status, 1);
                })?;
            }
            Ok(((), Some((Some(stored), Some(after)))))
        })
        .await
    }

    async fn delete_task(&self, task: &Task, session: Session) -> Result<(), StoreError> {
        let task = task.clone();
        self.write_task(move |tx| {
            check_session(tx, task.owner, session)?;
            let stored = check_unchanged(tx, &task)?;
            remove(tx, &stored)?;
            count(tx, stored.owner, |c| c.apply(stored.status, -1))?;
            Ok(((), Some((Some(stored), None))))
        })
        .await
    }

    async fn list_tasks(
        &self,
        owner: UserId,
        session: Session,
        query: &ListQuery,
    ) -> Result<TaskPage, StoreError> {
        let query = *query;
        self.read(move |tx| {
            let Some(user) = tx
                .open_table(USERS)?
                .get(owner.as_uuid().as_bytes().as_slice())?
            else {
                return Ok(Err(Missing::User));
            };
            if !session.is_current(&decode::<User>(user.value())?) {
                return Ok(Err(Missing::Session));
            }
            let counts: TaskCounts = match tx
                .open_table(TASK_COUNTS)?
                .get(owner.as_uuid().as_bytes().as_slice())?
            {
                Some(bytes) => decode(bytes.value())?,
                None => TaskCounts::default(),
            };
            let lowest = listing_bound(owner, query.status, 0);
            let highest = listing_bound(owner, query.status, 0xff);
            let at = |order: TaskOrder| order_key(owner, query.status, &order);
            let (lower, upper, newest_first) = match query.position {
                Position::First => (Bound::Included(lowest), Bound::Included(highest), true),
                Position::After(at_) => (Bound::Included(lowest), Bound::Excluded(at(at_)), true),
                Position::Before(at_) => {
                    (Bound::Excluded(at(at_)), Bound::Included(highest), false)
                }
            };
            let bounds = (
                lower.as_ref().map(Vec::as_slice),
                upper.as_ref().map(Vec::as_slice),
            );
            // The last 16 bytes of either index's keys are the task id.
            let table = match query.status {
                Some(_) => TASKS_BY_STATUS,
                None => TASKS_BY_CREATED,
            };
            let index = tx.open_table(table)?;
            let ids = collect_ids(index.range::<&[u8]>(bounds)?, newest_first, query.limit + 1)?;
            let more = ids.len() > query.limit;
            let tasks_table = tx.open_table(TASKS)?;
            let mut tasks = Vec::with_capacity(query.limit);
            for id in ids.iter().take(query.limit) {
                let bytes = tasks_table.get(task_key(owner, id).as_slice())?;
                let bytes = bytes.ok_or_else(|| anyhow::anyhow!("index entry without its task"))?;
                tasks.push(decode::<Task>(bytes.value())?);
            }
            if !newest_first {
                tasks.reverse();
            }
            Ok(Ok(TaskPage {
                count: counts.of(query.status),
                tasks,
                more,
            }))
        })
        .await?
        .map_err(StoreError::Missing)
    }
}

/// The ids of up to `limit` entries of `range`, from the high end when `descending`.
fn collect_ids<V: redb::Value + 'static>(
    range: redb::Range<'static, &'static [u8], V>,
    descending: bool,
    limit: usize,
) -> anyhow::Result<Vec<[u8; 16]>> {
    let id_of = |entry: Result<
        (
            redb::AccessGuard<'static, &'static [u8]>,
            redb::AccessGuard<'static, V>,
        ),
        redb::StorageError,
    >| {
        let (key, _) = entry?;
        let key = key.value();
        let id = key.len().checked_sub(16).and_then(|start| key.get(start..));
        anyhow::Ok(<[u8; 16]>::try_from(anyhow::Context::context(
            id,
            "an index key too short",
        )?)?)
    };
    if descending {
        range.rev().take(limit).map(id_of).collect()
    } else {
        range.take(limit).map(id_of).collect()
    }
}
