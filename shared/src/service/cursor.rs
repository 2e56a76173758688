//! Opaque, validated page cursors: base64url of a small JSON record naming a task and a direction.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::domain::{TaskId, TaskStatus};
use crate::store::Position;

/// Which way a cursor reads from its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Older tasks (the next page).
    #[serde(rename = "n")]
    Older,
    /// Newer tasks (the previous page).
    #[serde(rename = "p")]
    Newer,
}

/// A position in one listing (all tasks, or one status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "d")]
    pub direction: Direction,
    #[serde(rename = "k")]
    pub task: TaskId,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// `None` for anything that is not a cursor this server made.
    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn position(&self) -> Position {
        match self.direction {
            Direction::Older => Position::After(self.task),
            Direction::Newer => Position::Before(self.task),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = Cursor {
            direction: Direction::Newer,
            task: TaskId::new(),
            status: Some(TaskStatus::Done),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode(br#"{"d":"x","k":"1"}"#)),
            None
        );
    }
}
