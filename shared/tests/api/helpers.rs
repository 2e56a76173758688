//! `TestApp`: the full router over a fresh in-memory store, driven in-process with `oneshot`,
//! plus the typed helpers and assertions the API tests share.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use shared::auth::{JwtKeys, TokenPair};
use shared::config::AuthConfig;
use shared::domain::UserId;

pub use testkit::http::{Response, keys, path_of, str_field};

/// The signing key of every `TestApp`.
pub const SECRET: &str = "api-tests-signing-secret-0123456789-abcdef";
/// Another key of valid length, for tokens this app must refuse.
pub const OTHER_SECRET: &str = "somebody-elses-signing-secret-9876543210-zyx";
/// The password `TestApp::register` gives every user: the one the recorded events use.
pub use testkit::events::PASSWORD;

pub const REGISTER: &str = "/api/v1/auth/register/";
pub const LOGIN: &str = "/api/v1/auth/login/";
pub const PROFILE: &str = "/api/v1/auth/profile/";
pub const PASSWORD_CHANGE: &str = "/api/v1/auth/profile/password/";
pub const TOKEN_VERIFY: &str = "/api/v1/auth/token/verify/";
pub const TOKEN_REFRESH: &str = "/api/v1/auth/token/refresh/";
pub const LOGOUT: &str = "/api/v1/auth/logout/";
pub const LOGOUT_ALL: &str = "/api/v1/auth/logout/all/";
pub const TASKS: &str = "/api/v1/tasks/";

/// The user fields register, login and profile answer with: never more, never less.
pub const USER_FIELDS: [&str; 8] = [
    "email",
    "first_name",
    "id",
    "is_superuser",
    "last_login",
    "last_name",
    "last_updated",
    "username",
];
/// The fields of a task as clients see it.
pub const TASK_FIELDS: [&str; 6] = [
    "date_created",
    "description",
    "id",
    "last_updated",
    "status_task",
    "title",
];

/// A user as `register` made them.
#[derive(Debug, Clone)]
pub struct Registered {
    pub user: Value,
    pub access: String,
    pub refresh: String,
}

/// The whole API over a fresh in-memory store.
#[derive(Clone)]
pub struct TestApp {
    router: Router,
    /// The app's storage, and the importer over it, for seeding what the API cannot make
    /// (imported accounts).
    pub stores: shared::store::Stores,
    pub import: std::sync::Arc<dyn shared::store::ImportStore>,
}

impl TestApp {
    /// A fresh app over fresh, empty storage of the store this test crate runs on.
    pub async fn new() -> Self {
        Self::with_limits(shared::config::LimitsConfig::default()).await
    }

    /// Like [`TestApp::new`], with these login and registration limits.
    pub async fn with_limits(limits: shared::config::LimitsConfig) -> Self {
        let (stores, import) = crate::backend::importing().await;
        let auth = AuthConfig {
            limits,
            ..AuthConfig::with_secret(SECRET)
        };
        Self::over(stores, import, &auth)
    }

    /// Like [`TestApp::new`], with this configuration (signed with [`SECRET`]).
    pub async fn with_auth(auth: AuthConfig) -> Self {
        let (stores, import) = crate::backend::importing().await;
        Self::over(stores, import, &auth)
    }

    /// The app over these stores (not awaited inside the constructors above: a deeper future
    /// overflows the compiler's layout depth in the DynamoDB suite's limit tests).
    fn over(
        stores: shared::store::Stores,
        import: std::sync::Arc<dyn shared::store::ImportStore>,
        auth: &AuthConfig,
    ) -> Self {
        let state = shared::AppState::new(stores.clone(), auth);
        Self {
            router: crate::backend::router(shared::http::app(shared::http::all_routes(), state)),
            stores,
            import,
        }
    }

    /// Sends one request through a clone of the router.
    pub async fn send(&self, request: Request<Body>) -> Response {
        testkit::http::send(&self.router, request).await
    }

    /// A request with a raw body and the given content type and headers.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
        headers: &[(&str, &str)],
    ) -> Response {
        self.send(testkit::http::raw_request(
            method,
            path,
            content_type,
            body,
            headers,
        ))
        .await
    }

    /// A request with an optional JSON body and an optional bearer token.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Response {
        self.send(testkit::http::request(method, path, body, token))
            .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, None, token).await
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.request(Method::POST, path, Some(body), token).await
    }

    pub async fn put_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.request(Method::PUT, path, Some(body), token).await
    }

    pub async fn patch_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.request(Method::PATCH, path, Some(body), token).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::DELETE, path, None, token).await
    }

    /// The body `register` sends for `username`.
    pub fn registration(username: &str) -> Value {
        json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "password": PASSWORD,
            "first_name": "Ada",
            "last_name": "Lovelace",
        })
    }

    /// Registers `username` (email `<username>@example.com`, password [`PASSWORD`]).
    pub async fn register(&self, username: &str) -> (Value, String, String) {
        let registered = self.register_user(username).await;
        (registered.user, registered.access, registered.refresh)
    }

    /// Like [`TestApp::register`], as a struct.
    pub async fn register_user(&self, username: &str) -> Registered {
        let response = self
            .post_json(REGISTER, &Self::registration(username), None)
            .await;
        response.assert_status(StatusCode::CREATED);
        split_auth_body(response.json)
    }

    pub async fn login(&self, login: &str, password: &str) -> Response {
        self.post_json(
            LOGIN,
            &json!({ "username": login, "password": password }),
            None,
        )
        .await
    }

    /// Logs in and returns the user and tokens, asserting 200.
    pub async fn login_ok(&self, login: &str, password: &str) -> Registered {
        let response = self.login(login, password).await;
        response.assert_status(StatusCode::OK);
        split_auth_body(response.json)
    }

    pub async fn refresh(&self, refresh: &str) -> Response {
        self.post_json(TOKEN_REFRESH, &json!({ "refresh": refresh }), None)
            .await
    }

    /// Creates a task, asserting 201, and returns it.
    pub async fn create_task(&self, token: &str, body: &Value) -> Value {
        let response = self.post_json(TASKS, body, Some(token)).await;
        response.assert_status(StatusCode::CREATED);
        response.json
    }

    /// Creates `n` tasks titled `Task 0`..`Task n-1`, oldest first, and returns them in that order.
    pub async fn create_tasks(&self, token: &str, n: usize) -> Vec<Value> {
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            tasks.push(
                self.create_task(token, &json!({ "title": format!("Task {i}") }))
                    .await,
            );
        }
        tasks
    }
}

/// Splits a register/login body into the user and its tokens, checking the tokens' shape.
#[track_caller]
pub fn split_auth_body(mut body: Value) -> Registered {
    let tokens = body
        .as_object_mut()
        .expect("an object")
        .remove("tokens")
        .expect("a `tokens` field");
    assert_eq!(keys(&tokens), ["access", "refresh"], "token fields");
    Registered {
        user: body,
        access: str_field(&tokens, "access").to_owned(),
        refresh: str_field(&tokens, "refresh").to_owned(),
    }
}

/// The path of one task.
pub fn task_path(id: &str) -> String {
    format!("{TASKS}{id}/")
}

/// The id of a task or user body.
#[track_caller]
pub fn id_of(value: &Value) -> &str {
    str_field(value, "id")
}

/// A token pair for `user` signed with `secret`, with lifetimes `access_ttl`/`refresh_ttl`
/// (negative for tokens that are already expired).
pub fn forge_tokens(secret: &str, user: &str, access_ttl: i64, refresh_ttl: i64) -> TokenPair {
    let mut config = AuthConfig::with_secret(secret);
    config.access_ttl_seconds = access_ttl;
    config.refresh_ttl_seconds = refresh_ttl;
    let user = UserId::parse(user).expect("a user id");
    JwtKeys::new(&config)
        .issue_pair(user, 0, shared::domain::SessionId::random(), None)
        .expect("signing")
}

/// The 401 body of a bad bearer token.
pub fn invalid_token_body() -> Value {
    json!({ "detail": "Given token not valid for any token type", "code": "token_not_valid" })
}

/// The 401 body of a bad token sent in a request body (verify, refresh, logout).
pub fn rejected_token_body() -> Value {
    json!({ "detail": "Token is invalid or expired", "code": "token_not_valid" })
}

/// Asserts a 401 with the bearer challenge.
#[track_caller]
pub fn assert_unauthorized(response: &Response, body: Value) {
    response.assert_body(StatusCode::UNAUTHORIZED, body);
    assert_eq!(
        response.header("www-authenticate"),
        Some("Bearer realm=\"api\"")
    );
}

/// Asserts an RFC 3339 timestamp and returns it.
#[track_caller]
pub fn timestamp(value: &Value, field: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let raw = str_field(value, field);
    chrono::DateTime::parse_from_rfc3339(raw)
        .unwrap_or_else(|e| panic!("`{field}` = {raw:?} is not RFC 3339: {e}"))
}

/// Asserts that `value` is a UUID in its hyphenated form.
#[track_caller]
pub fn assert_uuid(value: &str) {
    let parsed =
        uuid::Uuid::parse_str(value).unwrap_or_else(|e| panic!("{value:?} is not a UUID: {e}"));
    assert_eq!(
        parsed.hyphenated().to_string(),
        value,
        "hyphenated, lowercase UUID"
    );
}

/// Asserts an error response is JSON with an `application/json` content type.
#[track_caller]
pub fn assert_json_error(response: &Response, status: StatusCode) {
    response.assert_status(status);
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{status}"
    );
    assert!(response.json.is_object(), "{status}: {}", response.json);
}
