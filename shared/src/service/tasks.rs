//! Tasks: one user's own tasks, never anyone else's.

use std::sync::Arc;

use super::cursor::{Cursor, CursorKey, Direction};
use crate::domain::{Task, TaskDescription, TaskId, TaskStatus, TaskTitle, Timestamp, UserId};
use crate::error::{Error, Result};
use crate::store::{ListQuery, Position, StoreError, Stores, TaskStore};

const ATTEMPTS: usize = 3;

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

#[derive(Clone)]
pub struct TaskService {
    tasks: Arc<dyn TaskStore>,
    cursors: CursorKey,
}

impl TaskService {
    pub fn new(stores: &Stores, cursors: CursorKey) -> Self {
        Self {
            tasks: stores.tasks.clone(),
            cursors,
        }
    }

    #[tracing::instrument(skip_all, fields(user_id = %owner))]
    pub async fn create(&self, owner: UserId, new: NewTask) -> Result<Task> {
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
        match self.tasks.create_task(&task).await {
            Ok(()) => Ok(task),
            // A valid token of a user who no longer exists gets nothing.
            Err(StoreError::NotFound) => Err(Error::InvalidToken),
            Err(other) => Err(other.into()),
        }
    }

    /// The task `id` of `owner`. A malformed id, a missing task and someone else's task all look
    /// the same: not found.
    pub async fn get(&self, owner: UserId, id: &str) -> Result<Task> {
        let id = TaskId::parse(id).ok_or_else(Error::task_not_found)?;
        self.tasks
            .task(owner, id)
            .await?
            .ok_or_else(Error::task_not_found)
    }

    #[tracing::instrument(skip_all, fields(user_id = %owner, task_id = id))]
    pub async fn update(&self, owner: UserId, id: &str, changes: TaskChanges) -> Result<Task> {
        for _ in 0..ATTEMPTS {
            let before = self.get(owner, id).await?;
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
            match self.tasks.update_task(&before, &after).await {
                Ok(()) => return Ok(after),
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(Error::task_not_found()),
                Err(other) => return Err(other.into()),
            }
        }
        Err(Error::Conflict)
    }

    #[tracing::instrument(skip_all, fields(user_id = %owner, task_id = id))]
    pub async fn delete(&self, owner: UserId, id: &str) -> Result<()> {
        for _ in 0..ATTEMPTS {
            let task = self.get(owner, id).await?;
            match self.tasks.delete_task(&task).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(Error::task_not_found()),
                Err(other) => return Err(other.into()),
            }
        }
        Err(Error::Conflict)
    }

    /// One page, newest first. Following `next` and then `previous` returns to the same page.
    pub async fn list(&self, owner: UserId, request: PageRequest) -> Result<TaskList> {
        let status = request.status;
        let cursor = match &request.cursor {
            None => None,
            Some(raw) => Some(
                Cursor::decode(raw, &self.cursors, owner)
                    .ok_or_else(|| Error::field("cursor", "Invalid cursor."))?,
            ),
        };
        if cursor.is_some_and(|cursor| cursor.status != status) {
            return Err(Error::field(
                "cursor",
                "This cursor belongs to another listing.",
            ));
        }
        let position = cursor.map_or(Position::First, |cursor| cursor.position());
        let query = ListQuery {
            status,
            limit: request.page_size,
            position,
        };
        let page = match self.tasks.list_tasks(owner, &query).await {
            Ok(page) => page,
            Err(StoreError::NotFound) => return Err(Error::InvalidToken),
            Err(other) => return Err(other.into()),
        };

        let cursor = |direction, task| Cursor {
            direction,
            task,
            status,
        };
        let older_than = |task: Option<&Task>| task.map(|t| cursor(Direction::Older, t.order()));
        let newer_than = |task: Option<&Task>| task.map(|t| cursor(Direction::Newer, t.order()));
        let (first, last) = (page.tasks.first(), page.tasks.last());
        // A page emptied by deletes still links back to where it came from, including the task
        // its cursor named (cursors are exclusive, so the bound moves to the neighbouring position).
        let (next, previous) = match position {
            Position::First => (older_than(last).filter(|_| page.more), None),
            Position::After(from) => (
                older_than(last).filter(|_| page.more),
                newer_than(first).or(Some(cursor(Direction::Newer, from.predecessor()))),
            ),
            Position::Before(from) => (
                older_than(last).or(Some(cursor(Direction::Older, from.successor()))),
                newer_than(first).filter(|_| page.more),
            ),
        };
        let encode = |c: Cursor| c.encode(&self.cursors, owner);
        Ok(TaskList {
            count: page.count,
            tasks: page.tasks,
            next: next.map(encode),
            previous: previous.map(encode),
        })
    }
}
