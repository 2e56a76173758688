//! What each endpoint costs on DynamoDB, counted through an SDK interceptor against DynamoDB
//! Local: a change that adds a round trip fails here (and `docs/DYNAMODB.md` must change with it).
//! Also the fault paths DynamoDB Local cannot produce, injected into real responses: throttling
//! after the SDK's retries is a 503 with `Retry-After`, a transaction conflict a 409.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::body::SdkBody;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::AppState;
use shared::config::AuthConfig;
use shared::http::{all_routes, app};
use shared::store::{DynamoStore, Stores};
use tower::ServiceExt;

mod support;

/// Records the name of every DynamoDB operation sent.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    /// Once per operation (retries are attempts of the same call).
    fn read_after_serialization(
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
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Makes one operation fail with a DynamoDB error: its request is emptied before it is sent (so
/// DynamoDB Local applies nothing) and the response is replaced by the error.
#[derive(Debug)]
struct Fault {
    operation: &'static str,
    error_body: Value,
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
        if self.applies(cfg) {
            let request = context.request_mut();
            *request.body_mut() = SdkBody::from("{}");
            request.headers_mut().insert("content-length", "2");
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.applies(cfg) {
            let response = context.response_mut();
            *response.status_mut() = 400u16.try_into()?;
            *response.body_mut() = SdkBody::from(self.error_body.to_string());
        }
        Ok(())
    }
}

impl Fault {
    fn applies(&self, cfg: &ConfigBag) -> bool {
        cfg.load::<Metadata>()
            .is_some_and(|m| m.name() == self.operation)
    }
}

struct Harness {
    app: axum::Router,
    calls: Recorder,
    stores: Stores,
    jwt: std::sync::Arc<shared::auth::JwtKeys>,
}

impl Harness {
    async fn new(fault: Option<Fault>) -> Self {
        let config = support::dynamo_config().await;
        let calls = Recorder::default();
        let client = config.client().await;
        let mut builder = client.config().to_builder().interceptor(calls.clone());
        if let Some(fault) = fault {
            // The SDK's own retries, with short pauses so the test is quick.
            let retries = aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(5));
            builder = builder.interceptor(fault).retry_config(retries);
        }
        let client = aws_sdk_dynamodb::Client::from_conf(builder.build());
        let stores = Stores::new(DynamoStore::new(client, &config));
        let state = AppState::new(
            stores.clone(),
            &AuthConfig::with_secret("dynamo-call-tests-secret-of-32-bytes!"),
        );
        Self {
            jwt: state.jwt.clone(),
            app: app(all_routes(), state),
            calls,
            stores,
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "api.test");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        let response = self.app.clone().oneshot(request.unwrap()).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, json, headers)
    }

    /// Sends the request and returns the DynamoDB operations it made.
    async fn calls_of(
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

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

#[tokio::test]
async fn every_endpoint_makes_its_documented_dynamodb_calls() {
    let h = Harness::new(None).await;
    let name = unique("calls_");
    let password = "correct-horse-battery";
    let register =
        json!({ "username": name, "email": format!("{name}@example.com"), "password": password });

    let calls = h
        .calls_of("POST", "/api/v1/auth/register/", None, Some(register))
        .await;
    assert_eq!(calls, ["TransactWriteItems"], "register");

    let (_, login, _) = h
        .send(
            "POST",
            "/api/v1/auth/login/",
            None,
            Some(json!({ "username": name, "password": password })),
        )
        .await;
    let access = login["tokens"]["access"].as_str().unwrap().to_owned();
    let refresh = login["tokens"]["refresh"].as_str().unwrap().to_owned();
    let token = Some(access.as_str());
    let calls = h
        .calls_of(
            "POST",
            "/api/v1/auth/login/",
            None,
            Some(json!({ "username": name, "password": password })),
        )
        .await;
    assert_eq!(calls, ["GetItem", "GetItem", "TransactWriteItems"], "login");

    assert_eq!(
        h.calls_of("GET", "/api/v1/auth/profile/", token, None)
            .await,
        ["GetItem"],
        "profile-get"
    );
    let calls = h
        .calls_of(
            "PATCH",
            "/api/v1/auth/profile/",
            token,
            Some(json!({ "first_name": "Ada" })),
        )
        .await;
    assert_eq!(
        calls,
        ["GetItem", "UpdateItem"],
        "profile-update without a rename"
    );
    let calls = h
        .calls_of(
            "PUT",
            "/api/v1/auth/profile/",
            token,
            Some(json!({ "username": unique("renamed_") })),
        )
        .await;
    assert_eq!(
        calls,
        ["GetItem", "TransactWriteItems"],
        "profile-update with a rename"
    );

    let calls = h
        .calls_of(
            "POST",
            "/api/v1/auth/token/verify/",
            None,
            Some(json!({ "token": access })),
        )
        .await;
    assert_eq!(calls, ["GetItem"], "token-verify of an access token");
    let calls = h
        .calls_of(
            "POST",
            "/api/v1/auth/token/verify/",
            None,
            Some(json!({ "token": refresh })),
        )
        .await;
    assert_eq!(calls, ["BatchGetItem"], "token-verify of a refresh token");
    let (_, pair, _) = h
        .send(
            "POST",
            "/api/v1/auth/token/refresh/",
            None,
            Some(json!({ "refresh": refresh })),
        )
        .await;
    let calls = h
        .calls_of(
            "POST",
            "/api/v1/auth/token/refresh/",
            None,
            Some(json!({ "refresh": pair["refresh"] })),
        )
        .await;
    assert_eq!(calls, ["GetItem", "TransactWriteItems"], "token-refresh");
    let calls = h
        .calls_of(
            "POST",
            "/api/v1/auth/logout/",
            None,
            Some(json!({ "refresh": refresh })),
        )
        .await;
    assert_eq!(calls, ["DeleteItem"], "logout");

    let (_, task, _) = h
        .send(
            "POST",
            "/api/v1/tasks/",
            token,
            Some(json!({ "title": "counted" })),
        )
        .await;
    let path = format!("/api/v1/tasks/{}/", task["id"].as_str().unwrap());
    let calls = h
        .calls_of(
            "POST",
            "/api/v1/tasks/",
            token,
            Some(json!({ "title": "another" })),
        )
        .await;
    assert_eq!(calls, ["TransactWriteItems"], "task-create");
    assert_eq!(
        h.calls_of("GET", &path, token, None).await,
        ["GetItem"],
        "task-get"
    );
    let calls = h
        .calls_of("PATCH", &path, token, Some(json!({ "title": "renamed" })))
        .await;
    assert_eq!(calls, ["GetItem", "PutItem"], "task-update, same status");
    let calls = h
        .calls_of("PUT", &path, token, Some(json!({ "status_task": "DONE" })))
        .await;
    assert_eq!(
        calls,
        ["GetItem", "TransactWriteItems"],
        "task-update, status change"
    );
    assert_eq!(
        h.calls_of("GET", "/api/v1/tasks/", token, None).await,
        ["BatchGetItem", "Query"],
        "task-list"
    );
    let calls = h
        .calls_of(
            "GET",
            "/api/v1/tasks/?status_task=DONE&page_size=1",
            token,
            None,
        )
        .await;
    assert_eq!(calls, ["BatchGetItem", "Query"], "task-list by status");
    assert_eq!(
        h.calls_of("DELETE", &path, token, None).await,
        ["GetItem", "TransactWriteItems"],
        "task-delete"
    );

    let calls = h
        .calls_of(
            "POST",
            "/api/v1/auth/profile/password/",
            token,
            Some(json!({ "old_password": password, "new_password_1": "new-horse-battery", "new_password_2": "new-horse-battery" })),
        )
        .await;
    assert_eq!(calls, ["GetItem", "UpdateItem"], "password-update");
}

#[tokio::test]
async fn throttling_after_the_sdk_retries_is_a_503_with_retry_after() {
    let fault = Fault {
        operation: "GetItem",
        error_body: json!({ "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded" }),
    };
    let h = Harness::new(Some(fault)).await;
    let name = unique("throttled_");
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
    let (status, json, _) = h
        .send("POST", "/api/v1/auth/register/", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let access = json["tokens"]["access"].as_str().unwrap().to_owned();

    h.calls.take();
    let (status, json, headers) = h
        .send("GET", "/api/v1/auth/profile/", Some(&access), None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(json["detail"].is_string());
    assert!(
        h.calls.take().len() == 1,
        "one operation, retried inside the SDK"
    );
}

#[tokio::test]
async fn a_transaction_conflict_on_task_create_is_a_409() {
    let fault = Fault {
        operation: "TransactWriteItems",
        error_body: json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
            "CancellationReasons": [{ "Code": "TransactionConflict" }, { "Code": "None" }],
        }),
    };
    let h = Harness::new(Some(fault)).await;
    // Register needs a transaction too, so make the user through a second, fault-free app.
    let clean = Harness::new(None).await;
    let name = unique("conflict_");
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
    let (_, json, _) = clean
        .send("POST", "/api/v1/auth/register/", None, Some(body))
        .await;
    let access = json["tokens"]["access"].as_str().unwrap().to_owned();

    let (status, json, _) = h
        .send(
            "POST",
            "/api/v1/tasks/",
            Some(&access),
            Some(json!({ "title": "racing" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    let (_, list, _) = clean
        .send("GET", "/api/v1/tasks/", Some(&access), None)
        .await;
    assert_eq!(list["count"], 0, "nothing half-written");
}

#[tokio::test]
async fn the_websocket_routes_and_the_stream_function_make_their_documented_calls() {
    use aws_lambda_events::event::apigw::ApiGatewayWebsocketProxyRequest;
    use shared::realtime::{Gateway, Notifier};

    let h = Harness::new(None).await;
    let name = unique("socket_");
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "correct-horse-battery" });
    let (_, registered, _) = h
        .send("POST", "/api/v1/auth/register/", None, Some(body))
        .await;
    let access = registered["tokens"]["access"].as_str().unwrap().to_owned();
    let gateway = Gateway::new(&h.stores, h.jwt.clone());
    let event = |route: &str| {
        let mut event = ApiGatewayWebsocketProxyRequest::default();
        event.request_context.connection_id = Some(unique("conn"));
        event.request_context.route_key = Some(route.to_owned());
        event
            .headers
            .insert("authorization", format!("Bearer {access}").parse().unwrap());
        event
    };
    let connect = event("$connect");
    let mut disconnect = event("$disconnect");
    disconnect.request_context.connection_id = connect.request_context.connection_id.clone();

    h.calls.take();
    assert_eq!(gateway.connect(connect).await.status_code, 200);
    assert_eq!(
        h.calls.take(),
        ["GetItem", "TransactWriteItems"],
        "ws-connect"
    );
    assert_eq!(gateway.disconnect(disconnect).await.status_code, 200);
    assert_eq!(
        h.calls.take(),
        ["GetItem", "TransactWriteItems"],
        "ws-disconnect"
    );
    assert_eq!(gateway.message(event("$default")).status_code, 200);
    assert!(h.calls.take().is_empty(), "ws-default");

    let (_, task, _) = h
        .send(
            "POST",
            "/api/v1/tasks/",
            Some(&access),
            Some(json!({ "title": "streamed" })),
        )
        .await;
    let task = shared::domain::TaskId::parse(task["id"].as_str().unwrap()).unwrap();
    let owner = shared::auth::JwtKeys::decode(&h.jwt, &access, shared::auth::TokenType::Access)
        .unwrap()
        .user_id;
    let stored = h.stores.tasks.task(owner, task).await.unwrap().unwrap();
    let mut event = aws_lambda_events::event::dynamodb::Event::default();
    event.records =
        vec![shared::realtime::records::task_change_record(1, None, Some(&stored)).unwrap()];
    // No connection is open, so the stream function only looks: one Query, no post.
    let management = Notifier::management_client("http://127.0.0.1:9", true).await;
    h.calls.take();
    let response = Notifier::new(&h.stores, management).handle(event).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(h.calls.take(), ["Query"], "task-stream per task change");
}
