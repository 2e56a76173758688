//! A stand-in for the AWS Lambda Runtime API (the HTTP interface a custom runtime such as
//! `lambda_runtime` polls inside a Lambda sandbox), just enough to run a real function binary:
//!
//! - `GET  /2018-06-01/runtime/invocation/next` hands out the queued events one by one, with the
//!   `lambda-runtime-*` headers Lambda sends; once the queue is empty it never answers (Lambda
//!   freezes the sandbox there), so the function process just waits until it is killed;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error` record the result;
//! - `POST /2018-06-01/runtime/init/error` records an initialisation failure;
//! - anything else is recorded as unexpected and answered 404.
//!
//! Every recorded result comes out of [`RuntimeApi::outcome`] in arrival order, and
//! [`RuntimeApi::timeline`] tells when each invocation was handed out and answered (the cold-start
//! bench, `local/benches/cold_start.rs`, measures with it).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// The base path of every Runtime API route.
const BASE: &str = "/2018-06-01/runtime";

/// How long a function may run per invocation, as told in `lambda-runtime-deadline-ms`.
const DEADLINE: Duration = Duration::from_secs(30);

/// The X-Ray trace header handed to every invocation (tracing is off: `Sampled=0`).
const TRACE_ID: &str = "Root=1-6b06aa98-17ebd62cd4689acd8f4085e8;Parent=53995c3f42cd8ad8;Sampled=0";

/// One event to deliver.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub function_name: String,
    pub event: String,
}

/// What the function sent back. Some fields are only read through `Debug`, in failure messages.
#[derive(Debug)]
#[allow(dead_code)]
pub enum Outcome {
    /// `POST .../invocation/{id}/response`.
    Response { request_id: String, body: Bytes },
    /// `POST .../invocation/{id}/error`.
    Error {
        request_id: String,
        error_type: Option<String>,
        body: String,
    },
    /// `POST .../init/error`.
    InitError {
        error_type: Option<String>,
        body: String,
    },
    /// A request this stand-in does not know.
    Unexpected { method: Method, uri: Uri },
}

struct Shared {
    queue: Mutex<VecDeque<Invocation>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    /// `next` requests received so far, delivered or left waiting.
    next_polls: AtomicUsize,
    polled: Notify,
    /// When each invocation was handed out, and when each answer (response or error) arrived.
    timeline: Mutex<(Vec<Instant>, Vec<Instant>)>,
}

/// A running stand-in on 127.0.0.1, stopped when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves `invocations` (in order) on a free port.
    pub async fn start(invocations: Vec<Invocation>) -> Self {
        let (send, outcomes) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: Mutex::new(invocations.into()),
            outcomes: send,
            next_polls: AtomicUsize::new(0),
            polled: Notify::new(),
            timeline: Mutex::default(),
        });
        let router = Router::new()
            .route(&format!("{BASE}/invocation/next"), get(next))
            .route(
                &format!("{BASE}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{BASE}/invocation/{{id}}/error"), post(error))
            .route(&format!("{BASE}/init/error"), post(init_error))
            .fallback(unexpected)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the Runtime API stand-in");
        let addr = listener.local_addr().expect("stand-in address");
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("Runtime API stand-in");
        });
        Self {
            addr,
            shared,
            outcomes,
            server,
        }
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`: `host:port`, no scheme.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The next recorded outcome, or `None` if none arrives within `wait`.
    pub async fn outcome(&mut self, wait: Duration) -> Option<Outcome> {
        tokio::time::timeout(wait, self.outcomes.recv())
            .await
            .ok()
            .flatten()
    }

    /// When each invocation so far was handed out, and when each answer arrived, in order.
    #[allow(
        dead_code,
        reason = "read by the cold-start bench, which shares this file"
    )]
    pub fn timeline(&self) -> (Vec<Instant>, Vec<Instant>) {
        self.shared.timeline.lock().expect("timeline").clone()
    }

    /// How many times the function has asked for its next event.
    pub fn next_polls(&self) -> usize {
        self.shared.next_polls.load(Ordering::SeqCst)
    }

    /// Waits until the function has asked for an event at least `count` times; false on timeout.
    pub async fn wait_for_next_polls(&self, count: usize, wait: Duration) -> bool {
        tokio::time::timeout(wait, async {
            loop {
                let polled = self.shared.polled.notified();
                if self.next_polls() >= count {
                    return;
                }
                polled.await;
            }
        })
        .await
        .is_ok()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let invocation = shared.queue.lock().expect("invocation queue").pop_front();
    shared.next_polls.fetch_add(1, Ordering::SeqCst);
    shared.polled.notify_waiters();
    let Some(invocation) = invocation else {
        // Nothing more to run: hold the request open, as a frozen sandbox would.
        std::future::pending::<()>().await;
        unreachable!("a pending future never completes");
    };
    shared
        .timeline
        .lock()
        .expect("timeline")
        .0
        .push(Instant::now());
    let deadline = (SystemTime::now() + DEADLINE)
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    let arn = format!(
        "arn:aws:lambda:us-east-1:123456789012:function:{}",
        invocation.function_name
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE.as_str(), "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", invocation.request_id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", arn),
            ("lambda-runtime-trace-id", TRACE_ID.to_owned()),
        ],
        invocation.event,
    )
        .into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    shared
        .timeline
        .lock()
        .expect("timeline")
        .1
        .push(Instant::now());
    let _ = shared.outcomes.send(Outcome::Response { request_id, body });
    accepted()
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared
        .timeline
        .lock()
        .expect("timeline")
        .1
        .push(Instant::now());
    let _ = shared.outcomes.send(Outcome::Error {
        request_id,
        error_type: error_type(&headers),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    accepted()
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _ = shared.outcomes.send(Outcome::InitError {
        error_type: error_type(&headers),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    accepted()
}

async fn unexpected(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    let _ = shared.outcomes.send(Outcome::Unexpected { method, uri });
    StatusCode::NOT_FOUND.into_response()
}
