//! The Lambda path through the real binaries: each function's **release** binary (built beforehand
//! with `cargo build --release -p <function>`; `scripts/test` does it) runs as a child process the
//! way Lambda runs a `provided.al2023` bootstrap: Lambda's environment variables, and the Runtime API
//! served by a stand-in (`runtime/`). The stand-in hands the binary its API Gateway HTTP API event
//! from `events/` and records what the binary posts back, which must be the right API Gateway
//! response. The store is DynamoDB Local (started here; the test fails, never skips, without it),
//! each function on its own pair of tables made from template.yaml, seeded with the user and task
//! the events expect.
//!
//! The binaries are x86_64 builds of the same code that `scripts/build-lambdas` / `sam build`
//! cross-compile for arm64.

mod runtime;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use shared::AppState;
use shared::config::AuthConfig;
use shared::domain::{Email, Password, PersonName, TaskStatus, TaskTitle, Username};
use shared::service::accounts::NewUser;
use shared::service::tasks::{NewTask, PageRequest};
use shared::store::dynamo::local::DynamoDbLocal;
use shared::store::dynamo::schema::create_tables;
use shared::store::{DynamoConfig, DynamoStore, Stores};
use tokio::sync::OnceCell;

use runtime::{Invocation, Outcome, RuntimeApi};

/// The JWT key the functions get in `TASKMASTER_JWT_SECRET` (at least 32 bytes).
const SECRET: &str = "lambda-runtime-test-secret-of-at-least-32-bytes";

/// The user every event is written for, and the password its events use.
const USERNAME: &str = "ada_lovelace";
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct-horse-battery";

/// Who the register event registers here (`ada_lovelace` exists already).
const NEW_USERNAME: &str = "grace_hopper";
const NEW_EMAIL: &str = "grace@example.com";

/// How long a binary may take from start to its answer (cold start + DynamoDB Local).
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// The HTTP API functions under `functions/`, each with its event `events/<name>.json` (the
/// WebSocket and stream functions take other kinds of events and are not run here).
const FUNCTIONS: &[&str] = &[
    "register",
    "login",
    "token-verify",
    "token-refresh",
    "logout",
    "profile-get",
    "profile-update",
    "password-update",
    "task-create",
    "task-get",
    "task-update",
    "task-delete",
    "task-list",
    "fallback",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Newest modification time of the files under `path` (recursively).
fn newest_mtime(path: &Path) -> Option<SystemTime> {
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

/// `target/release/<function>` (or under `$CARGO_TARGET_DIR`), which must exist and be newer than
/// the sources it is built from: this test runs the binary, it does not build it.
fn release_binary(function: &str) -> PathBuf {
    let root = repo_root();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let binary = target.join("release").join(function);
    let build =
        "cargo build --release --locked $(for f in functions/*; do echo -p $(basename $f); done)";
    let built = std::fs::metadata(&binary)
        .and_then(|meta| meta.modified())
        .unwrap_or_else(|e| {
            panic!(
                "release binary {} is missing ({e}): build the functions first, from the \
                 repository root: {build}  (scripts/test does this before the tests)",
                binary.display()
            )
        });
    let sources = [
        root.join("shared/src"),
        root.join("shared/Cargo.toml"),
        root.join("functions").join(function),
        root.join("template.yaml"),
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
    ];
    if let Some(newest) = sources.iter().filter_map(|p| newest_mtime(p)).max() {
        assert!(
            newest <= built,
            "release binary {} is older than its sources: rebuild it first: {build}",
            binary.display()
        );
    }
    binary
}

static DYNAMODB_LOCAL: OnceCell<DynamoDbLocal> = OnceCell::const_new();

/// One DynamoDB Local for this test process (in memory); fails the test if it cannot start.
async fn dynamodb_local() -> &'static DynamoDbLocal {
    DYNAMODB_LOCAL
        .get_or_init(|| async {
            let jar_dir = DynamoDbLocal::find_jar_dir(&repo_root())
                .unwrap_or_else(|e| panic!("DynamoDB Local is required for this test: {e:#}"));
            DynamoDbLocal::start(&jar_dir, None)
                .await
                .unwrap_or_else(|e| panic!("DynamoDB Local is required for this test: {e:#}"))
        })
        .await
}

/// A function's own tables in DynamoDB Local, created from template.yaml, and the state the test
/// uses to seed and inspect them (the same services the binary runs, on the same tables).
struct Tables {
    config: DynamoConfig,
    state: AppState,
}

impl Tables {
    async fn create(prefix: &str) -> Self {
        let local = dynamodb_local().await;
        let config = DynamoConfig {
            users_table: format!("{prefix}-users"),
            tasks_table: format!("{prefix}-tasks"),
            connections_table: format!("{prefix}-connections"),
            endpoint: Some(local.endpoint().to_owned()),
        };
        let client = config.client().await;
        create_tables(&client, &config)
            .await
            .unwrap_or_else(|e| panic!("creating the tables for {prefix}: {e:#}"));
        let state = AppState::new(
            Stores::new(DynamoStore::new(client, &config)),
            &AuthConfig::with_secret(SECRET),
        );
        Self { config, state }
    }
}

/// What the seeding made: the user the events are written for and one task of theirs.
struct Seeded {
    user_id: shared::domain::UserId,
    access: String,
    refresh: String,
    task_id: String,
}

async fn seed(state: &AppState) -> Seeded {
    let new = NewUser {
        username: Username::parse(USERNAME.into()).expect("username"),
        email: Email::parse(EMAIL.into()).expect("email"),
        password: Password::parse(PASSWORD.into()).expect("password"),
        first_name: PersonName::default(),
        last_name: PersonName::default(),
    };
    let (user, pair) = state.accounts.register(new).await.expect("registering");
    let task = NewTask {
        title: TaskTitle::parse("Existing task".into()).expect("title"),
        description: Default::default(),
        status: TaskStatus::ToDo,
    };
    let task = state
        .tasks
        .create(user.id, task)
        .await
        .expect("creating task");
    Seeded {
        user_id: user.id,
        access: pair.access,
        refresh: pair.refresh,
        task_id: task.id.to_string(),
    }
}

/// `events/<function>.json` with its placeholders filled in for `seeded`.
fn event(function: &str, seeded: &Seeded) -> String {
    let path = repo_root().join("events").join(format!("{function}.json"));
    let event = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let event = event
        .replace("<access-token>", &seeded.access)
        .replace("<refresh-token>", &seeded.refresh)
        .replace("<task-id>", &seeded.task_id);
    if function == "register" {
        event
            .replace(USERNAME, NEW_USERNAME)
            .replace(EMAIL, NEW_EMAIL)
    } else {
        event
    }
}

/// The environment Lambda gives a `provided.al2023` function, plus the function's configuration
/// (what template.yaml sets), pointed at the stand-in and DynamoDB Local. Nothing is inherited.
fn lambda_env(function: &str, api: &RuntimeApi, config: &DynamoConfig) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "1".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
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
        ("TASKMASTER_JWT_SECRET", SECRET.to_owned()),
        ("TASKMASTER_ACCESS_TOKEN_TTL", "900".to_owned()),
        ("TASKMASTER_REFRESH_TOKEN_TTL", "1209600".to_owned()),
    ];
    if let Some(endpoint) = &config.endpoint {
        env.push(("TASKMASTER_DYNAMODB_ENDPOINT", endpoint.clone()));
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A function binary running under the stand-in; killed when dropped.
struct Function {
    name: String,
    child: Option<Child>,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Function {
    fn start(name: &str, env: Vec<(String, String)>) -> Self {
        let binary = release_binary(name);
        let log_dir = tempfile::tempdir().expect("log dir");
        let log = log_dir.path().join("output.log");
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(&binary)
            .env_clear()
            .envs(env)
            .current_dir(log_dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        Self {
            name: name.to_owned(),
            child: Some(child),
            log,
            _log_dir: log_dir,
        }
    }

    /// Everything the process printed (stdout and stderr).
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("polling the function process"))
    }

    /// The next outcome from `api`, failing if the process exits or nothing comes in time.
    async fn outcome(&mut self, api: &mut RuntimeApi) -> Outcome {
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
    async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
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
struct ApiResponse {
    status: u16,
    content_type: Option<String>,
    /// The body as JSON; `Null` when there is none.
    body: Value,
}

fn api_response(function: &str, raw: &[u8]) -> ApiResponse {
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

/// What each function's event must produce: status and one field of the body (`Null`: any
/// string; empty pointer: no body). The same expectations as shared/tests/lambda_events.rs.
fn expected(function: &str) -> (u16, &'static str, Value) {
    match function {
        "register" => (201, "/username", json!(NEW_USERNAME)),
        "login" => (200, "/username", json!(USERNAME)),
        "token-verify" => (200, "/message", json!("Token is valid")),
        "token-refresh" => (200, "/refresh", Value::Null),
        "logout" => (204, "", Value::Null),
        "profile-get" => (200, "/email", json!(EMAIL)),
        "profile-update" => (200, "/first_name", json!("Augusta")),
        "password-update" => (200, "/detail", json!("password updated successfully")),
        "task-create" => (201, "/title", json!("Write the report")),
        "task-get" => (200, "/title", json!("Existing task")),
        "task-update" => (200, "/status_task", json!("DONE")),
        "task-delete" => (200, "/message", json!("Task deleted successfully")),
        "task-list" => (200, "/results/0/title", json!("Existing task")),
        "fallback" => (404, "/detail", json!("Not found.")),
        other => panic!("no expectation for {other}"),
    }
}

/// Checks, through the services on the same tables, that the function's write really landed in
/// DynamoDB (for the functions that write something a later read can see).
async fn check_stored(function: &str, state: &AppState, seeded: &Seeded) {
    match function {
        "register" => {
            let (user, _) = state
                .accounts
                .login(NEW_USERNAME, PASSWORD)
                .await
                .expect("register: the new user can log in");
            assert_eq!(user.email.to_string(), NEW_EMAIL);
        }
        "profile-update" => {
            let user = state
                .accounts
                .profile(seeded.user_id)
                .await
                .expect("profile");
            assert_eq!(user.first_name.to_string(), "Augusta");
        }
        "password-update" => {
            state
                .accounts
                .login(USERNAME, "new-horse-battery-staple")
                .await
                .expect("password-update: the new password works");
            assert!(
                state.accounts.login(USERNAME, PASSWORD).await.is_err(),
                "password-update: the old password no longer works"
            );
        }
        "logout" => assert!(
            state.accounts.refresh(&seeded.refresh).await.is_err(),
            "logout: the refresh token is revoked"
        ),
        "task-create" => {
            let page = PageRequest {
                status: None,
                page_size: 10,
                cursor: None,
            };
            let list = state
                .tasks
                .list(seeded.user_id, page)
                .await
                .expect("listing tasks");
            assert_eq!(
                list.count, 2,
                "task-create: the seeded task and the new one"
            );
        }
        "task-update" => {
            let task = state
                .tasks
                .get(seeded.user_id, &seeded.task_id)
                .await
                .expect("task");
            assert_eq!(task.status, TaskStatus::Done);
        }
        "task-delete" => assert!(
            state
                .tasks
                .get(seeded.user_id, &seeded.task_id)
                .await
                .is_err(),
            "task-delete: the task is gone"
        ),
        _ => {}
    }
}

/// Runs `function`'s release binary on its event and checks the answer and what it stored.
async fn run(function: &str) {
    let tables = Tables::create(function).await;
    let seeded = seed(&tables.state).await;
    let request_id = format!("8f5e1e5c-0000-4000-8000-{:012}", function.len());
    let mut api = RuntimeApi::start(vec![Invocation {
        request_id: request_id.clone(),
        function_name: function.to_owned(),
        event: event(function, &seeded),
    }])
    .await;
    let mut process = Function::start(function, lambda_env(function, &api, &tables.config));

    let raw = match process.outcome(&mut api).await {
        Outcome::Response {
            request_id: id,
            body,
        } => {
            assert_eq!(
                id, request_id,
                "{function}: answered the request it was given"
            );
            body
        }
        other => panic!(
            "{function}: expected a response, got {other:?}; output:\n{}",
            process.output()
        ),
    };
    let response = api_response(function, &raw);
    let (want_status, pointer, want) = expected(function);
    assert_eq!(
        response.status,
        want_status,
        "{function}: {response:?}; output:\n{}",
        process.output()
    );
    match (pointer, want) {
        ("", _) => assert_eq!(response.body, Value::Null, "{function}: empty body"),
        (pointer, want) => {
            assert_eq!(
                response.content_type.as_deref(),
                Some("application/json"),
                "{function}: JSON response"
            );
            let got = response.body.pointer(pointer);
            if want.is_null() {
                assert!(
                    got.is_some_and(Value::is_string),
                    "{function}: {response:?}"
                );
            } else {
                assert_eq!(got, Some(&want), "{function}: {response:?}");
            }
        }
    }

    // The runtime survived the invocation and asks for the next event, as on Lambda.
    assert!(
        api.wait_for_next_polls(2, Duration::from_secs(10)).await,
        "{function}: did not ask for the next event after answering; output:\n{}",
        process.output()
    );
    assert!(
        process.exited().is_none(),
        "{function}: exited after answering"
    );
    check_stored(function, &tables.state, &seeded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_release_binary_answers_its_event_under_the_runtime_api() {
    let started = Instant::now();
    for function in FUNCTIONS {
        let one = Instant::now();
        run(function).await;
        eprintln!("{function}: ok ({:?})", one.elapsed());
    }
    eprintln!(
        "{} release binaries answered their events in {:?}",
        FUNCTIONS.len(),
        started.elapsed()
    );
}

/// Every function crate whose event in `events/` is an API Gateway HTTP API event is run above.
#[test]
fn every_http_api_function_is_covered() {
    let root = repo_root();
    let mut http_functions = Vec::new();
    for entry in std::fs::read_dir(root.join("functions")).expect("functions/") {
        let entry = entry.expect("functions/ entry");
        if !entry.path().join("Cargo.toml").is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = root.join("events").join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("functions/{name} has no event {}: {e}", path.display()));
        let event: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let http_api =
            event["version"] == json!("2.0") && event["requestContext"]["http"].is_object();
        if http_api {
            http_functions.push(name);
        }
    }
    http_functions.sort();
    let mut covered: Vec<String> = FUNCTIONS.iter().map(|f| (*f).to_owned()).collect();
    covered.sort();
    assert_eq!(
        http_functions, covered,
        "the HTTP API functions under functions/ and the ones this test runs differ"
    );
}

/// An event that is not an API Gateway event is reported to the Runtime API's error endpoint, and
/// the same process then answers the next (valid) event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_event_is_reported_as_an_invocation_error_and_the_function_carries_on() {
    let function = "token-verify";
    let tables = Tables::create("malformed").await;
    let seeded = seed(&tables.state).await;
    let mut api = RuntimeApi::start(vec![
        Invocation {
            request_id: "bad-event-1".to_owned(),
            function_name: function.to_owned(),
            event: r#"{"not": "an API Gateway event"}"#.to_owned(),
        },
        Invocation {
            request_id: "good-event-2".to_owned(),
            function_name: function.to_owned(),
            event: event(function, &seeded),
        },
    ])
    .await;
    let mut process = Function::start(function, lambda_env(function, &api, &tables.config));

    match process.outcome(&mut api).await {
        Outcome::Error {
            request_id, body, ..
        } => {
            assert_eq!(request_id, "bad-event-1");
            let error: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {body}"));
            assert!(
                error["errorType"].is_string() && error["errorMessage"].is_string(),
                "Lambda's error shape: {error}"
            );
        }
        other => panic!(
            "expected an invocation error, got {other:?}; output:\n{}",
            process.output()
        ),
    }
    match process.outcome(&mut api).await {
        Outcome::Response { request_id, body } => {
            assert_eq!(request_id, "good-event-2");
            let response = api_response(function, &body);
            assert_eq!(response.status, 200, "{response:?}");
        }
        other => panic!(
            "expected a response, got {other:?}; output:\n{}",
            process.output()
        ),
    }
}

/// A function whose configuration is incomplete (no JWT secret) fails its cold start: the process
/// exits with an error before asking for any event (Lambda reports `Runtime.ExitError`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_without_the_secret_exits_with_an_error() {
    let function = "profile-get";
    let config = DynamoConfig {
        users_table: "unused-users".to_owned(),
        tasks_table: "unused-tasks".to_owned(),
        connections_table: "unused-connections".to_owned(),
        endpoint: Some("http://127.0.0.1:9".to_owned()),
    };
    let mut api = RuntimeApi::start(Vec::new()).await;
    let env = lambda_env(function, &api, &config)
        .into_iter()
        .filter(|(name, _)| name != "TASKMASTER_JWT_SECRET")
        .collect();
    let mut process = Function::start(function, env);
    let status = process.wait_exit(ANSWER_WITHIN).await;
    assert!(!status.success(), "{function}: exit status {status}");
    assert!(
        process.output().contains("TASKMASTER_JWT_SECRET"),
        "{function}: names what is missing; output:\n{}",
        process.output()
    );
    assert_eq!(api.next_polls(), 0, "{function}: never asked for an event");
    assert!(
        api.outcome(Duration::from_millis(100)).await.is_none(),
        "{function}: posted nothing"
    );
}
