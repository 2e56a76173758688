//! A DynamoDB-backed app for tests, with SDK interceptors: one that records every operation
//! sent, and a [`Fault`] (`dynamo_fault.rs`) that makes an operation fail the way DynamoDB Local
//! never does.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use shared::AppState;
use shared::config::AuthConfig;
use shared::http::{all_routes, app};
use shared::store::{DynamoStore, Stores};

use super::dynamo_config;
pub use super::dynamo_fault::Fault;

/// Records the operation name of every DynamoDB request sent, retries included.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<String>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    /// Once per attempt: a call the SDK retries appears once per send.
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let name = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.lock().unwrap().push(name);
        Ok(())
    }
}

impl Recorder {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The signing key of every [`Harness`].
pub const SECRET: &str = "dynamo-call-tests-secret-of-32-bytes!";

pub struct Harness {
    pub app: axum::Router,
    pub calls: Recorder,
    pub stores: Stores,
    pub jwt: std::sync::Arc<shared::auth::JwtKeys>,
}

impl Harness {
    pub async fn new(fault: Option<Fault>) -> Self {
        let config = dynamo_config().await;
        let calls = Recorder::default();
        let client = config.client();
        let mut builder = client
            .config()
            .to_builder()
            .interceptor(calls.clone())
            .interceptor(super::iam::Iam);
        if let Some(fault) = fault {
            builder = quick_retries(builder.interceptor(fault));
        }
        let client = aws_sdk_dynamodb::Client::from_conf(builder.build());
        let stores = Stores::new(DynamoStore::new(client, &config));
        let state = AppState::new(stores.clone(), &AuthConfig::with_secret(SECRET));
        Self {
            jwt: state.jwt.clone(),
            app: super::iam::as_lambdas(app(all_routes(), state)),
            calls,
            stores,
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let method = method.parse().expect("an HTTP method");
        let request = testkit::http::request(method, path, body.as_ref(), token);
        let response = testkit::http::send(&self.app, request).await;
        (response.status, response.json, response.headers)
    }

    /// Registers a fresh user whose name starts with `prefix`; returns its access token.
    pub async fn register(&self, prefix: &str) -> String {
        let name = unique(prefix);
        let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
        let (status, json, _) = self
            .send("POST", "/api/v1/auth/register/", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json["tokens"]["access"].as_str().unwrap().to_owned()
    }

    /// Sends the request and returns the DynamoDB operations it made.
    pub async fn calls_of(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Vec<String> {
        self.calls.take();
        let (status, json, _) = self.send(method, path, token, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {json}");
        self.calls.take()
    }
}

/// The API over a DynamoDB endpoint that refuses every connection (DynamoDB down), signing with
/// the same key as [`Harness`], with the SDK's retries paced for a quick test.
pub async fn unreachable_app() -> axum::Router {
    app_at("http://127.0.0.1:9").await
}

/// An app over a "DynamoDB" that takes connections and never answers them, as a stalled process or
/// network does, and the task holding those connections open (abort it to let them go).
pub async fn silent_app() -> (axum::Router, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    (app_at(&endpoint).await, holder)
}

/// An app over DynamoDB at `endpoint`, with the SDK's pauses between retries shortened.
async fn app_at(endpoint: &str) -> axum::Router {
    let mut config = dynamo_config().await;
    config.endpoint = Some(endpoint.to_owned());
    let client = config.client();
    let client =
        aws_sdk_dynamodb::Client::from_conf(quick_retries(client.config().to_builder()).build());
    let state = AppState::new(
        Stores::new(DynamoStore::new(client, &config)),
        &AuthConfig::with_secret(SECRET),
    );
    app(all_routes(), state)
}

/// The SDK's own retries, with short pauses so a test is quick, and a retry quota of the client's
/// own: the SDK shares one per partition name across the process, and the faults of tests
/// running beside each other (each retry of a 500 takes 5 of its 500) would otherwise empty it,
/// failing another test's retries.
fn quick_retries(builder: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder {
    use aws_sdk_dynamodb::config::retry::RetryPartition;
    builder
        .retry_config(
            shared::retry::sdk_retry_config()
                .with_initial_backoff(std::time::Duration::from_millis(5)),
        )
        .retry_partition(RetryPartition::new(unique("test-retries")))
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A cancelled transaction whose reasons name `code` on its first item.
pub fn cancelled(code: &str) -> serde_json::Value {
    json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{code}, None]"),
        "CancellationReasons": [{ "Code": code }, { "Code": "None" }],
    })
}

/// An app whose transactions fail as `fault` says, and a user made through a fault-free app on
/// the same tables (register writes a transaction too), with that user's access token.
pub struct Faulty {
    pub faulty: Harness,
    pub clean: Harness,
    pub access: String,
}

impl Faulty {
    pub async fn new(fault: Fault) -> Self {
        let faulty = Harness::new(Some(fault)).await;
        let clean = Harness::new(None).await;
        let access = clean.register("faulty_").await;
        faulty.calls.take();
        Self {
            faulty,
            clean,
            access,
        }
    }

    /// Creates a task through the faulty app.
    pub async fn create_task(&self, title: &str) -> (StatusCode, serde_json::Value, HeaderMap) {
        self.faulty
            .send(
                "POST",
                "/api/v1/tasks/",
                Some(&self.access),
                Some(json!({ "title": title })),
            )
            .await
    }

    /// [`Faulty::new`] with every `TransactWriteItems` cancelled for `reason` (see [`cancelled`]).
    pub async fn transactions_cancelled(reason: &str) -> Self {
        Self::new(Fault::always("TransactWriteItems", cancelled(reason))).await
    }

    /// Creates a task through the clean app, asserting 201, and answers its path.
    pub async fn clean_task(&self, title: &str) -> String {
        let (status, created, _) = self
            .clean
            .send(
                "POST",
                "/api/v1/tasks/",
                Some(&self.access),
                Some(json!({ "title": title })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().expect("the new task's id");
        format!("/api/v1/tasks/{id}/")
    }

    /// The user's task list, read through the clean app.
    pub async fn stored(&self) -> serde_json::Value {
        let (_, list, _) = self
            .clean
            .send("GET", "/api/v1/tasks/", Some(&self.access), None)
            .await;
        list
    }
}
