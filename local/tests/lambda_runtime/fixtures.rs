//! What the events in `events/` expect to find: a user with a task and tokens, in a function's own
//! tables in DynamoDB Local (started once per test process; the test fails, never skips, without it).

use shared::AppState;
use shared::config::AuthConfig;
use shared::store::{DynamoConfig, DynamoStore, Stores};
use testkit::schema::create_tables;

/// The JWT signing key the functions read from the Secrets Manager stand-in (at least 32 bytes).
pub const SECRET: &str = "lambda-runtime-test-secret-of-at-least-32-bytes";

pub use testkit::events::{NEW_EMAIL, NEW_USERNAME, PASSWORD, Seeded, USERNAME, seed};

pub use testkit::dynamodb_local;

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
            emulator_key: None,
        };
        let client = config.client();
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

/// `events/<function>.json` with its placeholders filled in for `seeded`.
pub fn event(function: &str, seeded: &Seeded) -> String {
    testkit::events::event(function, Some(seeded))
}
