//! The handler tests of `api.rs`, the very same files, on the DynamoDB store against DynamoDB
//! Local (started by this test process; it fails loudly without it, never skips).

mod support;

/// Fresh, empty tables (made from template.yaml) for each `TestApp`, whose client refuses what
/// the calling function's IAM role would (`support/iam.rs`).
mod backend {
    pub async fn stores() -> shared::store::Stores {
        crate::support::fresh_dynamo_stores().await
    }

    /// Each request run as the Lambda that serves it on AWS, for the IAM check.
    pub fn router(app: axum::Router) -> axum::Router {
        crate::support::iam::as_lambdas(app)
    }
}

#[path = "api"]
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
