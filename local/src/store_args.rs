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
    #[arg(long, value_name = "URL", value_parser = http_url, conflicts_with = "aws")]
    pub dynamodb_endpoint: Option<String>,
    /// Use DynamoDB on AWS: tables and endpoint from the environment exactly as the Lambdas read
    /// them (TASKMASTER_USERS_TABLE, TASKMASTER_TASKS_TABLE, TASKMASTER_CONNECTIONS_TABLE),
    /// credentials and region from the usual AWS variables.
    #[arg(long)]
    pub aws: bool,
    #[command(flatten)]
    pub tables: Tables,
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

/// The DynamoDB table names, for a DynamoDB endpoint.
#[derive(Debug, clap::Args)]
pub struct Tables {
    /// Users table name on DynamoDB.
    #[arg(
        long,
        env = "TASKMASTER_USERS_TABLE",
        default_value = "taskmaster-users"
    )]
    users_table: String,
    /// Tasks table name on DynamoDB.
    #[arg(
        long,
        env = "TASKMASTER_TASKS_TABLE",
        default_value = "taskmaster-tasks"
    )]
    tasks_table: String,
    /// WebSocket connections table name on DynamoDB.
    #[arg(
        long,
        env = "TASKMASTER_CONNECTIONS_TABLE",
        default_value = "taskmaster-connections"
    )]
    connections_table: String,
}

impl Tables {
    pub fn dynamo_config(&self, endpoint: &str) -> DynamoConfig {
        DynamoConfig {
            users_table: self.users_table.clone(),
            tasks_table: self.tasks_table.clone(),
            connections_table: self.connections_table.clone(),
            endpoint: Some(endpoint.to_owned()),
            emulator_key: None,
        }
    }
}

/// An `http://` or `https://` URL with a host, checked when the flag is read: the AWS SDK would
/// take anything, and fail each request with its whole debug output instead.
pub fn http_url(value: &str) -> Result<String, String> {
    let uri: axum::http::Uri = value.parse().map_err(|e| format!("not a URL: {e}"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err("expected http://host[:port] or https://host[:port]".to_owned());
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_endpoint_flag_takes_an_http_url_with_a_host() {
        for good in [
            "http://127.0.0.1:8000",
            "https://dynamodb.us-east-1.amazonaws.com",
        ] {
            assert_eq!(super::http_url(good).as_deref(), Ok(good));
        }
        for bad in ["notaurl", "127.0.0.1:8000", "ftp://host", "http://", ""] {
            assert!(super::http_url(bad).is_err(), "{bad}");
        }
    }
}
