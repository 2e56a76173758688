//! In-process HTTP tests of the whole API: every endpoint through the full router, driven with
//! `tower::ServiceExt::oneshot` by the [`api::helpers::TestApp`] helper, on the embedded store
//! (in memory). `api_dynamo.rs` runs the very same tests on DynamoDB Local.

/// Fresh, empty storage for each `TestApp`.
mod backend {
    pub async fn stores() -> shared::store::Stores {
        shared::store::Stores::new(
            shared::store::EmbeddedStore::in_memory().expect("in-memory store"),
        )
    }

    /// The app as served: IAM is only DynamoDB's (`api_dynamo.rs`).
    pub fn router(app: axum::Router) -> axum::Router {
        app
    }
}

mod api {
    pub mod helpers;

    mod bodies;
    mod concurrency;
    mod conditional;
    mod errors;
    mod headers;
    mod idempotency;
    mod legacy;
    mod limits;
    mod list;
    mod login;
    mod pagination;
    mod password;
    mod profile;
    mod register;
    mod sessions;
    mod task_access;
    mod tasks;
    mod tokens;
}
