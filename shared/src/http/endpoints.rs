//! The endpoint table: every REST endpoint once, with the Lambda that serves it. The local
//! server's routes, the `fallback` function's 404/405 answers and the tests' function tables are
//! all derived from [`ENDPOINTS`]; `template.yaml` and `events/` are checked against it by the
//! tests (`shared/tests/template.rs`, `shared/tests/lambda_events.rs`, `local/tests/lambda_runtime`).
//!
//! A row names the Lambda, its methods, its paths (the first its own, any other an alias the
//! original app used), its router and its handler, whose `#[utoipa::path]` documents it: the
//! OpenAPI document's operations come from these rows too ([`EndpointDocs`]).
//!
//! A new endpoint: its handler and router in `auth.rs`, `profile.rs` or `tasks.rs` (with
//! `#[utoipa::path]`), one row here, its `functions/src/bin/<function>.rs` main (three lines, as
//! the others), its function with its IAM grants in `template.yaml` (and those grants in
//! `shared/tests/support/iam.rs`), its event in `events/`, and `openapi.json` regenerated
//! (README's "Where things are" has the steps).

use axum::Router;
use axum::http::Method;

use super::{auth, profile, tasks};
use crate::AppState;

/// One REST endpoint: the paths and methods it answers, the router that serves them, and the
/// Lambda it runs in (`functions/src/bin/<function>.rs`, `Binary: <function>` in `template.yaml`).
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub function: &'static str,
    pub methods: &'static [Method],
    /// The first is the endpoint's path; any other is an alias the original app used.
    pub paths: &'static [&'static str],
    pub router: fn() -> Router<AppState>,
}

/// Writes [`ENDPOINTS`] and, from the same rows, the list of handlers whose `#[utoipa::path]`
/// makes the OpenAPI document's operations ([`EndpointDocs`]).
macro_rules! endpoints {
    ($($function:literal: [$($method:ident),+] [$($path:expr),+] => $router:path,
        documented by $doc:path;)+) => {
        /// Every REST endpoint: the auth routes (register, login, the token routes, logout,
        /// logout-all), then the profile routes, then the task routes. (The README's API table
        /// lists the profile routes before the token routes.)
        pub const ENDPOINTS: &[Endpoint] = &[$(
            Endpoint {
                function: $function,
                methods: &[$(Method::$method),+],
                paths: &[$($path),+],
                router: $router,
            },
        )+];

        /// The methods and paths of [`ENDPOINTS`], row by row (aliases included), without their
        /// routers: what the `fallback` function reads to answer 404 and 405, since reading
        /// [`ENDPOINTS`] itself would link every router it points to, and so every handler.
        pub const METHODS_AND_PATHS: &[(&[&str], &[&str])] = &[$(
            (&[$(stringify!($method)),+], &[$($path),+]),
        )+];

        /// The operations of [`ENDPOINTS`] (and of the document itself), with every schema they
        /// use; `openapi.rs` merges them into the document and adds the aliases.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($doc,)+ super::openapi::serve_document))]
        pub(super) struct EndpointDocs;
    };
}

endpoints! {
    "register": [POST] [auth::REGISTER] => auth::register, documented by auth::register_user;
    "login": [POST] [auth::LOGIN] => auth::login, documented by auth::login_user;
    "token-verify": [POST] [auth::TOKEN_VERIFY] => auth::token_verify, documented by auth::verify_token;
    "token-refresh": [POST] [auth::TOKEN_REFRESH] => auth::token_refresh, documented by auth::refresh_token;
    "logout": [POST] [auth::LOGOUT] => auth::logout, documented by auth::logout_user;
    "logout-all": [POST] [auth::LOGOUT_ALL] => auth::logout_all, documented by auth::logout_everywhere;
    "profile-get": [GET] [profile::PROFILE] => profile::get, documented by profile::show_profile;
    "profile-update": [PUT, PATCH] [profile::PROFILE] => profile::update, documented by profile::update_profile;
    "password-update": [POST] [profile::PASSWORD] => profile::password, documented by profile::change_password;
    "task-create": [POST] [tasks::TASKS, tasks::TASK_CREATE] => tasks::create, documented by tasks::create_task;
    "task-list": [GET] [tasks::TASKS] => tasks::list, documented by tasks::list_tasks;
    "task-get": [GET] [tasks::TASK] => tasks::get, documented by tasks::show_task;
    "task-update": [PUT, PATCH] [tasks::TASK] => tasks::update, documented by tasks::update_task;
    "task-delete": [DELETE] [tasks::TASK] => tasks::delete, documented by tasks::delete_task;
}
