//! The DynamoDB stream codec: a task change as the tasks table's stream carries it. The local
//! server turns the embedded store's changes into these, so one stream function serves every host.

use std::collections::HashMap;

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{EventRecord, StreamRecord, StreamViewType};
use aws_sdk_dynamodb::types::AttributeValue;

use super::task_item;
use crate::domain::{Task, TaskChange};

/// The stream record of one task write: `INSERT` (no `before`), `MODIFY`, or `REMOVE` (no `after`).
pub fn stream_record(change: &TaskChange) -> anyhow::Result<EventRecord> {
    let (before, after) = (change.before.as_ref(), change.after.as_ref());
    let image = |task: Option<&Task>| -> anyhow::Result<serde_dynamo::Item> {
        Ok(match task {
            Some(task) => serde_dynamo::Item::from(task_item(task)?),
            None => serde_dynamo::Item::from(HashMap::<String, AttributeValue>::new()),
        })
    };
    let task = after.or(before).context("a task change without a task")?;
    let mut keys = task_item(task)?;
    keys.retain(|name, _| name == "pk" || name == "sk");

    let mut stream = StreamRecord::default();
    stream.approximate_creation_date_time = chrono::Utc::now();
    stream.keys = serde_dynamo::Item::from(keys);
    stream.new_image = image(after)?;
    stream.old_image = image(before)?;
    stream.sequence_number = Some(format!("{:021}", change.sequence));
    stream.stream_view_type = Some(StreamViewType::NewAndOldImages);

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
    record.change = stream;
    Ok(record)
}
