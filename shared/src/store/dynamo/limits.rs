//! Throttle counters, in the users table: `LIMIT#<name>#<window end>` with `hits` and the TTL
//! attribute `expires_at` at the window's end. A hit is one `UpdateItem` (`ADD`, atomic, answering
//! the new count); reading a login's counters is one strongly consistent `BatchGetItem`.

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};

use super::error::store_error;
use super::{DynamoStore, Item, n, s};
use crate::store::{Counter, LimitStore, StoreError};

fn pk(counter: &Counter) -> String {
    format!("LIMIT#{}", counter.key())
}

fn hits(item: &Item) -> anyhow::Result<u64> {
    match item.get("hits") {
        None => Ok(0),
        Some(AttributeValue::N(hits)) => hits.parse().context("counter hits"),
        Some(other) => anyhow::bail!("counter hits is not a number: {other:?}"),
    }
}

#[async_trait]
impl LimitStore for DynamoStore {
    #[tracing::instrument(skip_all)]
    async fn counts(&self, counters: &[Counter]) -> Result<Vec<u64>, StoreError> {
        let mut keys: Vec<String> = counters.iter().map(pk).collect();
        keys.sort();
        keys.dedup(); // BatchGetItem refuses a key listed twice.
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let read = KeysAndAttributes::builder()
            .set_keys(Some(
                keys.into_iter()
                    .map(|key| Item::from([("pk".to_owned(), s(key))]))
                    .collect(),
            ))
            .consistent_read(true)
            .projection_expression("pk, hits")
            .build()
            .context("building batch read")?;
        let items = self
            .batch_get([(&self.users, read)], "reading throttle counters")
            .await?
            .remove(&self.users)
            .unwrap_or_default();
        counters
            .iter()
            .map(|counter| {
                let key = pk(counter);
                let found = items.iter().find(
                    |item| matches!(item.get("pk"), Some(AttributeValue::S(pk)) if *pk == key),
                );
                Ok(found.map(hits).transpose()?.unwrap_or(0))
            })
            .collect()
    }

    #[tracing::instrument(skip_all)]
    async fn hit(&self, counters: &[Counter]) -> Result<Vec<u64>, StoreError> {
        let hits = counters.iter().map(|counter| async move {
            let output = self
                .client
                .update_item()
                .table_name(&self.users)
                .key("pk", s(pk(counter)))
                .update_expression("ADD hits :one SET expires_at = :end")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":end", n(counter.window_end.unix()))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await
                .map_err(|e| store_error(e, "counting a throttle hit"))?;
            Ok::<_, StoreError>(hits(&output.attributes.unwrap_or_default())?)
        });
        futures::future::try_join_all(hits).await
    }
}
