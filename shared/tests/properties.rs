//! Property tests of what an attacker controls: cursors, tokens and request bodies. Arbitrary
//! input never panics, never gets a 5xx, and never yields another user's data.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::sync::LazyLock;

use axum::Router;
use axum::http::Method;
// A key set with known keys never waits: `decode` is ready at its first poll.
use futures::executor::block_on;
use proptest::prelude::*;
use serde_json::{Value, json};
use shared::AppState;
use shared::auth::{JwtKeys, TokenType};
use shared::config::AuthConfig;
use shared::domain::{TaskId, TaskOrder, TaskStatus, Timestamp, UserId};
use shared::service::cursor::{Cursor, CursorKey, Direction};
use shared::store::{EmbeddedStore, Stores};
use testkit::http::{Response, raw_request, send};

const SECRET: &str = "property-tests-signing-secret-0123456789";

fn keys() -> JwtKeys {
    JwtKeys::new(&AuthConfig::with_secret(SECRET))
}

/// Printable text, the odd control character, and dots (cursors and tokens are dotted).
fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~\\t\\n.]{0,200}").unwrap()
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field names: the API's own, mostly, so values reach validation.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "title",
            "description",
            "status_task",
            "username",
            "email",
            "password",
            "first_name",
            "last_name",
            "old_password",
            "new_password",
            "refresh",
            "token",
        ])
        .prop_map(str::to_owned),
        text(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_is_never_a_cursor(raw in text()) {
        let key = CursorKey::new(SECRET.as_bytes());
        prop_assert_eq!(Cursor::decode(&raw, &key, UserId::new()), None);
    }

    #[test]
    fn a_changed_cursor_is_refused_and_no_cursor_crosses_users(
        at in any::<prop::sample::Index>(),
        byte in 0x21u8..0x7f,
    ) {
        let key = CursorKey::new(SECRET.as_bytes());
        let (owner, other) = (UserId::new(), UserId::new());
        let task = TaskOrder { created: Timestamp::now(), id: TaskId::new() };
        let cursor = Cursor { direction: Direction::Older, task, status: Some(TaskStatus::Done) };
        let encoded = cursor.encode(&key, owner);
        prop_assert_eq!(Cursor::decode(&encoded, &key, other), None);
        let mut changed = encoded.clone().into_bytes();
        let i = at.index(changed.len());
        changed[i] = byte;
        let changed = String::from_utf8(changed).unwrap();
        let decoded = Cursor::decode(&changed, &key, owner);
        prop_assert!(decoded.is_none() || (changed == encoded && decoded == Some(cursor)));
    }

    #[test]
    fn arbitrary_text_is_never_a_token(raw in text()) {
        let keys = keys();
        prop_assert!(block_on(keys.decode(&raw, TokenType::Access)).unwrap().is_none());
        prop_assert!(block_on(keys.decode(&raw, TokenType::Refresh)).unwrap().is_none());
    }

    #[test]
    fn a_changed_token_is_refused_or_unchanged(at in any::<prop::sample::Index>(), byte in 0x21u8..0x7f) {
        let keys = keys();
        let user = UserId::new();
        let pair = keys.issue_pair(user, 0, shared::domain::SessionId::random(), None).unwrap();
        let mut changed = pair.access.clone().into_bytes();
        let i = at.index(changed.len());
        changed[i] = byte;
        let changed = String::from_utf8(changed).unwrap();
        if let Some(claims) = block_on(keys.decode(&changed, TokenType::Access)).unwrap() {
            // Base64url's last character carries spare bits: only those may change.
            prop_assert_eq!(claims.user_id, user);
            prop_assert_eq!(Some(claims), block_on(keys.decode(&pair.access, TokenType::Access)).unwrap());
        }
    }
}

/// One app with two users, Ada owning one task: shared by every case of the body properties.
struct World {
    runtime: tokio::runtime::Runtime,
    app: Router,
    ada: String,
    bob: String,
    ada_task: String,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stores = Stores::new(EmbeddedStore::in_memory().unwrap());
    let app = shared::http::app(
        shared::http::all_routes(),
        AppState::new(stores, &AuthConfig::with_secret(SECRET)),
    );
    let (ada, bob, ada_task) = runtime.block_on(async {
        let register = async |name: &str| {
            let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
            let response = call(&app, Method::POST, "/api/v1/auth/register/", None, body.to_string()).await;
            response.json["tokens"]["access"].as_str().unwrap().to_owned()
        };
        let (ada, bob) = (register("prop_ada").await, register("prop_bob").await);
        let body = json!({ "title": "ada's secret task", "description": "ada-only" }).to_string();
        let task = call(&app, Method::POST, "/api/v1/tasks/", Some(&ada), body).await;
        (ada, bob, task.json["id"].as_str().unwrap().to_owned())
    });
    World {
        runtime,
        app,
        ada,
        bob,
        ada_task,
    }
});

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: String,
) -> Response {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    send(
        app,
        raw_request(method, path, Some("application/json"), body, &headers),
    )
    .await
}

/// Every JSON route, with the method it takes a body on.
const ROUTES: [(Method, &str); 9] = [
    (Method::POST, "/api/v1/auth/register/"),
    (Method::POST, "/api/v1/auth/login/"),
    (Method::POST, "/api/v1/auth/token/verify/"),
    (Method::POST, "/api/v1/auth/token/refresh/"),
    (Method::POST, "/api/v1/auth/logout/"),
    (Method::PATCH, "/api/v1/auth/profile/"),
    (Method::POST, "/api/v1/auth/profile/password/"),
    (Method::POST, "/api/v1/tasks/"),
    (Method::GET, "/api/v1/tasks/"),
];

proptest! {
    // Each case may hash a password (register, login, password change): fewer cases.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_body_gets_a_5xx_or_anything_but_json(
        route in prop::sample::select(ROUTES.to_vec()),
        body in prop_oneof![json_value().prop_map(|v| v.to_string()), text()],
    ) {
        let world = &*WORLD;
        let (method, path) = route;
        // Bob's token: a body can never reach Ada's account or tasks.
        let response = world.runtime.block_on(call(&world.app, method, path, Some(&world.bob), body));
        prop_assert!(response.status.as_u16() < 500, "{} {}", response.status, response.json);
        prop_assert!(!response.json.to_string().contains(&world.ada_task));
        prop_assert!(!response.json.to_string().contains("ada-only"));
    }

    #[test]
    fn no_task_path_or_query_reaches_another_users_task(
        method in prop::sample::select(vec![Method::GET, Method::PUT, Method::PATCH, Method::DELETE]),
        id in prop_oneof![text(), Just(String::new())],
        query in text(),
    ) {
        let world = &*WORLD;
        let id: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
        let id = if id.is_empty() { world.ada_task.clone() } else { id };
        let query: String = query.chars().filter(char::is_ascii_alphanumeric).collect();
        let path = format!("/api/v1/tasks/{id}/?{query}");
        let body = json!({ "title": "bob was here" }).to_string();
        let response = world.runtime.block_on(call(&world.app, method, &path, Some(&world.bob), body));
        prop_assert!(response.status.as_u16() < 500, "{} {}", response.status, response.json);
        prop_assert!(!response.json.to_string().contains("ada-only"), "{}", response.json);
        // Ada's task is untouched.
        let ada = world.runtime.block_on(call(
            &world.app, Method::GET, &format!("/api/v1/tasks/{}/", world.ada_task), Some(&world.ada), String::new(),
        ));
        prop_assert_eq!(ada.json["title"].as_str(), Some("ada's secret task"));
    }
}
