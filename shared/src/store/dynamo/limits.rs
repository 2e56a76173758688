//! Throttle counters, in the users table: `LIMIT#<name>#<window end>` with the string sets
//! `hit_ids` and `settled_ids`, and the TTL attribute `expires_at` at the window's end. Counting a
//! hit is one `UpdateItem` (`ADD` its id, atomic, answering the new sets), and so are taking it
//! back (`DELETE` its id) and settling it (`ADD` its id to `settled_ids`). A set keeps an id once,
//! so a write the SDK sends again after a lost or late answer changes nothing more. A count whose
//! call failed is taken back into `failed_ids` as well, which a late send of it is refused by.
//!
//! Older builds kept the numbers `hits` and `settled`, and a resent `ADD` counted an attempt
//! twice. The sets have other names, so an item such a build wrote during a deploy is read as no
//! hits, never as the wrong type, and its window's TTL takes it.

use anyhow::Context;
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::store_error;
use super::{DynamoStore, Item, n, s};
use crate::store::{Count, HitId, LimitCounter, LimitStore, StoreError};

fn pk(counter: &LimitCounter) -> String {
    format!("LIMIT#{}", counter.key())
}

/// How many ids the set `name` of a counter's item holds; absent is none.
fn members(item: &Item, name: &str) -> anyhow::Result<u64> {
    match item.get(name) {
        None => Ok(0),
        Some(AttributeValue::Ss(ids)) => u64::try_from(ids.len()).context(name.to_owned()),
        Some(other) => anyhow::bail!("counter {name} is not a string set: {other:?}"),
    }
}

impl DynamoStore {
    /// The `UpdateItem` applying `action` (`ADD` or `DELETE` of `:hit`, one set) to `counter`, and
    /// setting the window's end again (an item its TTL already took is not left without one).
    fn counter_update(
        &self,
        counter: &LimitCounter,
        hit: &HitId,
        action: &str,
    ) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.users)
            .key("pk", s(pk(counter)))
            .update_expression(format!("{action} SET expires_at = :end"))
            .expression_attribute_values(":hit", AttributeValue::Ss(vec![hit.as_str().to_owned()]))
            .expression_attribute_values(":end", n(counter.window_end.unix()))
    }

    /// Applies `action` to each of `counters` at once; fails if any fails.
    async fn count_all(
        &self,
        counters: &[LimitCounter],
        hit: &HitId,
        action: &str,
        doing: &'static str,
    ) -> Result<(), StoreError> {
        let writes = counters.iter().map(|counter| async move {
            self.counter_update(counter, hit, action)
                .send()
                .await
                .map_err(|e| store_error(e, doing))
        });
        futures::future::try_join_all(writes).await?;
        Ok(())
    }
}

#[async_trait]
impl LimitStore for DynamoStore {
    #[tracing::instrument(skip_all)]
    async fn hit(&self, counters: &[LimitCounter], hit: &HitId) -> Result<Vec<Count>, StoreError> {
        let hits = counters.iter().map(|counter| async move {
            let output = self
                .counter_update(counter, hit, "ADD hit_ids :hit")
                .condition_expression("NOT contains(failed_ids, :id)")
                .expression_attribute_values(":id", s(hit.as_str().to_owned()))
                .return_values(ReturnValue::AllNew)
                .send()
                .await
                .map_err(|e| store_error(e, "counting a throttle hit"))?;
            let item = output.attributes.unwrap_or_default();
            Ok::<_, StoreError>(Count {
                hits: members(&item, "hit_ids")?,
                settled: members(&item, "settled_ids")?,
            })
        });
        // Every counter or none: on a failure every one is taken back, the failed ones too (a
        // write whose answer never came may have landed, or may land yet, queued behind a
        // stall), else they would hold places under the limit until the window ends (the
        // embedded store writes all of them in one transaction). The id is kept as failed too,
        // so a send of the count that lands after the taking back (sends queued behind a stall
        // land in any order) fails its condition instead of counting again.
        let counted = futures::future::join_all(hits).await;
        if counted.iter().any(Result::is_err) {
            let failed = "ADD failed_ids :hit DELETE hit_ids :hit";
            let undone = self.count_all(counters, hit, failed, "taking back a failed throttle hit");
            if let Err(undone) = undone.await {
                tracing::warn!(error = %undone, "a failed count not taken back");
            }
        }
        counted.into_iter().collect()
    }

    #[tracing::instrument(skip_all)]
    async fn unhit(&self, counters: &[LimitCounter], hit: &HitId) -> Result<(), StoreError> {
        self.count_all(
            counters,
            hit,
            "DELETE hit_ids :hit",
            "taking back a throttle hit",
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn settle(&self, counters: &[LimitCounter], hit: &HitId) -> Result<(), StoreError> {
        self.count_all(
            counters,
            hit,
            "ADD settled_ids :hit",
            "settling a throttle hit",
        )
        .await
    }
}
