//! Throttle counters, in the users table: `LIMIT#<name>#<window end>` with `hits`, `settled` and
//! the TTL attribute `expires_at` at the window's end. A hit is one `UpdateItem` (`ADD`, atomic,
//! answering the new counts), and so are taking one back (`ADD -1`, on condition that the count
//! is above zero) and settling one (`ADD settled`).

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::{ConditionalError, Failure, store_error};
use super::{DynamoStore, Item, n, s};
use crate::store::{Count, LimitCounter, LimitStore, StoreError};

fn pk(counter: &LimitCounter) -> String {
    format!("LIMIT#{}", counter.key())
}

/// The number `name` of a counter's item; absent is zero.
fn number(item: &Item, name: &str) -> anyhow::Result<u64> {
    match item.get(name) {
        None => Ok(0),
        Some(AttributeValue::N(value)) => value.parse().with_context(|| format!("counter {name}")),
        Some(other) => anyhow::bail!("counter {name} is not a number: {other:?}"),
    }
}

impl DynamoStore {
    /// The `UpdateItem` adding one to `counter`'s `attribute`, and setting the window's end again
    /// (an item its TTL already took is not left without one).
    fn add_one(&self, counter: &LimitCounter, attribute: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.users)
            .key("pk", s(pk(counter)))
            .update_expression(format!("ADD {attribute} :one SET expires_at = :end"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":end", n(counter.window_end.unix()))
    }
}

#[async_trait]
impl LimitStore for DynamoStore {
    #[tracing::instrument(skip_all)]
    async fn hit(&self, counters: &[LimitCounter]) -> Result<Vec<Count>, StoreError> {
        let hits = counters.iter().map(|counter| async move {
            let output = self
                .add_one(counter, "hits")
                .return_values(ReturnValue::AllNew)
                .send()
                .await
                .map_err(|e| store_error(e, "counting a throttle hit"))?;
            let item = output.attributes.unwrap_or_default();
            Ok::<_, StoreError>(Count {
                hits: number(&item, "hits")?,
                settled: number(&item, "settled")?,
            })
        });
        // Every counter or none: a failed one's partners are taken back, else their counts would
        // hold a place under the limit until the window ends (the embedded store writes all of
        // them in one transaction).
        let counted = futures::future::join_all(hits).await;
        if counted.iter().any(Result::is_err) {
            let made: Vec<LimitCounter> = counters
                .iter()
                .zip(&counted)
                .filter(|(_, count)| count.is_ok())
                .map(|(counter, _)| counter.clone())
                .collect();
            if let Err(undone) = self.unhit(&made).await {
                tracing::warn!(error = %undone, "a partly counted attempt not taken back");
            }
        }
        counted.into_iter().collect()
    }

    #[tracing::instrument(skip_all)]
    async fn unhit(&self, counters: &[LimitCounter]) -> Result<(), StoreError> {
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

    #[tracing::instrument(skip_all)]
    async fn settle(&self, counters: &[LimitCounter]) -> Result<(), StoreError> {
        let settles = counters.iter().map(|counter| async move {
            self.add_one(counter, "settled")
                .send()
                .await
                .map_err(|e| store_error(e, "settling a throttle hit"))
        });
        futures::future::try_join_all(settles).await?;
        Ok(())
    }
}
