//! `taskmaster-local import-django`: moves the original Django app's users and tasks into either
//! store, through the store traits and their uniqueness rules.
//!
//! Users go first, in batches of [`IMPORT_USERS_BATCH`]; then tasks, grouped by owner in batches
//! of [`IMPORT_TASKS_BATCH`], each batch one atomic write that also counts it. Every write skips
//! what an earlier run stored, so a second run imports nothing twice and a run that died half way
//! is finished by the next. Rows that cannot be imported are reported, never dropped silently.

mod report;
mod source;
mod writer;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use shared::domain::{Task, User, UserId, Username};
use shared::store::{
    DynamoConfig, DynamoStore, IMPORT_TASKS_BATCH, IMPORT_USERS_BATCH, Imported, Stores,
};
use testkit::schema::create_tables;

use self::report::Report;
use self::source::{Source, TaskRow, UserRow};
use self::writer::TaskWriter;
use crate::Tables;

/// Task batches written to DynamoDB at once (each of another owner): a transaction's round trip
/// is network time, which batches of several owners can share.
const DYNAMODB_IN_FLIGHT: usize = 8;

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
    /// created from template.yaml if absent.
    #[arg(long, value_name = "URL", conflicts_with = "aws")]
    dynamodb_endpoint: Option<String>,
    /// Import into DynamoDB on AWS: tables and endpoint from the environment exactly as the
    /// Lambdas read them (TASKMASTER_USERS_TABLE, TASKMASTER_TASKS_TABLE,
    /// TASKMASTER_CONNECTIONS_TABLE), credentials and region from the usual AWS variables.
    #[arg(long)]
    aws: bool,
    #[command(flatten)]
    tables: Tables,
    /// Print the report only; write nothing.
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
    let (stores, target, width) = open_target(&args).await?;
    let (user_count, task_count) = source.counts()?;
    println!(
        "importing {} into {target}{}",
        args.from.display(),
        if args.dry_run { " (dry run)" } else { "" }
    );
    let mut report = Report::new(args.dry_run, user_count, task_count);
    let bar = progress_bar(user_count + task_count);

    let users = source.users()?;
    let mut import = Import {
        dry_run: args.dry_run,
        bar: bar.clone(),
        owners: HashMap::new(),
        source_users: users
            .iter()
            .filter_map(|row| row.user.as_ref().ok())
            .map(|u| u.id)
            .collect(),
        claimed: HashMap::new(),
        writer: TaskWriter::new(
            stores.tasks.clone(),
            width,
            args.dry_run,
            args.crash_after_batches,
        ),
        stores,
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
    report.tasks.imported = import.writer.imported;
    report.tasks.present = import.writer.present;

    bar.finish_and_clear();
    print!("{report}");
    Ok(if report.complete() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(INCOMPLETE)
    })
}

/// The store to import into, how to name it, and how many task batches to write at once: one
/// for the embedded store (it has one writer), [`DYNAMODB_IN_FLIGHT`] for DynamoDB.
async fn open_target(args: &ImportArgs) -> anyhow::Result<(Stores, String, usize)> {
    let config = if args.aws {
        DynamoConfig::from_env()?
    } else if let Some(endpoint) = &args.dynamodb_endpoint {
        let config = args.tables.dynamo_config(endpoint);
        create_tables(&config.client(), &config)
            .await
            .with_context(|| format!("preparing tables on {endpoint}"))?;
        config
    } else {
        crate::private_dir(&args.data_dir)?;
        let store = crate::open_embedded(&args.data_dir)?;
        let path = args.data_dir.join(crate::DATABASE_FILE);
        let name = format!("the embedded store {}", path.display());
        return Ok((Stores::new(store), name, 1));
    };
    let name = format!(
        "DynamoDB tables {} and {}{}",
        config.users_table,
        config.tasks_table,
        config
            .endpoint
            .as_deref()
            .map(|e| format!(" at {e}"))
            .unwrap_or_default()
    );
    let stores = Stores::new(DynamoStore::new(config.client(), &config));
    Ok((stores, name, DYNAMODB_IN_FLIGHT))
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
    /// Every readable user id of the source, to tell a skipped owner from a missing one.
    source_users: HashSet<UserId>,
    /// Case-folded usernames and emails claimed by the users before, with their labels: for the
    /// report to name whom a clash is with, and for a dry run to find such clashes.
    claimed: HashMap<String, String>,
    writer: TaskWriter,
}

impl Import {
    async fn users(&mut self, rows: Vec<UserRow>, report: &mut Report) -> anyhow::Result<()> {
        let mut batch: Vec<(String, User)> = Vec::with_capacity(IMPORT_USERS_BATCH);
        for row in rows {
            self.bar.inc(1);
            if let Some(note) = &row.note {
                report.note(format!("user {}: {note}", row.label));
            }
            match row.user {
                Ok(user) => batch.push((row.label, user)),
                Err(why) => report.refuse_user(&row.label, &why),
            }
            if batch.len() == IMPORT_USERS_BATCH {
                self.user_batch(std::mem::take(&mut batch), report).await?;
            }
        }
        self.user_batch(batch, report).await
    }

    async fn user_batch(
        &mut self,
        batch: Vec<(String, User)>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let users: Vec<User> = batch.iter().map(|(_, user)| user.clone()).collect();
        let outcomes = if self.dry_run {
            self.predict(&users).await?
        } else {
            self.stores.users.import_users(&users).await?
        };
        for ((label, user), outcome) in batch.into_iter().zip(outcomes) {
            let keys = [
                format!("username {}", user.username),
                format!("email {}", user.email),
            ];
            match outcome {
                Imported::Created | Imported::Present => {
                    if outcome == Imported::Created {
                        report.users.imported += 1;
                    } else {
                        report.users.present += 1;
                    }
                    for key in keys {
                        self.claimed.entry(key).or_insert_with(|| label.clone());
                    }
                    self.owners.insert(user.id, user.username);
                }
                Imported::Taken { username, email } => {
                    let clashes: Vec<String> = [(username, &keys[0]), (email, &keys[1])]
                        .into_iter()
                        .filter(|(taken, _)| *taken)
                        .map(|(_, key)| match self.claimed.get(key) {
                            Some(other) => format!("its {key} is also user {other}'s"),
                            None => {
                                format!("its {key} belongs to an account already in taskmaster")
                            }
                        })
                        .collect();
                    let why = format!(
                        "{} (the same whatever the case); fix one of the two in the source and run again",
                        clashes.join(", ")
                    );
                    report.refuse_user(&label, &why);
                }
            }
        }
        Ok(())
    }

    /// What [`shared::store::UserStore::import_users`] would answer, found by reading only.
    async fn predict(&self, users: &[User]) -> anyhow::Result<Vec<Imported>> {
        let mut outcomes = Vec::with_capacity(users.len());
        // Claims of this batch's earlier users, which `claimed` does not hold yet.
        let mut batch = HashSet::new();
        for user in users {
            if self.stores.users.user(user.id).await?.is_some() {
                outcomes.push(Imported::Present);
                continue;
            }
            let keys = [
                format!("username {}", user.username),
                format!("email {}", user.email),
            ];
            let held = |key: &String| self.claimed.contains_key(key) || batch.contains(key);
            let username = held(&keys[0])
                || self
                    .stores
                    .users
                    .user_by_username(&user.username)
                    .await?
                    .is_some();
            let email = held(&keys[1])
                || self
                    .stores
                    .users
                    .user_by_email(&user.email)
                    .await?
                    .is_some();
            outcomes.push(if username || email {
                Imported::Taken { username, email }
            } else {
                batch.extend(keys);
                Imported::Created
            });
        }
        Ok(outcomes)
    }

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
                Some(owner) if self.source_users.contains(&owner) => {
                    report.refuse_task(&row.label, &format!("its owner {owner} was not imported"));
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
                        let why =
                            "it has no owner (--orphans-to USERNAME gives such tasks to a user)";
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
