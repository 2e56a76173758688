//! Throttle counters: `<window end, 20 digits>#<name>` → hits, and the same key → settled hits
//! in a table of its own. Keys sort by the end of their window, so each hit sweeps the windows
//! that have ended with one range delete per table.

use async_trait::async_trait;
use redb::{ReadableTable, TableDefinition};

use super::{Ctx, EmbeddedStore};
use crate::domain::Timestamp;
use crate::store::{Count, LimitCounter, LimitStore, StoreError};

pub(super) const LIMITS: TableDefinition<&str, u64> = TableDefinition::new("limits");
pub(super) const SETTLED: TableDefinition<&str, u64> = TableDefinition::new("limits_settled");

/// The key of `counter`: ordered by its window's end.
fn key(counter: &LimitCounter) -> String {
    format!("{:020}#{}", counter.window_end.unix().max(0), counter.name)
}

type Counts<'tx> = redb::Table<'tx, &'static str, u64>;

/// `table`'s count at `key`; absent is zero.
fn count(table: &Counts<'_>, key: &str) -> Result<u64, StoreError> {
    Ok(table
        .get(key)
        .ctx("reading counter")?
        .map_or(0, |count| count.value()))
}

/// Adds one to `table`'s count at `key`; answers the new count.
fn add_one(table: &mut Counts<'_>, key: &str) -> Result<u64, StoreError> {
    let count = count(table, key)?.saturating_add(1);
    table.insert(key, count).ctx("writing counter")?;
    Ok(count)
}

#[async_trait]
impl LimitStore for EmbeddedStore {
    async fn hit(&self, counters: &[LimitCounter]) -> Result<Vec<Count>, StoreError> {
        let keys: Vec<String> = counters.iter().map(key).collect();
        self.write(move |tx| {
            let mut limits = tx.open_table(LIMITS).ctx("opening limits")?;
            let mut settled = tx.open_table(SETTLED).ctx("opening settled limits")?;
            // Every key of a window that ended at or before now sorts below this bound.
            let ended = format!("{:020}", Timestamp::now().unix().max(0) + 1);
            for table in [&mut limits, &mut settled] {
                table
                    .retain_in(..ended.as_str(), |_, _| false)
                    .ctx("sweeping ended windows")?;
            }
            keys.iter()
                .map(|key| {
                    Ok(Count {
                        hits: add_one(&mut limits, key)?,
                        settled: count(&settled, key)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn unhit(&self, counters: &[LimitCounter]) -> Result<(), StoreError> {
        let keys: Vec<String> = counters.iter().map(key).collect();
        self.write(move |tx| {
            let mut limits = tx.open_table(LIMITS).ctx("opening limits")?;
            for key in &keys {
                match count(&limits, key)? {
                    0 => {}
                    1 => {
                        limits.remove(key.as_str()).ctx("removing counter")?;
                    }
                    hits => {
                        limits
                            .insert(key.as_str(), hits - 1)
                            .ctx("writing counter")?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn settle(&self, counters: &[LimitCounter]) -> Result<(), StoreError> {
        let keys: Vec<String> = counters.iter().map(key).collect();
        self.write(move |tx| {
            let mut settled = tx.open_table(SETTLED).ctx("opening settled limits")?;
            for key in &keys {
                add_one(&mut settled, key)?;
            }
            Ok(())
        })
        .await
    }
}
