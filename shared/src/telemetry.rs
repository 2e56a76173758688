//! Logging: JSON lines on Lambda (CloudWatch adds the time), readable lines everywhere else; and
//! the metrics ([`crate::metrics`]), on Lambda only.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber once; `RUST_LOG` filters (default `info`). Safe to call twice.
/// `function` names the process in its metrics (a Lambda passes its binary's name).
///
/// On Lambda each line keeps the invocation's span, `Lambda runtime invoke`, with the Lambda
/// `requestId` and the X-Ray `xrayTraceId` (the runtime's `_X_AMZN_TRACE_ID`).
///
/// `RUST_LOG` takes comma-separated `level` and `target=level` directives (`info`,
/// `warn,shared=debug`); an unreadable value falls back to `info`. A [`Targets`] filter rather
/// than `EnvFilter`, whose span and field matching needs a regex engine in every bootstrap. The
/// crates of [`QUIET`] log at `info` at most, whatever it says ([`filter`]).
pub fn init(function: &'static str) {
    crate::metrics::init(function);
    let registry = tracing_subscriber::registry().with(filter(std::env::var("RUST_LOG").ok()));
    let _ = if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .without_time()
                    .with_current_span(false),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    // Colours on a terminal only: a log file or pipe gets plain text to grep.
                    .with_ansi(
                        std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
                    )
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
}

/// Crates whose debug and trace lines hold secrets: the AWS SDK prints each call's credentials
/// (their access key id is the key of the local server's own DynamoDB Local and management API);
/// the Lambda runtime prints each invocation's event (passwords, tokens); the HTTP and WebSocket
/// crates print headers and frames (tokens). No directive raises them, or a module inside them,
/// past `info`.
pub const QUIET: [&str; 14] = [
    "aws_config",
    "aws_sigv4",
    "aws_smithy_http_client",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "h2",
    "hyper",
    "hyper_util",
    "lambda_http",
    "lambda_runtime",
    "reqwest",
    "rustls",
    "tokio_tungstenite",
    "tungstenite",
];

/// The filter of `RUST_LOG`'s value, [`QUIET`] crates held at `info` at most: every directive
/// naming one of them or a module inside it is capped, and one more is added for each crate that
/// the default or a shorter directive would let log at `debug`.
fn filter(rust_log: Option<String>) -> Targets {
    let asked = rust_log
        .and_then(|value| Targets::from_str(&value).ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let quiet = |target: &str| {
        QUIET
            .iter()
            .any(|crate_name| target.starts_with(crate_name))
    };
    let mut filter = Targets::new();
    if let Some(level) = asked.default_level() {
        filter = filter.with_default(level);
    }
    for (target, level) in asked.iter() {
        let level = if quiet(target) {
            level.min(LevelFilter::INFO)
        } else {
            level
        };
        filter = filter.with_target(target, level);
    }
    QUIET.iter().fold(filter, |filter, &target| {
        if filter.would_enable(target, &tracing::Level::DEBUG) {
            filter.with_target(target, LevelFilter::INFO)
        } else {
            filter
        }
    })
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn no_setting_lets_the_crates_that_print_secrets_log_past_info() {
        for rust_log in [
            "debug",
            "trace",
            "info,aws_smithy_runtime=trace,tungstenite=debug",
            "warn,aws_smithy_runtime::client::orchestrator=trace,lambda_runtime::layers=trace",
        ] {
            let filter = filter(Some(rust_log.to_owned()));
            for target in QUIET {
                let module = format!("{target}::client::orchestrator");
                for at in [target, module.as_str()] {
                    assert!(!filter.would_enable(at, &Level::DEBUG), "{rust_log}: {at}");
                }
            }
        }
        let debug = filter(Some("debug".to_owned()));
        assert!(debug.would_enable("shared::service", &Level::DEBUG));
        assert!(debug.would_enable("aws_smithy_runtime::client", &Level::INFO));
        let module = filter(Some("warn,lambda_runtime::layers=trace".to_owned()));
        assert!(module.would_enable("lambda_runtime::layers", &Level::INFO));
    }

    #[test]
    fn a_quieter_setting_stays_as_quiet() {
        let warn = filter(Some("warn".to_owned()));
        assert!(!warn.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(warn.would_enable("aws_smithy_runtime", &Level::WARN));
        let default = filter(None);
        assert!(default.would_enable("shared", &Level::INFO));
        assert!(!default.would_enable("hyper", &Level::DEBUG));
    }
}
