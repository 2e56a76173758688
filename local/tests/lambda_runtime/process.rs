//! A function's arm64 bootstrap as Lambda runs a `provided.al2023` bootstrap: Lambda's environment
//! variables, the Runtime API address of the stand-in, and its answer read back as API Gateway
//! would.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use shared::store::DynamoConfig;
use testkit::schema::TEMPLATE;
use testkit::secrets_manager::{SECRET_ARN, SecretsManager};

use axum::body::Bytes;

use super::api::{Invocation, Outcome, RuntimeApi};
use super::fixtures::SECRET;

/// How long a binary may take from start to its answer (cold start + DynamoDB Local).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(60);

pub use testkit::{function_binaries, repo_root};

/// Newest modification time of the files under `path` (recursively).
pub fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| newest_mtime(&entry.path()))
        .max()
}

/// The arm64 bootstrap `scripts/lambdas` built for `function` (`target/lambda/<function>/bootstrap`,
/// the file `sam build` packages), as a command that runs it: directly on an arm64 host, under
/// qemu user-mode emulation with the arm64 glibc of `.tools/arm64/` elsewhere (both installed by
/// `scripts/install-tools`). The bootstrap must exist and be newer than its sources: this test runs
/// what ships, it does not build it.
pub fn bootstrap(function: &str) -> Command {
    let root = repo_root();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let binary = target.join("lambda").join(function).join("bootstrap");
    let built = std::fs::metadata(&binary)
        .and_then(|meta| meta.modified())
        .unwrap_or_else(|e| {
            panic!(
                "arm64 bootstrap {} is missing ({e}): build the functions first, from the \
                 repository root: scripts/lambdas  (scripts/test does this before the tests)",
                binary.display()
            )
        });
    let sources = [
        root.join("shared/src"),
        root.join("shared/Cargo.toml"),
        root.join("functions"),
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
    ];
    if let Some(newest) = sources.iter().filter_map(|p| newest_mtime(p)).max() {
        assert!(
            newest <= built,
            "arm64 bootstrap {} is older than its sources: rebuild it first: scripts/lambdas",
            binary.display()
        );
    }
    if std::env::consts::ARCH == "aarch64" {
        return Command::new(binary);
    }
    let arm64 = root.join(".tools/arm64");
    let qemu = arm64.join("usr/bin/qemu-aarch64-static");
    assert!(
        qemu.is_file(),
        "{} is missing: run scripts/install-tools",
        qemu.display()
    );
    let mut command = Command::new(qemu);
    command
        .arg("-L")
        .arg(arm64.join("usr/aarch64-linux-gnu"))
        .arg(binary);
    command
}

/// The environment Lambda gives a `provided.al2023` function, plus the function's configuration
/// (what template.yaml sets), pointed at the stand-in and DynamoDB Local. Nothing is inherited.
pub fn lambda_env(
    function: &str,
    api: &RuntimeApi,
    config: &DynamoConfig,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        // Started for an invocation waiting on it (shared::cold_start).
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/25/[1]0123456789abcdef".to_owned(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        // Lambda hands the function its role's credentials this way; DynamoDB Local accepts any
        // (letters and digits only in the key id).
        ("AWS_ACCESS_KEY_ID", "ASIALAMBDATEST".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_SESSION_TOKEN", "local".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("TASKMASTER_USERS_TABLE", config.users_table.clone()),
        ("TASKMASTER_TASKS_TABLE", config.tasks_table.clone()),
        (
            "TASKMASTER_CONNECTIONS_TABLE",
            config.connections_table.clone(),
        ),
        ("TASKMASTER_ACCESS_TOKEN_TTL", "900".to_owned()),
        ("TASKMASTER_REFRESH_TOKEN_TTL", "1209600".to_owned()),
        ("TASKMASTER_SESSION_MAX_AGE", "2592000".to_owned()),
    ];
    if let Some(endpoint) = &config.endpoint {
        env.push(("TASKMASTER_DYNAMODB_ENDPOINT", endpoint.clone()));
    }
    if template_gives_signing_key(function) {
        let secrets = secrets_manager();
        env.push(("TASKMASTER_JWT_SECRET_ARN", SECRET_ARN.to_owned()));
        env.push(("TASKMASTER_SECRETSMANAGER_ENDPOINT", secrets.endpoint()));
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A function binary running under the stand-in; killed when dropped.
pub struct Function {
    name: String,
    child: Option<Child>,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Function {
    pub fn start(name: &str, env: Vec<(String, String)>) -> Self {
        Self::start_command(name, bootstrap(name), env)
    }

    /// Runs `command` as function `name` (the cold-start bench runs host release binaries).
    pub fn start_command(name: &str, mut command: Command, env: Vec<(String, String)>) -> Self {
        let log_dir = tempfile::tempdir().expect("log dir");
        let log = log_dir.path().join("output.log");
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .env_clear()
            .envs(env)
            .current_dir(log_dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}'s bootstrap: {e}"));
        Self {
            name: name.to_owned(),
            child: Some(child),
            log,
            _log_dir: log_dir,
        }
    }

    /// The process id while the process runs (the cold-start bench reads its `/proc` entry).
    #[allow(
        dead_code,
        reason = "read by the cold-start bench, which shares this file"
    )]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the process printed (stdout and stderr).
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("polling the function process"))
    }

    /// The next outcome from `api`, failing if the process exits or nothing comes in time.
    pub async fn outcome(&mut self, api: &mut RuntimeApi) -> Outcome {
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            if let Some(outcome) = api.outcome(Duration::from_millis(100)).await {
                return outcome;
            }
            if let Some(status) = self.exited() {
                // It may have posted just before exiting.
                if let Some(outcome) = api.outcome(Duration::from_millis(200)).await {
                    return outcome;
                }
                panic!(
                    "{}: the process exited ({status}) without answering; its output:\n{}",
                    self.name,
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{}: no answer within {ANSWER_WITHIN:?}; its output:\n{}",
                self.name,
                self.output()
            );
        }
    }

    /// Waits for the process to exit by itself.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: still running after {within:?}; its output:\n{}",
                self.name,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An API Gateway HTTP API (payload 2.0) response as the function posted it.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: Option<String>,
    /// The body as JSON; `Null` when there is none.
    pub body: Value,
}

pub fn api_response(function: &str, raw: &[u8]) -> ApiResponse {
    let response: Value = serde_json::from_slice(raw).unwrap_or_else(|e| {
        panic!(
            "{function}: the response is not JSON ({e}): {}",
            String::from_utf8_lossy(raw)
        )
    });
    let status = response["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or_else(|| panic!("{function}: no statusCode in {response}"));
    assert_ne!(
        response["isBase64Encoded"],
        json!(true),
        "{function}: a JSON API answers in text: {response}"
    );
    let content_type = response["headers"]
        .as_object()
        .and_then(|headers| {
            headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        })
        .and_then(|(_, value)| value.as_str())
        .map(str::to_owned);
    let body = match response["body"].as_str() {
        None | Some("") => Value::Null,
        Some(text) => serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{function}: body is not JSON ({e}): {text}")),
    };
    ApiResponse {
        status,
        content_type,
        body,
    }
}

/// A binary that answered one event: what it posted back, and the process (still running, as
/// on Lambda) with its stand-in.
pub struct Invoked {
    pub raw: Bytes,
    pub process: Function,
    pub api: RuntimeApi,
}

/// Runs `function`'s arm64 bootstrap on `event` under a fresh stand-in, with Lambda's environment
/// for `config` plus `extra`, and waits for its answer, which must be a response.
pub async fn invoke(
    function: &str,
    event: String,
    config: &DynamoConfig,
    extra: &[(&str, String)],
) -> Invoked {
    let request_id = format!("8f5e1e5c-0000-4000-8000-{:012}", function.len());
    let mut api = RuntimeApi::start(vec![Invocation {
        request_id: request_id.clone(),
        function_name: function.to_owned(),
        event,
    }])
    .await;
    let mut env = lambda_env(function, &api, config);
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let mut process = Function::start(function, env);
    match process.outcome(&mut api).await {
        Outcome::Response {
            request_id: id,
            body,
        } => {
            assert_eq!(
                id, request_id,
                "{function}: answered the request it was given"
            );
            Invoked {
                raw: body,
                process,
                api,
            }
        }
        other => panic!(
            "{function}: expected a response, got {other:?}; output:\n{}",
            process.output()
        ),
    }
}

/// The test process's Secrets Manager stand-in, holding [`SECRET`] as the signing key's current
/// version: the functions read it at cold start as they read the real one on AWS.
pub fn secrets_manager() -> &'static SecretsManager {
    static STAND_IN: LazyLock<SecretsManager> =
        LazyLock::new(|| SecretsManager::start(&[("AWSCURRENT", SECRET)]));
    &STAND_IN
}

/// Whether `template.yaml` gives `function` the signing key's ARN: the binaries get exactly what
/// they would get on AWS, so a function that needs the key and is not given it fails here too.
fn template_gives_signing_key(function: &str) -> bool {
    let template: serde_norway::Value =
        serde_norway::from_str(TEMPLATE).expect("template.yaml parses");
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .values()
        .filter(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(function))
        .any(|r| {
            r["Properties"]["Environment"]["Variables"]
                .get("TASKMASTER_JWT_SECRET_ARN")
                .is_some()
        })
}
