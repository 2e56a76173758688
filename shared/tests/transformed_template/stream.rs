//! The tasks stream's event source mapping, as CloudFormation receives it: the contract the
//! `task-stream` function's code relies on. Without `ReportBatchItemFailures`, Lambda ignores the
//! `batchItemFailures` the function answers and moves past undelivered changes without a retry,
//! a failure queue message or an alarm.

use serde_json::{Value, json};

use crate::{resources, target};

fn mapping() -> &'static Value {
    let mut mappings = resources().values().filter(|r| {
        r["Type"] == "AWS::Lambda::EventSourceMapping"
            && target(&r["Properties"]["FunctionName"]) == "TaskStreamFunction"
    });
    let (Some(mapping), None) = (mappings.next(), mappings.next()) else {
        panic!("the task-stream function needs exactly one event source mapping");
    };
    &mapping["Properties"]
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
