//! The stream function's metrics line, as `task-stream` writes it around each batch
//! ([`shared::metrics::stream_batch`]): what the batch delivered, forgot, failed and skipped.
//! The only test of this binary that turns emitting on (the emitter is per process, and no other
//! test here runs an invocation).

use serde_json::Value;

use super::harness::*;

#[tokio::test]
async fn a_batch_counts_what_it_delivered_forgot_failed_and_skipped() {
    let captured = testkit::Captured::default();
    let namespace = "taskmaster/metrics-test".to_owned();
    shared::metrics::init_with_sink("task-stream", namespace, Box::new(captured.clone()));
    let harness = Harness::new().await;
    harness.connect(first_owner(), "first-a=").await;
    harness.connect(first_owner(), STALE).await;
    harness.connect(second_owner(), BROKEN).await;
    let mut event = recorded_event();
    event.records.push(garbage_task_record());
    let mut context = lambda_http::Context::default();
    context.request_id = "batch-1".to_owned();

    let response = shared::metrics::stream_batch(&context, harness.handle(event)).await;

    assert_eq!(
        failures(&response),
        [SEQUENCE_NUMBERS[4]],
        "the other owner's record"
    );
    let lines = captured.take_lines();
    let [line] = &lines[..] else {
        panic!("one line per batch: {lines:?}")
    };
    let counted = |name: &str| line.get(name).and_then(Value::as_u64);
    // The first owner's three changes to its live connection; the stale one got the first post,
    // was answered 410 and is forgotten (a post answered 410 is not a delivery).
    assert_eq!(counted("NotificationsDelivered"), Some(3));
    assert_eq!(counted("StaleConnectionsRemoved"), Some(1));
    assert_eq!(counted("RecordsFailed"), Some(1));
    assert_eq!(
        counted("RecordsSkipped"),
        Some(1),
        "the record that is no task"
    );
    assert_eq!(
        (counted("Requests"), line["Function"].as_str()),
        (Some(1), Some("task-stream"))
    );
    assert_eq!(line["requestId"], "batch-1");
    assert!(
        line.get("status").is_none() && line.get("Errors4xx").is_none(),
        "{line}"
    );
    let metric = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(metric["Namespace"], "taskmaster/metrics-test");
    let declared: Vec<(&str, &str)> = metric["Metrics"]
        .as_array()
        .expect("Metrics")
        .iter()
        .map(|m| (m["Name"].as_str().unwrap(), m["Unit"].as_str().unwrap()))
        .collect();
    for name in [
        "NotificationsDelivered",
        "StaleConnectionsRemoved",
        "RecordsFailed",
        "RecordsSkipped",
    ] {
        assert!(
            declared.contains(&(name, "Count")),
            "{name} declared: {declared:?}"
        );
    }
}
