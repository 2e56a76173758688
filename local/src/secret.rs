//! The local server's secrets, each generated once into the data dir and kept there 0600: the
//! signing key (unless `TASKMASTER_JWT_SECRET` gives one) and the key a DynamoDB Local it starts
//! keeps the tables under.

use std::path::Path;

use anyhow::Context;
use rand::RngCore;

const FILE: &str = "jwt-secret";

/// The secret to sign with: the environment's if set, else the one kept in
/// `data_dir` (created on first use). The kept one is readable by its owner only, made so again at
/// every start, whichever secret is used.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(FILE);
    make_private(&path).with_context(|| format!("cannot restrict {}", path.display()))?;
    if let Some(secret) = shared::config::env("TASKMASTER_JWT_SECRET") {
        return Ok(secret);
    }
    let secret = kept(&path, 48)?;
    // Checked here, by its file: the check that follows would name TASKMASTER_JWT_SECRET, unset.
    shared::config::check_length(&path.display().to_string(), &secret).context(
        "restore the signing key's file, or remove it to make a new key (every token signed \
         with the old one is then refused)",
    )?;
    Ok(secret)
}

/// The key a DynamoDB Local started by the server keeps its tables under (see
/// `testkit::DynamoDbLocal::start`), generated once into its directory `db_dir`, owner only.
pub fn dynamodb_local_key(db_dir: &Path) -> anyhow::Result<String> {
    let path = db_dir.join("access-key");
    make_private(&path).with_context(|| format!("cannot restrict {}", path.display()))?;
    kept(&path, 16)
}

/// The random value (`bytes` of it, in hex) kept in `path`: read, or made and written 0600.
fn kept(path: &Path, bytes: usize) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(secret) => return Ok(secret.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut random = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut random);
    let secret = hex::encode(&random);
    write_private(path, &secret).with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

/// Makes the key file, if there is one, readable by its owner only: an older version (or a hand)
/// may have written it with the umask's mode.
#[cfg(unix)]
fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        result => result,
    }
}

#[cfg(not(unix))]
fn make_private(_: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}
