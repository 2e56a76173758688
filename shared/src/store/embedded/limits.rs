//! Throttle counters: `<window end, 20 digits>#<name>` → hits. Keys sort by the end of their
//! window, so each write sweeps the windows that have ended with one range delete.

use async_trait::async_trait;
use redb::{ReadableTable, TableDefinition};

use super::{Ctx, EmbeddedStore};
use crate::domain::Timestamp;
use crate::store::{Counter, LimitStore, StoreError};

pub(super) const LIMITS: TableDefinition<&str, u64> = TableDefinition::new("limits");

/// The key of `counter`: ordered by its window's end.
fn key(counter: &Counter) -> String {
    format!("{:020}#{}", counter.window_end.unix().max(0), counter.name)
}

#[async_trait]
impl LimitStore for EmbeddedStore {
    async fn hit(&self, counters: &[Counter]) -> Result<Vec<u64>, StoreError> {
        let keys: Vec<String> = counters.iter().map(key).collect();
        self.write(move |tx| {
            let mut limits = tx.open_table(LIMITS).ctx("opening limits")?;
            // Every key of a window that ended at or before now sorts below this bound.
            let ended = format!("{:020}", Timestamp::now().unix().max(0) + 1);
            limits
                .retain_in(..ended.as_str(), |_, _| false)
                .ctx("sweeping ended windows")?;
            keys.iter()
                .map(|key| -> Result<u64, StoreError> {
                    let hits = limits
                        .get(key.as_str())
                        .ctx("reading counter")?
                        .map_or(0, |hits| hits.value())
                        .saturating_add(1);
                    limits.insert(key.as_str(), hits).ctx("writing counter")?;
                    Ok(hits)
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
}
