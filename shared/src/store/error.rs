//! What a store call can fail with, on every store.

/// What a store can report. Everything unexpected is `Unexpected`, with its context.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("username or email already taken (username: {username}, email: {email})")]
    Taken { username: bool, email: bool },
    /// What the call needed is not there; which thing says what the caller answers.
    #[error("{0:?} not found")]
    Missing(Missing),
    /// The item changed since it was read (optimistic concurrency).
    #[error("item changed concurrently")]
    Conflict,
    #[error("store is throttling requests")]
    Throttled,
    /// The write would grow the user's items past what the store holds for one user: DynamoDB's
    /// 10 GB per partition key of a table with local secondary indexes (the tasks table).
    #[error("the user's items are at the store's size limit")]
    Full,
    /// The store could not be reached, did not answer in time, or failed on its side (after the
    /// SDK's retries), or the request's deadline passed: the client may retry.
    #[error("store unreachable")]
    Unavailable,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// What a store call found missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The user the call is about (a task's owner, a token's subject) no longer exists.
    User,
    /// The task is gone (deleted, or never this owner's).
    Task,
    /// No live refresh token: unknown, used, revoked, expired, or older than the user's last
    /// revocation of all tokens.
    RefreshToken,
    /// The caller's session was revoked: the epoch its token carries is older than the user's
    /// `session_epoch`.
    Session,
}
