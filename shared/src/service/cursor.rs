//! Opaque page cursors: a small JSON record (a task's list position: its creation time and id; a
//! direction; the status filter), base64url
//! encoded and signed with HMAC-SHA256 together with the listing's owner, so a client can follow
//! them but neither read nor forge them, nor use them in another user's listing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::domain::{TaskOrder, TaskStatus, UserId};
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
    #[serde(flatten)]
    pub task: TaskOrder,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
}

/// The key cursors are signed with, derived from the JWT secret.
#[derive(Clone)]
pub struct CursorKey(hmac::Key);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey")
    }
}

impl CursorKey {
    pub fn new(secret: &[u8]) -> Self {
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, secret),
            b"taskmaster page cursors",
        );
        Self(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }
}

impl Cursor {
    /// The cursor as `<payload>.<tag>`; the tag also covers `owner`, so the cursor works only in
    /// that user's listing.
    pub fn encode(&self, key: &CursorKey, owner: UserId) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        let tag = hmac::sign(&key.0, signed(owner, &payload).as_bytes());
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// `None` for anything that is not a cursor signed with `key` for `owner`.
    pub fn decode(raw: &str, key: &CursorKey, owner: UserId) -> Option<Self> {
        let (payload, tag) = raw.split_once('.')?;
        hmac::verify(
            &key.0,
            signed(owner, payload).as_bytes(),
            &URL_SAFE_NO_PAD.decode(tag).ok()?,
        )
        .ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }

    pub fn position(&self) -> Position {
        match self.direction {
            Direction::Older => Position::After(self.task),
            Direction::Newer => Position::Before(self.task),
        }
    }
}

/// What a cursor's tag signs: its owner and its payload.
fn signed(owner: UserId, payload: &str) -> String {
    format!("{owner}.{payload}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_anything_else_is_refused() {
        let key = CursorKey::new(b"a-secret");
        let owner = UserId::new();
        let position = |id| TaskOrder {
            created: crate::domain::Timestamp::now(),
            id,
        };
        let cursor = Cursor {
            direction: Direction::Newer,
            task: position(crate::domain::TaskId::new()),
            status: Some(TaskStatus::Done),
        };
        let encoded = cursor.encode(&key, owner);
        assert_eq!(Cursor::decode(&encoded, &key, owner), Some(cursor));
        assert_eq!(Cursor::decode("not a cursor", &key, owner), None);
        assert_eq!(
            Cursor::decode(&encoded, &CursorKey::new(b"another-secret"), owner),
            None
        );
        assert_eq!(
            Cursor::decode(&encoded, &key, UserId::new()),
            None,
            "another user's cursor"
        );

        let forged = Cursor {
            task: position(crate::domain::TaskId::new()),
            ..cursor
        };
        let (_, tag) = encoded.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            Cursor::decode(&format!("{forged_payload}.{tag}"), &key, owner),
            None
        );
    }
}
