//! The delivery tests of `task_stream.rs`, the very same file, with the connections in DynamoDB
//! Local (started by this test process; it fails loudly without it, never skips): 410 cleanup,
//! partial batch failures, expiry and closing ended sessions on the production store.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

mod support;

use support::backends::dynamo as backend;

#[path = "task_stream"]
mod task_stream {
    pub mod harness;

    mod closing;
    mod delivery;
}
