//! Group commit: concurrent writes share one durable (fsync'd) commit.
//!
//! Every write goes to one writer thread. It takes whatever writes are queued (up to
//! [`MAX_BATCH`]) and runs each in its own redb transaction committed with
//! [`Durability::None`]: a write that fails is aborted, which rolls back that write alone, and
//! its batch-mates go on. One [`Durability::Immediate`] commit then persists the whole batch,
//! with one fsync. Only after it returns does the thread take a new read snapshot, publish the
//! batch's task changes in commit order, and answer the callers. So:
//!
//! - a caller hears of its write only once it is durable;
//! - readers use that snapshot, so they see durable writes only, never one that a crash
//!   could still take back;
//! - if the durable commit fails, every write of the batch gets the error, and redb refuses any
//!   further write until the file is reopened (which rolls the batch back), so none of them can
//!   become durable later behind its caller's back.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;

use anyhow::{Context, anyhow};
use redb::{Database, Durability, ReadTransaction, ReadableDatabase, WriteTransaction};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;

use super::{Change, Ctx};
use crate::domain::TaskChange;
use crate::store::StoreError;

/// The most writes one durable commit covers, so that a long queue is answered in steps.
const MAX_BATCH: usize = 256;

/// The writer thread's handle: queues writes, hands out the durable snapshot.
pub(super) struct Committer {
    /// `None` only while dropping, to end the thread.
    jobs: Option<Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

/// What the writer thread publishes.
struct Shared {
    /// The state as of the last durable commit.
    snapshot: RwLock<Arc<ReadTransaction>>,
    feed: Mutex<Feed>,
    /// How many durable commits (fsyncs) were made, for the tests to see batches.
    #[cfg(test)]
    durable_commits: std::sync::atomic::AtomicUsize,
}

/// Where committed task changes go, numbered in commit order.
#[derive(Default)]
struct Feed {
    sequence: u64,
    subscriber: Option<UnboundedSender<TaskChange>>,
}

impl Feed {
    fn publish(&mut self, (before, after): Change) {
        self.sequence += 1;
        let change = TaskChange {
            sequence: self.sequence,
            before,
            after,
        };
        if let Some(subscriber) = &self.subscriber {
            // A closed subscriber only means nobody listens any more.
            let _ = subscriber.send(change);
        }
    }
}

impl Committer {
    /// Starts the writer thread, which owns `db` from now on.
    pub(super) fn start(db: Database) -> anyhow::Result<Self> {
        let snapshot = db.begin_read().context("reading the database")?;
        let shared = Arc::new(Shared {
            snapshot: RwLock::new(Arc::new(snapshot)),
            feed: Mutex::default(),
            #[cfg(test)]
            durable_commits: std::sync::atomic::AtomicUsize::new(0),
        });
        let (jobs, queue) = channel();
        let thread = std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn({
                let shared = shared.clone();
                move || run(&db, &queue, &shared)
            })
            .context("starting the store's writer thread")?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
            shared,
        })
    }

    /// The state as of the last durable commit: every acknowledged write, nothing else.
    pub(super) fn snapshot(&self) -> Arc<ReadTransaction> {
        self.shared
            .snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Committed task changes from now on, in commit order. One subscriber; a new call replaces it.
    pub(super) fn subscribe(&self) -> UnboundedReceiver<TaskChange> {
        let (sender, receiver) = unbounded_channel();
        self.shared
            .feed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .subscriber = Some(sender);
        receiver
    }

    /// Runs `work` as one transaction of the next batch; answers once it is durable (or failed).
    pub(super) async fn submit<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<(T, Option<Change>), StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            work: Some(work),
            value: None,
            reply,
        });
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .context("the store's writer thread has stopped")?;
        answer
            .await
            .context("the store's writer thread stopped before answering")?
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // A closed queue ends the thread once it has answered what was queued; the thread closes
        // the database as it ends, so the file can be opened again as soon as the store is gone.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A write waiting for the writer thread.
trait Job: Send {
    /// Runs the write in `tx`, keeping its value for the answer; returns its change, if any.
    fn apply(&mut self, tx: &WriteTransaction) -> Result<Option<Change>, StoreError>;
    /// Answers the caller: its value once the write is durable, or why it is not.
    fn answer(self: Box<Self>, outcome: Result<(), StoreError>);
}

struct Pending<T, F> {
    work: Option<F>,
    value: Option<T>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&WriteTransaction) -> Result<(T, Option<Change>), StoreError> + Send,
{
    fn apply(&mut self, tx: &WriteTransaction) -> Result<Option<Change>, StoreError> {
        let work = self.work.take().context("a write applied twice")?;
        let (value, change) = work(tx)?;
        self.value = Some(value);
        Ok(change)
    }

    fn answer(self: Box<Self>, outcome: Result<(), StoreError>) {
        let Self { value, reply, .. } = *self;
        let answer = outcome.and_then(|()| Ok(value.context("a write answered unapplied")?));
        // A caller that stopped waiting no longer needs the answer.
        let _ = reply.send(answer);
    }
}

/// The writer thread: batch after batch until the queue closes.
fn run(db: &Database, queue: &Receiver<Box<dyn Job>>, shared: &Shared) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        let outcomes: Vec<_> = batch.iter_mut().map(|job| apply(db, &mut **job)).collect();
        tracing::trace!(writes = batch.len(), "one durable commit");
        let durable = if outcomes.iter().any(Result::is_ok) {
            make_durable(db, shared)
        } else {
            Ok(())
        };
        match durable {
            Ok(()) => {
                let mut feed = shared.feed.lock().unwrap_or_else(PoisonError::into_inner);
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    job.answer(outcome.map(|change| {
                        if let Some(change) = change {
                            feed.publish(change);
                        }
                    }));
                }
            }
            Err(error) => {
                // A failing disk stays `Unavailable` for every write of the batch (a 503).
                let unavailable = matches!(error, StoreError::Unavailable);
                let message = format!("{:#}", anyhow::Error::from(error));
                tracing::error!(error = %message, "durable commit failed: the batch is not durable");
                for job in batch {
                    job.answer(Err(if unavailable {
                        StoreError::Unavailable
                    } else {
                        anyhow!("{message}").into()
                    }));
                }
            }
        }
    }
}

/// One write in its own transaction, committed without fsync; on failure only it rolls back.
fn apply(db: &Database, job: &mut dyn Job) -> Result<Option<Change>, StoreError> {
    let mut tx = db.begin_write().ctx("starting write")?;
    tx.set_durability(Durability::None)
        .ctx("deferring the fsync")?;
    // A panicking write must not take the writer thread, and every later write, with it.
    let change = catch_unwind(AssertUnwindSafe(|| job.apply(&tx)))
        .map_err(|_| anyhow!("a store write panicked"))??;
    tx.commit().ctx("committing")?;
    Ok(change)
}

/// Persists every commit so far with one fsync, then publishes the snapshot readers use.
fn make_durable(db: &Database, shared: &Shared) -> Result<(), StoreError> {
    let mut tx = db.begin_write().ctx("starting the durable commit")?;
    tx.set_durability(Durability::Immediate)
        .ctx("asking for durability")?;
    tx.commit().ctx("durable commit")?;
    #[cfg(test)]
    shared
        .durable_commits
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let snapshot = db.begin_read().ctx("reading the durable state")?;
    *shared
        .snapshot
        .write()
        .unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::atomic::Ordering;
    use std::task::{Context as TaskContext, Waker};

    use redb::{ReadableTableMetadata, TableDefinition};

    use super::*;

    const ROWS: TableDefinition<u64, u64> = TableDefinition::new("rows");

    /// Writes queued while the writer thread is busy share its next durable commit: one fsync
    /// for all of them, not one each. Each is still its own transaction: the one that fails
    /// rolls back alone, and its batch-mates are durable and answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_queued_behind_a_commit_share_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let committer = Committer::start(Database::create(dir.path().join("db")).unwrap()).unwrap();
        // A first write that holds the writer thread until it is let go.
        let (inside, entered) = std::sync::mpsc::channel();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let mut first = Box::pin(committer.submit(move |_| {
            inside.send(()).unwrap();
            held.recv().unwrap();
            Ok(((), None))
        }));
        let mut cx = TaskContext::from_waker(Waker::noop());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        entered.recv().unwrap();

        // Twenty writes, each queued (polled once) while the thread is held; the fifth fails.
        let mut queued: Vec<_> = (0..20u64)
            .map(|row| {
                Box::pin(committer.submit(move |tx| {
                    tx.open_table(ROWS)
                        .ctx("opening")?
                        .insert(row, row)
                        .ctx("inserting")?;
                    if row == 4 {
                        return Err(StoreError::Conflict);
                    }
                    Ok((row, None))
                }))
            })
            .collect();
        for write in &mut queued {
            assert!(write.as_mut().poll(&mut cx).is_pending());
        }
        release.send(()).unwrap();
        first.await.unwrap();
        for (row, write) in (0..).zip(queued) {
            match write.await {
                Ok(answered) => assert_eq!(answered, row),
                Err(StoreError::Conflict) => assert_eq!(row, 4),
                Err(other) => panic!("row {row}: {other}"),
            }
        }

        assert_eq!(
            committer.shared.durable_commits.load(Ordering::SeqCst),
            2,
            "one durable commit for the held write, one for the twenty behind it"
        );
        let rows = committer.snapshot().open_table(ROWS).unwrap();
        assert_eq!(rows.len().unwrap(), 19, "every write but the failed one");
        assert!(
            rows.get(4).unwrap().is_none(),
            "the failed write rolled back"
        );
    }
}
