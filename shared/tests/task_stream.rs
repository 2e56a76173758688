//! The `task-stream` function on the recorded DynamoDB stream event `events/task-stream.json`:
//! [`shared::realtime::Notifier::handle`] posts through the real management API client to a
//! small local "management API" (`task_stream/harness.rs`) that records every post.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

mod support;

use support::backends::embedded as backend;

mod task_stream {
    pub mod harness;

    mod closing;
    mod delivery;
    mod messages;
    mod metrics;
}
