//! Tasks and the values they are made of.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use uuid::Uuid;

use super::{Timestamp, UserId, user::string_newtype, validation::check_text};

/// A task's id. New ids are UUIDv7, so ordering ids orders tasks by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(Uuid);

impl TaskId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Any UUID spelling (the original app's ids come without hyphens); `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        Uuid::parse_str(value).ok().map(Self)
    }

    /// An id as a path names it: a UUID in the hyphenated form the API writes (in either case);
    /// `None` for anything else, the braced, URN and unhyphenated spellings too (the caller
    /// answers 404, never 400).
    pub fn from_path(value: &str) -> Option<Self> {
        (value.len() == 36).then(|| Self::parse(value)).flatten()
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

/// Where a task stands in its owner's list: by creation time, then by id. Imported tasks keep
/// the original app's random (UUIDv4) ids, so the id alone does not order a list; for new tasks
/// (UUIDv7) both orders agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskOrder {
    #[serde(rename = "t")]
    pub created: Timestamp,
    #[serde(rename = "k")]
    pub id: TaskId,
}

impl TaskOrder {
    /// The position just before this one (a position, not a task).
    pub fn predecessor(&self) -> Self {
        let id = Uuid::from_u128(self.id.0.as_u128().saturating_sub(1));
        Self {
            id: TaskId(id),
            ..*self
        }
    }
}

impl Default for TaskId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// 1–100 characters once surrounding whitespace is trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(value: String) -> Result<Self, String> {
        let value = value.trim().to_owned();
        check_text(&value, 1, 100)?;
        Ok(Self(value))
    }
}

/// Free text of at most 10,000 characters; empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaskDescription(String);

impl TaskDescription {
    pub fn parse(value: String) -> Result<Self, String> {
        check_text(&value, 0, 10_000)?;
        Ok(Self(value))
    }
}

string_newtype!(TaskTitle, TaskDescription);

/// Where a task stands. Matched exactly: `"done"` is not `"DONE"`. Its spellings are written once,
/// in [`TaskStatus::as_str`]: serde, the stores and the OpenAPI schema all go through it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum TaskStatus {
    #[default]
    ToDo,
    InProgress,
    Done,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 3] = [Self::ToDo, Self::InProgress, Self::Done];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ToDo => "TO DO",
            Self::InProgress => "IN PROGRESS",
            Self::Done => "DONE",
        }
    }

    pub fn parse(value: String) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
            .ok_or_else(|| format!("\"{value}\" is not a valid choice."))
    }
}

impl From<TaskStatus> for &'static str {
    fn from(status: TaskStatus) -> Self {
        status.as_str()
    }
}

impl TryFrom<String> for TaskStatus {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(value)
    }
}

impl utoipa::PartialSchema for TaskStatus {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Where a task stands, matched exactly: `done` is not `DONE`.",
            ))
            .enum_values(Some(Self::ALL.map(|status| status.as_str())))
            .into()
    }
}

impl ToSchema for TaskStatus {}

/// A task as stored. `version` increases with every write, for optimistic concurrency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub owner: UserId,
    pub title: TaskTitle,
    pub description: TaskDescription,
    pub status: TaskStatus,
    pub date_created: Timestamp,
    pub last_updated: Timestamp,
    pub version: u64,
}

impl Task {
    /// Where this task stands in its owner's list.
    pub fn order(&self) -> TaskOrder {
        TaskOrder {
            created: self.date_created,
            id: self.id,
        }
    }
}

/// A committed task write, as a store publishes it: `before` absent for a create, `after` absent
/// for a delete. `sequence` numbers a store's changes in commit order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskChange {
    pub sequence: u64,
    pub before: Option<Task>,
    pub after: Option<Task>,
}

// The same view in REST answers and WebSocket messages.
/// A task as clients see it (no owner, no version).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TaskBody)]
pub struct TaskView {
    #[schema(value_type = String, format = Uuid)]
    pub id: TaskId,
    pub title: String,
    pub description: String,
    pub status_task: TaskStatus,
    #[schema(value_type = String, format = DateTime)]
    pub date_created: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_updated: Timestamp,
}

impl From<Task> for TaskView {
    fn from(task: Task) -> Self {
        Self {
            id: task.id,
            title: task.title.into(),
            description: task.description.into(),
            status_task: task.status,
            date_created: task.date_created,
            last_updated: task.last_updated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(
            TaskTitle::parse("  Write  ".into()).unwrap().as_ref(),
            "Write"
        );
        assert!(TaskTitle::parse("   ".into()).is_err());
        assert!(TaskTitle::parse("x".repeat(101)).is_err());
        assert!(TaskTitle::parse("é".repeat(100)).is_ok());
    }

    #[test]
    fn status_is_matched_exactly() {
        assert_eq!(
            TaskStatus::parse("IN PROGRESS".into()),
            Ok(TaskStatus::InProgress)
        );
        assert!(TaskStatus::parse("done".into()).is_err());
    }

    #[test]
    fn new_task_ids_sort_by_creation() {
        let first = TaskId::new();
        let second = TaskId::new();
        assert!(first < second);
    }
}
