//! The tasks stream's event source mapping, as CloudFormation receives it: the contract the
//! `task-stream` function's code relies on. Without `ReportBatchItemFailures`, Lambda ignores the
//! `batchItemFailures` the function answers and moves past undelivered changes without a retry,
//! a failure queue message or an alarm.

use serde_json::{Value, json};

use crate::{resources, target};

/// The logical id and properties of the stream's mapping.
fn named_mapping() -> (&'static str, &'static Value) {
    let mut mappings = resources().iter().filter(|(_, r)| {
        r["Type"] == "AWS::Lambda::EventSourceMapping"
            && target(&r["Properties"]["FunctionName"]) == "TaskStreamFunction"
    });
    let (Some((id, mapping)), None) = (mappings.next(), mappings.next()) else {
        panic!("the task-stream function needs exactly one event source mapping");
    };
    (id, &mapping["Properties"])
}

fn mapping() -> &'static Value {
    named_mapping().1
}

/// Stacks deployed when the mapping was the function's SAM event have it under SAM's name. Under
/// another one, CloudFormation would create the new mapping before deleting the old, and Lambda
/// refuses a second mapping of the same stream to the same function: the update would fail.
#[test]
fn the_stream_mapping_keeps_the_name_sam_gave_it() {
    assert_eq!(named_mapping().0, "TaskStreamFunctionTaskChanges");
}

#[test]
fn the_stream_mapping_honours_partial_batch_failures_and_gives_up_into_the_queue() {
    let props = mapping();
    assert_eq!(target(&props["EventSourceArn"]), "TasksTable");
    assert_eq!(props["EventSourceArn"]["Fn::GetAtt"][1], "StreamArn");
    assert_eq!(
        props["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    assert_eq!(props["BisectBatchOnFunctionError"], true);
    assert_eq!(props["MaximumRetryAttempts"], 5);
    assert_eq!(props["MaximumRecordAgeInSeconds"], 3600);
    assert_eq!(props["StartingPosition"], "LATEST");
    let destination = &props["DestinationConfig"]["OnFailure"]["Destination"];
    assert_eq!(target(destination), "TaskStreamFailures");
}

/// The filter passes task items and nothing else: the counts item shares the table, and the
/// function skips it anyway, but filtered out it costs no invocation.
#[test]
fn the_stream_mapping_passes_task_items_only() {
    let filters = mapping()["FilterCriteria"]["Filters"].as_array().unwrap();
    assert_eq!(filters.len(), 1);
    let pattern: Value = serde_json::from_str(filters[0]["Pattern"].as_str().unwrap()).unwrap();
    assert_eq!(
        pattern,
        json!({ "dynamodb": { "Keys": { "sk": { "S": [{ "prefix": "TASK#" }] } } } })
    );
}
