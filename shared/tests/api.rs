//! In-process HTTP tests of the whole API: every endpoint through the full router, driven with
//! `tower::ServiceExt::oneshot` by the [`api::helpers::TestApp`] helper, on the embedded store
//! (in memory). `api_dynamo.rs` runs the very same tests on DynamoDB Local.

mod support;

use support::backends::embedded as backend;

mod api {
    pub mod helpers;

    mod bodies;
    mod body_limit;
    mod concurrency;
    mod conditional;
    mod errors;
    mod headers;
    mod idempotency;
    mod legacy;
    mod limits;
    mod list;
    mod login;
    mod logout;
    mod page_bytes;
    mod pagination;
    mod pagination_deletes;
    mod password;
    mod profile;
    mod register;
    mod sessions;
    mod task_access;
    mod tasks;
    mod tokens;
}
