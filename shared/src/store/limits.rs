//! Throttle counters: fixed-window hit counts kept in the store, so a limit holds across every
//! Lambda container (and every local server process on one database).
//!
//! A counter lives for one window: its key names the window's end, so a new window starts from
//! zero without any reset write, and the store may forget a counter once its window has ended
//! (a TTL item on DynamoDB, a table swept on write in the embedded store).
//!
//! A count is a set of [`HitId`]s, not a number: every write of a hit names it, so a write that
//! lands twice (the SDK sends one again when its answer is lost or late, and both sends may land)
//! counts it once, and its taking back or settling ends it wherever it was counted.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::Timestamp;

/// One counter in one window. `name` says what is counted and for whom, already bounded in
/// length and free of personal data (see [`crate::service::limits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCounter {
    pub name: String,
    /// When this window ends: the counter means nothing after it.
    pub window_end: Timestamp,
}

impl LimitCounter {
    /// The counter's name and window as one key, as DynamoDB keeps it (the embedded store keys its
    /// counters window first, to sweep ended windows in order).
    pub fn key(&self) -> String {
        format!("{}#{}", self.name, self.window_end.unix())
    }
}

/// One hit, the id each of its writes names: added to a counter, taken back from it, settled in
/// it. A fresh one for every hit: one taken back is never counted again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitId(String);

impl HitId {
    /// A fresh id: 64 random bits, as 16 hex digits (two hits of one counter's window, a few
    /// hundred at most, share one with a chance under 10^-14).
    pub fn new() -> Self {
        Self(format!("{:016x}", rand::random::<u64>()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for HitId {
    fn default() -> Self {
        Self::new()
    }
}

/// A counter's state in its window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Hits counted and not taken back, settled or not.
    pub hits: u64,
    /// How many of those are settled: known to count for good ([`LimitStore::settle`]).
    pub settled: u64,
}

#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Counts `hit` in each of `counters`, each atomically (no hit is lost to a concurrent one),
    /// and answers the new counts, in order. A hit counted already is counted once.
    async fn hit(&self, counters: &[LimitCounter], hit: &HitId) -> Result<Vec<Count>, StoreError>;
    /// Takes `hit` back from each of `counters`: it turned out not to count (a login attempt
    /// whose password was right). One not counted there is nothing to take back.
    async fn unhit(&self, counters: &[LimitCounter], hit: &HitId) -> Result<(), StoreError>;
    /// Settles `hit` in each of `counters`: it turned out to count (a wrong password). Hits
    /// neither taken back nor settled are still in progress. Settling one twice settles it once.
    async fn settle(&self, counters: &[LimitCounter], hit: &HitId) -> Result<(), StoreError>;
}
