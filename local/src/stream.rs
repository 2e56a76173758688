//! The local stand-in for Lambda's stream event source: task changes reach the stream function
//! (`shared::realtime::Notifier`) in batches, in order, and failed records are retried.
//! The embedded store pushes its changes; on DynamoDB Local the tasks table's stream is polled.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord, StreamViewType};
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use shared::domain::TaskChange;
use shared::realtime::Notifier;
use shared::store::dynamo::stream_record;
use testkit::schema::{StreamSource, TEMPLATE, stream_source};
use tokio::sync::mpsc::UnboundedReceiver;

/// How the deployed stack's event source mapping hands the stream to the function (`BatchSize`,
/// `MaximumRetryAttempts`, the function's `Timeout`), read from the compiled-in template.
static SOURCE: LazyLock<StreamSource> = LazyLock::new(|| {
    stream_source(TEMPLATE, "TaskStreamFunction")
        .expect("template.yaml gives TaskStreamFunction an event source mapping and a Timeout")
});
/// The most records one `GetRecords` answers (a batch may be bigger, up to 10,000).
const GET_RECORDS_MAX: usize = 1000;
/// Pause between polls of an idle stream.
const POLL: Duration = Duration::from_millis(50);

/// Feeds the embedded store's committed changes to the stream function, as the DynamoDB stream
/// records the tasks table would carry for them.
pub async fn drive_embedded(mut changes: UnboundedReceiver<TaskChange>, notifier: Notifier) {
    while let Some(first) = changes.recv().await {
        let mut batch = vec![first];
        while batch.len() < SOURCE.batch_size {
            match changes.try_recv() {
                Ok(change) => batch.push(change),
                Err(_) => break,
            }
        }
        let records = batch
            .iter()
            .filter_map(|change| {
                stream_record(change)
                    .inspect_err(
                        |e| tracing::error!(error = %e, "a task change without a stream record"),
                    )
                    .ok()
            })
            .collect();
        deliver(&notifier, records).await;
    }
}

/// Hands a batch to the stream function, with the template's `Timeout` as its deadline, and
/// retries it as Lambda does a stream batch with `ReportBatchItemFailures`: from the first record
/// it reports as failed (records after it come again even if they were delivered), or whole when
/// a report names no record of the batch.
async fn deliver(notifier: &Notifier, mut records: Vec<EventRecord>) {
    for attempt in 1..=SOURCE.attempts {
        let mut event = Event::default();
        event.records = records.clone();
        let response = notifier
            .handle(event, SystemTime::now() + SOURCE.timeout)
            .await;
        let failed: Vec<Option<String>> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        if failed.is_empty() {
            return;
        }
        keep_from_first_failed(&mut records, &failed);
        if attempt < SOURCE.attempts {
            tokio::time::sleep(retry_pause(attempt)).await;
        }
    }
    tracing::error!(
        records = records.len(),
        attempts = SOURCE.attempts,
        "task changes dropped after their last attempt"
    );
}

/// How long the retry after failed attempt `attempt` (from 1) waits: doubling from half a second,
/// at most 5 s. Lambda does not document its pace; this one spreads the template's retries over
/// 12.5 s, so a DynamoDB Local restarted under a running server (seconds) costs no change its
/// notification, where retries 100 ms apart gave the changes up within the outage.
fn retry_pause(attempt: u32) -> Duration {
    let doubled = 500u64.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    Duration::from_millis(doubled.min(5_000))
}

/// What Lambda sends again after a batch reported `failed`: the batch from its first record named
/// there, or all of it when none is.
fn keep_from_first_failed(records: &mut Vec<EventRecord>, failed: &[Option<String>]) {
    let first = records
        .iter()
        .position(|record| failed.contains(&record.change.sequence_number));
    records.drain(..first.unwrap_or(0));
}

/// A shard being read: its iterator (None once closed and drained) and the last record seen.
struct Shard {
    iterator: Option<String>,
    last_sequence: Option<String>,
}

/// The tasks table's stream on DynamoDB Local, read like Lambda's event source mapping.
pub struct DynamoDbStream {
    streams: aws_sdk_dynamodbstreams::Client,
    arn: String,
    shards: HashMap<String, Shard>,
}

impl DynamoDbStream {
    /// Opens the stream of `table` positioned after every record already in it, so only changes
    /// from now on are delivered. (DynamoDB Local refuses `LATEST` iterators on an empty shard,
    /// so the history is read from `TRIM_HORIZON` and skipped.) Call before serving requests.
    pub async fn open(
        dynamodb: &aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        table: &str,
    ) -> anyhow::Result<Self> {
        let description = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .context("describing tasks table")?;
        let arn = description
            .table
            .and_then(|t| t.latest_stream_arn)
            .context("the tasks table has no stream")?;
        let mut stream = Self {
            streams,
            arn,
            shards: HashMap::new(),
        };
        stream.discover_shards().await?;
        let ids: Vec<String> = stream.shards.keys().cloned().collect();
        for id in ids {
            while let Some(records) = stream.read(&id).await? {
                if records.is_empty() {
                    break;
                }
            }
        }
        Ok(stream)
    }

    /// Delivers every new record to the stream function, forever.
    pub async fn run(mut self, notifier: Notifier) {
        let mut since_discovery = Duration::ZERO;
        loop {
            if since_discovery >= Duration::from_secs(2) {
                if let Err(error) = self.discover_shards().await {
                    tracing::warn!(error = format!("{error:#}"), "listing stream shards");
                }
                since_discovery = Duration::ZERO;
            }
            let mut got_records = false;
            let ids: Vec<String> = self.shards.keys().cloned().collect();
            for id in ids {
                match self.read(&id).await {
                    Ok(Some(records)) if !records.is_empty() => {
                        got_records = true;
                        deliver(&notifier, records).await;
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(
                        error = format!("{error:#}"),
                        shard = id,
                        "reading the stream"
                    ),
                }
            }
            if !got_records {
                tokio::time::sleep(POLL).await;
                since_discovery = since_discovery.saturating_add(POLL);
            }
        }
    }

    /// Adds shards not seen before, read from their beginning (new shards hold only new records).
    async fn discover_shards(&mut self) -> anyhow::Result<()> {
        for id in shards(&self.streams, &self.arn).await? {
            if !self.shards.contains_key(&id) {
                let iterator = self
                    .iterator(&id, ShardIteratorType::TrimHorizon, None)
                    .await?;
                self.shards.insert(
                    id,
                    Shard {
                        iterator,
                        last_sequence: None,
                    },
                );
            }
        }
        Ok(())
    }

    async fn iterator(
        &self,
        shard: &str,
        kind: ShardIteratorType,
        after: Option<String>,
    ) -> anyhow::Result<Option<String>> {
        let output = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.arn)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .set_sequence_number(after)
            .send()
            .await
            .context("getting a shard iterator")?;
        Ok(output.shard_iterator)
    }

    /// The next records of a shard; `None` once it is closed and drained. An expired or trimmed
    /// iterator is replaced by one just after the last record seen.
    async fn read(&mut self, id: &str) -> anyhow::Result<Option<Vec<EventRecord>>> {
        let Some(shard) = self.shards.get(id) else {
            return Ok(None);
        };
        let Some(iterator) = shard.iterator.clone() else {
            return Ok(None);
        };
        let output = match self
            .streams
            .get_records()
            .shard_iterator(iterator)
            .limit(i32::try_from(SOURCE.batch_size.min(GET_RECORDS_MAX)).unwrap_or(i32::MAX))
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                let stale = error.as_service_error().is_some_and(|e| {
                    e.is_expired_iterator_exception() || e.is_trimmed_data_access_exception()
                });
                if !stale {
                    return Err(anyhow::Error::new(error).context("reading records"));
                }
                let last = shard.last_sequence.clone();
                let kind = if last.is_some() {
                    ShardIteratorType::AfterSequenceNumber
                } else {
                    ShardIteratorType::TrimHorizon
                };
                let fresh = self.iterator(id, kind, last).await?;
                if let Some(shard) = self.shards.get_mut(id) {
                    shard.iterator = fresh;
                }
                return Ok(Some(Vec::new()));
            }
        };
        let records = output.records.unwrap_or_default();
        let shard = self.shards.get_mut(id).context("shard vanished")?;
        shard.iterator = output.next_shard_iterator;
        if let Some(last) = records
            .last()
            .and_then(|r| r.dynamodb.as_ref())
            .and_then(|d| d.sequence_number.clone())
        {
            shard.last_sequence = Some(last);
        }
        Ok(Some(records.into_iter().map(event_record).collect()))
    }
}

async fn shards(
    streams: &aws_sdk_dynamodbstreams::Client,
    arn: &str,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let output = streams
            .describe_stream()
            .stream_arn(arn)
            .set_exclusive_start_shard_id(start.clone())
            .send()
            .await
            .context("describing the stream")?;
        let description = output.stream_description.context("no stream description")?;
        ids.extend(
            description
                .shards
                .unwrap_or_default()
                .into_iter()
                .filter_map(|shard| shard.shard_id),
        );
        match description.last_evaluated_shard_id {
            Some(last) => start = Some(last),
            None => return Ok(ids),
        }
    }
}

/// A DynamoDB Streams record as Lambda delivers it.
fn event_record(record: Record) -> EventRecord {
    let mut event = EventRecord::default();
    event.event_id = record.event_id.unwrap_or_default();
    event.event_name = record
        .event_name
        .map(|name| name.as_str().to_owned())
        .unwrap_or_default();
    event.event_version = record.event_version;
    event.event_source = record.event_source;
    event.aws_region = record.aws_region.unwrap_or_default();
    if let Some(change) = record.dynamodb {
        let mut stream = StreamRecord::default();
        stream.keys = change.keys.unwrap_or_default().into();
        stream.new_image = change.new_image.unwrap_or_default().into();
        stream.old_image = change.old_image.unwrap_or_default().into();
        stream.sequence_number = change.sequence_number;
        stream.size_bytes = change.size_bytes.unwrap_or_default();
        stream.stream_view_type = Some(StreamViewType::NewAndOldImages);
        if let Some(created) = change.approximate_creation_date_time {
            stream.approximate_creation_date_time =
                chrono::DateTime::from_timestamp(created.secs(), created.subsec_nanos())
                    .unwrap_or_default();
        }
        event.change = stream;
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_half_a_second_to_five_and_outlast_a_restart() {
        let pauses: Vec<u128> = (1..=6).map(|n| retry_pause(n).as_millis()).collect();
        assert_eq!(pauses, [500, 1000, 2000, 4000, 5000, 5000]);
        let retries = SOURCE.attempts - 1;
        let waited: Duration = (1..=retries).map(retry_pause).sum();
        assert!(
            waited >= Duration::from_secs(10),
            "{retries} retries: {waited:?}"
        );
        assert_eq!(retry_pause(u32::MAX), Duration::from_secs(5));
    }

    fn batch(numbers: &[&str]) -> Vec<EventRecord> {
        numbers
            .iter()
            .map(|number| {
                let mut record = EventRecord::default();
                record.change.sequence_number = Some((*number).to_owned());
                record
            })
            .collect()
    }

    fn numbers(records: &[EventRecord]) -> Vec<&str> {
        records
            .iter()
            .filter_map(|r| r.change.sequence_number.as_deref())
            .collect()
    }

    #[test]
    fn a_batch_is_retried_from_its_first_failed_record_delivered_ones_after_it_too() {
        let mut records = batch(&["1", "2", "3", "4"]);
        keep_from_first_failed(&mut records, &[Some("4".into()), Some("2".into())]);
        assert_eq!(numbers(&records), ["2", "3", "4"]);
    }

    #[test]
    fn a_report_naming_no_record_of_the_batch_retries_it_whole() {
        let mut records = batch(&["1", "2"]);
        keep_from_first_failed(&mut records, &[Some("9".into()), None]);
        assert_eq!(numbers(&records), ["1", "2"]);
    }
}
