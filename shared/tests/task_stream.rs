//! The `task-stream` function on the recorded DynamoDB stream event `events/task-stream.json`:
//! [`shared::realtime::Notifier::handle`] posts through the real management API client to a
//! small local "management API" (`task_stream/harness.rs`) that records every post.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

/// A fresh in-memory embedded store for each harness. `task_stream_dynamo.rs` runs the delivery
/// tests on DynamoDB Local.
mod backend {
    pub async fn stores() -> shared::store::Stores {
        shared::store::Stores::new(
            shared::store::EmbeddedStore::in_memory().expect("an in-memory store"),
        )
    }

    /// Runs `work`: IAM is only DynamoDB's (`task_stream_dynamo.rs`).
    pub async fn as_function<T>(_: &'static str, work: impl Future<Output = T>) -> T {
        work.await
    }
}

mod task_stream {
    pub mod harness;

    mod delivery;
    mod messages;
}
