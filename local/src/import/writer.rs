//! Task batches written several at a time: one batch at a time per owner (each of an owner's
//! batches updates its counts item, and DynamoDB cancels transactions that meet on an item), up
//! to a given number of owners at once. A batch that finds tasks already there reads them back
//! and compares them with the source.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use shared::domain::{Task, UserId};
use shared::store::ImportStore;

use super::compare;

/// One written batch: whose, how many tasks were new, out of how many, and the tasks already
/// there that differ from the source (their labels and fields).
struct Written {
    owner: UserId,
    added: u64,
    total: u64,
    differing: Vec<(String, Vec<&'static str>)>,
}

pub struct TaskWriter {
    import: Arc<dyn ImportStore>,
    dry_run: bool,
    in_flight: FuturesUnordered<BoxFuture<'static, anyhow::Result<Written>>>,
    /// How many batches may be under way at once.
    width: usize,
    busy: HashSet<UserId>,
    /// Batches done, and the `--crash-after-batches` test hook.
    batches: u64,
    crash_after: Option<u64>,
    /// Tasks written (a dry run: that would be), and tasks an earlier run had written as the
    /// source still has them.
    pub imported: u64,
    pub present: u64,
    /// Tasks an earlier run had written that differ from the source now: label, fields.
    pub differing: Vec<(String, Vec<&'static str>)>,
    /// Per owner, how many of the source's tasks the target holds after the run (a dry run:
    /// before it), whatever their fields.
    pub held: HashMap<UserId, u64>,
}

impl TaskWriter {
    pub fn new(
        import: Arc<dyn ImportStore>,
        width: usize,
        dry_run: bool,
        crash_after: Option<u64>,
    ) -> Self {
        Self {
            import,
            dry_run,
            in_flight: FuturesUnordered::new(),
            width: width.max(1),
            busy: HashSet::new(),
            batches: 0,
            crash_after,
            imported: 0,
            present: 0,
            differing: Vec::new(),
            held: HashMap::new(),
        }
    }

    /// Starts writing `tasks` (all `owner`'s; `labels` name them for the report), after the
    /// owner's previous batch and once fewer than `width` batches are under way.
    pub async fn write(
        &mut self,
        owner: UserId,
        tasks: Vec<Task>,
        labels: Vec<String>,
    ) -> anyhow::Result<()> {
        while self.busy.contains(&owner) || self.in_flight.len() >= self.width {
            self.settle_one().await?;
        }
        self.busy.insert(owner);
        let (import, dry_run) = (self.import.clone(), self.dry_run);
        self.in_flight.push(Box::pin(async move {
            let total = tasks.len() as u64;
            let written = if dry_run {
                None
            } else {
                // A failure names the user whose tasks it stopped at: one over DynamoDB's 10 GB
                // for one user's items, most likely the one `--orphans-to` gives the orphans to.
                let written = import.import_tasks(owner, &tasks).await;
                Some(written.with_context(|| format!("importing the tasks of user {owner}"))?)
            };
            // A batch the write found wholly new is not read back: a first import reads nothing.
            let stored: Vec<Option<Task>> = if written == Some(total) {
                Vec::new()
            } else {
                let ids: Vec<_> = tasks.iter().map(|task| task.id).collect();
                import.stored_tasks(owner, &ids).await?
            };
            let added =
                written.unwrap_or_else(|| stored.iter().filter(|t| t.is_none()).count() as u64);
            let differing = labels
                .into_iter()
                .zip(tasks.iter().zip(&stored))
                .filter_map(|(label, (task, stored))| {
                    let fields = compare::task_fields(task, stored.as_ref()?);
                    (!fields.is_empty()).then_some((label, fields))
                })
                .collect();
            Ok(Written {
                owner,
                added,
                total,
                differing,
            })
        }));
        Ok(())
    }

    /// Waits for every batch under way.
    pub async fn finish(&mut self) -> anyhow::Result<()> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }

    async fn settle_one(&mut self) -> anyhow::Result<()> {
        let Some(written) = self.in_flight.next().await else {
            return Ok(());
        };
        let written = written?;
        self.busy.remove(&written.owner);
        let there = written.total - written.added;
        self.imported += written.added;
        self.present += there - written.differing.len() as u64;
        self.differing.extend(written.differing);
        *self.held.entry(written.owner).or_default() += match self.dry_run {
            true => there,
            false => written.total,
        };
        self.batches += 1;
        if self.crash_after == Some(self.batches) {
            std::process::abort();
        }
        Ok(())
    }
}
