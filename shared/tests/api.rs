//! In-process HTTP tests of the whole API: every endpoint through the full router, driven with
//! `tower::ServiceExt::oneshot` by the [`api::helpers::TestApp`] helper.

mod api {
    pub mod helpers;

    mod bodies;
    mod concurrency;
    mod errors;
    mod list;
    mod login;
    mod pagination;
    mod password;
    mod profile;
    mod register;
    mod task_access;
    mod tasks;
    mod tokens;
}
