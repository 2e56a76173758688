//! Storage: the traits the services own, and the stores that implement them.
//!
//! Every rule that matters for correctness lives in the store's atomic writes, identically in
//! each implementation: uniqueness of case-folded usernames and emails, exact per-user counts,
//! creation-ordered listing, optimistic concurrency on updates, single-use refresh tokens.
//! `tests/contract/` holds the one suite every implementation must pass.

pub mod dynamo;
pub mod embedded;
mod error;
pub mod import;
pub mod limits;
mod refresh;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    Email, Ended, Session, SessionId, Task, TaskId, TaskOrder, TaskStatus, Timestamp, User, UserId,
    Username,
};

pub use dynamo::{DynamoConfig, DynamoStore};
pub use embedded::EmbeddedStore;
pub use error::{Missing, StoreError};
pub use import::{IMPORT_TASKS_BATCH, IMPORT_USERS_BATCH, ImportStore, Imported};
pub use limits::{Count, HitId, LimitCounter, LimitStore};
pub(crate) use refresh::RefreshRecord;

/// A live refresh token: single use, revocable, gone at `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub jti: String,
    pub user_id: UserId,
    pub expires_at: Timestamp,
    /// The login session it belongs to (none for a token issued before sessions had ids).
    pub sid: Option<SessionId>,
}

/// A logout of one login session ([`TokenStore::end_session`]): the refresh token presented, and
/// until when (Unix seconds) the session must be remembered as ended: if the token was live (now
/// revoked), the session issues nothing more and its last access token expires by `live_until`;
/// if a refresh had consumed it, a later token may be live, refused at rotation until it expires.
#[derive(Debug, Clone)]
pub struct Logout {
    pub jti: String,
    pub session: Session,
    pub live_until: i64,
    pub consumed_until: i64,
}

impl Logout {
    /// Until when the session must be remembered, by whether its token was `live`.
    pub fn until(&self, live: bool) -> i64 {
        if live {
            self.live_until
        } else {
            self.consumed_until
        }
    }
}

/// A task created with an `Idempotency-Key`: the key, a fingerprint of what the first request
/// asked, and the task it got. Written in the same atomic write as the task, kept
/// [`IdempotentCreate::LIFETIME_SECONDS`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdempotentCreate {
    pub key: String,
    pub fingerprint: String,
    pub task: Task,
    pub expires_at: Timestamp,
}

impl IdempotentCreate {
    pub const LIFETIME_SECONDS: i64 = 24 * 60 * 60;
}

/// What [`TokenStore::rotate_refresh`] did with the token presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The new token is stored in its place, bound to this session epoch.
    Rotated(u64),
    /// It had been rotated before: this reuse stored nothing and ended what it names (nothing
    /// when that had ended already), so the caller can close that session's sockets.
    Reused(Option<Ended>),
}

/// What [`TaskStore::create_task_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The task is stored, and the key with it.
    New,
    /// The owner used this key before (and it has not expired): nothing was written.
    Earlier(IdempotentCreate),
}

/// Where a page starts. Lists run by creation time, then id ([`TaskOrder`]), newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The newest tasks.
    First,
    /// Tasks older than this position.
    After(TaskOrder),
    /// Tasks newer than this position.
    Before(TaskOrder),
}

/// One page of a user's tasks, optionally of one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<TaskStatus>,
    pub limit: usize,
    pub position: Position,
}

/// A page of tasks, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPage {
    /// The user's total, or the total of the status asked for: exact.
    pub count: u64,
    pub tasks: Vec<Task>,
    /// Whether more tasks lie beyond this page in the direction it was read
    /// (older for `First`/`After`, newer for `Before`).
    pub more: bool,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Stores a new user, its username and email guards and its first refresh token, atomically.
    /// `Taken` names what is already in use, whatever its case.
    async fn create_user(&self, user: &User, token: &RefreshToken) -> Result<(), StoreError>;
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// The user behind `session`, if it exists and still honours the session (its epoch, its
    /// login session): one strongly consistent read. The one session check of every service.
    async fn current_user(&self, session: Session) -> Result<Option<User>, StoreError> {
        Ok(self
            .user(session.user)
            .await?
            .filter(|user| session.is_current(user)))
    }
    async fn user_by_username(&self, username: &Username) -> Result<Option<User>, StoreError>;
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
    /// Sets `last_login` and stores a refresh token bound to `user.session_epoch`, atomically;
    /// `Missing(User)` if the user is gone.
    async fn record_login(
        &self,
        user: &User,
        at: Timestamp,
        token: &RefreshToken,
    ) -> Result<(), StoreError>;
    /// Replaces `before` with `after` if it is unchanged (`Conflict` otherwise), moving the
    /// username/email guards when they change (`Taken` if the new one is in use). Never changes
    /// `last_login` or `date_joined`. `Missing(User)` if the user is gone.
    async fn update_user(&self, before: &User, after: &User) -> Result<(), StoreError> {
        self.replace_user(before, after, None).await
    }
    /// [`update_user`](Self::update_user), storing `token` bound to `after.session_epoch` in the
    /// same write: a password change ends every session and starts the caller's new one at once,
    /// or does neither.
    async fn update_user_with_token(
        &self,
        before: &User,
        after: &User,
        token: &RefreshToken,
    ) -> Result<(), StoreError> {
        self.replace_user(before, after, Some(token)).await
    }
    /// What both of the above are: the replacement, with `token` stored in the same write when
    /// there is one. Each store implements this one.
    async fn replace_user(
        &self,
        before: &User,
        after: &User,
        token: Option<&RefreshToken>,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Consumes the refresh token `old_jti` of `user` and stores `new` in its place, atomically
    /// ([`Rotation::Rotated`]). `Missing(RefreshToken)` when the old one is neither live nor
    /// consumed (see [`Missing::RefreshToken`]). A consumed token is remembered until it
    /// expires: presenting it again is a reuse (RFC 9700 §4.14.2, [`Rotation::Reused`]), which
    /// ends its login session ([`User::end_session`]), so every token of that session, the
    /// thief's and the victim's alike, dies; a token without one raises the user's
    /// `session_epoch` instead.
    async fn rotate_refresh(
        &self,
        old_jti: &str,
        user: UserId,
        new: &RefreshToken,
    ) -> Result<Rotation, StoreError>;
    /// Stores a new refresh token bound to session epoch `epoch` (a token bound to an epoch the
    /// user has already left is stored, but never rotates).
    async fn add_refresh(&self, token: &RefreshToken, epoch: u64) -> Result<(), StoreError>;
    /// Whether the refresh token `jti` of `session` would still rotate: stored, unexpired, not
    /// older than the user's last revocation of all tokens, and of a login session not ended.
    async fn refresh_is_live(&self, jti: &str, session: Session) -> Result<bool, StoreError>;
    /// Revokes one refresh token of `user`; revoking an unknown token is not an error. A consumed
    /// (rotated) token is kept: logging it out must not erase the record that tells its reuse
    /// from a token never issued (a thief who rotated a stolen token could otherwise log the
    /// stolen one out and leave the victim's replay unnoticed).
    async fn revoke_refresh(&self, jti: &str, user: UserId) -> Result<(), StoreError>;
    /// Logs out one login session, atomically: its refresh token revoked as
    /// [`revoke_refresh`](Self::revoke_refresh) does, and the session, when the token names one
    /// and the user still honours it, recorded as ended in the user's record
    /// ([`User::end_session`]), so every token of it is refused from now on. Answers what ended,
    /// if anything did.
    async fn end_session(&self, logout: &Logout) -> Result<Option<Ended>, StoreError>;
}

/// Every call of a [`TaskStore`] that takes a `session` checks it against the owner's record
/// inside its own atomic unit (the write's transaction, or the read's batch): an epoch older than
/// the owner's, or a login session the owner ended, is refused with `Missing(Session)` and writes
/// nothing.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Stores a new task and counts it, atomically; `Missing(User)` if its owner does not exist.
    async fn create_task(&self, task: &Task, session: Session) -> Result<(), StoreError>;
    /// Like `create_task`, recording `create` under its task's owner and key in the same atomic
    /// write; if that owner already used the key, writes nothing and returns the earlier record.
    async fn create_task_once(
        &self,
        create: &IdempotentCreate,
        session: Session,
    ) -> Result<Created, StoreError>;
    async fn task(&self, owner: UserId, id: TaskId) -> Result<Option<Task>, StoreError>;
    /// Replaces `before` with `after` if unchanged, moving the status counts, atomically.
    /// `Missing(Task)` if it is gone, `Conflict` if it changed.
    async fn update_task(
        &self,
        before: &Task,
        after: &Task,
        session: Session,
    ) -> Result<(), StoreError>;
    /// Deletes `task` if unchanged and uncounts it, atomically. `Missing(Task)`/`Conflict` as above.
    async fn delete_task(&self, task: &Task, session: Session) -> Result<(), StoreError>;
    /// A page of `owner`'s tasks; `Missing(User)` if the owner does not exist.
    async fn list_tasks(
        &self,
        owner: UserId,
        session: Session,
        query: &ListQuery,
    ) -> Result<TaskPage, StoreError>;
}

/// An open WebSocket connection of a user, until API Gateway's 2 h limit (plus a margin), bound
/// to the session of the access token that opened it (or last renewed it with `authenticate`):
/// nothing is delivered to it once that token has expired or its session has ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Connection {
    pub id: String,
    pub user_id: UserId,
    pub connected_at: Timestamp,
    pub expires_at: Timestamp,
    /// When the connection's access token expires (a record without one is long expired).
    #[serde(default = "long_ago")]
    pub token_expires_at: Timestamp,
    /// The session epoch of the connection's access token.
    #[serde(default)]
    pub epoch: u64,
    /// The login session of the connection's access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<SessionId>,
}

impl Connection {
    /// Whether the connection may still hear its user's events: its token is unexpired at `now`
    /// and its session is still honoured by `user` (its owner, as stored).
    pub fn is_live(&self, now: Timestamp, user: &User) -> bool {
        self.token_expires_at > now && self.session().is_current(user)
    }

    /// The session of the connection's access token.
    pub fn session(&self) -> Session {
        Session {
            user: self.user_id,
            epoch: self.epoch,
            sid: self.sid,
        }
    }
}

/// The time of a record that predates what it lacks: the Unix epoch.
fn long_ago() -> Timestamp {
    Timestamp::from_unix(0).unwrap_or_else(Timestamp::now)
}

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Records a connection under its user, with a reverse entry by connection id (replacing
    /// a record of the same id).
    async fn add_connection(&self, connection: &Connection) -> Result<(), StoreError>;
    /// Binds recorded connection `connection.id` of `connection.user_id` to a new access token
    /// (its `token_expires_at`, `epoch` and `sid`); `false` if it is no longer recorded (closed
    /// meanwhile): it is never re-created.
    async fn renew_connection(&self, connection: &Connection) -> Result<bool, StoreError>;
    /// The user a connection id belongs to, if it is recorded.
    async fn connection_owner(&self, id: &str) -> Result<Option<UserId>, StoreError>;
    /// `user`'s recorded connections (expired ones excluded), read strongly consistently so a
    /// connection just made is among them.
    async fn connections_of(&self, user: UserId) -> Result<Vec<Connection>, StoreError>;
    /// Forgets the connection `id` of `user` (both entries); unknown connections are fine.
    async fn remove_connection(&self, user: UserId, id: &str) -> Result<(), StoreError>;
}

/// One backend behind the five traits, as the services hold it.
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub tasks: Arc<dyn TaskStore>,
    pub connections: Arc<dyn ConnectionStore>,
    pub limits: Arc<dyn LimitStore>,
}

impl Stores {
    pub fn new<S: UserStore + TokenStore + TaskStore + ConnectionStore + LimitStore + 'static>(
        store: S,
    ) -> Self {
        Self::shared(Arc::new(store))
    }

    /// `store` as [`Stores`] and as the [`ImportStore`] `import-django` writes through. Only the
    /// importer and tests call this, so no Lambda links the import code (see [`import`]).
    pub fn with_import<S>(store: S) -> (Self, Arc<dyn ImportStore>)
    where
        S: UserStore
            + TokenStore
            + TaskStore
            + ConnectionStore
            + LimitStore
            + ImportStore
            + 'static,
    {
        let store = Arc::new(store);
        (Self::shared(store.clone()), store)
    }

    fn shared<S: UserStore + TokenStore + TaskStore + ConnectionStore + LimitStore + 'static>(
        store: Arc<S>,
    ) -> Self {
        Self {
            users: store.clone(),
            tokens: store.clone(),
            tasks: store.clone(),
            connections: store.clone(),
            limits: store,
        }
    }

    /// The production stores, for a Lambda's cold start: DynamoDB, tables from the environment
    /// (see [`DynamoConfig`]); the SDK client is built here, once per container.
    pub async fn from_env() -> anyhow::Result<Self> {
        let config = DynamoConfig::from_env()?;
        Ok(Self::new(DynamoStore::new(config.client(), &config)))
    }
}

/// A task's counts by status, kept exact in the same write as the task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TaskCounts {
    pub total: u64,
    pub to_do: u64,
    pub in_progress: u64,
    pub done: u64,
}

impl TaskCounts {
    pub fn of(&self, status: Option<TaskStatus>) -> u64 {
        match status {
            None => self.total,
            Some(TaskStatus::ToDo) => self.to_do,
            Some(TaskStatus::InProgress) => self.in_progress,
            Some(TaskStatus::Done) => self.done,
        }
    }

    /// Adds `delta` to the total and to `status`'s count (saturating at zero).
    pub fn apply(&mut self, status: TaskStatus, delta: i64) {
        let slot = match status {
            TaskStatus::ToDo => &mut self.to_do,
            TaskStatus::InProgress => &mut self.in_progress,
            TaskStatus::Done => &mut self.done,
        };
        *slot = slot.saturating_add_signed(delta);
        self.total = self.total.saturating_add_signed(delta);
    }
}
