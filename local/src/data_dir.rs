//! The data directory: made private, locked while a server owns it, and the embedded store's
//! file in it.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

use anyhow::Context;
use shared::store::EmbeddedStore;

/// The embedded store's file in the data directory.
pub const DATABASE_FILE: &str = "taskmaster.redb";

/// Creates the data directory readable by its owner only (0700). One that already exists keeps
/// its mode, since it may be a directory the user chose for other things too; if others can read
/// it, a warning says so.
pub(crate) fn private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    create_0700(dir).with_context(|| format!("cannot use data dir {}", dir.display()))?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            data_dir = %dir.display(),
            mode = format!("{:o}", mode & 0o777),
            "the data directory is open to other users; chmod 700 it"
        );
    }
    Ok(())
}

/// A directory of ours inside the data directory (DynamoDB Local's), readable by its owner only:
/// created 0700, or made 0700 again if it exists, so what is written in it with the umask's modes
/// stays private even when the data directory is not.
pub(crate) fn owned_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    create_0700(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))
}

/// Creates `dir` and its missing parents 0700; one that exists is left as it is.
fn create_0700(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Takes `data_dir`'s lock file (`.lock`), released when the file is dropped or the process
/// ends, or says which directory another server holds. The embedded store's database refuses a
/// second opener by itself, but a DynamoDB Local the server starts would run twice on one
/// database; one lock covers both. Servers sharing a DynamoDB they do not own take none.
pub(crate) fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join(".lock");
    let file = private_file(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "data dir {} is in use by another taskmaster-local: stop it, or give this one another --data-dir",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Warns when `data_dir` holds the other kind of store's data than this run serves (a server
/// started with `--start-dynamodb-local` on an embedded store's dir, or the other way round): the
/// run starts on its own, empty data, and the users and tasks seem gone. A run on an outside
/// DynamoDB (`--dynamodb-endpoint`) does not come here.
pub(crate) fn warn_of_the_other_store(data_dir: &std::path::Path, dynamodb_local: bool) {
    let (other, serving) = if dynamodb_local {
        (
            data_dir.join(DATABASE_FILE),
            "DynamoDB Local's data (dynamodb/)",
        )
    } else {
        (data_dir.join("dynamodb"), "the embedded store")
    };
    if other.exists() {
        tracing::warn!(
            data_dir = %data_dir.display(),
            "this data dir also holds {}, which this run does not read: it serves {serving}",
            other.display()
        );
    }
}

/// The embedded store in `data_dir` (which must exist), readable by its owner only: it holds
/// password hashes and tokens' records.
pub(crate) fn open_embedded(data_dir: &std::path::Path) -> anyhow::Result<EmbeddedStore> {
    let file = data_dir.join(DATABASE_FILE);
    // Made 0600 before the store writes into it (redb takes an empty file as a new database):
    // created by redb, it had the umask's mode until the chmod below, long enough for another
    // user to open it and keep reading it through that descriptor.
    private_file(&file)?;
    let store = EmbeddedStore::open(&file)?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", file.display()))?;
    Ok(store)
}

/// `path` opened for writing, created 0600 if it is not there; what it holds is kept.
fn private_file(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}
