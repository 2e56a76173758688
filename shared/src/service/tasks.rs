//! Tasks: one user's own tasks, never anyone else's.

use std::sync::Arc;

use super::cursor::{Cursor, CursorKeys, Direction};
use crate::domain::{
    Session, Task, TaskDescription, TaskId, TaskStatus, TaskTitle, Timestamp, UserId,
};
use crate::error::{Error, Result};
use crate::retry;
use crate::store::{
    self, IdempotentCreate, ListQuery, Position, StoreError, Stores, TaskStore, UserStore,
};

/// A new task, validated.
#[derive(Debug)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: TaskDescription,
    pub status: TaskStatus,
}

/// Task fields to change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct TaskChanges {
    pub title: Option<TaskTitle>,
    pub description: Option<TaskDescription>,
    pub status: Option<TaskStatus>,
}

/// A page request: `cursor`, if any, is one this service issued for the same `status` filter.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub status: Option<TaskStatus>,
    pub page_size: usize,
    pub cursor: Option<String>,
}

/// A page of tasks with the (opaque) cursors of its neighbours.
#[derive(Debug)]
pub struct TaskList {
    pub count: u64,
    pub tasks: Vec<Task>,
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// A created task, and whether it was created by an earlier request with the same key.
#[derive(Debug)]
pub struct Created {
    pub task: Task,
    pub replayed: bool,
}

impl Created {
    fn new(task: Task) -> Self {
        Self {
            task,
            replayed: false,
        }
    }
}

/// What identifies a create request's content: a SHA-256 of its validated fields.
fn fingerprint(task: &Task) -> String {
    let fields = serde_json::json!([task.title, task.description, task.status]);
    let digest = ring::digest::digest(&ring::digest::SHA256, fields.to_string().as_bytes());
    hex::encode(digest)
}

/// The versions a precondition header names: `*` (whatever version is current) or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Versions {
    Any,
    These(Vec<u64>),
}

impl Versions {
    /// Whether these name `version`.
    pub fn name(&self, version: u64) -> bool {
        match self {
            Self::Any => true,
            Self::These(versions) => versions.contains(&version),
        }
    }
}

/// A write's preconditions (RFC 9110 §13.1), from its `If-Match` and `If-None-Match`: the write
/// applies only to a current version that the first names and the second does not; otherwise it
/// is a 412. Without either, it applies to whatever version is current.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    pub if_match: Option<Versions>,
    pub if_none_match: Option<Versions>,
}

impl Preconditions {
    /// Checked against the version the conditional write then requires: one atomic step.
    fn check(&self, task: &Task) -> Result<()> {
        let names = |versions: &Versions| versions.name(task.version);
        let refused = self.if_match.as_ref().is_some_and(|v| !names(v))
            || self.if_none_match.as_ref().is_some_and(names);
        if refused {
            Err(Error::PreconditionFailed)
        } else {
            Ok(())
        }
    }
}

#[derive(Clone)]
pub struct TaskService {
    tasks: Arc<dyn TaskStore>,
    users: Arc<dyn UserStore>,
    cursors: Arc<CursorKeys>,
}

impl TaskService {
    pub fn new(stores: &Stores, cursors: CursorKeys) -> Self {
        Self {
            tasks: stores.tasks.clone(),
            users: stores.users.clone(),
            cursors: Arc::new(cursors),
        }
    }

    /// Whether `session`'s user exists and still honours it: one strongly consistent read of
    /// the user, for reads to run beside their own (writes check inside their transaction).
    async fn check_session(&self, session: Session) -> Result<()> {
        super::session_user(self.users.as_ref(), session)
            .await
            .map(|_| ())
    }

    /// Creates a task. With an idempotency `key`, a repeat of an earlier request (same key, same
    /// fields, within 24 hours) creates nothing and returns the task the first one created
    /// (`replayed`); the same key with other fields is refused (422). The key is stored in the
    /// same atomic write as the task, so concurrent repeats also make exactly one task.
    #[tracing::instrument(skip_all, fields(user_id = %session.user))]
    pub async fn create(
        &self,
        session: Session,
        new: NewTask,
        key: Option<String>,
    ) -> Result<Created> {
        let owner = session.user;
        let now = Timestamp::now();
        let task = Task {
            id: TaskId::new(),
            owner,
            title: new.title,
            description: new.description,
            status: new.status,
            date_created: now,
            last_updated: now,
            version: 0,
        };
        let Some(key) = key else {
            self.tasks
                .create_task(&task, session)
                .await
                .map_err(|e| noted_if_full(e, owner))?;
            crate::metrics::count(crate::metrics::Counter::TasksCreated, 1);
            return Ok(Created::new(task));
        };
        let create = IdempotentCreate {
            key,
            fingerprint: fingerprint(&task),
            task,
            expires_at: now.plus_seconds(IdempotentCreate::LIFETIME_SECONDS),
        };
        let created = self.tasks.create_task_once(&create, session).await;
        match created.map_err(|e| noted_if_full(e, owner))? {
            store::Created::New => {
                crate::metrics::count(crate::metrics::Counter::TasksCreated, 1);
                Ok(Created::new(create.task))
            }
            store::Created::Earlier(earlier) if earlier.fingerprint == create.fingerprint => {
                Ok(Created {
                    task: earlier.task,
                    replayed: true,
                })
            }
            store::Created::Earlier(_) => Err(Error::IdempotencyKeyReused),
        }
    }

    /// The task `id` of the session's user. A malformed id, a missing task and someone else's
    /// task all look the same: not found. The session is checked beside the read, not after it.
    pub async fn get(&self, session: Session, id: &str) -> Result<Task> {
        let Some(id) = TaskId::from_path(id) else {
            self.check_session(session).await?;
            return Err(Error::task_not_found());
        };
        let read = async { Ok(self.tasks.task(session.user, id).await?) };
        let ((), task) = tokio::try_join!(self.check_session(session), read)?;
        task.ok_or_else(Error::task_not_found)
    }

    #[tracing::instrument(skip_all, fields(user_id = %session.user, task_id = id))]
    pub async fn update(
        &self,
        session: Session,
        id: &str,
        changes: TaskChanges,
        preconditions: &Preconditions,
    ) -> Result<Task> {
        let changes = &changes;
        retry::optimistic(|| async move {
            let before = self.get(session, id).await?;
            preconditions.check(&before)?;
            let mut after = before.clone();
            if let Some(title) = &changes.title {
                after.title = title.clone();
            }
            if let Some(description) = &changes.description {
                after.description = description.clone();
            }
            if let Some(status) = changes.status {
                after.status = status;
            }
            after.version += 1;
            after.last_updated = Timestamp::now();
            self.tasks
                .update_task(&before, &after, session)
                .await
                .map_err(|e| noted_if_full(e, session.user))?;
            Ok(after)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id = %session.user, task_id = id))]
    pub async fn delete(
        &self,
        session: Session,
        id: &str,
        preconditions: &Preconditions,
    ) -> Result<()> {
        retry::optimistic(|| async move {
            let task = self.get(session, id).await?;
            preconditions.check(&task)?;
            Ok(self.tasks.delete_task(&task, session).await?)
        })
        .await
    }

    /// One page, newest first. Following `next` and then `previous` returns to the same page.
    pub async fn list(&self, session: Session, request: PageRequest) -> Result<TaskList> {
        let owner = session.user;
        let status = request.status;
        let cursor = match &request.cursor {
            None => None,
            Some(raw) => Some(
                self.cursors
                    .decode(raw, owner)
                    .await
                    .ok_or_else(|| Error::field("cursor", "Invalid cursor."))?,
            ),
        };
        if cursor.is_some_and(|cursor| cursor.status != status) {
            return Err(Error::field(
                "cursor",
                "This cursor belongs to another listing.",
            ));
        }
        let mut position = cursor.map_or(Position::First, |cursor| cursor.position());
        let mut query = ListQuery {
            status,
            limit: request.page_size,
            position,
        };
        let mut page = self.tasks.list_tasks(owner, session, &query).await?;
        // A `previous` page that reaches the newest task short of a full page (tasks before it
        // deleted since, or a smaller page size then) is the first page: answered as one, full,
        // rather than as a page of fewer tasks, or none, whose `previous` is `null`.
        if matches!(position, Position::Before(_))
            && !page.more
            && page.tasks.len() < request.page_size
        {
            position = Position::First;
            query.position = position;
            page = self.tasks.list_tasks(owner, session, &query).await?;
        }

        let cursor = |direction, task| Cursor {
            direction,
            task,
            status,
        };
        let older_than = |task: Option<&Task>| task.map(|t| cursor(Direction::Older, t.order()));
        let newer_than = |task: Option<&Task>| task.map(|t| cursor(Direction::Newer, t.order()));
        let (first, last) = (page.tasks.first(), page.tasks.last());
        // A `next` page emptied by deletes still links back to where it came from, including the
        // task its cursor named (cursors are exclusive, so the bound moves to the neighbouring
        // position), unless nothing can lie that way: the page holds the whole count and nothing
        // lies beyond it in the direction it was read (tasks deleted since made it the whole list).
        let whole = !page.more && page.tasks.len() as u64 >= page.count;
        let (next, previous) = match position {
            Position::First => (older_than(last).filter(|_| page.more), None),
            Position::After(from) => (
                older_than(last).filter(|_| page.more),
                newer_than(first)
                    .or(Some(cursor(Direction::Newer, from.predecessor())))
                    .filter(|_| !whole),
            ),
            // Never empty: a short `previous` page was answered as the first page above.
            Position::Before(_) => (
                older_than(last).filter(|_| !whole),
                newer_than(first).filter(|_| page.more),
            ),
        };
        let encode = |c: Cursor| self.cursors.encode(&c, owner);
        Ok(TaskList {
            count: page.count,
            tasks: page.tasks,
            next: next.map(encode),
            previous: previous.map(encode),
        })
    }
}

/// `error`, logged at WARN with its user when it is [`StoreError::Full`]: the user's tasks have
/// reached what the store holds for one user, and an operator may want to know who
/// (docs/OPERATIONS.md has the query).
fn noted_if_full(error: StoreError, user: UserId) -> StoreError {
    if matches!(error, StoreError::Full) {
        tracing::warn!(user_id = %user, "a user's tasks are at the store's size limit: writes refused");
    }
    error
}
