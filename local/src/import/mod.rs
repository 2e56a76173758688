//! `taskmaster-local import-django`: moves the original Django app's users and tasks into either
//! store, through the store traits and their uniqueness rules.
//!
//! Users go first, in batches of [`IMPORT_USERS_BATCH`]; then tasks, grouped by owner in batches
//! of [`IMPORT_TASKS_BATCH`], each batch one atomic write that also counts it. Every write skips
//! what an earlier run stored, so a second run imports nothing twice and a run that died half way
//! is finished by the next. Rows that cannot be imported are reported, never dropped silently.

mod report;
mod source;
mod target;
mod users;
mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use shared::domain::{Task, UserId, Username};
use shared::store::{IMPORT_TASKS_BATCH, Stores};

use self::report::{Output, Report};
use self::source::{Source, TaskRow};
use self::writer::TaskWriter;
use crate::Tables;

/// Exit code of a run that finished but left rows out (listed in its report).
pub const INCOMPLETE: u8 = 2;

/// Imports the original app's SQLite database (users, their Django password hashes, tasks).
/// Exit code 0: everything is in the target; 2: finished, but the report lists rows not
/// imported; 1: failed (run it again once fixed: it resumes).
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The original app's SQLite database (its `db.sqlite3`), opened read-only.
    #[arg(long, value_name = "DB.sqlite3")]
    from: PathBuf,
    /// Directory of the embedded store to import into.
    #[arg(long, env = "TASKMASTER_DATA_DIR", default_value = ".taskmaster")]
    data_dir: PathBuf,
    /// Import into DynamoDB at this endpoint (e.g. DynamoDB Local) instead; the tables are
    /// created from template.yaml if absent (a dry run only says so).
    #[arg(long, value_name = "URL", conflicts_with = "aws")]
    dynamodb_endpoint: Option<String>,
    /// Import into DynamoDB on AWS: tables and endpoint from the environment exactly as the
    /// Lambdas read them (TASKMASTER_USERS_TABLE, TASKMASTER_TASKS_TABLE,
    /// TASKMASTER_CONNECTIONS_TABLE), credentials and region from the usual AWS variables.
    #[arg(long)]
    aws: bool,
    #[command(flatten)]
    tables: Tables,
    /// Print the report only; write nothing, and create neither the data dir, its store nor
    /// tables (a target that does not exist yet is read as empty).
    #[arg(long)]
    dry_run: bool,
    /// Give ownerless tasks (the original let anonymous callers make them) to this user, who
    /// must exist in the target or come with this import; without it they are reported and left.
    #[arg(long, value_name = "USERNAME")]
    orphans_to: Option<String>,
    /// Test hook: abort the process after this many task batches, as a crash would.
    #[arg(long, hide = true)]
    crash_after_batches: Option<u64>,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let source = Source::open(&args.from)?;
    let target = target::open(&args).await?;
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
    let mut import = Import {
        dry_run: args.dry_run,
        bar: bar.clone(),
        owners: HashMap::new(),
        refused: HashMap::new(),
        claimed: HashMap::new(),
        writer: TaskWriter::new(
            target.stores.tasks.clone(),
            target.width,
            args.dry_run,
            args.crash_after_batches,
        ),
        stores: target.stores.clone(),
    };
    import.users(users, &mut report).await?;
    let orphans_to = match &args.orphans_to {
        Some(name) => Some(import.orphans_owner(name).await?),
        None => None,
    };

    bar.set_message("tasks");
    // Read on a thread of its own, a few batches ahead of the writes, so memory stays flat.
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
    report.tasks.imported += import.writer.imported;
    report.tasks.present += import.writer.present;

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
    dry_run: bool,
    bar: ProgressBar,
    /// Users in the target after the user step (imported now, earlier, or would be), by id.
    owners: HashMap<UserId, Username>,
    /// Users of the source not imported, by id, with why: their tasks are reported as theirs.
    refused: HashMap<UserId, String>,
    /// Case-folded usernames and emails claimed by the users before, with their labels: for the
    /// report to name whom a clash is with, and for a dry run to find such clashes.
    claimed: HashMap<String, String>,
    writer: TaskWriter,
}

impl Import {
    /// The user `--orphans-to` names: one of this import's, or one already in the target.
    async fn orphans_owner(&self, name: &str) -> anyhow::Result<UserId> {
        let username = Username::existing(name.to_owned())
            .map_err(|e| anyhow::anyhow!("--orphans-to {name:?}: {e}"))?;
        if let Some((id, _)) = self.owners.iter().find(|(_, known)| **known == username) {
            return Ok(*id);
        }
        match self.stores.users.user_by_username(&username).await? {
            Some(user) => Ok(user.id),
            None => bail!("--orphans-to {name:?}: no such user in the target or in the source"),
        }
    }

    /// Checks one batch of task rows of one owner (or of none) and hands it to the writer.
    async fn tasks(
        &mut self,
        rows: Vec<TaskRow>,
        orphans_to: Option<UserId>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        self.bar.inc(rows.len() as u64);
        let mut tasks: Vec<Task> = Vec::with_capacity(rows.len());
        for row in rows {
            let owner = match row.owner {
                Some(owner) if self.owners.contains_key(&owner) => owner,
                Some(owner) if self.refused.contains_key(&owner) => {
                    report.refuse_task(&row.label, &self.refused[&owner]);
                    continue;
                }
                Some(owner) => {
                    let why = format!("its owner {owner} is not in the source's users");
                    report.refuse_task(&row.label, &why);
                    continue;
                }
                None => match orphans_to {
                    Some(owner) => owner,
                    None => {
                        // A task has no key of its own to look up by: whether an earlier run gave
                        // it an owner would mean asking every user.
                        let why = "it has no owner (--orphans-to USERNAME gives such tasks to a \
                                   user; one an earlier run gave an owner is there already)";
                        report.refuse_task(&row.label, why);
                        continue;
                    }
                },
            };
            match row.task {
                Ok(task) => tasks.push(Task { owner, ..task }),
                Err(why) => report.refuse_task(&row.label, &why),
            }
        }
        match tasks.first().map(|task| task.owner) {
            Some(owner) => self.writer.write(owner, tasks).await,
            None => Ok(()),
        }
    }
}
