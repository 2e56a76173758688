//! `cargo bench -p shared --bench api`: what one request costs inside the process, with no
//! network: the whole router (every layer a Lambda runs) on the embedded store in memory, driven
//! with `oneshot`, one request at a time. Prints p50/p99/mean per endpoint; the password endpoints
//! are argon2id-bound by design. Network and DynamoDB latency are measured by `bench/run`.

use std::time::{Duration, Instant};

use axum::Router;
use serde_json::{Value, json};
use shared::AppState;
use shared::auth::TokenType;
use shared::config::AuthConfig;
use shared::domain::UserId;
use shared::http::{all_routes, app};
use shared::store::{EmbeddedStore, Stores};

const PASSWORD: &str = "correct-horse-battery";

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let method = method.parse().expect("an HTTP method");
    let token = Some(token).filter(|token| !token.is_empty());
    let request = testkit::http::request(method, path, body.as_ref(), token);
    let response = testkit::http::send(router, request).await;
    assert!(
        response.status.is_success(),
        "{path}: {} {}",
        response.status,
        response.json
    );
    response.json
}

/// Runs `op(0..n)` and prints its latency, after a few unmeasured warm-up runs `op(n..n + 5)`.
async fn measure<F, Fut>(name: &str, n: usize, mut op: F)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in n..n + 5 {
        op(i).await;
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        op(i).await;
        samples.push(start.elapsed());
    }
    samples.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = samples.iter().sum::<Duration>() / u32::try_from(n).expect("n fits u32");
    println!(
        "{name:<34} n={n:<6} p50 {:>8.3} ms   p99 {:>8.3} ms   mean {:>8.3} ms",
        ms(samples[n / 2]),
        ms(samples[(n * 99 / 100).min(n - 1)]),
        ms(mean),
    );
}

#[tokio::main]
async fn main() {
    let auth = AuthConfig::with_secret("bench-secret-of-at-least-32-bytes-long");
    let stores = Stores::new(EmbeddedStore::in_memory().expect("an in-memory store"));
    let state = AppState::new(stores, &auth);
    let jwt = state.jwt.clone();
    let router = app(all_routes(), state);
    let r = &router;

    measure("POST auth/register/ (argon2id)", 20, |i| async move {
        let name = format!("bench_user_{i:04}");
        let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": PASSWORD });
        call(r, "POST", "/api/v1/auth/register/", "", Some(body)).await;
    })
    .await;
    measure("POST auth/login/ (argon2id)", 20, |_| async move {
        let body = json!({ "username": "bench_user_0000", "password": PASSWORD });
        call(r, "POST", "/api/v1/auth/login/", "", Some(body)).await;
    })
    .await;
    let login = json!({ "username": "bench_user_0000", "password": PASSWORD });
    let tokens = call(r, "POST", "/api/v1/auth/login/", "", Some(login)).await;
    let access = tokens["tokens"]["access"]
        .as_str()
        .expect("an access token");

    measure("GET auth/profile/", 2000, |_| async move {
        call(r, "GET", "/api/v1/auth/profile/", access, None).await;
    })
    .await;
    measure("POST tasks/", 2000, |i| async move {
        let body = json!({ "title": format!("Task {i}"), "description": "Benchmark task" });
        call(r, "POST", "/api/v1/tasks/", access, Some(body)).await;
    })
    .await;
    let page = call(r, "GET", "/api/v1/tasks/?page_size=100", access, None).await;
    let ids: Vec<String> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|task| task["id"].as_str().expect("an id").to_owned())
        .collect();
    let ids = &ids;
    measure("GET tasks/{id}/", 2000, |i| async move {
        let path = format!("/api/v1/tasks/{}/", ids[i % ids.len()]);
        call(r, "GET", &path, access, None).await;
    })
    .await;
    measure("GET tasks/ (page of 10)", 2000, |_| async move {
        call(r, "GET", "/api/v1/tasks/", access, None).await;
    })
    .await;
    measure("GET tasks/?status_task=DONE", 2000, |_| async move {
        call(r, "GET", "/api/v1/tasks/?status_task=DONE", access, None).await;
    })
    .await;
    measure("PATCH tasks/{id}/ (status change)", 1000, |i| async move {
        let path = format!("/api/v1/tasks/{}/", ids[i % ids.len()]);
        let status = ["TO DO", "IN PROGRESS", "DONE"][i % 3];
        call(
            r,
            "PATCH",
            &path,
            access,
            Some(json!({ "status_task": status })),
        )
        .await;
    })
    .await;
    measure("DELETE tasks/{id}/", 90, |i| async move {
        let path = format!("/api/v1/tasks/{}/", ids[i]);
        call(r, "DELETE", &path, access, None).await;
    })
    .await;

    let user = UserId::new();
    let jwt = &jwt;
    measure("JWT pair issued + access decoded", 10_000, |_| async move {
        let pair = jwt
            .issue_pair(user, 0, shared::domain::SessionId::random(), None)
            .expect("a token pair");
        assert!(
            jwt.decode(&pair.access, TokenType::Access)
                .await
                .expect("known keys are always available")
                .is_some()
        );
    })
    .await;
}
