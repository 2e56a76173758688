//! A DynamoDB-backed app for tests, with SDK interceptors: one that records every operation
//! sent, and one that makes an operation fail the way DynamoDB Local never does.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use shared::AppState;
use shared::config::AuthConfig;
use shared::http::{all_routes, app};
use shared::store::{DynamoStore, Stores};

use super::dynamo_config;

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

/// Makes one operation fail with a DynamoDB error: its request is emptied before it is sent (so
/// DynamoDB Local applies nothing) and the response is replaced by the error. It fails every
/// attempt, or only the first `times` attempts. Or, [`Fault::answer_lost`], the request goes
/// through and only its answer is replaced, as when a send times out after DynamoDB applied it.
#[derive(Debug)]
pub struct Fault {
    operation: &'static str,
    error_body: Value,
    /// Attempts still to fail; `None`: all of them.
    remaining: Option<AtomicUsize>,
    /// Whether the request still reaches DynamoDB.
    applied: bool,
    /// Only requests whose body holds this text.
    holding: &'static str,
    /// Only each call's first send, not the SDK's resends of it.
    first_sends: bool,
}

/// Marks an attempt the fault applies to, between its two hooks.
#[derive(Debug, Clone)]
struct Faulted;

impl Storable for Faulted {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Fault {
    fn name(&self) -> &'static str {
        "Fault"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let holds = |body: &[u8]| {
            self.holding.is_empty()
                || body
                    .windows(self.holding.len())
                    .any(|w| w == self.holding.as_bytes())
        };
        if context.request().body().bytes().is_some_and(holds) && self.applies(cfg) {
            if !self.applied {
                let request = context.request_mut();
                *request.body_mut() = SdkBody::from("{}");
                request.headers_mut().insert("content-length", "2");
            }
            cfg.interceptor_state().store_put(Faulted);
        } else {
            cfg.interceptor_state().unset::<Faulted>();
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<Faulted>().is_some() {
            let response = context.response_mut();
            // The status DynamoDB gives the error: 5xx for its own failures (a lost answer is
            // one), which the SDK sends again, 400 for the rest (throttling, conflicts).
            let kind = self.error_body["__type"].as_str().unwrap_or_default();
            let status: u16 = match kind.rsplit('#').next() {
                Some("InternalServerError") => 500,
                Some("ServiceUnavailable") => 503,
                _ => 400,
            };
            *response.status_mut() = status.try_into()?;
            *response.body_mut() = SdkBody::from(self.error_body.to_string());
        }
        Ok(())
    }
}

impl Fault {
    /// Every attempt of `operation` fails with `error_body`.
    pub fn always(operation: &'static str, error_body: Value) -> Self {
        Self {
            operation,
            error_body,
            remaining: None,
            applied: false,
            holding: "",
            first_sends: false,
        }
    }

    /// The first `times` attempts of `operation` fail with `error_body`, later ones go through.
    pub fn times(operation: &'static str, error_body: Value, times: usize) -> Self {
        Self {
            remaining: Some(AtomicUsize::new(times)),
            ..Self::always(operation, error_body)
        }
    }

    /// The first attempt of `operation` whose request holds `holding` is applied, but its answer
    /// is lost: the SDK sees a 500, a transient failure, and sends it again.
    pub fn answer_lost(operation: &'static str, holding: &'static str) -> Self {
        let error = json!({ "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "lost" });
        Self {
            applied: true,
            holding,
            ..Self::times(operation, error, 1)
        }
    }

    /// Every call of `operation` whose request holds `holding` is applied but the answer to its
    /// first send is lost: the SDK sends it again, and both sends land, as when DynamoDB is slow
    /// past the SDK's attempt timeout.
    pub fn every_first_answer_lost(operation: &'static str, holding: &'static str) -> Self {
        Self {
            remaining: None,
            first_sends: true,
            ..Self::answer_lost(operation, holding)
        }
    }

    /// Only the requests whose body holds `text`: one item's write among others, say.
    pub fn holding(self, text: &'static str) -> Self {
        Self {
            holding: text,
            ..self
        }
    }

    /// Whether this attempt fails (and, when counted, uses up one failure).
    fn applies(&self, cfg: &ConfigBag) -> bool {
        let operation = cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == self.operation);
        let first_send = || cfg.load::<RequestAttempts>().map(|a| a.attempts()) == Some(1);
        operation
            && (!self.first_sends || first_send())
            && self.remaining.as_ref().is_none_or(|left| {
                left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            })
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
            builder = builder.interceptor(fault).retry_config(quick_retries());
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
    let client = aws_sdk_dynamodb::Client::from_conf(
        client
            .config()
            .to_builder()
            .retry_config(quick_retries())
            .build(),
    );
    let state = AppState::new(
        Stores::new(DynamoStore::new(client, &config)),
        &AuthConfig::with_secret(SECRET),
    );
    app(all_routes(), state)
}

/// The SDK's own retries, with short pauses so a test is quick.
fn quick_retries() -> aws_sdk_dynamodb::config::retry::RetryConfig {
    shared::retry::sdk_retry_config().with_initial_backoff(std::time::Duration::from_millis(5))
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
