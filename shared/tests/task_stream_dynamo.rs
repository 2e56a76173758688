//! The delivery tests of `task_stream.rs`, the very same file, with the connections in DynamoDB
//! Local (started by this test process; it fails loudly without it, never skips): 410 cleanup,
//! partial batch failures and expiry on the production store.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

mod support;

/// Fresh, empty tables (made from template.yaml) for each harness.
mod backend {
    pub async fn stores() -> shared::store::Stores {
        crate::support::fresh_dynamo_stores().await
    }

    /// Runs `work` as `function`, its DynamoDB calls checked against its IAM grants.
    pub async fn as_function<T>(function: &'static str, work: impl Future<Output = T>) -> T {
        crate::support::iam::as_function(function, work).await
    }
}

#[path = "task_stream"]
mod task_stream {
    pub mod harness;

    mod delivery;
}
