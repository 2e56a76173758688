//! Throttle counters: fixed-window hit counts kept in the store, so a limit holds across every
//! Lambda container (and every local server process on one database).
//!
//! A counter lives for one window: its key names the window's end, so a new window starts from
//! zero without any reset write, and the store may forget a counter once its window has ended
//! (a TTL item on DynamoDB, a table swept on write in the embedded store).

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
    /// Adds one to each of `counters`, each atomically (no hit is lost to a concurrent one), and
    /// answers the new counts, in order.
    async fn hit(&self, counters: &[LimitCounter]) -> Result<Vec<Count>, StoreError>;
    /// Takes one back from each of `counters`, each atomically and never below zero: a hit that
    /// turned out not to count (a login attempt whose password was right).
    async fn unhit(&self, counters: &[LimitCounter]) -> Result<(), StoreError>;
    /// Settles one hit of each of `counters`: it turned out to count (a wrong password). Hits
    /// neither taken back nor settled are still in progress.
    async fn settle(&self, counters: &[LimitCounter]) -> Result<(), StoreError>;
}
