//! Throttle counters, in the users table: `LIMIT#<name>#<window end>` with `hits` and the TTL
//! attribute `expires_at` at the window's end. A hit is one `UpdateItem` (`ADD`, atomic, answering
//! the new count), and so is taking one back (`ADD -1`, on condition that the count is above
//! zero).

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::{ConditionalError, Failure, store_error};
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

    #[tracing::instrument(skip_all)]
    async fn unhit(&self, counters: &[Counter]) -> Result<(), StoreError> {
        let takes = counters.iter().map(|counter| async move {
            let result = self
                .client
                .update_item()
                .table_name(&self.users)
                .key("pk", s(pk(counter)))
                .update_expression("ADD hits :less")
                .condition_expression("hits > :zero")
                .expression_attribute_values(":less", n(-1))
                .expression_attribute_values(":zero", n(0))
                .send()
                .await;
            match result.map_err(|e| UpdateItemError::classify(e, "taking back a throttle hit")) {
                // Already at zero, or gone with its window: nothing to take back.
                Ok(_) | Err(Failure::Condition { .. }) => Ok(()),
                Err(other) => Err(StoreError::from(other)),
            }
        });
        futures::future::try_join_all(takes).await?;
        Ok(())
    }
}
