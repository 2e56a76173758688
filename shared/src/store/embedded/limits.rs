//! Throttle counters: `<window end, 20 digits>#<name>` → hits, and the same key → settled hits
//! in a table of its own. Keys sort by the end of their window, so each hit sweeps the windows
//! that have ended with one range delete per table.

use async_trait::async_trait;
use redb::{ReadableTable, TableDefinition};

use super::{Ctx, EmbeddedStore};
use crate::domain::Timestamp;
use crate::store::{Count, Counter, LimitStore, StoreError};

pub(super) const LIMITS: TableDefinition<&str, u64> = TableDefinition::new("limits");
pub(super) const SETTLED: TableDefinition<&str, u64> = TableDefinition::new("limits_settled");

/// The key of `counter`: ordered by its window's end.
fn key(counter: &Counter) -> String {
    format!("{:020}#{}", counter.window_end.unix().max(0), counter.name)
}

#[async_trait]
impl LimitStore for EmbeddedStore {
    async fn hit(&self, counters: &[Counter]) -> Result<Vec<Count>, StoreError> {
        let keys: Vec<String> = counters.iter().map(key).collect();
        self.write(move |tx| {
            let mut limits = tx.open_table(LIMITS).ctx("opening limits")?;
            let mut settled = tx.open_table(SETTLED).ctx("opening settled limits")?;
            // Every key of a window that ended at or before now sorts below this bound.
            let ended = format!("{:020}", Timestamp::now().unix().max(0) + 1);
            limits
                .retain_in(..ended.as_str(), |_, _| false)
                .ctx("sweeping ended windows")?;
            settled
                .retain_in(..ended.as_str(), |_, _| false)
                .ctx("sweeping ended windows")?;
            keys.iter()
                .map(|key| -> Result<Count, StoreError> {
                    let hits = limits
                        .get(key.as_str())
                        .ctx("reading counter")?
                        .map_or(0, |hits| hits.value())
                        .saturating_add(1);
                    limits.insert(key.as_str(), hits).ctx("writing counter")?;
                    let settled = settled
                        .get(key.as_str())
                        .ctx("reading counter")?
                        .map_or(0, |settled| settled.value());
                    Ok(Count { hits, settled })
                })
                .collect()
        })
        .await
    }

    async fn unhit(&self, counters: &[Counter]) -> Result<(), StoreError> {
        let keys: Vec<String> = counters.iter().map(key).collect();
        self.write(move |tx| {
            let mut limits = tx.open_table(LIMITS).ctx("opening limits")?;
            for key in &keys {
                let hits = limits
                    .get(key.as_str())
                    .ctx("reading counter")?
                    .map(|h| h.value());
                match hits {
                    Some(hits) if hits > 1 => {
                        limits
                            .insert(key.as_str(), hits - 1)
                            .ctx("writing counter")?;
                    }
                    Some(_) => {
                        limits.remove(key.as_str()).ctx("removing counter")?;
                    }
                    None => {}
                }
            }
            Ok(())
        })
        .await
    }

    async fn settle(&self, counters: &[Counter]) -> Result<(), StoreError> {
        let keys: Vec<String> = counters.iter().map(key).collect();
        self.write(move |tx| {
            let mut settled = tx.open_table(SETTLED).ctx("opening settled limits")?;
            for key in &keys {
                let count = settled
                    .get(key.as_str())
                    .ctx("reading counter")?
                    .map_or(0, |settled| settled.value())
                    .saturating_add(1);
                settled.insert(key.as_str(), count).ctx("writing counter")?;
            }
            Ok(())
        })
        .await
    }
}
