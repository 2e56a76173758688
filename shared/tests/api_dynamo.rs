//! The handler tests of `api.rs`, the very same files, on the DynamoDB store against DynamoDB
//! Local (started by this test process; it fails loudly without it, never skips).

mod support;

use support::backends::dynamo as backend;

#[path = "api"]
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
