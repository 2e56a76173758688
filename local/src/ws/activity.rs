//! The idle clock of one connection of the local WebSocket API.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// When a connection last carried a message, either way: API Gateway's idle timeout counts from
/// it (a listener that hears events often stays open; pings, which API Gateway does not treat as
/// messages, do not keep a connection open).
#[derive(Clone)]
pub(super) struct Activity {
    started: Instant,
    /// Milliseconds from `started` to the last message.
    last: Arc<AtomicU64>,
}

impl Activity {
    pub(super) fn new() -> Self {
        Self {
            started: Instant::now(),
            last: Arc::default(),
        }
    }

    pub(super) fn now(&self) {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.fetch_max(elapsed, Ordering::Relaxed);
    }

    pub(super) fn last(&self) -> Instant {
        let elapsed = self.last.load(Ordering::Relaxed);
        self.started + Duration::from_millis(elapsed)
    }
}
