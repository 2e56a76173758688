//! `message_of`: which message each record of the recorded event means.

use std::collections::BTreeSet;

use serde_json::Value;
use shared::domain::UserId;
use shared::realtime::message_of;

use super::harness::*;

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

#[test]
fn message_of_reports_a_task_key_with_an_unreadable_image_as_an_error() {
    assert!(message_of(&garbage_task_record()).is_err());
}
