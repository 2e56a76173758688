//! A Secrets Manager stand-in: answers `GetSecretValue` (the JSON 1.1 protocol the SDK speaks) for
//! the staging labels of one secret, and counts the calls; it can hold its answers back, as a slow
//! network would, until told to go on. It serves from a thread of its own, so
//! it outlives any one test's runtime and can back a child process (a Lambda bootstrap) too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// The secret's ARN as the stand-in knows it.
pub const SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:taskmaster-signing-key-AbCdEf";

#[derive(Default)]
struct Shared {
    /// staging label → secret string
    stages: Mutex<HashMap<String, String>>,
    calls: AtomicUsize,
    /// While true, requests wait unanswered.
    held: tokio::sync::watch::Sender<bool>,
}

/// A running stand-in; it stops with the test process.
#[derive(Clone)]
pub struct SecretsManager {
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl SecretsManager {
    /// Starts serving `stages` (label, value) of [`SECRET_ARN`] on a free local port.
    pub fn start(stages: &[(&str, &str)]) -> Self {
        let shared = Arc::new(Shared::default());
        let stand_in = Self {
            address: "127.0.0.1:0".parse().expect("an address"),
            shared,
        };
        stand_in.set_stages(stages);
        let listener = std::net::TcpListener::bind(stand_in.address).expect("a free port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let address = listener.local_addr().expect("its address");
        let state = stand_in.shared.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = Router::new()
                    .route("/", post(get_secret_value))
                    .with_state(state);
                axum::serve(listener, app)
                    .await
                    .expect("the stand-in serves");
            });
        });
        Self {
            address,
            ..stand_in
        }
    }

    /// The endpoint to give the SDK (`TASKMASTER_SECRETSMANAGER_ENDPOINT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Replaces the secret's versions: what a rotation does.
    pub fn set_stages(&self, stages: &[(&str, &str)]) {
        let mut map = self.shared.stages.lock().expect("stages lock");
        map.clear();
        map.extend(
            stages
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
    }

    /// Holds back every answer, from now until [`SecretsManager::release`].
    pub fn hold(&self) {
        self.shared.held.send_replace(true);
    }

    /// Answers the requests held back, and later ones at once.
    pub fn release(&self) {
        self.shared.held.send_replace(false);
    }

    /// `GetSecretValue` calls received so far (answered, or held back).
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }
}

async fn get_secret_value(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    shared.calls.fetch_add(1, Ordering::SeqCst);
    // The sender lives in `shared`, so the wait ends only on a release.
    let _ = shared.held.subscribe().wait_for(|held| !held).await;
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target != "secretsmanager.GetSecretValue" {
        return error(
            "UnknownOperationException",
            &format!("not served: {target}"),
        );
    }
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    if request["SecretId"] != SECRET_ARN {
        return error(
            "ResourceNotFoundException",
            "Secrets Manager can't find the specified secret.",
        );
    }
    let stage = request["VersionStage"].as_str().unwrap_or("AWSCURRENT");
    let value = shared
        .stages
        .lock()
        .expect("stages lock")
        .get(stage)
        .cloned();
    match value {
        Some(value) => json_response(
            StatusCode::OK,
            &json!({
                "ARN": SECRET_ARN,
                "Name": "taskmaster-signing-key",
                "VersionId": format!("00000000-0000-4000-8000-{:012}", value.len()),
                "SecretString": value,
                "VersionStages": [stage],
                "CreatedDate": 1_764_633_600.0,
            }),
        ),
        None => error(
            "ResourceNotFoundException",
            &format!(
                "Secrets Manager can't find the specified secret value for staging label: {stage}"
            ),
        ),
    }
}

fn error(kind: &str, message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "__type": kind, "Message": message }),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}
