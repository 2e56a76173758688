//! The production store: DynamoDB through `aws-sdk-dynamodb`, items mapped with `serde_dynamo`.
//!
//! Three tables, declared once in `template.yaml` (see `docs/DYNAMODB.md` for the model and the cost
//! of every endpoint):
//! - users (`pk`): `USER#<id>` the user; `USERNAME#<name>` and `EMAIL#<email>` uniqueness guards
//!   written in the same transaction as the user; `REFRESH#<jti>` refresh tokens, kept consumed
//!   after rotation (TTL); `LIMIT#<name>#<window end>` throttle counters (TTL);
//!   `IDEMPOTENCY#<owner>#<key>` a create's idempotency key (TTL).
//! - tasks (`pk`, `sk`): `USER#<uid>` / `TASK#<id>` a task, `USER#<uid>` / `COUNTS` the user's
//!   exact counts; LSIs `by_created` on `created_sk` and `by_status` on `status_sk` =
//!   `<STATUS>#<created>#<id>`.
//! - connections: the WebSocket connections, by user and by id.
//!
//! No Scan anywhere: every method is a fixed number of key reads and writes, or a Query of one
//! partition (paged through when it holds more than one page).

mod connections;
mod error;
mod import;
mod limits;
mod sessions;
mod stream;
mod tasks;
mod tokens;
mod users;

pub use stream::stream_record;
use tasks::task_item;

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem};

use self::error::{Failure, store_error, transaction_failure};
use super::StoreError;
use crate::config::{env, required_env};

type Item = HashMap<String, AttributeValue>;

/// Where the tables are.
///
/// | variable | meaning |
/// |---|---|
/// | `TASKMASTER_USERS_TABLE` | users table name (required) |
/// | `TASKMASTER_TASKS_TABLE` | tasks table name (required) |
/// | `TASKMASTER_CONNECTIONS_TABLE` | WebSocket connections table name (required) |
/// | `TASKMASTER_DYNAMODB_ENDPOINT` | endpoint override, e.g. DynamoDB Local (optional) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoConfig {
    pub users_table: String,
    pub tasks_table: String,
    pub connections_table: String,
    pub endpoint: Option<String>,
    /// The access key id the emulator at `endpoint` keeps these tables under (a DynamoDB Local
    /// the local server started itself, which keeps each key's tables apart); `None` on AWS, and
    /// for an emulator the environment's credentials (or dummy ones) reach.
    pub emulator_key: Option<String>,
}

impl DynamoConfig {
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            users_table: required_env("TASKMASTER_USERS_TABLE")?,
            tasks_table: required_env("TASKMASTER_TASKS_TABLE")?,
            connections_table: required_env("TASKMASTER_CONNECTIONS_TABLE")?,
            endpoint: env("TASKMASTER_DYNAMODB_ENDPOINT"),
            emulator_key: None,
        })
    }

    /// The SDK client: credentials and region from the environment, or for an endpoint override
    /// (DynamoDB Local) that endpoint with dummy credentials and region unless the environment
    /// sets real ones (see [`crate::aws::aws_sdk_config`]).
    pub fn client(&self) -> Client {
        let config = aws_sdk_dynamodb::config::Builder::from(&self.sdk_config())
            .retry_classifier(error::RetryCancelledTransactions)
            .interceptor(crate::aws::CallLog)
            .build();
        Client::from_conf(config)
    }

    /// A client for a command-line run (`import-django`, and the tests that read what it wrote)
    /// rather than for a request, with [`crate::retry::patient_timeout_config`].
    pub fn patient_client(&self) -> Client {
        let config = self.client().config().to_builder();
        Client::from_conf(
            config
                .timeout_config(crate::retry::patient_timeout_config())
                .build(),
        )
    }

    /// The AWS configuration of [`Self::client`], for other clients of the same endpoint
    /// (DynamoDB Streams).
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        match (&self.endpoint, &self.emulator_key) {
            (Some(endpoint), Some(key)) => crate::aws::emulator_sdk_config(endpoint, key),
            _ => crate::aws::aws_sdk_config(self.endpoint.as_deref(), self.endpoint.is_some()),
        }
    }
}

/// The DynamoDB store. Cheap to clone: the SDK client is shared.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    users: String,
    tasks: String,
    connections: String,
}

impl DynamoStore {
    pub fn new(client: Client, config: &DynamoConfig) -> Self {
        Self {
            client,
            users: config.users_table.clone(),
            tasks: config.tasks_table.clone(),
            connections: config.connections_table.clone(),
        }
    }

    /// Writes `items` as one transaction. The SDK sends it again when it was cancelled only by a
    /// conflict with another transaction or by throttling (see [`crate::retry`]).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), Failure> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(transaction_failure)
    }

    /// One `BatchGetItem` of the given reads, by table; the items found, by table (a table with
    /// none found is absent). Keys DynamoDB left unprocessed (it was throttled) are
    /// [`StoreError::Throttled`], never read as missing.
    async fn batch_get(
        &self,
        reads: impl IntoIterator<Item = (&String, KeysAndAttributes)>,
        what: &'static str,
    ) -> Result<HashMap<String, Vec<Item>>, StoreError> {
        let mut request = self.client.batch_get_item();
        for (table, keys) in reads {
            request = request.request_items(table, keys);
        }
        let output = request.send().await.map_err(|e| store_error(e, what))?;
        if output
            .unprocessed_keys
            .as_ref()
            .is_some_and(|keys| !keys.is_empty())
        {
            return Err(StoreError::Throttled);
        }
        Ok(output.responses.unwrap_or_default())
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// `serde_dynamo` mapping with the store's error type.
fn to_item<T: serde::Serialize>(value: &T) -> anyhow::Result<Item> {
    serde_dynamo::to_item(value).context("encoding item")
}

fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> anyhow::Result<T> {
    serde_dynamo::from_item(item).context("decoding item")
}

/// Builders for the items of a transaction.
mod tx {
    use aws_sdk_dynamodb::types::{
        ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure as OnFail,
        TransactWriteItem, Update,
    };

    use super::Item;

    /// Expression values and names.
    pub type Values = Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)>;
    pub type Names = Vec<(&'static str, &'static str)>;

    pub fn put(
        table: &str,
        item: Item,
        condition: Option<&str>,
        values: Values,
        names: Names,
    ) -> anyhow::Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(non_empty_values(values))
            .set_expression_attribute_names(non_empty_names(names))
            .return_values_on_condition_check_failure(OnFail::AllOld)
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub fn update(
        table: &str,
        key: Item,
        expression: &str,
        condition: Option<&str>,
        values: Values,
        names: Names,
    ) -> anyhow::Result<TransactWriteItem> {
        let update = Update::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(non_empty_values(values))
            .set_expression_attribute_names(non_empty_names(names))
            .return_values_on_condition_check_failure(OnFail::AllOld)
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub fn delete(
        table: &str,
        key: Item,
        condition: Option<&str>,
        values: Values,
        names: Names,
    ) -> anyhow::Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(table)
            .set_key(Some(key))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values(non_empty_values(values))
            .set_expression_attribute_names(non_empty_names(names))
            .return_values_on_condition_check_failure(OnFail::AllOld)
            .build()?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    pub fn check(
        table: &str,
        key: Item,
        condition: &str,
        values: Values,
        names: Names,
    ) -> anyhow::Result<TransactWriteItem> {
        let check = ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_values(non_empty_values(values))
            .set_expression_attribute_names(non_empty_names(names))
            .return_values_on_condition_check_failure(OnFail::AllOld)
            .build()?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    pub fn non_empty_values(values: Values) -> Option<Item> {
        (!values.is_empty()).then(|| values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    pub fn non_empty_names(names: Names) -> Option<std::collections::HashMap<String, String>> {
        (!names.is_empty()).then(|| {
            names
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
    }
}
