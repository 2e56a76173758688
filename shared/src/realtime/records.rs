//! DynamoDB stream records of task changes, exactly as the tasks table's stream carries them:
//! the embedded store emits these, so one stream function serves every host.

use std::collections::HashMap;

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{EventRecord, StreamRecord, StreamViewType};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::Task;
use crate::store::dynamo::task_item;

/// The stream record of one task write: `INSERT` (no `before`), `MODIFY`, or `REMOVE` (no `after`).
pub fn task_change_record(
    sequence: u64,
    before: Option<&Task>,
    after: Option<&Task>,
) -> anyhow::Result<EventRecord> {
    let image = |task: Option<&Task>| -> anyhow::Result<serde_dynamo::Item> {
        Ok(match task {
            Some(task) => serde_dynamo::Item::from(task_item(task)?),
            None => serde_dynamo::Item::from(HashMap::<String, AttributeValue>::new()),
        })
    };
    let task = after.or(before).context("a task change without a task")?;
    let mut keys = task_item(task)?;
    keys.retain(|name, _| name == "pk" || name == "sk");

    let mut change = StreamRecord::default();
    change.approximate_creation_date_time = chrono::Utc::now();
    change.keys = serde_dynamo::Item::from(keys);
    change.new_image = image(after)?;
    change.old_image = image(before)?;
    change.sequence_number = Some(format!("{sequence:021}"));
    change.stream_view_type = Some(StreamViewType::NewAndOldImages);

    let mut record = EventRecord::default();
    record.event_id = uuid::Uuid::new_v4().simple().to_string();
    record.event_name = match (before, after) {
        (None, Some(_)) => "INSERT",
        (Some(_), Some(_)) => "MODIFY",
        _ => "REMOVE",
    }
    .to_owned();
    record.event_source = Some("aws:dynamodb".to_owned());
    record.event_version = Some("1.1".to_owned());
    record.aws_region = "local".to_owned();
    record.change = change;
    Ok(record)
}
