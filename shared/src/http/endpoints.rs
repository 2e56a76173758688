//! The endpoint table: every REST endpoint once, with the Lambda that serves it. The local
//! server's routes, the `fallback` function's 404/405 answers and the tests' function tables are
//! all derived from [`ENDPOINTS`]; `template.yaml` and `events/` are checked against it by the
//! tests (`shared/tests/template.rs`, `shared/tests/lambda_events.rs`, `local/tests/lambda_runtime`).
//!
//! A new endpoint: its handler and router in `auth.rs`, `profile.rs` or `tasks.rs` (with
//! `#[utoipa::path]`, listed in `openapi.rs`), one row here, its `functions/src/bin/<function>.rs`
//! main (three lines, as the others), its function in `template.yaml` and its event in `events/`.

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

/// Every REST endpoint, in the order the README lists them.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        function: "register",
        methods: &[Method::POST],
        paths: &[auth::REGISTER],
        router: auth::register,
    },
    Endpoint {
        function: "login",
        methods: &[Method::POST],
        paths: &[auth::LOGIN],
        router: auth::login,
    },
    Endpoint {
        function: "token-verify",
        methods: &[Method::POST],
        paths: &[auth::TOKEN_VERIFY],
        router: auth::token_verify,
    },
    Endpoint {
        function: "token-refresh",
        methods: &[Method::POST],
        paths: &[auth::TOKEN_REFRESH],
        router: auth::token_refresh,
    },
    Endpoint {
        function: "logout",
        methods: &[Method::POST],
        paths: &[auth::LOGOUT],
        router: auth::logout,
    },
    Endpoint {
        function: "profile-get",
        methods: &[Method::GET],
        paths: &[profile::PROFILE],
        router: profile::get,
    },
    Endpoint {
        function: "profile-update",
        methods: &[Method::PUT, Method::PATCH],
        paths: &[profile::PROFILE],
        router: profile::update,
    },
    Endpoint {
        function: "password-update",
        methods: &[Method::POST],
        paths: &[profile::PASSWORD],
        router: profile::password,
    },
    Endpoint {
        function: "task-create",
        methods: &[Method::POST],
        paths: &[tasks::TASKS, tasks::TASK_CREATE],
        router: tasks::create,
    },
    Endpoint {
        function: "task-list",
        methods: &[Method::GET],
        paths: &[tasks::TASKS],
        router: tasks::list,
    },
    Endpoint {
        function: "task-get",
        methods: &[Method::GET],
        paths: &[tasks::TASK],
        router: tasks::get,
    },
    Endpoint {
        function: "task-update",
        methods: &[Method::PUT, Method::PATCH],
        paths: &[tasks::TASK],
        router: tasks::update,
    },
    Endpoint {
        function: "task-delete",
        methods: &[Method::DELETE],
        paths: &[tasks::TASK],
        router: tasks::delete,
    },
];

/// Every path of [`ENDPOINTS`], aliases included, worked out at compile time. Code that needs only
/// the paths (the `fallback` function's 404/405 answers) reads this array, which holds no router,
/// so its binary links none of the handlers: reading [`ENDPOINTS`] itself would keep every router
/// it points to.
pub const PATHS: [&str; path_count()] = all_paths();

const fn path_count() -> usize {
    let (mut count, mut i) = (0, 0);
    while i < ENDPOINTS.len() {
        count += ENDPOINTS[i].paths.len();
        i += 1;
    }
    count
}

const fn all_paths() -> [&'static str; path_count()] {
    let mut paths = [""; path_count()];
    let (mut n, mut i) = (0, 0);
    while i < ENDPOINTS.len() {
        let mut j = 0;
        while j < ENDPOINTS[i].paths.len() {
            paths[n] = ENDPOINTS[i].paths[j];
            n += 1;
            j += 1;
        }
        i += 1;
    }
    paths
}
