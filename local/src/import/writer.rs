//! Task batches written several at a time: one batch at a time per owner (each of an owner's
//! batches updates its counts item, and DynamoDB cancels transactions that meet on an item), up
//! to a given number of owners at once.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use shared::domain::{Task, UserId};
use shared::store::TaskStore;

/// One written batch: whose, how many tasks were new, out of how many.
struct Written {
    owner: UserId,
    added: u64,
    total: u64,
}

pub struct TaskWriter {
    tasks: Arc<dyn TaskStore>,
    dry_run: bool,
    in_flight: FuturesUnordered<BoxFuture<'static, anyhow::Result<Written>>>,
    /// How many batches may be under way at once.
    width: usize,
    busy: HashSet<UserId>,
    /// Batches done, and the `--crash-after-batches` test hook.
    batches: u64,
    crash_after: Option<u64>,
    /// Tasks written (a dry run: that would be), and tasks an earlier run had written.
    pub imported: u64,
    pub present: u64,
}

impl TaskWriter {
    pub fn new(
        tasks: Arc<dyn TaskStore>,
        width: usize,
        dry_run: bool,
        crash_after: Option<u64>,
    ) -> Self {
        Self {
            tasks,
            dry_run,
            in_flight: FuturesUnordered::new(),
            width: width.max(1),
            busy: HashSet::new(),
            batches: 0,
            crash_after,
            imported: 0,
            present: 0,
        }
    }

    /// Starts writing `tasks` (all `owner`'s), after the owner's previous batch and once fewer
    /// than `width` batches are under way.
    pub async fn write(&mut self, owner: UserId, tasks: Vec<Task>) -> anyhow::Result<()> {
        while self.busy.contains(&owner) || self.in_flight.len() >= self.width {
            self.settle_one().await?;
        }
        self.busy.insert(owner);
        let (store, dry_run) = (self.tasks.clone(), self.dry_run);
        self.in_flight.push(Box::pin(async move {
            let added = if dry_run {
                let mut new = 0;
                for task in &tasks {
                    new += u64::from(store.task(owner, task.id).await?.is_none());
                }
                new
            } else {
                store.import_tasks(owner, &tasks).await?
            };
            let total = tasks.len() as u64;
            Ok(Written {
                owner,
                added,
                total,
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
        self.imported += written.added;
        self.present += written.total - written.added;
        self.batches += 1;
        if self.crash_after == Some(self.batches) {
            std::process::abort();
        }
        Ok(())
    }
}
