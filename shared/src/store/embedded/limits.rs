//! Throttle counters: a counter's hits are the keys (`<window end, 20 digits>#<name>`, hit id) of
//! one table, its settled hits the same keys in another. Keys sort by the end of their window, so
//! each hit sweeps the windows that have ended with one range delete per table, and one
//! counter's hits are one range.

use async_trait::async_trait;
use redb::{ReadableTable, TableDefinition};

use super::{Ctx, EmbeddedStore};
use crate::domain::Timestamp;
use crate::store::{Count, HitId, LimitCounter, LimitStore, StoreError};

pub(super) const HITS: TableDefinition<(&str, &str), ()> = TableDefinition::new("limit_hits");
pub(super) const SETTLED: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("limit_settled_hits");

/// The first half of `counter`'s keys, ordered by its window's end.
fn counter_key(counter: &LimitCounter) -> String {
    format!("{:020}#{}", counter.window_end.unix().max(0), counter.name)
}

type Hits<'tx> = redb::Table<'tx, (&'static str, &'static str), ()>;

/// How many hits `table` holds under `counter_key`: every hit id is hex digits, all below `~`.
fn members(table: &Hits<'_>, counter_key: &str) -> Result<u64, StoreError> {
    let range = table
        .range((counter_key, "")..(counter_key, "~"))
        .ctx("reading counter")?;
    let mut count = 0;
    for hit in range {
        hit.ctx("reading counter")?;
        count += 1;
    }
    Ok(count)
}

/// The first halves of `hit`'s keys in each of `counters`, and the second.
fn keys(counters: &[LimitCounter], hit: &HitId) -> (Vec<String>, String) {
    (
        counters.iter().map(counter_key).collect(),
        hit.as_str().to_owned(),
    )
}

/// Drops the tables of the layout that kept counts as numbers (2 and older): what they held
/// was at most one window's counts.
pub(super) fn drop_numbered_counts(tx: &redb::WriteTransaction) -> Result<(), redb::Error> {
    for name in ["limits", "limits_settled"] {
        tx.delete_table(TableDefinition::<&str, u64>::new(name))?;
    }
    Ok(())
}

#[async_trait]
impl LimitStore for EmbeddedStore {
    async fn hit(&self, counters: &[LimitCounter], hit: &HitId) -> Result<Vec<Count>, StoreError> {
        let keys = keys(counters, hit);
        self.write(move |tx| {
            let mut hits = tx.open_table(HITS).ctx("opening limits")?;
            let mut settled = tx.open_table(SETTLED).ctx("opening settled limits")?;
            // Every key of a window that ended at or before now sorts below this bound.
            let ended = format!("{:020}", Timestamp::now().unix().max(0) + 1);
            for table in [&mut hits, &mut settled] {
                table
                    .retain_in(..(ended.as_str(), ""), |_, _| false)
                    .ctx("sweeping ended windows")?;
            }
            let (counters, hit) = keys;
            counters
                .iter()
                .map(|counter| {
                    hits.insert((counter.as_str(), hit.as_str()), ())
                        .ctx("writing counter")?;
                    Ok(Count {
                        hits: members(&hits, counter)?,
                        settled: members(&settled, counter)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn unhit(&self, counters: &[LimitCounter], hit: &HitId) -> Result<(), StoreError> {
        let keys = keys(counters, hit);
        self.write(move |tx| {
            let mut hits = tx.open_table(HITS).ctx("opening limits")?;
            let (counters, hit) = keys;
            for counter in &counters {
                hits.remove((counter.as_str(), hit.as_str()))
                    .ctx("removing counter")?;
            }
            Ok(())
        })
        .await
    }

    async fn settle(&self, counters: &[LimitCounter], hit: &HitId) -> Result<(), StoreError> {
        let keys = keys(counters, hit);
        self.write(move |tx| {
            let mut settled = tx.open_table(SETTLED).ctx("opening settled limits")?;
            let (counters, hit) = keys;
            for counter in &counters {
                settled
                    .insert((counter.as_str(), hit.as_str()), ())
                    .ctx("writing counter")?;
            }
            Ok(())
        })
        .await
    }
}
