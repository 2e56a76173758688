//! Opaque page cursors: a small JSON record (a task's list position: its creation time and id; a
//! direction; the status filter), base64url
//! encoded and signed with HMAC-SHA256 together with the listing's owner, so a client can follow
//! them but neither read nor forge them, nor use them in another user's listing. A cursor's key
//! derives from a signing key, and every key a container accepts for tokens (the previous one
//! after a rotation, a pending one) takes its cursors too: a page link outlives a rotation as a
//! token does, and works whichever container, old or new, answers it ([`CursorKeys`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde::{Deserialize, Serialize};

use secrecy::ExposeSecret;

use crate::auth::Accepted;
use crate::config::AuthConfig;
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

/// The keys of a container's cursors: the current signing key's, which signs, and those of the
/// keys accepted besides it, which only check. On Lambda the accepted ones are read when a cursor
/// first fails the current key, or a token first names another key: one read for both
/// (`crate::auth::LoadSecrets`), kept once it succeeds.
pub struct CursorKeys {
    current: CursorKey,
    accepted: Accepted<CursorKey>,
}

impl std::fmt::Debug for CursorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKeys")
    }
}

impl CursorKeys {
    pub fn new(config: &AuthConfig) -> Self {
        Self {
            current: CursorKey::new(config.jwt_secret.expose_secret().as_bytes()),
            accepted: Accepted::new(&config.accepted_jwt_secrets, |secrets| {
                secrets
                    .iter()
                    .map(|secret| CursorKey::new(secret.expose_secret().as_bytes()))
                    .collect()
            }),
        }
    }

    /// `cursor` for `owner`, signed with the current key.
    pub fn encode(&self, cursor: &Cursor, owner: UserId) -> String {
        cursor.encode(&self.current, owner)
    }

    /// The cursor `raw` for `owner`, signed with the current key or an accepted one; `None` for
    /// anything else. When the accepted keys cannot be read just now, a cursor that needs one is
    /// `None` too: bad input stays a 400, and a client that began with an older container's link
    /// starts again from the first page.
    pub async fn decode(&self, raw: &str, owner: UserId) -> Option<Cursor> {
        if let Some(cursor) = Cursor::decode(raw, &self.current, owner) {
            return Some(cursor);
        }
        let accepted = self.accepted.get().await.ok()?;
        accepted
            .iter()
            .find_map(|key| Cursor::decode(raw, key, owner))
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
    use secrecy::SecretString;

    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::auth::{AcceptedSecrets, LoadSecrets};

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

    fn a_cursor() -> Cursor {
        Cursor {
            direction: Direction::Older,
            task: TaskOrder {
                created: crate::domain::Timestamp::now(),
                id: crate::domain::TaskId::new(),
            },
            status: None,
        }
    }

    /// Keys signing with `current` and accepting `accepted`.
    fn keys(current: &str, accepted: AcceptedSecrets) -> CursorKeys {
        let mut config = AuthConfig::with_secret(current);
        config.accepted_jwt_secrets = accepted;
        CursorKeys::new(&config)
    }

    fn known(secrets: &[&str]) -> AcceptedSecrets {
        AcceptedSecrets::Known(secrets.iter().map(|s| SecretString::from(*s)).collect())
    }

    #[tokio::test]
    async fn a_cursor_of_an_accepted_key_still_pages_after_a_rotation() {
        let owner = UserId::new();
        let cursor = a_cursor();
        let before = keys("the-key-before-the-rotation", known(&[]));
        let link = before.encode(&cursor, owner);

        let after = keys(
            "the-key-after-the-rotation",
            known(&["the-key-before-the-rotation"]),
        );
        assert_eq!(after.decode(&link, owner).await, Some(cursor));
        assert_eq!(
            after.decode(&link, UserId::new()).await,
            None,
            "another user's"
        );
        let again = after.encode(&cursor, owner);
        assert_ne!(again, link, "new cursors are signed with the current key");
        assert_eq!(after.decode(&again, owner).await, Some(cursor));

        let later = keys("a-third-key", known(&["the-key-after-the-rotation"]));
        assert_eq!(later.decode(&link, owner).await, None, "no longer accepted");
        assert_eq!(later.decode("not a cursor", owner).await, None);
    }

    #[tokio::test]
    async fn accepted_keys_are_read_only_for_a_cursor_the_current_one_refuses() {
        let reads = Arc::new(AtomicUsize::new(0));
        let counted = reads.clone();
        let load = LoadSecrets::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok(vec![SecretString::from("the-key-before-the-rotation")]) }
        });
        let owner = UserId::new();
        let cursor = a_cursor();
        let after = keys(
            "the-key-after-the-rotation",
            AcceptedSecrets::OnFirstNeed(load),
        );
        let current = after.encode(&cursor, owner);
        assert_eq!(after.decode(&current, owner).await, Some(cursor));
        assert_eq!(
            reads.load(Ordering::SeqCst),
            0,
            "the current key's cursor reads nothing"
        );

        let old = keys("the-key-before-the-rotation", known(&[])).encode(&cursor, owner);
        assert_eq!(after.decode(&old, owner).await, Some(cursor));
        assert_eq!(after.decode("not a cursor", owner).await, None);
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one read, kept");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cursor_needing_keys_that_cannot_be_read_is_refused_and_the_read_waits() {
        let reads = Arc::new(AtomicUsize::new(0));
        let counted = reads.clone();
        let load = LoadSecrets::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { anyhow::bail!("Secrets Manager is unreachable") }
        });
        let owner = UserId::new();
        let cursor = a_cursor();
        let old = keys("the-key-before-the-rotation", known(&[])).encode(&cursor, owner);
        let after = keys(
            "the-key-after-the-rotation",
            AcceptedSecrets::OnFirstNeed(load),
        );
        assert_eq!(
            after.decode(&old, owner).await,
            None,
            "refused, not an error"
        );
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "the accepted keys were asked for"
        );
        assert_eq!(after.decode(&old, owner).await, None);
        assert_eq!(
            reads.load(Ordering::SeqCst),
            1,
            "no second read within RETRY_AFTER"
        );
        tokio::time::advance(crate::auth::RETRY_AFTER).await;
        assert_eq!(after.decode(&old, owner).await, None);
        assert_eq!(reads.load(Ordering::SeqCst), 2, "read again after it");
        let current = after.encode(&cursor, owner);
        assert_eq!(after.decode(&current, owner).await, Some(cursor));
    }
}
