//! The harness: the recorded event and the messages it means, and a notifier over the test
//! binary's store (`crate::backend`: embedded in memory, or DynamoDB Local) posting through the real management API client to a small local "management API" that
//! records every post and answers 200, 410 Gone, 429 or 500 per connection id.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_apigatewaymanagement::config::retry::RetryConfig;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use serde_json::{Value, json};
use shared::domain::{Timestamp, UserId};
use shared::realtime::Notifier;
use shared::store::{Connection, Stores};

/// The owner of records 1–3 (and of the COUNTS item, record 4).
pub const FIRST_OWNER: &str = "6f1c2a9e-8d0b-4c55-9a4e-1b2c3d4e5f60";
/// The owner of record 5.
pub const SECOND_OWNER: &str = "0b7d5c3a-1e2f-4a6b-8c9d-0e1f2a3b4c5d";

/// The sequence numbers of the five records, in order.
pub const SEQUENCE_NUMBERS: [&str; 5] = [
    "4281700000000041825069311",
    "4281800000000041825070422",
    "4281900000000041825071533",
    "4282000000000041825072644",
    "4282100000000041825073755",
];

/// A connection id the management API answers with 410 Gone.
pub const STALE: &str = "stale-conn=";
/// A connection id whose posts the management API refuses as over a limit (429
/// `LimitExceededException`: its client's buffer is full).
pub const FULL: &str = "full-conn=";
/// A connection id the management API answers with 500.
pub const BROKEN: &str = "broken-conn=";
/// A connection id the management API never answers (posts and closes alike).
pub const SLOW: &str = "slow-conn=";

pub fn first_owner() -> UserId {
    UserId::parse(FIRST_OWNER).unwrap()
}

pub fn second_owner() -> UserId {
    UserId::parse(SECOND_OWNER).unwrap()
}

pub fn recorded_event() -> Event {
    let path = format!("{}/../events/task-stream.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("a DynamoDB stream event")
}

/// The recorded event with only its record at `index`.
pub fn only(index: usize) -> Event {
    let mut event = recorded_event();
    let record = event.records.swap_remove(index);
    event.records = vec![record];
    event
}

/// The messages each task record of the file means, exactly: the task's REST representation with
/// an `action` field, or a deleted task's id.
pub fn expected_create() -> Value {
    json!({
        "id": "01a2120a-623b-7c4d-8e5f-6a7b8c9d0e1f",
        "title": "Write the report",
        "description": "Quarterly numbers",
        "status_task": "TO DO",
        "date_created": "2026-11-25T09:30:00.123456Z",
        "last_updated": "2026-11-25T09:30:00.123456Z",
        "action": "task_create",
    })
}

pub fn expected_update() -> Value {
    json!({
        "id": "01a20e4e-49fe-7a61-9b2c-3d4e5f607182",
        "title": "Book the venue",
        "description": "Room for 30, with a projector",
        "status_task": "DONE",
        "date_created": "2026-11-24T16:05:41.502913Z",
        "last_updated": "2026-11-25T09:30:03.250001Z",
        "action": "task_update",
    })
}

pub fn expected_delete() -> Value {
    json!({ "id": "01a2081b-3f55-7d90-a1b2-c3d4e5f60718", "action": "task_delete" })
}

pub fn expected_other_create() -> Value {
    json!({
        "id": "01a2120a-7fa6-7e12-b3c4-d5e6f708192a",
        "title": "Call the plumber",
        "description": "Kitchen sink leaks, before Friday",
        "status_task": "IN PROGRESS",
        "date_created": "2026-11-25T09:30:07.654321Z",
        "last_updated": "2026-11-25T09:30:07.654321Z",
        "action": "task_create",
    })
}

/// Every post the management API received: connection id and parsed JSON body, in arrival order.
#[derive(Clone, Default)]
pub struct Posts(Arc<Mutex<Vec<(String, Value)>>>);

impl Posts {
    pub fn all(&self) -> Vec<(String, Value)> {
        self.0.lock().unwrap().clone()
    }

    /// The bodies posted to `id`, in arrival order.
    pub fn to(&self, id: &str) -> Vec<Value> {
        self.all()
            .into_iter()
            .filter(|(to, _)| to == id)
            .map(|(_, body)| body)
            .collect()
    }
}

pub async fn post_to_connection(
    State(posts): State<Posts>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(format!("not JSON: {}", String::from_utf8_lossy(&body))));
    posts.0.lock().unwrap().push((id.clone(), body));
    let error = |status: StatusCode, kind: &'static str| {
        (
            status,
            [
                ("x-amzn-errortype", kind),
                ("content-type", "application/json"),
            ],
            json!({ "message": kind }).to_string(),
        )
            .into_response()
    };
    match id.as_str() {
        SLOW => std::future::pending().await,
        STALE => error(StatusCode::GONE, "GoneException"),
        FULL => error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException"),
        BROKEN => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerErrorException",
        ),
        _ => StatusCode::OK.into_response(),
    }
}

/// Every `DeleteConnection` the stand-in management API received: the connection ids.
#[derive(Clone, Default)]
pub struct Closes(pub Arc<Mutex<Vec<String>>>);

async fn delete_connection(State(closes): State<Closes>, Path(id): Path<String>) -> StatusCode {
    closes.0.lock().unwrap().push(id.clone());
    if id == SLOW {
        std::future::pending::<()>().await;
    }
    StatusCode::NO_CONTENT
}

/// The notifier over an in-memory store, posting to a local management API.
pub struct Harness {
    pub stores: Stores,
    notifier: Notifier,
    pub posts: Posts,
    pub closes: Closes,
}

impl Harness {
    /// With one attempt per post: a 500 fails at once instead of after the SDK's backoff.
    pub async fn new() -> Self {
        Self::with_retries(false).await
    }

    /// With the SDK's default retries when `retries`, as the Lambda runs it.
    pub async fn with_retries(retries: bool) -> Self {
        let (posts, closes) = (Posts::default(), Closes::default());
        let closing = Router::new()
            .route("/@connections/{id}", delete(delete_connection))
            .with_state(closes.clone());
        let app = Router::new()
            .route("/@connections/{id}", post(post_to_connection))
            .with_state(posts.clone())
            .merge(closing);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let client = Notifier::management_client(&format!("http://{address}"), Some("test-key"));
        let client = if retries {
            client
        } else {
            aws_sdk_apigatewaymanagement::Client::from_conf(
                client
                    .config()
                    .to_builder()
                    .retry_config(RetryConfig::disabled())
                    .build(),
            )
        };
        let stores = crate::backend::stores().await;
        let notifier = Notifier::new(&stores, client);
        Self {
            stores,
            notifier,
            posts,
            closes,
        }
    }

    /// Records the connection `id` of `user` (stored as a user if need be), open for a minute.
    pub async fn connect(&self, user: UserId, id: &str) {
        self.connect_at(user, id, Timestamp::now().plus_seconds(-60))
            .await;
    }

    /// Records the connection `id` of `user`, made at `connected_at`, for an hour from then, by a
    /// token of the user's first session valid as long.
    pub async fn connect_at(&self, user: UserId, id: &str, connected_at: Timestamp) {
        let token_expires_at = connected_at.plus_seconds(3600);
        self.connect_session(user, id, connected_at, token_expires_at, 0)
            .await;
    }

    /// Records the connection `id` of `user` (stored as a user if need be), made at
    /// `connected_at` by a token of session `epoch` that expires at `token_expires_at`.
    pub async fn connect_session(
        &self,
        user: UserId,
        id: &str,
        connected_at: Timestamp,
        token_expires_at: Timestamp,
        epoch: u64,
    ) {
        testkit::events::ensure_user(&self.stores, user).await;
        self.stores
            .connections
            .add_connection(&Connection {
                id: id.to_owned(),
                user_id: user,
                connected_at,
                expires_at: connected_at.plus_seconds(3600),
                token_expires_at,
                epoch,
                sid: None,
            })
            .await
            .expect("recording a connection");
    }

    pub async fn connections_of(&self, user: UserId) -> BTreeSet<String> {
        testkit::events::connection_ids(&self.stores, user)
            .await
            .into_iter()
            .collect()
    }

    /// Closes `user`'s connections older than its session epoch `epoch`, as a password change
    /// or logout-all does.
    pub async fn close_ended(&self, user: UserId, epoch: u64) {
        crate::backend::as_function(
            "password-update",
            self.notifier
                .close_ended(user, shared::domain::Ended::Before(epoch)),
        )
        .await;
    }

    /// Runs the stream function on `event` with a minute to go.
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        self.handle_by(event, deadline).await
    }

    /// Runs the stream function on `event`, its invocation ending at `deadline`.
    pub async fn handle_by(
        &self,
        event: Event,
        deadline: std::time::SystemTime,
    ) -> DynamoDbEventResponse {
        let handled = self.notifier.handle(event, deadline);
        crate::backend::as_function("task-stream", handled).await
    }
}

/// The item identifiers of a response's failures.
pub fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.clone().unwrap_or_default())
        .collect()
}

pub fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// Record 1 with its new image replaced by attributes that are no task.
pub fn garbage_task_record() -> EventRecord {
    let mut record = recorded_event().records[0].clone();
    let garbage = json!({
        "pk": { "S": format!("USER#{FIRST_OWNER}") },
        "sk": { "S": "TASK#01a2120a-623b-7c4d-8e5f-6a7b8c9d0e1f" },
        "id": { "N": "42" },
        "colour": { "S": "mauve" },
    });
    record.change.new_image = serde_json::from_value(garbage).unwrap();
    record.change.sequence_number = Some("4282200000000041825074866".to_owned());
    record
}
