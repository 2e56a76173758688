//! Writing in the original app's rows (`taskmaster-local import-django`): a trait of its own,
//! apart from the five the services hold in [`super::Stores`]. Those are trait objects, so every
//! Lambda links each of their methods; this one is reached only through
//! [`super::Stores::with_import`], which no Lambda calls, so the import code stays out of every
//! bootstrap.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{Task, TaskId, User, UserId};

/// The most users one [`ImportStore::import_users`] call takes: a DynamoDB transaction holds 100
/// items, three per user (the user and its two guards).
pub const IMPORT_USERS_BATCH: usize = 33;

/// The most tasks one [`ImportStore::import_tasks`] call takes: a DynamoDB transaction holds 100
/// items, less the counts update and the owner check.
pub const IMPORT_TASKS_BATCH: usize = 98;

/// What became of one user given to [`ImportStore::import_users`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// Stored now.
    Created,
    /// A user with this id was already stored (an earlier run): left as it is.
    Present,
    /// Not stored: its username or email is another user's, whatever its case.
    Taken { username: bool, email: bool },
}

#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Stores users brought over from another system (at most [`IMPORT_USERS_BATCH`]), each with
    /// its guards and under the same uniqueness rules as [`super::UserStore::create_user`], but
    /// with no refresh token; one outcome per user, in order. Each user is stored atomically or
    /// not at all; a user whose id is already stored is left alone, so importing again is
    /// harmless.
    async fn import_users(&self, users: &[User]) -> Result<Vec<Imported>, StoreError>;
    /// Stores those of `tasks` (all `owner`'s, at most [`IMPORT_TASKS_BATCH`]) whose ids are not
    /// stored yet and counts them, atomically; answers how many were new. Importing a task again
    /// changes nothing. `Missing(User)` if the owner does not exist.
    async fn import_tasks(&self, owner: UserId, tasks: &[Task]) -> Result<u64, StoreError>;
    /// The stored copies of the tasks `ids` of `owner` (at most [`IMPORT_TASKS_BATCH`]), in the
    /// same order, `None` for one not stored: what a second run compares with the source. One
    /// read of them all, consistent.
    async fn stored_tasks(
        &self,
        owner: UserId,
        ids: &[TaskId],
    ) -> Result<Vec<Option<Task>>, StoreError>;
    /// The user an earlier run gave the source's ownerless tasks to, if one did.
    async fn orphans_owner(&self) -> Result<Option<UserId>, StoreError>;
    /// Records `owner` as the user the source's ownerless tasks go to, unless a run recorded one
    /// before (one conditional write); answers the user recorded, `owner` or that earlier one.
    /// A task given an owner has no key to find it by but its owner's, so every run must give
    /// them to the same user, or a second run would store them again under another.
    async fn record_orphans_owner(&self, owner: UserId) -> Result<UserId, StoreError>;
}

/// Refuses an import batch that is too large or holds another owner's task (a caller's mistake).
pub(crate) fn check_import(owner: UserId, tasks: &[Task]) -> Result<(), StoreError> {
    if tasks.iter().any(|task| task.owner != owner) {
        return Err(anyhow::anyhow!("an import batch holds the tasks of one owner").into());
    }
    check_batch(tasks.len(), IMPORT_TASKS_BATCH)
}

/// Refuses an import batch of more than `max` items.
pub(crate) fn check_batch(len: usize, max: usize) -> Result<(), StoreError> {
    if len > max {
        return Err(anyhow::anyhow!("an import batch takes at most {max} items, not {len}").into());
    }
    Ok(())
}
