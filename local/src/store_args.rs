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
    /// Use DynamoDB at this endpoint (e.g. DynamoDB Local) instead of the embedded store. Absent
    /// tables are made from template.yaml by `import-django` (but not by its dry run); the other
    /// commands need them made. The server's TASKMASTER_DYNAMODB_ENDPOINT is not read here (it
    /// would outrank --data-dir and clash with --aws): a command on the embedded store that finds
    /// it set warns.
    #[arg(long, value_name = "URL", value_parser = http_url, conflicts_with = "aws")]
    pub dynamodb_endpoint: Option<String>,
    /// Use the deployed stack's tables on AWS, named by the three table flags (or their
    /// variables; the stack's outputs UsersTableName, TasksTableName and ConnectionsTableName).
    /// Credentials and region are read from the environment only (AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION or AWS_DEFAULT_REGION), as the Lambdas read them: for a
    /// profile or SSO, `eval "$(aws configure export-credentials --format env)"` first.
    #[arg(long)]
    pub aws: bool,
    #[command(flatten)]
    pub tables: Tables,
}

impl StoreArgs {
    /// The DynamoDB tables these flags name, or `None` for the embedded store in `data_dir`. On
    /// the embedded store with the server's `TASKMASTER_DYNAMODB_ENDPOINT` set, a warning says
    /// which store this is, and how to name the other.
    pub fn dynamo_config(&self) -> anyhow::Result<Option<DynamoConfig>> {
        if self.aws {
            return Ok(Some(self.tables.deployed()?));
        }
        let config = self.dynamodb_endpoint.as_deref();
        let config = config.map(|endpoint| self.tables.dynamo_config(endpoint));
        let exported = std::env::var("TASKMASTER_DYNAMODB_ENDPOINT").unwrap_or_default();
        if config.is_none() && !exported.is_empty() {
            eprintln!(
                "warning: TASKMASTER_DYNAMODB_ENDPOINT is set, but commands read their store from \
                 their own flags: this one works on the embedded store in {}; for DynamoDB at \
                 that endpoint, pass --dynamodb-endpoint {exported}",
                self.data_dir.display()
            );
        }
        Ok(config)
    }
}

/// The DynamoDB table names: for an endpoint, each defaults to its `taskmaster-` name; a deployed
/// stack's are generated, so `--aws` takes none by default.
#[derive(Debug, clap::Args)]
pub struct Tables {
    /// Users table name on DynamoDB [default at an endpoint: taskmaster-users].
    #[arg(long, env = "TASKMASTER_USERS_TABLE")]
    users_table: Option<String>,
    /// Tasks table name on DynamoDB [default at an endpoint: taskmaster-tasks].
    #[arg(long, env = "TASKMASTER_TASKS_TABLE")]
    tasks_table: Option<String>,
    /// WebSocket connections table name on DynamoDB [default at an endpoint:
    /// taskmaster-connections].
    #[arg(long, env = "TASKMASTER_CONNECTIONS_TABLE")]
    connections_table: Option<String>,
}

impl Tables {
    /// The tables at `endpoint`: each flag not given takes its default name.
    pub fn dynamo_config(&self, endpoint: &str) -> DynamoConfig {
        let named = |name: &Option<String>, default: &str| name.clone().unwrap_or(default.into());
        DynamoConfig {
            users_table: named(&self.users_table, "taskmaster-users"),
            tasks_table: named(&self.tasks_table, "taskmaster-tasks"),
            connections_table: named(&self.connections_table, "taskmaster-connections"),
            endpoint: Some(endpoint.to_owned()),
            emulator_key: None,
        }
    }

    /// A deployed stack's tables on AWS: each must be named.
    fn deployed(&self) -> anyhow::Result<DynamoConfig> {
        // Each flag with its variable, written out so that a search for either finds this message.
        let named = |name: &Option<String>, flag: &str, variable: &str, output: &str| {
            name.clone().ok_or_else(|| {
                anyhow::anyhow!("--aws needs {flag} (or {variable}): the stack's output {output}")
            })
        };
        Ok(DynamoConfig {
            users_table: named(
                &self.users_table,
                "--users-table",
                "TASKMASTER_USERS_TABLE",
                "UsersTableName",
            )?,
            tasks_table: named(
                &self.tasks_table,
                "--tasks-table",
                "TASKMASTER_TASKS_TABLE",
                "TasksTableName",
            )?,
            connections_table: named(
                &self.connections_table,
                "--connections-table",
                "TASKMASTER_CONNECTIONS_TABLE",
                "ConnectionsTableName",
            )?,
            endpoint: None,
            emulator_key: None,
        })
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
    #[derive(Debug, clap::Parser)]
    struct Command {
        #[command(flatten)]
        store: super::StoreArgs,
    }

    /// The tables `args` name, with the table variables of the shell running the test ignored.
    fn tables(args: &[&str]) -> anyhow::Result<Option<super::DynamoConfig>> {
        use clap::{CommandFactory, FromArgMatches};
        let ids = ["users_table", "tasks_table", "connections_table"];
        let command = ids.into_iter().fold(Command::command(), |command, id| {
            command.mut_arg(id, |arg| arg.env(None))
        });
        let args = std::iter::once("command").chain(args.iter().copied());
        let matches = command.try_get_matches_from(args).expect("parsed");
        let parsed = Command::from_arg_matches(&matches).expect("read");
        parsed.store.dynamo_config()
    }

    #[test]
    fn aws_takes_the_table_flags_and_has_no_default_names() {
        let names = [
            "--users-table",
            "u",
            "--tasks-table",
            "t",
            "--connections-table",
            "c",
        ];
        let deployed = tables(&[&["--aws"], &names[..]].concat())
            .expect("named")
            .expect("dynamo");
        assert_eq!(
            (deployed.users_table.as_str(), deployed.tasks_table.as_str()),
            ("u", "t")
        );
        assert_eq!(
            (deployed.connections_table.as_str(), deployed.endpoint),
            ("c", None)
        );

        let unnamed = tables(&["--aws", "--users-table", "u", "--tasks-table", "t"]);
        let error = unnamed.expect_err("a table unnamed").to_string();
        assert!(error.contains("--connections-table") && error.contains("ConnectionsTableName"));

        let local = tables(&["--dynamodb-endpoint", "http://127.0.0.1:8000"]).expect("ok");
        assert_eq!(local.expect("dynamo").users_table, "taskmaster-users");
    }

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
