//! The store an import writes to. Opening it creates nothing: a target that does not exist yet
//! (an embedded store's file, DynamoDB Local's tables) is read as empty, and a real run creates
//! it with [`Target::prepare`] once it has checked what it can before writing. (Opening an
//! existing embedded store does write: its own upkeep, new tables and expired tokens swept, no
//! import data.) A dry run never
//! prepares it; it reads a private copy of an existing embedded store (opening a store writes to
//! it), and DynamoDB's tables as they are.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use aws_sdk_dynamodb::Client;
use shared::store::{DynamoConfig, DynamoStore, EmbeddedStore, ImportStore, Stores};
use testkit::schema::create_tables;

use super::ImportArgs;

/// Task batches written to DynamoDB at once (each of another owner): a transaction's round trip
/// is network time, which batches of several owners can share.
const DYNAMODB_IN_FLIGHT: usize = 8;

/// The opened target.
pub struct Target {
    pub stores: Stores,
    /// What the rows are written through: the same store as `stores`.
    pub import: Arc<dyn ImportStore>,
    /// How the report names it.
    pub name: String,
    /// What a dry run found missing, and what a real run would do about it.
    pub notes: Vec<String>,
    /// How many task batches to write at once: one for the embedded store (it has one writer),
    /// [`DYNAMODB_IN_FLIGHT`] for DynamoDB.
    pub width: usize,
    /// A dry run's copy of the embedded store, removed with the target.
    _scratch: Option<Scratch>,
    /// The data dir's lock, held while a real run writes into its embedded store: a server running
    /// on that dir (on either store) would not see the import.
    _lock: Option<std::fs::File>,
    /// What a real run creates before its first write.
    missing: Option<Missing>,
}

/// A target, or part of one, that does not exist yet.
enum Missing {
    /// The embedded store in this data dir.
    Embedded(PathBuf),
    /// Some of DynamoDB Local's tables.
    Tables(DynamoConfig),
}

impl Target {
    /// Creates what the target lacks (the data dir and its store, or the tables), for a real
    /// run's writes; nothing before this call writes to the target.
    pub async fn prepare(&mut self) -> anyhow::Result<()> {
        match self.missing.take() {
            None => {}
            Some(Missing::Embedded(data_dir)) => {
                crate::private_dir(&data_dir)?;
                self._lock = Some(crate::data_dir::lock_data_dir(&data_dir)?);
                (self.stores, self.import) = Stores::with_import(crate::open_embedded(&data_dir)?);
            }
            Some(Missing::Tables(config)) => {
                let client = config.patient_client();
                create_tables(&client, &config).await.with_context(|| {
                    let endpoint = config.endpoint.as_deref().unwrap_or_default();
                    format!("preparing tables on {endpoint}")
                })?;
                (self.stores, self.import) = Stores::with_import(DynamoStore::new(client, &config));
            }
        }
        Ok(())
    }
}

/// Said when a table is missing at an endpoint: the likeliest cause is a DynamoDB Local that
/// keeps the tables under another access key (one database per key and region), such as the one
/// a `--start-dynamodb-local` server runs, whose key this run was not given.
fn missing_tables_warning(config: &DynamoConfig) -> String {
    let endpoint = config.endpoint.as_deref().unwrap_or_default();
    // The key's name only: a --start-dynamodb-local server keeps its key private.
    let key = match std::env::var("AWS_ACCESS_KEY_ID") {
        Ok(key) if !key.is_empty() => "the key in AWS_ACCESS_KEY_ID",
        _ => "the built-in key (AWS_ACCESS_KEY_ID is not set)",
    };
    format!(
        "warning: the tables are not all at {endpoint} under {key}, so this run makes them \
         there. DynamoDB Local keeps each access key's tables apart: a server started with \
         --start-dynamodb-local keeps its own under the key in its DATA_DIR/dynamodb/access-key, \
         and for those, run with AWS_ACCESS_KEY_ID=\"$(cat DATA_DIR/dynamodb/access-key)\" \
         AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 (docs/MIGRATING.md)"
    )
}

pub async fn open(args: &ImportArgs) -> anyhow::Result<Target> {
    let Some(config) = args.store.dynamo_config()? else {
        return open_embedded(&args.store.data_dir, args.dry_run);
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
    let client = config.patient_client();
    let (mut stores, mut import) = Stores::with_import(DynamoStore::new(client.clone(), &config));
    let mut notes = Vec::new();
    let mut missing = None;
    let mut warned = false;
    // Only DynamoDB Local's tables are created by the import; on AWS a missing table is an error.
    if !args.store.aws {
        let (empty, empty_import) = Stores::with_import(EmbeddedStore::in_memory()?);
        for (table, is_users, is_tasks) in [
            (&config.users_table, true, false),
            (&config.tasks_table, false, true),
            (&config.connections_table, false, false),
        ] {
            if exists(&client, table).await? {
                continue;
            }
            if !std::mem::replace(&mut warned, true) {
                eprintln!("{}", missing_tables_warning(&config));
            }
            if args.dry_run {
                notes.push(format!(
                    "table {table} does not exist: the import would create it (read as empty)"
                ));
            } else {
                missing = Some(Missing::Tables(config.clone()));
            }
            if is_users {
                stores.users = empty.users.clone();
            }
            if is_tasks {
                stores.tasks = empty.tasks.clone();
            }
            // It reads both tables (the tasks already there, the ownerless tasks' user).
            if is_users || is_tasks {
                import = empty_import.clone();
            }
        }
    }
    Ok(Target {
        stores,
        import,
        name,
        notes,
        width: DYNAMODB_IN_FLIGHT,
        _scratch: None,
        _lock: None,
        missing,
    })
}

/// Whether DynamoDB holds `table`.
async fn exists(client: &Client, table: &str) -> anyhow::Result<bool> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("reading table {table}"))),
    }
}

fn open_embedded(data_dir: &Path, dry_run: bool) -> anyhow::Result<Target> {
    let path = data_dir.join(crate::DATABASE_FILE);
    let (stores, import) = Stores::with_import(EmbeddedStore::in_memory()?);
    let mut target = Target {
        stores,
        import,
        name: format!("the embedded store {}", path.display()),
        notes: Vec::new(),
        width: 1,
        _scratch: None,
        _lock: None,
        missing: None,
    };
    if !dry_run && path.exists() {
        crate::private_dir(data_dir)?;
        target._lock = Some(crate::data_dir::lock_data_dir(data_dir)?);
        (target.stores, target.import) = Stores::with_import(crate::open_embedded(data_dir)?);
    } else if !dry_run {
        target.missing = Some(Missing::Embedded(data_dir.to_owned()));
    } else if path.exists() {
        let scratch = Scratch::copy(&path)?;
        (target.stores, target.import) = Stores::with_import(EmbeddedStore::open(&scratch.file)?);
        target._scratch = Some(scratch);
    } else {
        target.notes.push(format!(
            "{} does not exist: the import would create it (read as empty)",
            path.display()
        ));
    }
    Ok(target)
}

/// A private copy of an embedded store file, in a temporary directory (0700: the store holds
/// password hashes) removed on drop.
struct Scratch {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

impl Scratch {
    /// Copies `original`, refusing it while another process has it open (a server writing to
    /// it, as the real run would refuse it).
    fn copy(original: &Path) -> anyhow::Result<Self> {
        let held = std::fs::File::open(original)
            .with_context(|| format!("opening {}", original.display()))?;
        if held.try_lock_shared().is_err() {
            bail!(
                "{} is in use by another process (a taskmaster-local serving it?): stop it, as the \
                 import itself would be refused beside it",
                original.display()
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("taskmaster-dry-run-")
            .tempdir()
            .context("creating a directory for the dry run's copy")?;
        let file = dir.path().join(crate::DATABASE_FILE);
        std::fs::copy(original, &file).with_context(|| {
            format!(
                "copying {} to {} for the dry run",
                original.display(),
                file.display()
            )
        })?;
        Ok(Self { _dir: dir, file })
    }
}
