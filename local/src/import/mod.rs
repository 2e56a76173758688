//! `taskmaster-local import-django`: moves the original Django app's users and tasks into either
//! store, through the store traits and their uniqueness rules.
//!
//! Users go first, in batches of [`IMPORT_USERS_BATCH`]; then tasks, grouped by owner in batches
//! of [`IMPORT_TASKS_BATCH`], each batch one atomic write that also counts it. Every write skips
//! what an earlier run stored, so a second run imports nothing twice and a run that died half way
//! is finished by the next. Rows already there are compared with the source, never overwritten:
//! those that differ are reported, and so are tasks the target holds that the source does not.
//! Rows that cannot be imported are reported, never dropped silently.

mod compare;
mod orphans;
mod report;
mod source;
mod target;
mod tasks;
mod users;
mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use shared::domain::{Email, TaskId, UserId, Username};
use shared::store::{IMPORT_TASKS_BATCH, ImportStore, Stores};

use self::report::{Output, Report};
use self::source::{Source, TaskRow};
use self::writer::TaskWriter;

/// Exit code of a run that finished but whose target does not match the source: rows left out,
/// rows already there that differ, tasks the source does not have (each listed in its report).
pub const INCOMPLETE: u8 = 2;

/// Imports the original app's SQLite database (users, their Django password hashes, tasks).
/// Exit code 0: every row of the source is in the target, as the source has it; 2: finished,
/// but the report lists rows not imported (or there but different, never overwritten) or tasks
/// the source does not have; 1: failed (an `--orphans-to` user that cannot take tasks, or
/// another user than the one an earlier run gave them to, fails it before anything is written;
/// run it again once fixed: it resumes).
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The original app's SQLite database (its `db.sqlite3`), opened read-only and copied into
    /// memory in one step: the import reads that copy, one moment of the source.
    #[arg(long, value_name = "DB.sqlite3")]
    from: PathBuf,
    #[command(flatten)]
    store: crate::store_args::StoreArgs,
    /// Print the report only; write nothing, and create neither the data dir, its store nor
    /// tables (a target that does not exist yet is read as empty).
    #[arg(long)]
    dry_run: bool,
    /// Give ownerless tasks (the original let anonymous callers make them) to this user, who
    /// must exist in the target or come with this import. The first run that gives them to a
    /// user records it, and later runs give them to the same user, with or without this flag;
    /// never given one, they are reported and left.
    #[arg(long, value_name = "USERNAME")]
    orphans_to: Option<String>,
    /// Test hook: abort the process after this many task batches, as a crash would.
    #[arg(long, hide = true)]
    crash_after_batches: Option<u64>,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    // Opening copies the source, waiting up to seconds for a writer's lock: not on the runtime.
    // Every later read is of the copy in memory.
    let from = args.from.clone();
    let source = tokio::task::spawn_blocking(move || Source::open(&from))
        .await
        .context("opening the source")??;
    let mut target = target::open(&args).await?;
    let (user_count, task_count) = source.counts()?;
    let mut out = Output::default();
    out.print(format_args!(
        "importing {} into {}{}\n",
        args.from.display(),
        target.name,
        if args.dry_run { " (dry run)" } else { "" }
    ))?;
    for note in &target.notes {
        out.print(format_args!("{note}\n"))?;
    }
    let mut report = Report::new(args.dry_run, user_count, task_count);
    let bar = progress_bar(user_count + task_count);

    let users = source.users()?;
    // Checked before anything is written: a run that fails here leaves the target as it was.
    let requested = match &args.orphans_to {
        Some(name) => Some(orphans::owner(&target.stores, name, &users).await?),
        None => None,
    };
    let orphans_to = orphans::settle(&*target.import, &target.stores, requested).await?;
    if !args.dry_run {
        target.prepare().await?;
    }
    match (&args.orphans_to, orphans_to) {
        // Named by the argument, folded as a username: on a first run the target does not hold
        // the user yet.
        (Some(name), Some(_)) => {
            let name = Username::existing(name.clone()).map_or_else(|_| name.clone(), String::from);
            report.note(format!(
                "ownerless tasks go to user {name:?} (--orphans-to)"
            ));
        }
        (None, Some(owner)) => {
            let name = orphans::name_of(&target.stores, owner).await?;
            report.note(format!(
                "ownerless tasks go to user {name}, as an earlier run's --orphans-to gave them"
            ));
        }
        _ => {}
    }
    let mut import = Import {
        dry_run: args.dry_run,
        bar: bar.clone(),
        owners: HashMap::new(),
        refused: HashMap::new(),
        claimed: HashMap::new(),
        task_ids: HashMap::new(),
        trimmed_titles: 0,
        orphans_recorded: false,
        writer: TaskWriter::new(
            target.import.clone(),
            target.width,
            args.dry_run,
            args.crash_after_batches,
        ),
        stores: target.stores.clone(),
        import: target.import.clone(),
    };
    import.users(users, &mut report).await?;

    bar.set_message("tasks");
    // Read on a thread of its own, a few batches ahead of the writes, so the rows in memory stay
    // few (the ids seen so far are kept, to refuse a second row of one task).
    let (sender, mut receiver) = tokio::sync::mpsc::channel(IMPORT_TASKS_BATCH * 4);
    let reader = tokio::task::spawn_blocking(move || {
        source.tasks(|row| sender.blocking_send(row).context("the import stopped"))
    });
    let mut pending: Vec<TaskRow> = Vec::with_capacity(IMPORT_TASKS_BATCH);
    while let Some(row) = receiver.recv().await {
        if pending.len() == IMPORT_TASKS_BATCH
            || pending.last().is_some_and(|last| last.owner != row.owner)
        {
            import
                .tasks(std::mem::take(&mut pending), orphans_to, &mut report)
                .await?;
        }
        pending.push(row);
    }
    import.tasks(pending, orphans_to, &mut report).await?;
    import.writer.finish().await?;
    reader.await.context("reading tasks")??;
    import.settle_tasks(&mut report).await?;

    bar.finish_and_clear();
    out.print(&report)?;
    Ok(if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(INCOMPLETE)
    })
}

fn progress_bar(rows: u64) -> ProgressBar {
    let bar = ProgressBar::new(rows).with_message("users");
    let style =
        ProgressStyle::with_template("{msg:>5} [{bar:40}] {pos}/{len} rows, {per_sec}, {eta} left");
    if let Ok(style) = style {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// One run's state between its steps.
struct Import {
    stores: Stores,
    import: Arc<dyn ImportStore>,
    dry_run: bool,
    bar: ProgressBar,
    /// Users in the target after the user step (imported now, earlier, or would be), by id.
    owners: HashMap<UserId, Owner>,
    /// Users of the source not imported, by id, with why: their tasks are reported as theirs.
    refused: HashMap<UserId, String>,
    /// Case-folded usernames and emails claimed by the users before, with their labels: for the
    /// report to name whom a clash is with, and for a dry run to find such clashes.
    claimed: HashMap<String, String>,
    /// Every task id read so far, with the label of its row: two rows of one id (the same UUID
    /// in another case, or with and without dashes) would be one task.
    task_ids: HashMap<TaskId, String>,
    /// Tasks brought over whose title lost surrounding whitespace.
    trimmed_titles: u64,
    /// Whether this run has recorded the user ownerless tasks go to ([`orphans::record`]).
    orphans_recorded: bool,
    writer: TaskWriter,
}

/// A user of the source that is in the target, as the target holds it.
struct Owner {
    /// How the report names it.
    label: String,
    /// Its place in the source, for the report's order.
    at: usize,
    username: Username,
    email: Email,
    /// Whether an earlier run brought it over (so the target may hold tasks of it that the
    /// source does not).
    earlier: bool,
}
