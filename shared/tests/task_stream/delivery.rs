//! `Notifier::handle`: delivery to the owners' connections, 410 cleanup, partial batch failures.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::streams::DynamoDbEventResponse;
use serde_json::{Value, json};
use shared::domain::{Timestamp, UserId};
use shared::store::Connection;

use super::harness::*;

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
async fn a_410_from_a_connection_still_in_its_handshake_keeps_it_and_retries_the_record() {
    // API Gateway answers 410 until `$connect` has returned; the connection is recorded before.
    let harness = Harness::new().await;
    harness
        .connect_at(first_owner(), STALE, Timestamp::now())
        .await;

    let response = harness.handle(only(0)).await;

    assert_eq!(failures(&response), vec![SEQUENCE_NUMBERS[0].to_owned()]);
    assert_eq!(harness.posts.to(STALE), vec![expected_create()]);
    assert_eq!(
        harness.connections_of(first_owner()).await,
        set(&[STALE]),
        "a connection made seconds ago is not forgotten"
    );
}

/// A connection whose posts are refused as over a limit (on AWS, its client's buffer is full) is
/// closed and forgotten: its client reconnects and lists again. The record does not fail, so the
/// shard's other connections are not posted to again and again.
#[tokio::test]
async fn a_connection_over_a_limit_is_closed_and_forgotten_and_fails_nothing() {
    let harness = Harness::new().await;
    harness.connect(first_owner(), FULL).await;
    harness.connect(first_owner(), "first-a=").await;

    let response = harness.handle(recorded_event()).await;

    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(harness.closes.0.lock().unwrap().clone(), [FULL]);
    assert_eq!(
        harness.connections_of(first_owner()).await,
        set(&["first-a="])
    );
    assert_eq!(
        harness.posts.to(FULL),
        vec![expected_create()],
        "tried once, then closed"
    );
    assert_eq!(
        harness.posts.to("first-a="),
        vec![expected_create(), expected_update(), expected_delete()]
    );
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
            token_expires_at: long_ago.plus_seconds(3600),
            epoch: 0,
            sid: None,
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

#[tokio::test]
async fn connections_of_an_ended_session_or_an_expired_token_hear_nothing_and_are_closed() {
    let harness = Harness::new().await;
    let owner = testkit::events::ensure_user(&harness.stores, first_owner()).await;
    let mut ended = owner.clone();
    ended.version += 1;
    ended.session_epoch += 1;
    harness
        .stores
        .users
        .update_user(&owner, &ended)
        .await
        .expect("ending the first session");
    let made = Timestamp::now().plus_seconds(-60);
    let (valid, expired) = (made.plus_seconds(3600), made.plus_seconds(30));
    harness
        .connect_session(first_owner(), "current=", made, valid, 1)
        .await;
    harness
        .connect_session(first_owner(), "revoked=", made, valid, 0)
        .await;
    harness
        .connect_session(first_owner(), "lapsed=", made, expired, 1)
        .await;

    let response = harness.handle(only(0)).await;

    assert!(failures(&response).is_empty(), "{response:?}");
    let posted: Vec<String> = harness.posts.all().into_iter().map(|(id, _)| id).collect();
    assert_eq!(posted, ["current="]);
    let mut closed = harness.closes.0.lock().unwrap().clone();
    closed.sort();
    assert_eq!(closed, ["lapsed=", "revoked="]);
    assert_eq!(
        harness.connections_of(first_owner()).await,
        set(&["current="])
    );
}

#[tokio::test]
async fn near_its_deadline_a_batch_reports_the_record_it_is_on_and_every_later_one() {
    // The first owner's create, then the second owner's, whose connection never answers, then the
    // first owner's update and delete. The invocation has 3.5 s, of which the function keeps the
    // last second to answer Lambda: it stops waiting on the post at 2.5 s, before the SDK's 3 s
    // attempt timeout would fail it.
    let harness = Harness::new().await;
    harness.connect(first_owner(), "first-a=").await;
    harness.connect(second_owner(), SLOW).await;
    let mut event = recorded_event();
    event.records = [0, 4, 1, 2].map(|i| event.records[i].clone()).to_vec();
    let started = Instant::now();

    let response = harness
        .handle_by(event, SystemTime::now() + Duration::from_millis(3500))
        .await;

    let took = started.elapsed();
    assert!(took < Duration::from_millis(3500), "answered in {took:?}");
    assert_eq!(
        failures(&response),
        [4, 1, 2].map(|i| SEQUENCE_NUMBERS[i].to_owned()).to_vec()
    );
    assert_eq!(harness.posts.to("first-a="), vec![expected_create()]);
}

#[tokio::test]
async fn a_batch_with_no_time_left_reports_every_record() {
    let harness = Harness::new().await;
    harness.connect(first_owner(), "first-a=").await;

    let response = harness.handle_by(recorded_event(), SystemTime::now()).await;

    assert_eq!(
        failures(&response),
        SEQUENCE_NUMBERS.map(str::to_owned).to_vec()
    );
}
