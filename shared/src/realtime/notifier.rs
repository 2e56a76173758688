//! The tasks table's stream function: each task change goes to every open connection of its
//! owner whose session is still live, as the REST API shows the task plus an `action`; the
//! others are closed. The same client closes a user's connections when its sessions end.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::required_env;
use crate::domain::{Ended, Task, TaskId, TaskView, Timestamp, UserId};
use crate::metrics::Counter;
use crate::store::{Connection, ConnectionStore, Stores, UserStore};

/// How many posts to one owner's connections are in flight at once.
const CONCURRENT_POSTS: usize = 16;

/// How long before its invocation's deadline a batch stops: the time left to answer Lambda with the
/// records not delivered yet, instead of timing out.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// How long after it was recorded a connection that answers 410 is still taken to be opening.
pub(super) const HANDSHAKE_GRACE: Duration = Duration::from_secs(10);

/// How long closing an ended session's connections may hold up the request that ended it (a
/// password change, logout-all): its change is committed by then, and a slow management API or
/// store must not turn its answer, with the new tokens, into a 503. Connections not closed by then
/// hear nothing (deliveries check the session) and are closed at the user's next task change.
pub const CLOSE_WITHIN: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Notifier {
    users: Arc<dyn UserStore>,
    connections: Arc<dyn ConnectionStore>,
    management: aws_sdk_apigatewaymanagement::Client,
}

/// The key attributes of a stream record.
#[derive(Deserialize)]
struct Keys {
    sk: String,
}

/// The message a stream record means for the task's owner, or `None` when the record is not a
/// task change (the counts item shares the table). Creates and updates carry the task as the
/// REST API returns it; a delete carries its id. Every message names the task, so clients can
/// drop the duplicates at-least-once delivery may bring.
pub fn message_of(record: &EventRecord) -> anyhow::Result<Option<(UserId, Value)>> {
    let change = &record.change;
    let keys: Keys = serde_dynamo::from_item(change.keys.clone()).context("reading record keys")?;
    if !keys.sk.starts_with("TASK#") {
        return Ok(None);
    }
    let task = |image: &serde_dynamo::Item| -> anyhow::Result<Task> {
        serde_dynamo::from_item(image.clone()).context("reading task image")
    };
    // DynamoDB Local names TTL deletions UNKNOWN_TO_SDK_VERSION: an old image alone is a removal.
    let removed = record.event_name == "REMOVE" || change.new_image.is_empty();
    if removed {
        #[derive(Deserialize)]
        struct Removed {
            id: TaskId,
            owner: UserId,
        }
        let removed: Removed =
            serde_dynamo::from_item(change.old_image.clone()).context("reading old image")?;
        return Ok(Some((
            removed.owner,
            json!({ "id": removed.id, "action": "task_delete" }),
        )));
    }
    let action = if record.event_name == "INSERT" {
        "task_create"
    } else {
        "task_update"
    };
    let task = task(&change.new_image)?;
    let owner = task.owner;
    let mut message = serde_json::to_value(TaskView::from(task))?;
    message["action"] = json!(action);
    Ok(Some((owner, message)))
}

impl Notifier {
    pub fn new(stores: &Stores, management: aws_sdk_apigatewaymanagement::Client) -> Self {
        Self {
            users: stores.users.clone(),
            connections: stores.connections.clone(),
            management,
        }
    }

    /// The management API client. On AWS (`local_key: None`) it signs with the function's role
    /// credentials from the environment. For the local emulator, `local_key` is that server run's
    /// secret, sent as the access key id, which the emulator checks: no other local program can
    /// post to, read or close a socket.
    pub fn management_client(
        endpoint: &str,
        local_key: Option<&str>,
    ) -> aws_sdk_apigatewaymanagement::Client {
        // Never sign for our own emulator with real credentials.
        let config = match local_key {
            Some(key) => crate::aws::emulator_sdk_config(endpoint, key),
            None => crate::aws::aws_sdk_config(Some(endpoint), false),
        };
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(&config)
            .interceptor(crate::aws::CallLog)
            .build();
        aws_sdk_apigatewaymanagement::Client::from_conf(config)
    }

    /// For a Lambda's cold start: the connections table and `TASKMASTER_WS_ENDPOINT`. The two
    /// clients are built side by side, the management API's on a runtime worker.
    pub async fn from_env() -> anyhow::Result<Self> {
        let endpoint = required_env("TASKMASTER_WS_ENDPOINT")?;
        let management = tokio::spawn(async move { Self::management_client(&endpoint, None) });
        let stores = Stores::from_env().await?;
        let management = management
            .await
            .context("building the management API client")?;
        Ok(Self::new(&stores, management))
    }

    /// Delivers the records of a stream batch, in order, and reports those it could not deliver
    /// (Lambda retries the batch from the first of them). A failed record does not hold back the
    /// later ones: other owners hear of their changes now, and again on the retry (clients
    /// de-duplicate), rather than only after the retries have isolated the failing record. Near
    /// the invocation's `deadline` it stops, and reports the record it was on and every later
    /// one: a timed-out invocation would fail the whole batch, delivered records included.
    #[tracing::instrument(skip_all, fields(records = event.records.len()))]
    pub async fn handle(&self, event: Event, deadline: SystemTime) -> DynamoDbEventResponse {
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(DEADLINE_MARGIN);
        let stop = tokio::time::Instant::now() + left;
        let mut response = DynamoDbEventResponse::default();
        let fail = |response: &mut DynamoDbEventResponse, record: &EventRecord| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
        };
        let mut records = event.records.iter();
        for record in records.by_ref() {
            match tokio::time::timeout_at(stop, self.deliver(record)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        event_id = record.event_id,
                        "delivery failed; record will be retried"
                    );
                    fail(&mut response, record);
                }
                Err(_) => {
                    tracing::warn!(
                        event_id = record.event_id,
                        left = records.len(),
                        "out of time; this record and the ones after it will be retried"
                    );
                    fail(&mut response, record);
                    break;
                }
            }
        }
        for record in records {
            fail(&mut response, record);
        }
        let failed = response.batch_item_failures.len() as u64;
        crate::metrics::count(Counter::RecordsFailed, failed);
        response
    }

    async fn deliver(&self, record: &EventRecord) -> anyhow::Result<()> {
        let (owner, message) = match message_of(record) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(()),
            Err(error) => {
                // Retrying cannot fix a record we cannot read, and failing it would hold up every
                // later change of the shard for an hour of retries: log it, count it, move on.
                crate::metrics::count(Counter::RecordsSkipped, 1);
                tracing::error!(
                    error = format!("{error:#}"),
                    event_id = record.event_id,
                    "unreadable task record skipped"
                );
                return Ok(());
            }
        };
        // The owner's epoch is read beside the connections, strongly consistently: a session
        // ended a moment ago hears nothing.
        let (user, connections) = tokio::try_join!(
            async { self.users.user(owner).await.context("reading owner") },
            async {
                let listed = self.connections.connections_of(owner).await;
                listed.context("listing connections")
            },
        )?;
        let now = Timestamp::now();
        let (live, ended): (Vec<_>, Vec<_>) = connections.into_iter().partition(|connection| {
            user.as_ref()
                .is_some_and(|user| connection.is_live(now, user))
        });
        // One that stays open hears nothing either: it is not posted to.
        futures::stream::iter(ended)
            .for_each_concurrent(CONCURRENT_POSTS, |connection| async {
                self.close(connection).await;
            })
            .await;
        let body = message.to_string().into_bytes();
        let posts = live.len();
        let failures = futures::stream::iter(live)
            .map(|connection| self.post(connection, body.clone()))
            .buffer_unordered(CONCURRENT_POSTS)
            .filter_map(|result| async move { result.err() })
            .collect::<Vec<_>>()
            .await;
        let failed = failures.len();
        match failures.into_iter().next() {
            None => Ok(()),
            Some(first) => {
                Err(first.context(format!("{failed} of {posts} posts failed; the first")))
            }
        }
    }

    /// Closes every open connection of `user` whose session `ended` (a logout, a refresh-token
    /// replay, a password change, logout everywhere), for at most [`CLOSE_WITHIN`]. Failures are
    /// logged: the delivery check refuses those connections anyway. Answers whether every such
    /// connection was closed (or already gone).
    pub async fn close_ended(&self, user: UserId, ended: Ended) -> bool {
        let closing = async {
            match self.connections.connections_of(user).await {
                Ok(connections) => {
                    let left_open = futures::stream::iter(
                        connections.into_iter().filter(|c| ended.ends(&c.session())),
                    )
                    .map(|connection| self.close(connection))
                    .buffer_unordered(CONCURRENT_POSTS)
                    .filter(|closed| std::future::ready(!closed))
                    .count()
                    .await;
                    left_open == 0
                }
                Err(error) => {
                    tracing::warn!(error = %error, "could not list connections to close");
                    false
                }
            }
        };
        tokio::time::timeout(CLOSE_WITHIN, closing)
            .await
            .unwrap_or_else(|_| {
                tracing::warn!(
                    within_ms = CLOSE_WITHIN.as_millis() as u64,
                    "closing the ended session's connections stopped: the rest close at the next change"
                );
                false
            })
    }

    /// Closes one connection (`DeleteConnection`; one already gone is fine) and forgets it;
    /// answers whether it is closed.
    async fn close(&self, connection: Connection) -> bool {
        let id = connection.id;
        let closed = self
            .management
            .delete_connection()
            .connection_id(&id)
            .send()
            .await;
        if let Err(error) = closed
            && !error
                .as_service_error()
                .is_some_and(|e| e.is_gone_exception())
        {
            tracing::warn!(error = %error, "could not close a connection");
            return false;
        }
        tracing::debug!(connection_id = id, "connection closed");
        if let Err(error) = self
            .connections
            .remove_connection(connection.user_id, &id)
            .await
        {
            tracing::warn!(error = %error, "could not forget a closed connection");
        }
        true
    }

    /// Posts to one connection; a connection that is gone (410) is forgotten, not an error. A
    /// connection younger than [`HANDSHAKE_GRACE`] is kept and the post fails, so the record is
    /// retried: API Gateway answers 410 until `$connect` has returned, and the connection is
    /// recorded just before that. A post refused as over a limit (`LimitExceededException`, after
    /// the SDK's own retries: its client's buffer is full, or the API's rate is spent) closes the
    /// connection: its client reconnects and lists its tasks again, as after any close, instead of
    /// the record failing over and over for every connection of the shard.
    async fn post(&self, connection: Connection, body: Vec<u8>) -> anyhow::Result<()> {
        let id = connection.id.clone();
        let sent = self
            .management
            .post_to_connection()
            .connection_id(&id)
            .data(Blob::new(body))
            .send()
            .await;
        match sent {
            Ok(_) => {
                crate::metrics::count(Counter::NotificationsDelivered, 1);
                Ok(())
            }
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_gone_exception()) =>
            {
                let age = Timestamp::now().unix() - connection.connected_at.unix();
                if age < HANDSHAKE_GRACE.as_secs().cast_signed() {
                    // The id stays out of the error, which is logged at WARN: it is a capability.
                    tracing::debug!(connection_id = id, "410 from a connection still opening");
                    anyhow::bail!("a connection still opening answered 410 (at {age} s); kept");
                }
                tracing::debug!(connection_id = id, "connection gone; forgetting it");
                match self
                    .connections
                    .remove_connection(connection.user_id, &id)
                    .await
                {
                    Ok(()) => crate::metrics::count(Counter::StaleConnectionsRemoved, 1),
                    Err(error) => {
                        tracing::warn!(error = %error, "could not forget a gone connection");
                        tracing::debug!(connection_id = id, "the connection not forgotten");
                    }
                }
                Ok(())
            }
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_limit_exceeded_exception()) =>
            {
                tracing::warn!(error = %error, "a post refused as over a limit: closing its connection");
                tracing::debug!(connection_id = id, "over a limit; closing it");
                if self.close(connection).await {
                    crate::metrics::count(Counter::ConnectionsCutOff, 1);
                    Ok(())
                } else {
                    anyhow::bail!("a connection over a limit could not be closed")
                }
            }
            Err(error) => {
                tracing::debug!(connection_id = id, "posting failed");
                Err(anyhow::Error::new(error).context("posting to a connection"))
            }
        }
    }
}
