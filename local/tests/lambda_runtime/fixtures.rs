//! What the events in `events/` expect to find: a user with a task and tokens, in a function's own
//! tables in DynamoDB Local (started once per test process; the test fails, never skips, without it).

use shared::AppState;
use shared::config::AuthConfig;
use shared::domain::{Email, Password, PersonName, TaskStatus, TaskTitle, Username};
use shared::service::accounts::NewUser;
use shared::service::tasks::NewTask;
use shared::store::dynamo::local::DynamoDbLocal;
use shared::store::dynamo::schema::create_tables;
use shared::store::{DynamoConfig, DynamoStore, Stores};

use super::process::repo_root;

/// The JWT key the functions get in `TASKMASTER_JWT_SECRET` (at least 32 bytes).
pub const SECRET: &str = "lambda-runtime-test-secret-of-at-least-32-bytes";

/// The user every event is written for, and the password its events use.
pub const USERNAME: &str = "ada_lovelace";
pub const EMAIL: &str = "ada@example.com";
pub const PASSWORD: &str = "correct-horse-battery";

/// Who the register event registers here (`ada_lovelace` exists already).
pub const NEW_USERNAME: &str = "grace_hopper";
pub const NEW_EMAIL: &str = "grace@example.com";

/// The test process's DynamoDB Local (in memory); fails the test if it cannot start.
pub async fn dynamodb_local() -> &'static DynamoDbLocal {
    DynamoDbLocal::per_process(&repo_root())
        .await
        .unwrap_or_else(|e| panic!("DynamoDB Local is required for this test: {e:#}"))
}

/// A function's own tables in DynamoDB Local, created from template.yaml, and the state the test
/// uses to seed and inspect them (the same services the binary runs, on the same tables).
pub struct Tables {
    pub config: DynamoConfig,
    pub stores: Stores,
    pub state: AppState,
}

impl Tables {
    pub async fn create(prefix: &str) -> Self {
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
        let stores = Stores::new(DynamoStore::new(client, &config));
        let state = AppState::new(stores.clone(), &AuthConfig::with_secret(SECRET));
        Self {
            config,
            stores,
            state,
        }
    }
}

/// What the seeding made: the user the events are written for and one task of theirs.
pub struct Seeded {
    pub user_id: shared::domain::UserId,
    pub access: String,
    pub refresh: String,
    pub task_id: String,
}

pub async fn seed(state: &AppState) -> Seeded {
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
pub fn event(function: &str, seeded: &Seeded) -> String {
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
