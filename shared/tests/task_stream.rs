//! The `task-stream` function on the recorded DynamoDB stream event `events/task-stream.json`:
//! [`Notifier::handle`] posts through the real management API client to a small local
//! "management API" that records every post, and answers 200, 410 Gone or 500 per connection id.

// Test helpers panic to report a failure.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_apigatewaymanagement::config::retry::RetryConfig;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use shared::domain::{Timestamp, UserId};
use shared::realtime::{Notifier, message_of};
use shared::store::{Connection, EmbeddedStore, Stores};

/// The owner of records 1–3 (and of the COUNTS item, record 4).
const FIRST_OWNER: &str = "6f1c2a9e-8d0b-4c55-9a4e-1b2c3d4e5f60";
/// The owner of record 5.
const SECOND_OWNER: &str = "0b7d5c3a-1e2f-4a6b-8c9d-0e1f2a3b4c5d";

/// The sequence numbers of the five records, in order.
const SEQUENCE_NUMBERS: [&str; 5] = [
    "4281700000000041825069311",
    "4281800000000041825070422",
    "4281900000000041825071533",
    "4282000000000041825072644",
    "4282100000000041825073755",
];

/// A connection id the management API answers with 410 Gone.
const STALE: &str = "stale-conn=";
/// A connection id the management API answers with 500.
const BROKEN: &str = "broken-conn=";

fn first_owner() -> UserId {
    UserId::parse(FIRST_OWNER).unwrap()
}

fn second_owner() -> UserId {
    UserId::parse(SECOND_OWNER).unwrap()
}

fn recorded_event() -> Event {
    let path = format!("{}/../events/task-stream.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("a DynamoDB stream event")
}

/// The recorded event with only its record at `index`.
fn only(index: usize) -> Event {
    let mut event = recorded_event();
    let record = event.records.swap_remove(index);
    event.records = vec![record];
    event
}

/// The messages each task record of the file means, exactly: the task as the REST API returns
/// it plus `action`, or the id of a deleted task.
fn expected_create() -> Value {
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

fn expected_update() -> Value {
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

fn expected_delete() -> Value {
    json!({ "id": "01a2081b-3f55-7d90-a1b2-c3d4e5f60718", "action": "task_delete" })
}

fn expected_other_create() -> Value {
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
struct Posts(Arc<Mutex<Vec<(String, Value)>>>);

impl Posts {
    fn all(&self) -> Vec<(String, Value)> {
        self.0.lock().unwrap().clone()
    }

    /// The bodies posted to `id`, in arrival order.
    fn to(&self, id: &str) -> Vec<Value> {
        self.all()
            .into_iter()
            .filter(|(to, _)| to == id)
            .map(|(_, body)| body)
            .collect()
    }
}

async fn post_to_connection(
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
        STALE => error(StatusCode::GONE, "GoneException"),
        BROKEN => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerErrorException",
        ),
        _ => StatusCode::OK.into_response(),
    }
}

/// The notifier over an in-memory store, posting to a local management API.
struct Harness {
    stores: Stores,
    notifier: Notifier,
    posts: Posts,
}

impl Harness {
    /// With one attempt per post: a 500 fails at once instead of after the SDK's backoff.
    async fn new() -> Self {
        Self::with_retries(false).await
    }

    /// With the SDK's default retries when `retries`, as the Lambda runs it.
    async fn with_retries(retries: bool) -> Self {
        let posts = Posts::default();
        let app = Router::new()
            .route("/@connections/{id}", post(post_to_connection))
            .with_state(posts.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let client = Notifier::management_client(&format!("http://{address}"), true).await;
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
        let stores = Stores::new(EmbeddedStore::in_memory().expect("an in-memory store"));
        let notifier = Notifier::new(&stores, client);
        Self {
            stores,
            notifier,
            posts,
        }
    }

    /// Records the connection `id` of `user` (who need not exist as a user), open for an hour.
    async fn connect(&self, user: UserId, id: &str) {
        let now = Timestamp::now();
        self.stores
            .connections
            .add_connection(&Connection {
                id: id.to_owned(),
                user_id: user,
                connected_at: now,
                expires_at: now.plus_seconds(3600),
            })
            .await
            .expect("recording a connection");
    }

    async fn connections_of(&self, user: UserId) -> BTreeSet<String> {
        self.stores
            .connections
            .connections_of(user)
            .await
            .expect("listing connections")
            .into_iter()
            .collect()
    }

    async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        self.notifier.handle(event).await
    }
}

/// The item identifiers of a response's failures.
fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|failure| failure.item_identifier.clone().unwrap_or_default())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

#[test]
fn the_recorded_event_holds_the_five_records_the_readme_lists() {
    let event = recorded_event();

    let summary: Vec<(String, Option<String>)> = event
        .records
        .iter()
        .map(|record| {
            (
                record.event_name.clone(),
                record.change.sequence_number.clone(),
            )
        })
        .collect();

    let names = ["INSERT", "MODIFY", "REMOVE", "MODIFY", "INSERT"];
    let expected: Vec<(String, Option<String>)> = names
        .iter()
        .zip(SEQUENCE_NUMBERS)
        .map(|(name, sequence)| ((*name).to_owned(), Some(sequence.to_owned())))
        .collect();
    assert_eq!(summary, expected);
}

#[test]
fn message_of_gives_each_task_record_its_owner_and_message_and_skips_the_counts_item() {
    let event = recorded_event();

    let messages: Vec<Option<(UserId, Value)>> = event
        .records
        .iter()
        .map(|record| message_of(record).expect("a readable record"))
        .collect();

    assert_eq!(
        messages,
        vec![
            Some((first_owner(), expected_create())),
            Some((first_owner(), expected_update())),
            Some((first_owner(), expected_delete())),
            None,
            Some((second_owner(), expected_other_create())),
        ]
    );
}

#[test]
fn message_of_shows_a_task_with_exactly_the_fields_of_the_rest_response_plus_action() {
    let event = recorded_event();
    let (_, message) = message_of(&event.records[0]).unwrap().unwrap();

    let keys: BTreeSet<&str> = message
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();

    let rest_fields = [
        "id",
        "title",
        "description",
        "status_task",
        "date_created",
        "last_updated",
    ];
    let expected: BTreeSet<&str> = rest_fields.into_iter().chain(["action"]).collect();
    assert_eq!(
        keys, expected,
        "no store attribute (pk, sk, owner, version…) leaks"
    );
}

#[test]
fn message_of_takes_an_empty_new_image_as_a_removal() {
    // DynamoDB Local names TTL deletions UNKNOWN_TO_SDK_VERSION: the old image alone must do.
    let mut record = recorded_event().records[2].clone();
    record.event_name = "UNKNOWN_TO_SDK_VERSION".to_owned();

    let message = message_of(&record).unwrap();

    assert_eq!(message, Some((first_owner(), expected_delete())));
}

/// Record 1 with its new image replaced by attributes that are no task.
fn garbage_task_record() -> EventRecord {
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

#[test]
fn message_of_reports_a_task_key_with_an_unreadable_image_as_an_error() {
    assert!(message_of(&garbage_task_record()).is_err());
}

#[tokio::test]
async fn insert_modify_and_remove_reach_the_owners_connection_in_order() {
    let harness = Harness::new().await;
    harness.connect(first_owner(), "first-a=").await;

    let response = harness.handle(recorded_event()).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(
        harness.posts.to("first-a="),
        vec![expected_create(), expected_update(), expected_delete()]
    );
}

#[tokio::test]
async fn every_connection_of_the_owner_gets_each_message() {
    let harness = Harness::new().await;
    harness.connect(first_owner(), "first-a=").await;
    harness.connect(first_owner(), "first-b=").await;

    let response = harness.handle(recorded_event()).await;

    assert!(response.batch_item_failures.is_empty());
    for id in ["first-a=", "first-b="] {
        assert_eq!(
            harness.posts.to(id),
            vec![expected_create(), expected_update(), expected_delete()],
            "messages to {id}"
        );
    }
    assert_eq!(harness.posts.all().len(), 6);
}

#[tokio::test]
async fn the_counts_record_posts_nothing() {
    let harness = Harness::new().await;
    harness.connect(first_owner(), "first-a=").await;
    let counts_only = only(3);

    let response = harness.handle(counts_only).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(harness.posts.all(), vec![]);
}

#[tokio::test]
async fn the_other_owners_insert_goes_only_to_that_owners_connection() {
    let harness = Harness::new().await;
    harness.connect(first_owner(), "first-a=").await;
    harness.connect(second_owner(), "second-a=").await;

    let response = harness.handle(recorded_event()).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(harness.posts.to("second-a="), vec![expected_other_create()]);
    let first: Vec<Value> = harness.posts.to("first-a=");
    assert!(
        !first.contains(&expected_other_create()),
        "the first owner heard of the other's task: {first:?}"
    );
    assert_eq!(harness.posts.all().len(), 4);
}

#[tokio::test]
async fn records_of_an_owner_without_connections_post_nothing_and_do_not_fail() {
    let harness = Harness::new().await;
    harness.connect(UserId::new(), "someone-else=").await;

    let response = harness.handle(recorded_event()).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(harness.posts.all(), vec![]);
}

#[tokio::test]
async fn a_stale_connection_is_removed_and_fails_no_record() {
    let harness = Harness::new().await;
    harness.connect(first_owner(), STALE).await;
    harness.connect(first_owner(), "first-a=").await;
    harness.connect(second_owner(), "second-a=").await;

    let response = harness.handle(recorded_event()).await;

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(
        harness.connections_of(first_owner()).await,
        set(&["first-a="])
    );
    assert_eq!(
        harness
            .stores
            .connections
            .connection_owner(STALE)
            .await
            .unwrap(),
        None,
        "the reverse entry goes too"
    );
    assert_eq!(
        harness.posts.to(STALE),
        vec![expected_create()],
        "tried once, then forgotten"
    );
    assert_eq!(
        harness.posts.to("first-a="),
        vec![expected_create(), expected_update(), expected_delete()]
    );
    assert_eq!(harness.posts.to("second-a="), vec![expected_other_create()]);
}

#[tokio::test]
async fn a_broken_connection_fails_exactly_its_owners_records_by_sequence_number() {
    let harness = Harness::new().await;
    harness.connect(first_owner(), BROKEN).await;
    harness.connect(first_owner(), "first-a=").await;
    harness.connect(second_owner(), "second-a=").await;

    let response = harness.handle(recorded_event()).await;

    assert_eq!(
        failures(&response),
        SEQUENCE_NUMBERS[..3]
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>(),
        "records 1–3 fail; the counts record and the other owner's record do not"
    );
    assert_eq!(
        harness.connections_of(first_owner()).await,
        set(&[BROKEN, "first-a="]),
        "a 500 is no reason to forget a connection"
    );
    assert_eq!(
        harness.posts.to("first-a="),
        vec![expected_create(), expected_update(), expected_delete()],
        "the healthy connection of the same owner still hears every change"
    );
    assert_eq!(harness.posts.to("second-a="), vec![expected_other_create()]);
}

#[tokio::test]
async fn a_broken_connection_of_the_other_owner_fails_only_the_last_record() {
    let harness = Harness::new().await;
    harness.connect(first_owner(), "first-a=").await;
    harness.connect(second_owner(), BROKEN).await;

    let response = harness.handle(recorded_event()).await;

    assert_eq!(failures(&response), vec![SEQUENCE_NUMBERS[4].to_owned()]);
    assert_eq!(harness.posts.to("first-a=").len(), 3);
}

#[tokio::test]
async fn with_the_sdks_default_retries_a_broken_post_is_retried_then_reported() {
    let harness = Harness::with_retries(true).await;
    harness.connect(second_owner(), BROKEN).await;
    harness.connect(second_owner(), "second-a=").await;

    let response = harness.handle(only(4)).await;

    assert_eq!(failures(&response), vec![SEQUENCE_NUMBERS[4].to_owned()]);
    let attempts = harness.posts.to(BROKEN).len();
    assert!(
        attempts > 1,
        "a 500 is retried by the SDK ({attempts} attempt)"
    );
    assert_eq!(harness.posts.to("second-a="), vec![expected_other_create()]);
}

#[tokio::test]
async fn a_task_record_with_a_garbage_image_is_skipped_without_failing() {
    let harness = Harness::new().await;
    harness.connect(first_owner(), "first-a=").await;
    let mut event = recorded_event();
    event.records.insert(1, garbage_task_record());

    let response = harness.handle(event).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        harness.posts.to("first-a="),
        vec![expected_create(), expected_update(), expected_delete()],
        "the good records around it are delivered"
    );
}

#[tokio::test]
async fn the_response_serializes_as_lambda_expects() {
    let harness = Harness::new().await;
    harness.connect(second_owner(), BROKEN).await;

    let response = harness.handle(recorded_event()).await;

    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json,
        json!({ "batchItemFailures": [{ "itemIdentifier": SEQUENCE_NUMBERS[4] }] })
    );
    let empty = serde_json::to_value(DynamoDbEventResponse::default()).unwrap();
    assert_eq!(empty, json!({ "batchItemFailures": [] }));
}

#[tokio::test]
async fn an_expired_connection_gets_nothing() {
    let harness = Harness::new().await;
    let long_ago = Timestamp::now().plus_seconds(-3 * 3600);
    harness
        .stores
        .connections
        .add_connection(&Connection {
            id: "expired=".to_owned(),
            user_id: first_owner(),
            connected_at: long_ago,
            expires_at: long_ago.plus_seconds(3600),
        })
        .await
        .unwrap();

    let response = harness.handle(recorded_event()).await;

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(harness.posts.all(), vec![]);
}

#[tokio::test]
async fn a_burst_of_connections_of_one_owner_all_hear_the_insert() {
    let harness = Harness::new().await;
    let ids: Vec<String> = (0..40).map(|i| format!("burst-{i:02}=")).collect();
    for id in &ids {
        harness.connect(first_owner(), id).await;
    }
    let first_only = only(0);

    let response = harness.handle(first_only).await;

    assert!(response.batch_item_failures.is_empty());
    let mut by_connection: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (id, body) in harness.posts.all() {
        by_connection.entry(id).or_default().push(body);
    }
    let expected: BTreeMap<String, Vec<Value>> = ids
        .iter()
        .map(|id| (id.clone(), vec![expected_create()]))
        .collect();
    assert_eq!(by_connection, expected);
}
