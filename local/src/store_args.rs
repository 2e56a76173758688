//! Which store a command works on (`import-django`, `set-password`): an embedded store's data
//! dir, DynamoDB at an endpoint (DynamoDB Local), or the deployed tables on AWS.

use std::path::PathBuf;

use shared::store::DynamoConfig;

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Directory of the embedded store. A server running on it must be stopped first: the store
    /// is one process's at a time.
    #[arg(long, env = "TASKMASTER_DATA_DIR", default_value = ".taskmaster")]
    pub data_dir: PathBuf,
    /// Use DynamoDB at this endpoint (e.g. DynamoDB Local) instead; `import-django` creates the
    /// tables from template.yaml if absent (a dry run only says so).
    #[arg(long, value_name = "URL", value_parser = crate::http_url, conflicts_with = "aws")]
    pub dynamodb_endpoint: Option<String>,
    /// Use DynamoDB on AWS: tables and endpoint from the environment exactly as the Lambdas read
    /// them (TASKMASTER_USERS_TABLE, TASKMASTER_TASKS_TABLE, TASKMASTER_CONNECTIONS_TABLE),
    /// credentials and region from the usual AWS variables.
    #[arg(long)]
    pub aws: bool,
    #[command(flatten)]
    pub tables: crate::Tables,
}

impl StoreArgs {
    /// The DynamoDB tables these flags name, or `None` for the embedded store in `data_dir`.
    pub fn dynamo_config(&self) -> anyhow::Result<Option<DynamoConfig>> {
        Ok(if self.aws {
            Some(DynamoConfig::from_env()?)
        } else {
            self.dynamodb_endpoint
                .as_deref()
                .map(|endpoint| self.tables.dynamo_config(endpoint))
        })
    }
}
